// The dashboard's pages as HTML: login, overview, the fires table and one fire. Everything interpolated is escaped
// (html.ts); charts are SVG from charts.ts. No inline script: the page loads /admin/assets/admin.js.
import { DAY, HOUR, isoMillis, utcText } from '../clock.js';
import type { Config } from '../config.js';
import { findPixel } from '../config.js';
import { renderAttempt } from '../dispatch/transcript.js';
import type { Conversion, Fire, FireDetail, InstallDetail, Touch } from '../store/store.js';
import { bindConfidence, CONVERSION_OUTCOMES, FIRE_STATES } from '../vocabulary.js';
import { dailyRows, horizontalBars, legend, rateLine, stackedBars } from './charts.js';
import { html, query, raw, type Html } from './html.js';
import { PERIODS, duration, percent, type Overview, type Period } from './overview.js';
import { ADMIN_CSS_ETAG, ADMIN_JS_ETAG } from './assets.js';

const asset = (name: string, tag: string) => `/admin/assets/${name}?v=${encodeURIComponent(tag.replace(/"/g, ''))}`;

export const when = (t: number | null | undefined): Html => {
  if (t == null) return html`<span class="muted">–</span>`;
  return html`<time datetime="${isoMillis(t)}">${utcText(t, 'second')}</time>`;
};

const fmt = (n: number) => n.toLocaleString('en-US');
/** 1 → "1 click", 4 → "4 clicks" */
const count = (n: number, one: string, many = one + 's') => `${fmt(n)} ${n === 1 ? one : many}`;

export function layout(opts: { title: string; nav?: 'overview' | 'fires' | 'reconcile'; csrf?: string; body: Html }): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<link rel="icon" href="data:,">
<title>${opts.title} · sspx-relay</title>
<link rel="stylesheet" href="${asset('admin.css', ADMIN_CSS_ETAG)}">
<script src="${asset('admin.js', ADMIN_JS_ETAG)}" defer></script>
</head>
<body>
${opts.csrf
    ? html`<header class="top">
  <span class="brand">sspx-relay</span>
  <nav>
    <a href="/admin" class="${opts.nav === 'overview' ? 'on' : ''}">Overview</a>
    <a href="/admin/fires" class="${opts.nav === 'fires' ? 'on' : ''}">Fires</a>
    <a href="/admin/reconcile" class="${opts.nav === 'reconcile' ? 'on' : ''}">Reconciliation</a>
  </nav>
  <form method="post" action="/admin/logout"><input type="hidden" name="_csrf" value="${opts.csrf}"><button class="link" type="submit">Log out</button></form>
</header>`
    : ''}
<main>
${opts.body}
</main>
</body>
</html>
`;
}

export function loginPage(opts: { next: string; error?: string }): Html {
  return layout({
    title: 'Log in',
    body: html`<div class="login card">
  <h1>sspx-relay</h1>
  <p class="sub">Operators' dashboard. Log in with an admin key from the configuration (<code>keys.admin</code>).</p>
  ${opts.error ? html`<p class="error" role="alert">${opts.error}</p>` : ''}
  <form method="post" action="/admin/login">
    <input type="hidden" name="next" value="${opts.next}">
    <label for="key">Admin key</label>
    <input id="key" name="key" type="password" autocomplete="current-password" required autofocus>
    <button class="primary" type="submit">Log in</button>
  </form>
</div>`,
  });
}

export function tile(key: string, label: string, value: string, detail?: string, warn = false): Html {
  return html`<div class="tile${warn ? ' warn' : ''}" data-tile="${key}"><div class="k">${label}</div><div class="v">${value}</div>${detail ? html`<div class="d">${detail}</div>` : ''}</div>`;
}

export function overviewPage(o: Overview, csrf: string): Html {
  const t = o.totals;
  const b = o.buckets;
  const periodLinks = (Object.keys(PERIODS) as Period[]).map(
    (p) => html`<a href="/admin${query({ period: p })}" class="${p === o.period ? 'on' : ''}">${PERIODS[p].label}</a>`,
  );
  const bucketWord = o.bucket_ms >= DAY ? 'day' : o.bucket_ms >= HOUR ? 'hour' : '5 minutes';
  const fired = t.fires.fired;
  const stuck = t.fires.failed + t.fires.held;
  return layout({
    title: 'Overview',
    nav: 'overview',
    csrf,
    body: html`<h1>Overview</h1>
<p class="sub">${PERIODS[o.period].label}: ${when(o.from)} to ${when(o.to)} UTC, one bar per ${bucketWord}.</p>
<nav class="periods" aria-label="period">${periodLinks}</nav>
<section class="tiles">
  ${tile('touches', 'Touches', fmt(t.touches), `${count(t.clicks, 'click')} · ${count(t.views, 'view')}`)}
  ${tile('conversions', 'Conversions', fmt(t.conversions), `${fmt(t.outcomes.attributed)} attributed · ${fmt(t.outcomes.unattributed)} unattributed · ${fmt(t.outcomes.duplicate)} duplicate`)}
  ${tile('attribution', 'Attribution rate', percent(t.attribution_rate), 'attributed ÷ (attributed + unattributed)')}
  ${tile('fired', 'Fires fired', fmt(fired), `${fmt(t.fires.queued + t.fires.in_flight)} pending · ${fmt(stuck)} failed or held`, false)}
  ${tile('failed_attempts', 'Failed attempts', fmt(t.failed_attempts), `of ${count(t.attempts, 'attempt')}`, t.failed_attempts > 0)}
  ${tile('queue', 'Queue depth', fmt(o.queue.queued), `${fmt(o.queue.due)} due now · ${fmt(o.queue.in_flight)} in flight`)}
  ${tile('oldest_due', 'Oldest due fire waits', duration(o.queue.oldest_due_age_ms), o.queue.oldest_due_at == null ? 'nothing is due' : 'since it became due', (o.queue.oldest_due_age_ms ?? 0) > 5 * 60_000)}
  ${tile('macros', 'Unreplaced macros', fmt(t.macros), `last ${o.macros.days.length} days`, t.macros > 0)}
</section>
<div class="grid2">
  <section class="card" data-chart="touches">
    <h2>Touches</h2>
    ${stackedBars('Touches by kind', b, o.bucket_ms, [
      { key: 'click', label: 'click', values: o.touches.click },
      { key: 'view', label: 'view', values: o.touches.view },
    ])}
    ${legend([{ key: 'click', label: 'click', total: t.clicks }, { key: 'view', label: 'view', total: t.views }])}
  </section>
  <section class="card" data-chart="conversions">
    <h2>Conversions by outcome</h2>
    ${stackedBars('Conversions by outcome', b, o.bucket_ms, CONVERSION_OUTCOMES.map((k) => ({ key: k, label: k, values: o.conversions[k] })))}
    ${legend(CONVERSION_OUTCOMES.map((k) => ({ key: k, label: k, total: t.outcomes[k] })))}
  </section>
  <section class="card" data-chart="attribution">
    <h2>Attribution rate</h2>
    ${rateLine('Attribution rate', b, o.bucket_ms, o.attribution)}
    ${legend([{ key: 'rate', label: 'attributed ÷ (attributed + unattributed)', total: percent(t.attribution_rate) }])}
  </section>
  <section class="card" data-chart="fires">
    <h2>Fires by result</h2>
    ${stackedBars('Fires by state', b, o.bucket_ms, FIRE_STATES.map((k) => ({ key: k, label: k.replace('_', ' '), values: o.fires[k] })))}
    ${legend(FIRE_STATES.map((k) => ({ key: k, label: k.replace('_', ' '), total: t.fires[k] })))}
    <p class="note">Fires created in each ${bucketWord}, by their state now.</p>
  </section>
  <section class="card" data-chart="errors">
    <h2>Fire failures by error class</h2>
    ${horizontalBars('Failed attempts by error class', o.errors.map((e) => ({ label: e.error_class, value: e.count })))}
    <p class="note">Attempts that did not fire: retried, failed, ambiguous, or whose lease expired. ${fmt(t.failed_attempts)} of ${count(t.attempts, 'attempt')}.</p>
  </section>
  <section class="card" data-chart="macros">
    <h2>Unreplaced macros per site and day</h2>
    ${dailyRows('Unreplaced macros per site and day', o.macros.days, o.macros.sites.map((s) => ({ label: s.site, counts: s.counts, total: s.total })))}
    <p class="note">A landing URL that still says <code>\${SSP_DATA}</code>: a misconfigured line item shows as a spike. Last ${o.macros.days.length} UTC days.</p>
  </section>
</div>`,
  });
}

const badge = (state: string) => html`<span class="badge s-${state}">${state.replace('_', ' ')}</span>`;
/** a conversion's outcome, with the rule that made it a duplicate, or the conversion that superseded it */
const conversionOutcome = (c: Pick<Conversion, 'outcome' | 'rule' | 'superseded_by'>) =>
  html`${badge(c.outcome)}${c.rule ? html` <span class="muted" data-rule="${c.rule}">by ${c.rule}</span>` : ''}${c.superseded_by ? html` <span class="muted">superseded by <code>${c.superseded_by}</code></span>` : ''}`;
/** a fire's state; a test conversion's fire, or a dry run's, says instead that its request was recorded and never sent */
const fireBadge = (fire: Pick<Fire, 'state' | 'dry_run' | 'test'>) =>
  fire.test
    ? html`<span class="badge s-held" data-test title="test conversion: the request is recorded, never sent">test · not sent</span>`
    : fire.dry_run ? html`<span class="badge s-held" title="dry run: the request was recorded, never sent">dry run · not sent</span>` : badge(fire.state);
/** an attempt's outcome, coloured as the fire state it leads to: fired, failed, or amber for "will try again" */
const outcomeBadge = (outcome: string) =>
  html`<span class="badge s-${outcome === 'fired' || outcome === 'failed' ? outcome : 'held'}">${outcome.replace('_', ' ')}</span>`;

export interface FireListView {
  fires: Fire[];
  /** the filters as typed, to fill the form and keep in links */
  filters: Record<string, string>;
  error?: string;
  next?: string;
  config: Config;
  csrf: string;
}


export function firesPage(v: FireListView): Html {
  const f = v.filters;
  const keep = query(f);
  const pixelName = (id: number) => findPixel(v.config, id)?.name;
  const rows = v.fires.map(
    (fire) => html`<tr data-fire="${fire.id}">
  <td>${when(fire.created_at)}</td>
  <td><a href="/admin/fires/${encodeURIComponent(fire.id)}${keep}"><code>${fire.id}</code></a></td>
  <td>${fire.pixel_id}${pixelName(fire.pixel_id) ? html` <span class="muted">${pixelName(fire.pixel_id)}</span>` : ''}</td>
  <td>${fire.order_id ?? html`<span class="muted">–</span>`}</td>
  <td>${fireBadge(fire)}</td>
  <td class="num">${fire.attempt_count}</td>
  <td>${fire.last_outcome ?? html`<span class="muted">–</span>`}</td>
  <td>${fire.state === 'queued' ? when(fire.next_attempt_at) : fire.fired_at ? when(fire.fired_at) : html`<span class="muted">–</span>`}</td>
  <td class="muted">${fire.last_error ? (fire.last_error.length > 80 ? fire.last_error.slice(0, 79) + '…' : fire.last_error) : ''}</td>
</tr>`,
  );
  return layout({
    title: 'Fires',
    nav: 'fires',
    csrf: v.csrf,
    body: html`<h1>Fires</h1>
<p class="sub">The outbox, newest first. Times are UTC.</p>
${v.error ? html`<p class="error" role="alert">${v.error}</p>` : ''}
<form class="filters" method="get" action="/admin/fires" data-autosubmit>
  <label>Pixel <input name="pixel" list="pixels" value="${f.pixel ?? ''}" placeholder="name or id" size="12"></label>
  <datalist id="pixels">${Object.entries(v.config.pixels).map(([name, p]) => html`<option value="${name}">${p.id}</option>`)}</datalist>
  <label>Order id <input name="order_id" value="${f.order_id ?? ''}" size="14"></label>
  <label>State <select name="state"><option value="">any</option>${FIRE_STATES.map(
    (s) => html`<option value="${s}"${s === f.state ? raw(' selected') : ''}>${s.replace('_', ' ')}</option>`,
  )}</select></label>
  <label>Created from (UTC) <input type="datetime-local" name="from" value="${f.from ?? ''}"></label>
  <label>to (UTC) <input type="datetime-local" name="to" value="${f.to ?? ''}"></label>
  <button type="submit" class="primary">Filter</button>
  <a href="/admin/fires">Clear</a>
</form>
<table class="fires">
  <thead><tr><th>Created</th><th>Fire</th><th>Pixel</th><th>Order id</th><th>State</th><th class="num">Attempts</th><th>Last outcome</th><th>Next / fired</th><th>Last error</th></tr></thead>
  <tbody>${rows.length ? rows : html`<tr><td colspan="9" class="muted">No fire matches these filters.</td></tr>`}</tbody>
</table>
${v.next ? html`<p class="pager"><a href="/admin/fires${query({ ...f, before: v.next })}">Older fires →</a></p>` : ''}`,
  });
}

function facts(rows: [string, Html | string | number | null | undefined][]): Html {
  return html`<dl class="facts">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v == null || v === '' ? html`<span class="muted">–</span>` : v}</dd>`)}</dl>`;
}

export function firePage(opts: { fire: FireDetail; config: Config; csrf: string; back: string; notice?: string; error?: string }): Html {
  const { fire, config } = opts;
  const c = fire.conversion;
  const t = fire.touch;
  const pixel = findPixel(config, fire.pixel_id);
  const replayable = (fire.state === 'failed' || fire.state === 'held') && !fire.test;
  const id = encodeURIComponent(fire.id);
  return layout({
    title: `Fire ${fire.id}`,
    nav: 'fires',
    csrf: opts.csrf,
    body: html`<p><a href="/admin/fires${opts.back}">← Fires</a></p>
<h1>Fire <code>${fire.id}</code> ${fireBadge(fire)}</h1>
${opts.notice ? html`<p class="notice" role="status">${opts.notice}</p>` : ''}
${opts.error ? html`<p class="error" role="alert">${opts.error}</p>` : ''}
<div class="actions">
  <a class="button" href="/admin/fires/${id}/evidence" download>Download evidence</a>
  ${replayable
    ? html`<form method="post" action="/admin/fires/${id}/replay${opts.back}">
    <input type="hidden" name="_csrf" value="${opts.csrf}">
    <button class="primary" type="submit">Replay this fire</button>
  </form>`
    : ''}
</div>
<div class="grid2">
  <section class="card"><h2>Fire</h2>${facts([
    ['state', html`${fireBadge(fire)} after ${fire.attempt_count} attempt(s)`],
    ['pixel', pixel ? `${fire.pixel_id} (${pixel.name})` : fire.pixel_id],
    ['order_id', fire.order_id],
    ['value', fire.value],
    ['other', fire.other],
    ['token', html`<code>${fire.token}</code>`],
    ['created', when(fire.created_at)],
    ['next attempt', fire.state === 'queued' ? when(fire.next_attempt_at) : null],
    ['fired', fire.fired_at ? when(fire.fired_at) : null],
    ['last outcome', fire.last_outcome],
    ['last error', fire.last_error],
  ])}</section>
  <section class="card"><h2>Conversion</h2>${c
    ? facts([
        ['id', html`<code>${c.id}</code>`],
        ['outcome', badge(c.outcome)],
        ['source', c.source],
        ['occurred', when(c.occurred_at)],
        ['received', when(c.created_at)],
        ['order_id', c.order_id],
        ['value', c.value],
        ['warning', c.warning],
        ['visitor', c.visitor_id ? html`<code>${c.visitor_id}</code>` : null],
        ['cid', c.cid ? html`<code>${c.cid}</code>` : null],
        ['install', c.install_id ? html`<a href="/admin/installs/${encodeURIComponent(c.install_id)}"><code>${c.install_id}</code></a>` : null],
      ])
    : html`<p class="muted">Not in the store (removed by retention).</p>`}</section>
  <section class="card"><h2>Touch</h2>${t
    ? facts([
        ['id', html`<code>${t.id}</code>`],
        ['kind', `${t.kind} via ${t.source}`],
        ['occurred', when(t.occurred_at)],
        ['site', t.site],
        ['url', t.url ? html`<code>${t.url}</code>` : null],
        ['referrer', t.referrer ? html`<code>${t.referrer}</code>` : null],
        ['address', t.ip_prefix],
        ['user agent', t.user_agent],
        ['cid', html`<code>${t.cid}</code>`],
      ])
    : html`<p class="muted">No touch: the conversion was not attributed through a stored touch.</p>`}</section>
</div>
${fire.linked.length
  ? html`<section class="card">
  <h2>Other reports of this conversion</h2>
  <p class="note">Reports it decided: duplicates (never fired; the rule says why) and unattributed reports of its order that it superseded.</p>
  <table class="linked">
    <thead><tr><th>Received</th><th>Conversion</th><th>Source</th><th>Order id</th><th>Outcome</th></tr></thead>
    <tbody>${fire.linked.map((l) => html`<tr data-conversion="${l.id}"><td>${when(l.created_at)}</td><td><code>${l.id}</code></td><td>${l.source}</td><td>${l.order_id ?? ''}</td><td>${conversionOutcome(l)}</td></tr>`)}</tbody>
  </table>
</section>`
  : ''}
<section class="card">
  <h2>Attempts</h2>
  ${fire.attempts.length
    ? html`<table class="attempts">
    <thead><tr><th class="num">#</th><th>Started</th><th>Outcome</th><th>Error class</th><th class="num">Status</th><th class="num">Duration</th><th>By</th><th>Next attempt</th></tr></thead>
    <tbody>${fire.attempts.map(
      (a) => html`<tr><td class="num">${a.n}</td><td>${when(a.started_at)}</td><td>${outcomeBadge(a.outcome)}</td>
      <td>${a.error_class ?? ''}</td><td class="num">${a.status ?? ''}</td><td class="num">${a.duration_ms != null ? `${Math.round(a.duration_ms)} ms` : ''}</td>
      <td class="muted">${a.owner ?? ''}</td><td>${a.outcome !== 'fired' && a.next_attempt_at != null ? when(a.next_attempt_at) : ''}</td></tr>`,
    )}</tbody>
  </table>
  ${fire.attempts.map(
    (a) => html`<details open data-attempt="${a.n}"><summary>Attempt ${a.n} · ${a.outcome}${a.error_class ? ` · ${a.error_class}` : ''} · verbose transcript</summary>
<pre class="transcript">${a.url ? `$ curl --verbose -L '${a.url}'\n` : ''}${renderAttempt(a)}</pre></details>`,
  )}`
    : html`<p class="muted">No attempt yet.</p>`}
</section>`,
  });
}

/** how a touch is tied to the install: its binding, one of its re-engagement clicks, or through its device or visitor */
function tie(t: Touch, d: InstallDetail): string {
  if (t.id === d.install.touch_id) return `binding (${d.install.method})`;
  if (t.install_id === d.install.install_id) return 're-engagement';
  if (t.device_id && t.device_id === d.install.device_id) return 'device';
  return 'visitor or named by a conversion';
}

/** one install: its touches oldest first, each with the conversions it earned, and the conversions */
export function installPage(opts: { detail: InstallDetail; config: Config; csrf: string }): Html {
  const d = opts.detail;
  const i = d.install;
  const credited = (t: Touch) => d.conversions.filter((c) => c.touch_id === t.id && c.outcome === 'attributed');
  const pixelName = (id: number) => findPixel(opts.config, id)?.name ?? String(id);
  const touchRow = (t: Touch, n: number) => {
    const earned = credited(t);
    return html`<tr data-touch="${t.id}"${earned.length ? raw(' class="credited"') : ''}>
  <td class="num">${n + 1}</td>
  <td>${when(t.occurred_at)}</td>
  <td>${t.kind} via ${t.source}</td>
  <td>${tie(t, d)}</td>
  <td><code>${t.token.length > 24 ? t.token.slice(0, 23) + '…' : t.token}</code></td>
  <td><code>${t.cid}</code></td>
  <td data-credited="${earned.map((c) => c.id).join(' ')}">${earned.length
    ? earned.map((c) => html`<span class="badge s-fired">credited</span> ${pixelName(c.pixel_id)} ${c.order_id ?? ''} `)
    : html`<span class="muted">–</span>`}</td>
</tr>`;
  };
  return layout({
    title: `Install ${i.install_id}`,
    nav: 'fires',
    csrf: opts.csrf,
    body: html`<p><a href="/admin/fires">← Fires</a></p>
<h1>Install <code>${i.install_id}</code></h1>
<section class="card">${facts([
    ['platform', i.platform],
    ['bound', i.bound_at ? html`${when(i.bound_at)} by ${i.method}` : 'not bound'],
    // how far the binding is trusted: a device id or hint binding yields to surer evidence in attribution
    ['confidence', i.method ? String(bindConfidence(i.method, i.confidence)) : null],
    ['device', i.device_id ? html`<code>${i.device_id}</code>` : null],
    ['flags', i.flags ? html`<code>${JSON.stringify(i.flags)}</code>` : null],
    ['first open', when(i.created_at)],
  ])}</section>
<section class="card">
  <h2>Touches, oldest first</h2>
  <p class="note">Every touch its conversions may be credited to: the binding, re-engagement clicks (deep links into the installed app), the device's touches and the binding visitor's. A conversion credits the touch marked in its row.</p>
  <table class="touches">
    <thead><tr><th class="num">#</th><th>Occurred</th><th>Kind</th><th>Tied by</th><th>Token</th><th>Click id</th><th>Credited by</th></tr></thead>
    <tbody>${d.touches.length ? d.touches.map(touchRow) : html`<tr><td colspan="7" class="muted">No touch.</td></tr>`}</tbody>
  </table>
</section>
<section class="card">
  <h2>Conversions</h2>
  <table class="conversions">
    <thead><tr><th>Occurred</th><th>Pixel</th><th>Order id</th><th>Outcome</th><th>Credited touch</th></tr></thead>
    <tbody>${d.conversions.length
      ? d.conversions.map((c) => html`<tr data-conversion="${c.id}"><td>${when(c.occurred_at)}</td><td>${pixelName(c.pixel_id)}</td><td>${c.order_id ?? ''}</td><td>${conversionOutcome(c)}</td>
      <td>${c.touch_id ? html`#${d.touches.findIndex((t) => t.id === c.touch_id) + 1} <code>${c.touch_id}</code>` : html`<span class="muted">–</span>`}</td></tr>`)
      : html`<tr><td colspan="5" class="muted">No conversion.</td></tr>`}</tbody>
  </table>
</section>`,
  });
}

export function errorPage(status: number, message: string, csrf?: string): Html {
  return layout({
    title: `Error ${status}`,
    csrf,
    body: html`<h1>${status === 404 ? 'Not found' : status === 403 ? 'Refused' : 'Something went wrong'}</h1><p class="error" role="alert">${message}</p><p><a href="/admin">Back to the overview</a></p>`,
  });
}
