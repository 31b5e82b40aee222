// Entry point: reads the config and the landing URL, sends the touch (or the macro diagnostic),
// replays the calls queued by the stub, then takes over window.sspx. Nothing may throw into the page.
import { configure, say, selector } from './config.js';
import { decorate } from './decorate.js';
import { hints } from './hints.js';
import { deviceIds, landingUrl, macro, readLanding, token } from './landing.js';
import { command, startQueue } from './queue.js';
import { send } from './transport.js';

const w = window as any;

try {
  // The real function carries a mark: a second copy of the tag finds it and stays quiet.
  if (!w.sspx?.sspx) {
    configure();
    readLanding();
    say(token ? 'touch' : macro ? 'macro' : 'no token');
    startQueue(
      () =>
        (token || macro) &&
        send('/t', token ? { t: token, u: landingUrl, ...hints(), ids: deviceIds } : { e: 'macro', p: macro, u: landingUrl }),
    );
    // Links that appear after the id arrived get it just before the browser follows them.
    selector && document.addEventListener('click', (e) => decorate(e.target as Element), true);
    // Replay in order, then take over.
    for (const args of w.sspx?.q || []) command(...(args as [unknown]));
    ((w.sspx = command) as any).sspx = 1;
  }
} catch (e) {
  say(e, 1);
}
