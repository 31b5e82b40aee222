import { decode, isMacro, isToken } from './token.js';

const W = window as any;
const D = document;
const N = navigator as any;
const tag = D.currentScript as HTMLScriptElement;

let debug: any, collector: string, selector: any, token: any, macro: any, ids: any, cid: any, linkCid: any;
let allow: any, ready: Promise<any>;

const say = (why: unknown, warn?: 1) => (warn || debug) && console[warn ? 'warn' : 'log']('[sspx]', why);

const safe = (callback: any, value?: unknown) => {
  try {
    callback && callback(value);
  } catch (e) {
    say(e, 1);
  }
};

const list = (value = ''): string[] => value.match(/[^\s,]+/g) || [];

const send = (path: string, body: object): any => {
  const url = collector + path,
    text = JSON.stringify(body);
  try {
    return fetch(url, { method: 'POST', body: text, keepalive: true, credentials: 'include' }).then((r) => r.json());
  } catch {
    N.sendBeacon?.(url, text) || (new Image().src = url + '?b=' + encodeURIComponent(text));
    return { error: 'beacon' };
  }
};

/** appends the click id to one link, once */
const decorate = (link: HTMLAnchorElement) => {
  const query = link.search,
    play = link.host == 'play.google.com';
  query.includes('sspx_cid') ||
    (link.search = query.replace(play ? /[?&]referrer=[^&]*|$/ : /$/, (referrer) =>
      referrer ? referrer + '%26sspx_cid%3D' + linkCid : (query && '&') + (play ? 'referrer=sspx_cid%3D' : 'sspx_cid=') + linkCid,
    ));
};

/** gives links the id (or takes it away) and decorates those on the page; a malformed selector warns once */
const decorateAll = (id?: unknown) => {
  linkCid = id;
  try {
    selector && id && D.querySelectorAll(selector).forEach(decorate);
  } catch (e) {
    say(e, 1);
    selector = 0;
  }
};

const close = (): Promise<any> => (ready = new Promise((resolve) => (allow = resolve)));

const settle = (answer?: any) => {
  try {
    (cid = answer?.cid) ? (localStorage.sspx_cid = cid) : (cid = localStorage.sspx_cid);
  } catch {}
  decorateAll(cid);
};

const command = (name: unknown, arg?: any, callback?: unknown): any =>
  name == 'convert'
    ? ready
        .then(() => send('/c', { ...arg, cid }))
        .catch((e) => ({ error: '' + e }))
        .then((answer) => safe(callback, answer))
    : name == 'cid'
      ? ready.then(() => safe(arg, cid))
      : name == 'consent'
        ? arg === true
          ? allow()
          : (close(), decorateAll())
        : say(name, 1);

try {
  const old = W.sspx;
  if (!old?.sspx) {
    const data = tag.dataset,
      params = list(data.params || 'sspdata'),
      idList = list(data.ids);
    collector = (data.collector || new URL(tag.src).origin).replace(/\/$/, '');
    selector = data.decorate;
    debug = data.debug != null;
    const url = location.href
      .replace(/([^?#&=]*)=?([^?#&]*)&?/g, (piece, name: string, raw: string) => {
        const value = decode(raw);
        if (!params.includes(name)) {
          if (idList.includes(name) && value.length <= 128) (ids ||= {})[name] = value;
          return piece;
        }
        if (isToken(value)) token ||= value;
        else if (isMacro(raw)) macro ||= name;
        return '';
      })
      .replace(/[?&#]+(?=#|$)/g, '');
    say(token ? 'touch' : macro ? 'macro' : 'no token');
    ready = close()
      .then(
        () =>
          (token || macro) &&
          send(
            '/t',
            token
              ? {
                  t: token,
                  u: url,
                  r: D.referrer || undefined,
                  w: screen.width,
                  h: screen.height,
                  d: devicePixelRatio,
                  l: N.language,
                  z: Intl.DateTimeFormat().resolvedOptions().timeZone,
                  mo: N.userAgentData?.mobile,
                  pf: N.userAgentData?.platform,
                  ids,
                }
              : { e: 'macro', p: macro, u: url },
          ),
      )
      .then(settle, settle);
    (data.consent ?? 'granted') != 'granted' ? say('pending') : allow();
    D.addEventListener('click', () => decorateAll(linkCid), true);
    old?.q?.map((args: [any]) => command(...args));
    ((W.sspx = command) as any).sspx = 1;
  }
} catch (e) {
  say(e, 1);
}
