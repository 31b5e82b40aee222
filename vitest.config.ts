import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // bounds for a broken build, not timings: the machine is 2 cores shared with other work (load 15+ seen)
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Suites start real servers and child processes; two cores, so keep files from starving each other.
    maxWorkers: 2,
    // one Chromium and one PostgreSQL for the whole run, brought by the devDependencies (or named by the environment)
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/setup.ts'],
    // the closing lines count the tests of each kind and end with `Tests: N passed, N failed, N skipped`
    reporters: ['default', './test/support/reporter.ts'],
  },
});
