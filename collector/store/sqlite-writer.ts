// Touch inserts off the event loop (issue 16): a worker thread with a connection of its own to the same SQLite file
// commits each group of touches, so the HTTP thread spends no time in SQLite's B-trees for them, and answers after
// the commit as before (synchronous=NORMAL: a touch survives a crash of the process, as documented in sqlite.ts).
// Conversions, attempts and reads stay on the store's own connection; WAL lets the two connections read while the
// other writes, and busy_timeout makes a writer wait for the other's commit. The worker's code is plain CommonJS
// evaluated from a string, so it runs alike from the TypeScript sources (tests) and from dist/.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 5000');
const insert = db.prepare(workerData.insertSql);
const commit = db.transaction((rows) => { for (const row of rows) insert.run(row); });
// every group that arrived while the last commit ran is committed together, each answered after it
let queued = [];
function flush() {
  const groups = queued;
  queued = [];
  try {
    commit(groups.flatMap((g) => g.rows));
    for (const g of groups) parentPort.postMessage({ id: g.id });
  } catch (err) {
    // one bad group must not fail the others: retry each alone, answering each with its own outcome
    for (const g of groups) {
      try { commit(g.rows); parentPort.postMessage({ id: g.id }); }
      catch (e) { parentPort.postMessage({ id: g.id, error: String(e && e.message || e) }); }
    }
  }
}
parentPort.on('message', (msg) => {
  if (msg === 'close') { db.close(); parentPort.close(); return; }
  if (!queued.length) setImmediate(flush);
  queued.push(msg);
});
`;

export class TouchWriter {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private next = 0;
  private failed?: Error;

  constructor(path: string, insertSql: string) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, insertSql, driver } });
    this.worker.on('message', (msg: { id: number; error?: string }) => {
      const w = this.waiting.get(msg.id);
      this.waiting.delete(msg.id);
      if (msg.error) w?.reject(new Error(msg.error));
      else w?.resolve();
    });
    const fail = (err: Error) => {
      this.failed = err;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', () => fail(new Error('the touch writer has stopped')));
  }

  /** commits these rows (the insert's named parameters) in one transaction; resolves after the commit */
  insert(rows: Record<string, unknown>[]): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      const id = ++this.next;
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, rows });
    });
  }

  /** after every insert asked for so far is answered */
  async close(): Promise<void> {
    while (this.waiting.size && !this.failed) await new Promise((r) => setTimeout(r, 5));
    if (this.failed) return;
    const exited = new Promise((r) => this.worker.once('exit', r));
    this.worker.postMessage('close');
    await exited;
  }
}
