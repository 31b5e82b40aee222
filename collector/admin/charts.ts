// Small charts as inline SVG, drawn on the server: stacked bars over time, a rate line, horizontal bars, and rows of
// daily bars. Colours come from the stylesheet (class s-<key>), every mark has a <title> with its number, and each
// chart has a text legend with totals beside it, so the numbers are readable without hovering.
import { DAY, utcText } from '../clock.js';
import { html, raw, type Html } from './html.js';

const W = 640;
const H = 170;
const M = { top: 10, right: 8, bottom: 22, left: 40 };
const PLOT_W = W - M.left - M.right;
const PLOT_H = H - M.top - M.bottom;

export interface Series {
  key: string;
  label: string;
  values: number[];
}

const cls = (key: string) => `s-${key.toLowerCase().replace(/[^a-z0-9_-]/g, '-')}`;
const fmt = (n: number) => (Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(1));
const r1 = (n: number) => Math.round(n * 10) / 10;

/** a round ceiling for the y axis whose half is round too */
export function niceMax(v: number): number {
  if (v <= 2) return 2;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 4, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** the bucket's start as a short UTC label */
export function bucketLabel(at: number, bucket_ms: number): string {
  const text = utcText(at);
  return bucket_ms >= DAY ? text.slice(5, 10) : text.slice(11, 16);
}

function frame(label: string, body: string): Html {
  return raw(`<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(label)}">${body}</svg>`);
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function axes(max: number, buckets: number[], bucket_ms: number, format: (n: number) => string): string {
  const out: string[] = [];
  for (const f of [0, 0.5, 1]) {
    const y = r1(M.top + PLOT_H * (1 - f));
    out.push(`<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}"/>`);
    out.push(`<text class="tick" x="${M.left - 6}" y="${y + 4}" text-anchor="end">${esc(format(max * f))}</text>`);
  }
  const every = Math.ceil(buckets.length / 6);
  const step = PLOT_W / buckets.length;
  buckets.forEach((at, i) => {
    if ((buckets.length - 1 - i) % every) return; // the latest bucket always has its label
    out.push(`<text class="tick" x="${r1(M.left + step * (i + 0.5))}" y="${H - 6}" text-anchor="middle">${esc(bucketLabel(at, bucket_ms))}</text>`);
  });
  return out.join('');
}

function empty(label: string): string {
  return `<text class="empty" x="${M.left + PLOT_W / 2}" y="${M.top + PLOT_H / 2}" text-anchor="middle">${esc(label)}</text>`;
}

/** stacked bars, one per bucket, one segment per series */
export function stackedBars(title: string, buckets: number[], bucket_ms: number, series: Series[]): Html {
  const totals = buckets.map((_, i) => series.reduce((s, x) => s + (x.values[i] ?? 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const step = PLOT_W / buckets.length;
  const width = r1(Math.max(1, step * 0.72));
  const out = [axes(max, buckets, bucket_ms, fmt)];
  buckets.forEach((at, i) => {
    let y = M.top + PLOT_H;
    for (const s of series) {
      const v = s.values[i] ?? 0;
      if (!v) continue;
      const h = (v / max) * PLOT_H;
      y -= h;
      out.push(
        `<rect class="${cls(s.key)}" x="${r1(M.left + step * i + (step - width) / 2)}" y="${r1(y)}" width="${width}" height="${r1(Math.max(h, 0.5))}">` +
          `<title>${esc(`${bucketLabel(at, bucket_ms)} UTC · ${s.label}: ${fmt(v)}`)}</title></rect>`,
      );
    }
  });
  if (!totals.some(Boolean)) out.push(empty('nothing in this period'));
  return frame(title, out.join(''));
}

/** a 0–100 % line with a dot per bucket that has a value; gaps where there is none */
export function rateLine(title: string, buckets: number[], bucket_ms: number, values: (number | null)[], key = 'rate'): Html {
  const step = PLOT_W / buckets.length;
  const out = [axes(1, buckets, bucket_ms, (n) => `${Math.round(n * 100)}%`)];
  const point = (i: number, v: number) => [r1(M.left + step * (i + 0.5)), r1(M.top + PLOT_H * (1 - v))] as const;
  let path = '';
  values.forEach((v, i) => {
    if (v == null) return;
    const [x, y] = point(i, v);
    path += `${values[i - 1] == null ? 'M' : 'L'}${x},${y}`;
  });
  if (path) out.push(`<path class="line ${cls(key)}" d="${path}"/>`);
  values.forEach((v, i) => {
    if (v == null) return;
    const [x, y] = point(i, v);
    out.push(`<circle class="dot ${cls(key)}" cx="${x}" cy="${y}" r="3"><title>${esc(`${bucketLabel(buckets[i], bucket_ms)} UTC · ${(v * 100).toFixed(1)}%`)}</title></circle>`);
  });
  if (!path) out.push(empty('no conversions in this period'));
  return frame(title, out.join(''));
}

/** labelled horizontal bars, longest first, with the number at the end */
export function horizontalBars(title: string, items: { label: string; value: number }[], key = 'error'): Html {
  const rowH = 22;
  const labelW = 170;
  const height = Math.max(1, items.length) * rowH + 8;
  const max = Math.max(1, ...items.map((i) => i.value));
  const barMax = W - labelW - 60;
  const out = items.map((item, i) => {
    const y = 4 + i * rowH;
    const w = r1(Math.max(2, (item.value / max) * barMax));
    return (
      `<text class="label" x="${labelW - 8}" y="${y + 15}" text-anchor="end">${esc(item.label)}</text>` +
      `<rect class="${cls(key)}" x="${labelW}" y="${y + 3}" width="${w}" height="${rowH - 8}"><title>${esc(`${item.label}: ${fmt(item.value)}`)}</title></rect>` +
      `<text class="value" x="${labelW + w + 6}" y="${y + 15}">${esc(fmt(item.value))}</text>`
    );
  });
  if (!items.length) out.push(`<text class="empty" x="${W / 2}" y="19" text-anchor="middle">none in this period</text>`);
  return raw(`<svg class="chart" viewBox="0 0 ${W} ${height}" role="img" aria-label="${esc(title)}">${out.join('')}</svg>`);
}

/** one row of daily bars per site: a misconfigured line item shows as a spike in its site's row */
export function dailyRows(title: string, days: string[], rows: { label: string; counts: number[]; total: number }[], key = 'macro'): Html {
  const rowH = 30;
  const labelW = 190;
  const totalW = 50;
  const height = Math.max(1, rows.length) * rowH + 18;
  const step = (W - labelW - totalW) / days.length;
  const width = r1(Math.max(1, step * 0.7));
  const max = Math.max(1, ...rows.flatMap((r) => r.counts));
  const out: string[] = [];
  rows.forEach((row, r) => {
    const base = 4 + r * rowH + rowH - 6;
    out.push(`<text class="label" x="${labelW - 8}" y="${base - 4}" text-anchor="end">${esc(row.label)}</text>`);
    out.push(`<line class="grid" x1="${labelW}" x2="${W - totalW}" y1="${base}" y2="${base}"/>`);
    row.counts.forEach((v, i) => {
      if (!v) return;
      const h = r1(Math.max(1, (v / max) * (rowH - 8)));
      out.push(`<rect class="${cls(key)}" x="${r1(labelW + step * i + (step - width) / 2)}" y="${r1(base - h)}" width="${width}" height="${h}"><title>${esc(`${row.label} · ${days[i]}: ${fmt(v)}`)}</title></rect>`);
    });
    out.push(`<text class="value" x="${W - totalW + 8}" y="${base - 4}">${esc(fmt(row.total))}</text>`);
  });
  if (rows.length) {
    out.push(`<text class="tick" x="${labelW}" y="${height - 2}">${esc(days[0].slice(5))}</text>`);
    out.push(`<text class="tick" x="${W - totalW}" y="${height - 2}" text-anchor="end">${esc(days[days.length - 1].slice(5))}</text>`);
  } else {
    out.push(`<text class="empty" x="${W / 2}" y="22" text-anchor="middle">no unreplaced macros: every line item passes its token</text>`);
  }
  return raw(`<svg class="chart" viewBox="0 0 ${W} ${height}" role="img" aria-label="${esc(title)}">${out.join('')}</svg>`);
}

/** the text legend under a chart: a swatch, the name, the period's total */
export function legend(series: { key: string; label: string; total: number | string }[]): Html {
  return html`<ul class="legend">${series.map(
    (s) => html`<li><i class="sw ${cls(s.key)}"></i>${s.label} <b data-n="${s.key}">${typeof s.total === 'number' ? fmt(s.total) : s.total}</b></li>`,
  )}</ul>`;
}
