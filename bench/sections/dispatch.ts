// 4. Dispatch: how fast one collector process empties a queue of due fires into a local keep-alive router that
// redirects once (each fire: claim, two HTTP hops, the attempt recorded), and how long a conversion takes to reach
// the router on an idle collector (conversion request sent → fire received).
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startCollector } from '../lib/proc.js';
import { fmt, goalRow, type Section } from '../lib/report.js';
import { startRouter } from '../lib/router.js';
import { collectorConfig, percentile, QUICK, round, scratch, SERVER_KEY, sleep } from '../lib/setup.js';
import { countRows, migrate, seedFires, seedTouches, tokenOf } from '../lib/sqlite.js';

const S = 'dispatch';

/** the longest a queue is drained for: a slow dispatcher is measured on what it fired by then, keeping the run bounded */
const DRAIN_SECONDS = QUICK ? 10 : 15;

/**
 * Fires/s of collectors emptying a queue of `n` due fires (seeded before they start): fires logged by the router over
 * the time from its first fire to its last logged one, within DRAIN_SECONDS. The collectors are then stopped
 * (gracefully: in-flight attempts finish and are recorded); `logged` is the router's final count, to compare with the
 * fires the store has as fired.
 */
export async function drainQueue(
  n: number,
  start: (router: string) => Promise<{ stop(): Promise<unknown> }[]>,
): Promise<{ queued: number; logged_in_window: number; seconds: number; fires_per_s: number; logged: number; drained: boolean }> {
  const router = await startRouter();
  try {
    const collectors = await start(router.url);
    let counted = 0;
    let last = 0;
    try {
      await router.waitLoggedAtMost(n, DRAIN_SECONDS * 1000);
      counted = router.logged;
      last = router.lastLoggedAt;
    } finally {
      await Promise.all(collectors.map((c) => c.stop()));
    }
    const seconds = (last - router.firstFireAt) / 1000;
    return { queued: n, logged_in_window: counted, seconds: round(seconds, 2), fires_per_s: Math.round(counted / seconds), logged: router.logged, drained: counted >= n };
  } finally {
    await router.close();
  }
}

export async function dispatchThroughput(): Promise<{ rows: Section['rows']; data: Record<string, unknown>; fires_per_s: number }> {
  const n = QUICK ? 3_000 : 20_000;
  const { dir, cleanup } = scratch();
  try {
    const db = join(dir, 'sspx.db');
    await migrate(db);
    seedFires(db, n, Date.now());
    const result = await drainQueue(n, async (router) => [await startCollector('collector', dir, collectorConfig(dir, { dispatcher: true, router }))]);
    const { fired, attempts } = countRows(db, { fired: `fires WHERE state = 'fired'`, attempts: 'attempts' });
    const window = result.drained ? `${fmt(n)} queued` : `${fmt(result.logged_in_window)} of ${fmt(n)} queued in ${DRAIN_SECONDS} s`;
    return {
      rows: [
        goalRow(S, `fires/s, one process (${window}, 302 followed)`, result.fires_per_s, `${fmt(result.fires_per_s)} /s`, 3000, 'higher', '≥ 3,000/s'),
        {
          section: S,
          metric: 'fires logged by the router = recorded as fired (attempt rows)',
          value: `${fmt(result.logged)} = ${fmt(fired)} (${fmt(attempts)})`,
          goal: 'equal',
          status: fired === result.logged && attempts >= fired ? 'met' : 'FAILED',
        },
      ],
      data: { ...result, fired_rows: fired, attempt_rows: attempts },
      fires_per_s: result.fires_per_s,
    };
  } finally {
    cleanup();
  }
}

/** conversions one at a time on an idle collector: from sending the request to the router receiving the fire */
export async function commitToFire(): Promise<{ rows: Section['rows']; data: Record<string, unknown> }> {
  const count = QUICK ? 40 : 200;
  const { dir, cleanup } = scratch();
  const router = await startRouter();
  try {
    const db = join(dir, 'sspx.db');
    await migrate(db);
    seedTouches(db, 1_000, Date.now());
    const collector = await startCollector('collector', dir, collectorConfig(dir, { dispatcher: true, router: router.url }));
    const latencies: number[] = [];
    const answers: number[] = [];
    const afterAnswer: number[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const order = `L-${i}`;
        const sent = performance.now();
        const res = await fetch(`${collector.url}/v1/conversions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${SERVER_KEY}` },
          body: JSON.stringify({ pixel: 'purchase', token: tokenOf(1), order_id: order }),
        });
        const answered = performance.now();
        answers.push(answered - sent);
        if (res.status !== 200 || ((await res.json()) as { outcome?: string }).outcome !== 'attributed') throw new Error(`conversion ${order}: ${res.status}`);
        await router.waitLogged(i + 1, 5_000);
        latencies.push(router.arrivals.get(order)! - sent);
        afterAnswer.push(router.arrivals.get(order)! - answered);
        await sleep(20); // idle between conversions: each one wakes a sleeping dispatcher
      }
    } finally {
      await collector.stop();
    }
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    return {
      rows: [
        goalRow(S, `commit-to-fire p50 (idle; request sent → fire received; ${count} conversions)`, p50, `${fmt(p50, 1)} ms`, 10, 'lower', '≤ 10 ms'),
        goalRow(S, 'commit-to-fire p99', p99, `${fmt(p99, 1)} ms`, 50, 'lower', '≤ 50 ms'),
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
