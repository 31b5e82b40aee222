// A bounded load generator for the fault suites: a fixed list of touches (POST /t, as the script sends them) and
// server-to-server conversions (POST /v1/conversions, one order_id each), sent by `concurrency` workers over
// keep-alive connections to whatever URL `target()` names at the moment. Every answer is kept, so a suite can
// check afterwards that everything acknowledged (a 2xx with its ids) is in the store, exactly once.
import http from 'node:http';
import { SERVER_KEY, SITE, token } from '../support/collector.js';
import { send } from '../support/proc.js';

export type LoadItem =
  | { kind: 'touch'; i: number; token: string }
  | { kind: 'conversion'; i: number; token: string; order_id: string };

export interface Ack {
  item: LoadItem;
  status: number;
  cid?: string;
  conversion_id?: string;
  fire_id?: string | null;
  outcome?: string;
}

export interface LoadResult {
  acked: Ack[];
  /** items that got no answer (the process was gone) or a non-2xx: a client would send them again */
  failed: LoadItem[];
  statuses: Record<string, number>;
}

/** `n` items alternating touch / conversion; each conversion carries the token of the touch just before it */
export function loadItems(n: number, tag: string): LoadItem[] {
  return Array.from({ length: n }, (_, i): LoadItem => {
    const t = token(`${tag}${i - (i % 2)}`);
    return i % 2 === 0 ? { kind: 'touch', i, token: t } : { kind: 'conversion', i, token: t, order_id: `${tag}-${i}` };
  });
}

function request(item: LoadItem): { path: string; headers: Record<string, string>; body: string } {
  if (item.kind === 'touch') {
    return {
      path: '/t',
      headers: { origin: SITE, 'content-type': 'text/plain;charset=UTF-8', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; load)' },
      body: JSON.stringify({ t: item.token, u: `${SITE}/landing?n=${item.i}` }),
    };
  }
  return {
    path: '/v1/conversions',
    headers: { authorization: `Bearer ${SERVER_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ pixel: 'purchase', token: item.token, order_id: item.order_id, value: '12.50' }),
  };
}

export interface LoadOptions {
  /** the collector to send to now; null: the item fails without a request */
  target: () => string | null;
  concurrency?: number;
  /** called after every answered or failed item, in completion order */
  onResult?: (acked: number, failed: number) => void;
  timeoutMs?: number;
}

export async function runLoad(items: LoadItem[], opts: LoadOptions): Promise<LoadResult> {
  const concurrency = opts.concurrency ?? 32;
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const result: LoadResult = { acked: [], failed: [], statuses: {} };
  let next = 0;
  const count = (key: string) => (result.statuses[key] = (result.statuses[key] ?? 0) + 1);
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      const base = opts.target();
      if (!base) {
        result.failed.push(item);
        count('no_target');
      } else {
        const r = request(item);
        try {
          const res = await send(base + r.path, { method: 'POST', headers: r.headers, body: r.body, agent, timeoutMs: opts.timeoutMs ?? 30_000 });
          count(String(res.status));
          const body = JSON.parse(res.body || '{}');
          if (res.status >= 200 && res.status < 300) result.acked.push({ item, status: res.status, ...body });
          else result.failed.push(item);
        } catch (err) {
          count((err as NodeJS.ErrnoException).code ?? `network: ${(err as Error).message.slice(0, 80)}`);
          result.failed.push(item);
        }
      }
      opts.onResult?.(result.acked.length, result.failed.length);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return result;
}
