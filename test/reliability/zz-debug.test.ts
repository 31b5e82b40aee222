import { it } from 'vitest';
import { BASE_CONFIG } from '../support/collector.js';
import { spawnCollector, tempDir } from '../support/proc.js';
import { startRouter } from '../support/router.js';
import { fireStates, until } from './db.js';
import { loadItems, runLoad } from './load.js';
it('speed', async () => {
  const router = await startRouter();
  const dir = tempDir();
  const p = await spawnCollector({ dir, config: { ...BASE_CONFIG, port: 0, store: `sqlite:${dir}/sspx.db`, log_level: 'warn', dispatcher: true, router: router.url, poll_interval_ms: 100 } });
  let t = Date.now();
  const r = await runLoad(loadItems(2000, 'S'), { target: () => p.url, concurrency: 32 });
  console.log('load ms', Date.now() - t, r.statuses, 'fired so far', router.fires.length);
  await until('fired', () => (fireStates(`${dir}/sspx.db`).fired ?? 0) === 1000, 60000);
  console.log('all fired ms', Date.now() - t);
  await p.stop();
  await router.close();
}, 120000);
