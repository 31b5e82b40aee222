// The dashboard's one stylesheet and one small script, kept in the build (dist/ has no other files to read) and
// served as files under /admin/assets/, so the page needs no inline script under script-src 'self'.
import { createHash } from 'node:crypto';

export const ADMIN_CSS = `
:root { --bg: #f6f6f3; --card: #fff; --ink: #1f2328; --muted: #656d76; --line: #e4e4de; --accent: #2f5d8a;
  --click: #2f5d8a; --view: #8fb1d3; --ok: #2f7d57; --grey: #b9bcc0; --amber: #c9923d; --bad: #b4433a; --violet: #7a5ea8; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
a { color: var(--accent); }
header.top { display: flex; align-items: center; gap: 24px; padding: 12px 28px; background: var(--card); border-bottom: 1px solid var(--line); }
header.top .brand { font-weight: 600; letter-spacing: .02em; }
header.top nav { display: flex; gap: 16px; flex: 1; }
header.top nav a { text-decoration: none; color: var(--muted); padding: 4px 0; }
header.top nav a.on { color: var(--ink); border-bottom: 2px solid var(--accent); }
main { padding: 20px 28px 48px; max-width: 1280px; margin: 0 auto; }
h1 { font-size: 20px; font-weight: 600; margin: 0 0 4px; }
h2 { font-size: 14px; font-weight: 600; margin: 0 0 8px; }
.sub { color: var(--muted); margin: 0 0 16px; }
.periods { display: inline-flex; border: 1px solid var(--line); border-radius: 6px; overflow: hidden; margin: 0 0 16px; background: var(--card); }
.periods a { padding: 5px 12px; text-decoration: none; color: var(--muted); border-right: 1px solid var(--line); }
.periods a:last-child { border-right: 0; }
.periods a.on { background: var(--accent); color: #fff; }
.tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; margin-bottom: 16px; }
@media (max-width: 900px) { .tiles { grid-template-columns: repeat(2, 1fr); } }
.tile { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.tile .k { color: var(--muted); font-size: 12px; }
.tile .v { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
.tile .d { color: var(--muted); font-size: 12px; }
.tile.warn .v { color: var(--bad); }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin-bottom: 16px; }
.card p.note { color: var(--muted); font-size: 12px; margin: 6px 0 0; }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart text { font-size: 11px; fill: var(--muted); font-variant-numeric: tabular-nums; }
svg.chart text.label { fill: var(--ink); }
svg.chart text.value { fill: var(--ink); font-weight: 600; }
svg.chart text.empty { font-size: 13px; }
svg.chart .grid { stroke: var(--line); stroke-width: 1; }
svg.chart .line { fill: none; stroke-width: 2; }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 16px; padding: 0; margin: 8px 0 0; color: var(--muted); }
.legend b { color: var(--ink); font-variant-numeric: tabular-nums; }
.sw { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
.s-click { fill: var(--click); background: var(--click); }
.s-view { fill: var(--view); background: var(--view); }
.s-attributed, .s-fired { fill: var(--ok); background: var(--ok); }
.s-unattributed { fill: var(--grey); background: var(--grey); }
.s-duplicate, .s-held { fill: var(--amber); background: var(--amber); }
.s-queued { fill: var(--accent); background: var(--accent); }
.s-in_flight { fill: var(--violet); background: var(--violet); }
.s-failed, .s-error { fill: var(--bad); background: var(--bad); }
.s-macro { fill: var(--amber); background: var(--amber); }
.s-matched { fill: var(--ok); background: var(--ok); }
.s-fired_not_counted { fill: var(--amber); background: var(--amber); }
.s-counted_not_fired { fill: var(--violet); background: var(--violet); }
.s-not_fired_here { fill: var(--bad); background: var(--bad); }
ul.why { margin: 4px 0 0; padding-left: 16px; color: var(--muted); font-size: 12px; }
form.upload { display: flex; flex-wrap: wrap; gap: 10px; align-items: end; }
form.upload label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 3px; }
.s-rate { stroke: var(--ok); fill: var(--ok); background: var(--ok); }
path.s-rate { fill: none; }
table { width: 100%; border-collapse: collapse; background: var(--card); }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td code, dd code { font-size: 12px; word-break: break-all; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; color: #fff; }
.badge.s-unattributed { color: var(--ink); }
form.filters { display: flex; flex-wrap: wrap; gap: 10px; align-items: end; margin-bottom: 14px; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 3px; }
input, select, button { font: inherit; padding: 5px 8px; border: 1px solid #cfd2d6; border-radius: 5px; background: #fff; color: var(--ink); }
button { cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.link { border: 0; background: none; color: var(--muted); padding: 4px 0; }
.actions { display: flex; gap: 10px; align-items: center; margin: 8px 0 16px; }
.actions a.button { padding: 5px 12px; border: 1px solid #cfd2d6; border-radius: 5px; text-decoration: none; background: #fff; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
pre.transcript { background: #1f2328; color: #e6e6e6; padding: 12px 14px; border-radius: 6px; overflow-x: auto; font-size: 12px; line-height: 1.5; white-space: pre; }
details summary { cursor: pointer; margin: 8px 0; }
.notice { background: #e8f3ec; border: 1px solid #b9dcc6; padding: 8px 12px; border-radius: 6px; margin-bottom: 14px; }
.error { background: #fbecea; border: 1px solid #efc2bd; padding: 8px 12px; border-radius: 6px; margin-bottom: 14px; }
.login { max-width: 360px; margin: 12vh auto; }
.login form { display: flex; flex-direction: column; gap: 10px; }
.muted { color: var(--muted); }
.pager { margin-top: 12px; }
`;

/** submits a filter form when one of its selects changes; shows UTC times in the viewer's local time on hover */
export const ADMIN_JS = `'use strict';
document.addEventListener('DOMContentLoaded', function () {
  document.querySelectorAll('form[data-autosubmit] select').forEach(function (el) {
    el.addEventListener('change', function () { el.form.submit(); });
  });
  document.querySelectorAll('time[datetime]').forEach(function (el) {
    var d = new Date(el.getAttribute('datetime'));
    if (!isNaN(d.getTime())) el.title = d.toLocaleString();
  });
});
`;

const etag = (s: string) => `"${createHash('sha256').update(s).digest('base64url').slice(0, 22)}"`;
export const ADMIN_CSS_ETAG = etag(ADMIN_CSS);
export const ADMIN_JS_ETAG = etag(ADMIN_JS);
