// The reconciliation on a terminal: the four counts, then one line per order that differs (or every order with
// `all`), then the per-hour counts of fires without an order id. Plain text, aligned, no colour.
import { type OrderClass, type OrderLine, type Reconciliation } from './classify.js';
import { utcText } from '../clock.js';

export const CLASS_LABELS: Record<OrderClass, string> = {
  matched: 'matched',
  fired_not_counted: 'fired, not counted',
  counted_not_fired: 'counted, not fired',
  not_fired_here: 'not fired here',
};

const short = (iso: string) => utcText(Date.parse(iso));

/** columns padded to their widest cell; the last column is left as is */
export function columns(rows: string[][], right: number[] = []): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    ('  ' + r.map((c, i) => (i === r.length - 1 ? c : right.includes(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ')).trimEnd(),
  );
}

function valueCell(o: OrderLine): string {
  if (o.value) return o.value.match ? o.value.ours : `${o.value.ours} ≠ ${o.value.theirs}`;
  return o.ours?.value ?? o.theirs?.revenue ?? '';
}

function why(o: OrderLine): string {
  if (o.class !== 'matched') return o.reason ?? '';
  const notes: string[] = [];
  if (o.value && !o.value.match) notes.push(`value differs by ${o.value.difference}`);
  if (o.click_view === 'differ') notes.push(`Microsoft: post-${o.theirs!.kind}, ours: ${o.ours!.touch_kind}`);
  const li = o.theirs?.line_item;
  if (li?.name || li?.id) notes.push(`line item ${li.name ?? li.id}`);
  return notes.join('; ');
}

export function renderTable(r: Reconciliation, opts: { all?: boolean } = {}): string {
  const p = r.period;
  const out = [
    `sspx-relay reconcile: ${short(p.from)} to ${short(p.to)} UTC, ${p.source} (${p.report_rows} report row${p.report_rows === 1 ? '' : 's'}` +
      `${p.report_rows_outside_period ? `, ${p.report_rows_outside_period} outside the period ignored` : ''})`,
    '',
    ...columns(
      [
        ['matched', String(r.matched), `${r.click_view_differ} with click/view differing`],
        ['fired, not counted', String(r.fired_not_counted), 'the router took them; Microsoft did not attribute them'],
        ['counted, not fired', String(r.counted_not_fired), 'in the report, never fired by us: a second pixel or integration?'],
        ['not fired here', String(r.not_fired_here), 'recorded but not fired by us, counted by Microsoft anyway'],
        ['value mismatch', String(r.value_mismatch), 'matched orders whose revenue is not our value'],
      ],
      [1],
    ),
  ];
  const shown = r.orders.filter((o) => opts.all || o.class !== 'matched' || (o.value && !o.value.match) || o.click_view === 'differ');
  if (shown.length) {
    out.push('', opts.all ? 'orders:' : 'orders that differ:');
    out.push(
      ...columns([
        ['CLASS', 'PIXEL', 'ORDER', 'TIME (UTC)', 'VALUE', 'WHY'],
        ...shown.map((o) => [CLASS_LABELS[o.class], String(o.pixel_id), o.order_id, short(o.at), valueCell(o), why(o)]),
      ]),
    );
    const detailed = shown.filter((o) => o.facts.length);
    for (const o of detailed) {
      out.push('', `  ${o.order_id} (pixel ${o.pixel_id}, ${CLASS_LABELS[o.class]}):`);
      for (const f of o.facts) out.push(`    - ${f}`);
    }
  } else if (r.orders.length) {
    out.push('', `every order agrees (${r.orders.length}); --all lists them`);
  }
  if (r.hours.length) {
    out.push('', 'fires without an order id, per pixel and hour:');
    out.push(
      ...columns(
        [
          ['PIXEL', 'HOUR (UTC)', 'OURS', 'MICROSOFT', 'DIFFERENCE'],
          ...r.hours.map((h) => [String(h.pixel_id), short(h.hour), String(h.ours), String(h.theirs), h.difference > 0 ? `+${h.difference}` : String(h.difference)]),
        ],
        [2, 3],
      ),
    );
  }
  return out.join('\n') + '\n';
}
