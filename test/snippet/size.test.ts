// Guards the script's weight: every byte ships on every landing page, so the gzip -9 size of dist/sspx.js
// has a hard budget (the same number the build prints against).
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { expect, test } from 'vitest';
import { GZIP_BUDGET } from '../../scripts/report-size.mjs';
import { SCRIPT_PATH } from './harness.js';

test(`dist/sspx.js is at most ${GZIP_BUDGET} bytes gzipped`, () => {
  const gzip = gzipSync(readFileSync(SCRIPT_PATH), { level: 9 }).length;
  expect(gzip).toBeLessThanOrEqual(GZIP_BUDGET);
});
