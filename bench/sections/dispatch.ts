// 4. Dispatch: how fast one collector process empties a queue of due fires into the stand-in router that redirects
// once (each fire: claim, two HTTP hops, the attempt recorded), every seeded order id checked at the router and in
// the store; and how long a conversion takes to reach the router on an idle collector (request sent → fire received).
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { migrate, startCollector } from '../lib/proc.js';
import { fmt, goalRow, unless, type Section } from '../lib/report.js';
import { startRouter } from '../lib/router.js';
import { collectorConfig, PIXEL, percentile, postTouches, QUICK, round, scratch, SERVER_KEY, sleep } from '../lib/setup.js';
import { seedFires } from '../lib/sqlite.js';
import { sqliteReader } from '../lib/stored.js';

const S = 'dispatch';

/** how long the rate is measured for: a slow dispatcher is measured on what it fired by then */
const DRAIN_SECONDS = QUICK ? 10 : 20;
/** then how long the rest may take before anything not fired counts as missing, keeping the run bounded */
const FINISH_SECONDS = QUICK ? 20 : 40;

export async function dispatchThroughput(): Promise<{ rows: Section['rows']; data: Record<string, unknown>; fires_per_s: number }> {
  const n = QUICK ? 3_000 : 10_000;
  const { dir, cleanup } = scratch();
  const router = await startRouter();
  try {
    const db = join(dir, 'sspx.db');
    const config = collectorConfig(dir, router.url);
    migrate(dir, config);
    const orders = seedFires(db, n, Date.now());
    const collector = await startCollector('collector', dir, config);
    let exit, counted, seconds;
    try {
      await router.waitLoggedAtMost(n, DRAIN_SECONDS * 1000);
      counted = router.logged;
      seconds = (router.lastLoggedAt - router.firstFireAt) / 1000;
      if (counted < n) await router.waitLoggedAtMost(n, FINISH_SECONDS * 1000);
    } finally {
      exit = await collector.stop();
    }
    const firesPerS = counted / seconds;
    const reader = sqliteReader(db);
    const fired = new Set((await reader.query(`SELECT order_id FROM fires WHERE state = 'fired'`).finally(() => reader.close())).map((r) => String(r.order_id)));
    const notAtRouter = orders.filter((o) => !router.loggedOrders.has(o)).length;
    const notRecorded = orders.filter((o) => router.loggedOrders.has(o) && !fired.has(o)).length;
    const drained = notAtRouter === 0;
    const ok = drained && notRecorded === 0 && exit === 0;
    return {
      rows: [
        unless(ok, goalRow(S, `fires/s, one process, redirect followed (${fmt(counted)} of ${fmt(n)} queued, first ${DRAIN_SECONDS} s)`, firesPerS, `${fmt(firesPerS)} /s`, 3000, 'higher', '≥ 3,000/s')),
        {
          section: S,
          metric: `queued order ids at the router within ${DRAIN_SECONDS + FINISH_SECONDS} s, and recorded as fired`,
          value: `${fmt(n - notAtRouter)} of ${fmt(n)}; ${fmt(n - notAtRouter - notRecorded)} recorded`,
          goal: 'all',
          status: ok ? 'met' : 'FAILED',
          margin: [notAtRouter && `${fmt(notAtRouter)} not fired`, notRecorded && `${fmt(notRecorded)} not recorded`].filter(Boolean).join(', '),
        },
      ],
      data: { queued: n, logged: counted, seconds: round(seconds, 2), fires_per_s: round(firesPerS), not_at_router: notAtRouter, not_recorded: notRecorded, collector_exit: exit },
      fires_per_s: ok ? firesPerS : NaN,
    };
  } finally {
    await router.close();
    cleanup();
  }
}

/** conversions one at a time on an idle collector: from sending the request to the router receiving the fire */
export async function commitToFire(): Promise<{ rows: Section['rows']; data: Record<string, unknown> }> {
  const count = QUICK ? 40 : 200;
  const { dir, cleanup } = scratch();
  const router = await startRouter();
  try {
    const config = collectorConfig(dir, router.url);
    migrate(dir, config);
    const collector = await startCollector('collector', dir, config);
    const latencies: number[] = [];
    const answers: number[] = [];
    const afterAnswer: number[] = [];
    try {
      const [token] = await postTouches(collector.url, 1);
      for (let i = 0; i < count; i++) {
        const order = `L-${i}`;
        await sleep(20); // idle between conversions: each one wakes a sleeping dispatcher
        const sent = performance.now();
        const res = await fetch(`${collector.url}/v1/conversions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${SERVER_KEY}` },
          body: JSON.stringify({ pixel: PIXEL, token, order_id: order, value: '10.50' }),
        });
        const answered = performance.now();
        answers.push(answered - sent);
        if (res.status !== 200 || ((await res.json()) as { outcome?: string }).outcome !== 'attributed') throw new Error(`conversion ${order}: ${res.status}`);
        await router.waitLogged(i + 1, 5_000);
        latencies.push(router.arrivals.get(order)! - sent);
        afterAnswer.push(router.arrivals.get(order)! - answered);
      }
    } finally {
      await collector.stop();
    }
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    return {
      rows: [
        goalRow(S, `commit-to-fire p50 (idle; request sent → fire received; ${count} conversions)`, p50, `${fmt(p50, 1)} ms`, 3, 'lower', '≤ 3 ms'),
        goalRow(S, 'commit-to-fire p99', p99, `${fmt(p99, 1)} ms`, 20, 'lower', '≤ 20 ms'),
        { section: S, metric: 'of which: conversion answered (its fsync), p50 / p99', value: `${fmt(percentile(answers, 50), 1)} / ${fmt(percentile(answers, 99), 1)} ms` },
        { section: S, metric: 'of which: answer → fire at the router, p50 / p99', value: `${fmt(percentile(afterAnswer, 50), 1)} / ${fmt(percentile(afterAnswer, 99), 1)} ms` },
      ],
      data: { conversions: count, p50_ms: round(p50, 2), p99_ms: round(p99, 2), max_ms: round(Math.max(...latencies), 2), answered_p50_ms: round(percentile(answers, 50), 2), answered_p99_ms: round(percentile(answers, 99), 2), answer_to_fire_p50_ms: round(percentile(afterAnswer, 50), 2), answer_to_fire_p99_ms: round(percentile(afterAnswer, 99), 2) },
    };
  } finally {
    await router.close();
    cleanup();
  }
}

export async function dispatch(): Promise<{ section: Section; fires_per_s: number }> {
  const throughput = await dispatchThroughput();
  const latency = await commitToFire();
  return {
    section: { name: S, rows: [...throughput.rows, ...latency.rows], data: { throughput: throughput.data, commit_to_fire: latency.data } },
    fires_per_s: throughput.fires_per_s,
  };
}
