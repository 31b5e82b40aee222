// Runs in every test file before its tests: notes on each test's meta what kinds of real parts it used
// (test/support/kinds.ts), for the closing count; a listening HTTP server anywhere in the test process marks
// the test as one over HTTP.
import http from 'node:http';
import { afterEach, beforeEach } from 'vitest';
import { beginTest, endTest, markKind } from './kinds.js';

const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (this: http.Server, ...args: unknown[]) {
  markKind('http');
  return (listen as (...a: unknown[]) => http.Server).apply(this, args);
} as typeof listen;

beforeEach(() => beginTest());
afterEach((ctx) => {
  ctx.task.meta.kinds = endTest();
});
