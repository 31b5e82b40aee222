// The dashboard's Reconciliation page: upload Microsoft's attributed-conversions report (or see the last one read
// or fetched), the four classes per day as a chart, and one row per order with the line item, campaign and creative
// that earned each matched conversion — what the collector cannot know by itself.
import { ORDER_CLASSES, type OrderLine, type Reconciliation } from '../reconcile/classify.js';
import { CLASS_LABELS } from '../reconcile/table.js';
import { legend, stackedBars } from './charts.js';
import { html, type Html } from './html.js';
import { layout, tile, when } from './pages.js';
import { utcText } from '../clock.js';

const DAY = 86_400_000;

export interface ReconcilePageView {
  csrf: string;
  /** the last report and its reconciliation against the store now; undefined before the first */
  last?: { reconciliation: Reconciliation; saved_at: number };
  notice?: string;
  error?: string;
}

/** one bar per UTC day of the period, one segment per class */
function perDay(r: Reconciliation): { buckets: number[]; series: { key: string; label: string; values: number[] }[] } {
  const from = Date.parse(r.period.from);
  const to = Date.parse(r.period.to);
  const start = from - (from % DAY);
  const buckets: number[] = [];
  for (let t = start; t < to; t += DAY) buckets.push(t);
  const series = ORDER_CLASSES.map((c) => ({ key: c, label: CLASS_LABELS[c], values: buckets.map(() => 0) }));
  for (const o of r.orders) {
    const i = Math.floor((Date.parse(o.at) - start) / DAY);
    if (i >= 0 && i < buckets.length) series[ORDER_CLASSES.indexOf(o.class)].values[i]++;
  }
  return { buckets, series };
}

const dash = html`<span class="muted">–</span>`;
const named = (x: { id: string | null; name: string | null }) => (x.name || x.id ? html`${x.name ?? ''}${x.id ? html` <span class="muted">${x.id}</span>` : ''}` : dash);

function orderRow(o: OrderLine): Html {
  const t = o.theirs;
  const value = o.value
    ? o.value.match
      ? o.value.ours
      : html`<b>${o.value.ours} ≠ ${o.value.theirs}</b>`
    : (o.ours?.value ?? t?.revenue ?? '');
  const cv = o.click_view === 'differ' ? html`<b>${t?.kind} ≠ ${o.ours?.touch_kind}</b>` : (t?.kind ?? o.ours?.touch_kind ?? '');
  return html`<tr data-order="${o.pixel_id}/${o.order_id}" data-class="${o.class}">
  <td><span class="badge s-${o.class}">${CLASS_LABELS[o.class]}</span></td>
  <td><time datetime="${o.at}">${utcText(Date.parse(o.at))}</time></td>
  <td>${o.pixel_id}</td>
  <td><code>${o.order_id}</code></td>
  <td>${o.ours?.fire_id ? html`<a href="/admin/fires/${encodeURIComponent(o.ours.fire_id)}">${o.ours.state?.replace('_', ' ')}</a>` : (o.ours?.outcome ?? dash)}</td>
  <td class="num" data-value>${value}</td>
  <td>${cv}</td>
  <td data-line-item>${t ? named(t.line_item) : dash}</td>
  <td data-campaign>${t ? named(t.campaign) : dash}</td>
  <td data-creative>${t ? named(t.creative) : dash}</td>
  <td data-why>${o.reason ?? ''}${o.facts.length ? html`<ul class="why">${o.facts.map((f) => html`<li>${f}</li>`)}</ul>` : ''}</td>
</tr>`;
}

export function reconcilePage(v: ReconcilePageView): Html {
  const r = v.last?.reconciliation;
  const upload = html`<section class="card">
  <h2>Upload a report</h2>
  <p class="note">Microsoft's <b>Advertiser Attributed Conversions</b> report as exported (CSV) or as the Report Service returns it (JSON).
  The period is the report's UTC days unless you narrow it. <code>sspx-relay reconcile --fetch</code> pulls it from the Report Service instead.</p>
  <form class="upload" method="post" action="/admin/reconcile" enctype="multipart/form-data">
    <input type="hidden" name="_csrf" value="${v.csrf}">
    <label>Report file <input type="file" name="report" accept=".csv,.json,.txt,text/csv,application/json" required></label>
    <label>From (UTC, optional) <input type="date" name="since"></label>
    <label>to <input type="date" name="until"></label>
    <button type="submit" class="primary">Reconcile</button>
  </form>
</section>`;
  let body: Html;
  if (!r) {
    body = html`<p class="muted" data-empty>No report yet: upload one, or run <code>sspx-relay reconcile --report PATH</code> or <code>--fetch</code>.</p>`;
  } else {
    const { buckets, series } = perDay(r);
    const totals: Record<string, number> = { matched: r.matched, fired_not_counted: r.fired_not_counted, counted_not_fired: r.counted_not_fired, not_fired_here: r.not_fired_here };
    body = html`<p class="sub" data-period>${r.period.source}: ${when(Date.parse(r.period.from))} to ${when(Date.parse(r.period.to))} UTC,
  ${r.period.report_rows} report rows; saved ${when(v.last!.saved_at)}, compared with the store now.</p>
<section class="tiles">
  ${tile('matched', 'Matched', String(r.matched), `${r.click_view_differ} with click/view differing`)}
  ${tile('fired_not_counted', 'Fired, not counted', String(r.fired_not_counted), 'the router took them; Microsoft did not attribute them', r.fired_not_counted > 0)}
  ${tile('counted_not_fired', 'Counted, not fired', String(r.counted_not_fired), 'a second pixel or integration?', r.counted_not_fired > 0)}
  ${tile('not_fired_here', 'Not fired here', String(r.not_fired_here), 'we did not fire; Microsoft counted anyway', r.not_fired_here > 0)}
  ${tile('value_mismatch', 'Value mismatch', String(r.value_mismatch), 'matched orders whose revenue is not our value', r.value_mismatch > 0)}
</section>
<section class="card" data-chart="classes">
  <h2>Orders by class per day</h2>
  ${stackedBars('Orders by class per UTC day', buckets, DAY, series)}
  ${legend(ORDER_CLASSES.map((c) => ({ key: c, label: CLASS_LABELS[c], total: totals[c] })))}
  <p class="note">Each order on the day Microsoft counted it, or we fired it.</p>
</section>
<section class="card">
  <h2>Orders</h2>
  <table class="orders">
    <thead><tr><th>Class</th><th>Time (UTC)</th><th>Pixel</th><th>Order id</th><th>Our fire</th><th class="num">Value</th><th>Click/view</th><th>Line item</th><th>Campaign</th><th>Creative</th><th>Why</th></tr></thead>
    <tbody>${r.orders.length ? r.orders.map(orderRow) : html`<tr><td colspan="11" class="muted">No order in this period.</td></tr>`}</tbody>
  </table>
</section>
${r.hours.length
    ? html`<section class="card">
  <h2>Fires without an order id, per pixel and hour</h2>
  <table class="hours">
    <thead><tr><th>Pixel</th><th>Hour (UTC)</th><th class="num">Ours</th><th class="num">Microsoft</th><th class="num">Difference</th></tr></thead>
    <tbody>${r.hours.map((h) => html`<tr data-hour="${h.pixel_id}/${h.hour}"><td>${h.pixel_id}</td><td>${utcText(Date.parse(h.hour))}</td>
      <td class="num">${h.ours}</td><td class="num">${h.theirs}</td><td class="num">${h.difference > 0 ? `+${h.difference}` : h.difference}</td></tr>`)}</tbody>
  </table>
</section>`
    : ''}`;
  }
  return layout({
    title: 'Reconciliation',
    nav: 'reconcile',
    csrf: v.csrf,
    body: html`<h1>Reconciliation</h1>
<p class="sub">Our fires beside Microsoft's attributed-conversions report, order by order (pixel id and order id).</p>
${v.notice ? html`<p class="notice" role="status">${v.notice}</p>` : ''}
${v.error ? html`<p class="error" role="alert">${v.error}</p>` : ''}
${body}
${upload}`,
  });
}
