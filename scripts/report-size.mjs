// A rollup plugin that prints raw, gzip (-9) and brotli sizes of every file it writes, against the budget
// that test/snippet/size.test.ts enforces. It logs with console.log so the report shows even under --silent.
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

/** Hard cap on gzip -9 bytes of dist/sspx.js: the size test fails past it. Issue 16 aims at under 900; the script is at
 * 983 (brotli 861) from readable source, after moving to the collector what it can read from the request (the
 * language from Accept-Language, mobile and platform from Sec-CH-UA-*), dropping the unused screen, pixel-ratio and
 * time-zone hints, leaving the exact macro rule to the collector (the script sends a suspicious value as the
 * diagnostic), and decoding with `unescape`. A hand-golfed copy of the same behaviours (comma expressions, merged
 * console helpers, no helper functions) reaches 964: under 900 needs a behaviour dropped, not tighter code. What is
 * left are the contract's and the tests' behaviours, each with its cost in gzip bytes (measured by removing it):
 * Google Play decoration ~53, the navigation entry (a URL rewritten before the script ran) ~35, the sendBeacon and
 * image fallbacks ~35, data-debug's reasons ~36, consent ~23, the data-params default ~21, the stored click id ~21,
 * the referrer ~7. The cap sits just above today's size, so any growth is a decision. */
export const GZIP_BUDGET = 985;

/** the three sizes of a script, in bytes */
export function sizes(code) {
  const buf = Buffer.from(code);
  return {
    raw: buf.length,
    gzip: gzipSync(buf, { level: 9 }).length,
    brotli: brotliCompressSync(buf, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
}

export function reportSize(budget = GZIP_BUDGET) {
  return {
    name: 'report-size',
    writeBundle(_options, bundle) {
      for (const [file, chunk] of Object.entries(bundle)) {
        if (chunk.type !== 'chunk') continue;
        const { raw, gzip, brotli } = sizes(chunk.code);
        const over = gzip > budget ? `, OVER the ${budget} B budget` : '';
        console.log(`${file}: ${raw} B raw, ${gzip} B gzip (budget ${budget} B${over}), ${brotli} B brotli`);
      }
    },
  };
}
