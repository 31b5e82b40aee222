// Load from a separate process on the outside world's core: wrk where it is installed (one thread, a Lua script
// making each body), else autocannon in a child process (../load.ts). Both send the same requests — the captured
// headers, a fresh token or order id in every body — and leave every answer (status and body) in a file, from
// which the bench counts what was acknowledged and checks each acknowledged item by id in the store.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOAD_CHILD, onCores, PINNING, which } from './proc.js';

export interface LoadSettings {
  connections: number;
  /** seconds measured, after warmupSeconds that are not */
  seconds: number;
  warmupSeconds: number;
}

/** marks in a body template: FRESH becomes a new value per request, CLICK_ID a new 32-hex-digit click id (as
 * Microsoft's msclkid), PICK the next of `pick` in turn */
export const FRESH = '@@FRESH@@';
export const CLICK_ID = '@@CLICKID@@';
export const PICK = '@@PICK@@';

export interface LoadRequest {
  method: 'GET' | 'POST';
  path: string;
  /** in the order they are sent */
  headers: [string, string][];
  /** the body with FRESH (and PICK) marks */
  template: string;
  /** FRESH = prefix + the request's number in base 36, zero-padded to `digits` + suffix */
  fresh: { prefix: string; digits: number; suffix: string };
  pick?: string[];
  /** the JSON field of a 200 answer that names what was stored (cid, conversion_id) */
  idField: string;
}

export interface LoadSpec extends LoadRequest, LoadSettings {
  origin: string;
  answersFile: string;
}

/** what the load process reports of the measured run */
export interface LoadOutcome {
  tool: string;
  responses: number;
  seconds: number;
  p50_ms: number;
  p99_ms: number;
  /** requests without an answer, timeouts included (as autocannon counts them) */
  errors: number;
  timeouts: number;
}

export interface LoadResult extends LoadOutcome {
  rps: number;
  /** 200 answers carrying an id, warm-up included: what the server acknowledged */
  accepted: string[];
  /** answers that are not an acceptance (202 bot drop, 429, 4xx, 5xx, 200 without an id), by status */
  refused: Record<string, number>;
  /** one refused answer, to show why */
  refusal?: string;
}

/** the body of request number n */
export function bodyMaker(r: Pick<LoadRequest, 'template' | 'fresh' | 'pick'>): (n: number) => string {
  const pieces = r.template.split(new RegExp(`(${FRESH}|${CLICK_ID}|${PICK})`));
  const { prefix, digits, suffix } = r.fresh;
  return (n) => {
    const fresh = prefix + n.toString(36).padStart(digits, '0') + suffix;
    let out = '';
    for (const p of pieces) out += p === FRESH ? fresh : p === CLICK_ID ? n.toString(16).padStart(32, '0') : p === PICK ? r.pick![n % r.pick!.length] : p;
    return out;
  };
}

const WRK = which('wrk');
export const LOAD_TOOL = WRK ? `wrk (${WRK}), one thread` : 'autocannon in a child process';

let runs = 0;

/** runs the load against `origin` from a separate process and reads back every answer */
export async function load(origin: string, r: LoadRequest, s: LoadSettings, dir: string): Promise<LoadResult> {
  const run = ++runs;
  const answersFile = join(dir, `answers-${run}.txt`);
  const spec: LoadSpec = { ...r, ...s, origin, answersFile };
  const outcome = WRK ? await wrk(spec, dir, run) : await child(spec, dir, run);
  const accepted: string[] = [];
  const refused: Record<string, number> = {};
  let refusal: string | undefined;
  for (const line of readFileSync(answersFile, 'utf8').split('\n')) {
    if (!line) continue;
    const tab = line.indexOf('\t');
    const status = line.slice(0, tab);
    const body = line.slice(tab + 1);
    let id: unknown;
    if (status === '200') {
      try {
        id = (JSON.parse(body) as Record<string, unknown>)[r.idField];
      } catch {
        id = undefined;
      }
    }
    if (typeof id === 'string' && id) accepted.push(id);
    else (refused[status] = (refused[status] ?? 0) + 1), (refusal ??= `${status} ${body.slice(0, 200)}`);
  }
  return { ...outcome, rps: Math.round(outcome.responses / outcome.seconds), accepted, refused, refusal };
}

function exec(command: string, args: string[]): Promise<string> {
  const [cmd, argv] = onCores(PINNING.world, command, args);
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    p.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    p.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited ${code}: ${err.slice(0, 500)}`))));
  });
}

async function child(spec: LoadSpec, dir: string, run: number): Promise<LoadOutcome> {
  const path = join(dir, `load-${run}.json`);
  writeFileSync(path, JSON.stringify(spec));
  const out = await exec(process.execPath, [LOAD_CHILD, path]);
  return JSON.parse(out.trim().split('\n').at(-1)!) as LoadOutcome;
}

const lua = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

/**
 * wrk, one thread: a Lua script makes each body (the template's pieces joined around the fresh value) and appends
 * every answer to the answers file; the warm-up is a run of its own before the measured one, numbering on.
 */
async function wrk(spec: LoadSpec, dir: string, run: number): Promise<LoadOutcome> {
  const pieces = spec.template.split(new RegExp(`(${FRESH}|${CLICK_ID}|${PICK})`));
  const script = (start: number, answers: string, mode: string) => `
local n = ${start} - 1
local pieces = { ${pieces.map(lua).join(', ')} }
local picks = { ${(spec.pick ?? []).map(lua).join(', ')} }
local headers = { ${spec.headers.map(([k, v]) => `[${lua(k)}] = ${lua(v)}`).join(', ')} }
local digits = "0123456789abcdefghijklmnopqrstuvwxyz"
local function base36(x)
  local s = ""
  repeat local d = x % 36; s = digits:sub(d + 1, d + 1) .. s; x = math.floor(x / 36) until x == 0
  return string.rep("0", ${spec.fresh.digits} - #s) .. s
end
local out = io.open(${lua(answers)}, ${lua(mode)})
out:setvbuf("line")
request = function()
  n = n + 1
  local fresh = ${lua(spec.fresh.prefix)} .. base36(n) .. ${lua(spec.fresh.suffix)}
  local parts = {}
  for i, p in ipairs(pieces) do
    if p == ${lua(FRESH)} then parts[i] = fresh elseif p == ${lua(CLICK_ID)} then parts[i] = string.format("%032x", n) elseif p == ${lua(PICK)} then parts[i] = picks[n % #picks + 1] else parts[i] = p end
  end
  return wrk.format(${lua(spec.method)}, ${lua(spec.path)}, headers, table.concat(parts))
end
response = function(status, _, body)
  out:write(status, "\\t", (body or ""):gsub("\\n", " "), "\\n")
end
done = function(summary, latency)
  io.write(string.format('{"responses":%d,"seconds":%f,"p50_ms":%f,"p99_ms":%f,"errors":%d,"timeouts":%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.timeout))
end
`;
  const go = async (seconds: number, start: number, mode: string) => {
    const path = join(dir, `load-${run}-${start}.lua`);
    writeFileSync(path, script(start, spec.answersFile, mode));
    const out = await exec(WRK!, ['-t1', `-c${spec.connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', path, spec.origin + spec.path]);
    return JSON.parse(out.trim().split('\n').at(-1)!) as Omit<LoadOutcome, 'tool'>;
  };
  writeFileSync(spec.answersFile, '');
  let start = 0;
  if (spec.warmupSeconds > 0) start = (await go(spec.warmupSeconds, 0, 'a')).responses + 1_000_000;
  const measured = await go(spec.seconds, start, 'a');
  return { tool: `wrk -t1 -c${spec.connections}`, ...measured };
}
