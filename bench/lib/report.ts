// One table for the whole run, and the JSON it is saved as: each row a measured value, with its goal when it has one.
import { cpus, loadavg } from 'node:os';

export type Status = 'met' | 'MISSED' | '' | 'skipped' | 'FAILED';

export interface Row {
  section: string;
  metric: string;
  value: string;
  /** e.g. `≥ 5,000/s` */
  goal?: string;
  status?: Status;
  /** for a goal: how far off, e.g. `-38 %` */
  margin?: string;
}

export interface Section {
  name: string;
  rows: Row[];
  /** everything measured, for bench/results/latest.json */
  data: Record<string, unknown>;
}

export const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a';

/** a row with a goal: `value` compared to `target`, higher or lower being better */
export function goalRow(section: string, metric: string, value: number, shown: string, target: number, better: 'higher' | 'lower', goal: string): Row {
  const met = Number.isFinite(value) && (better === 'higher' ? value >= target : value <= target);
  const margin = Number.isFinite(value) && target !== 0 ? `${value >= target ? '+' : ''}${fmt(((value - target) / target) * 100)} %` : '';
  return { section, metric, value: shown, goal, status: met ? 'met' : 'MISSED', margin };
}

/** a goal row whose run did not hold (an acknowledged item missing, a refused answer): FAILED, whatever its value */
export function unless(ok: boolean, row: Row): Row {
  return ok ? row : { ...row, status: 'FAILED' };
}

export function render(rows: Row[]): string {
  const head: Row = { section: 'section', metric: 'metric', value: 'value', goal: 'goal', status: '' as Status, margin: 'vs goal' };
  const cells = (r: Row) => [r.section, r.metric, r.value, r.goal ?? '', r.status === '' && r === head ? 'status' : (r.status ?? ''), r.margin ?? ''];
  const all = [head, ...rows].map(cells);
  const widths = all[0].map((_, i) => Math.max(...all.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((s, i) => (i === 2 || i === 5 ? s.padStart(widths[i]) : s.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [line(all[0]), widths.map((w) => '─'.repeat(w)).join('  ')];
  let last = '';
  for (const c of all.slice(1)) {
    out.push(line(c[0] === last ? ['', ...c.slice(1)] : c));
    last = c[0];
  }
  return out.join('\n');
}

/** the machine as the JSON records it: a regression is only comparable on the same kind of machine and load */
export function machine() {
  return {
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    platform: `${process.platform} ${process.arch}`,
  };
}

export const loadAverage = (): number[] => loadavg().map((l) => Math.round(l * 100) / 100);
