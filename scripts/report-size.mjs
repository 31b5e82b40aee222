// A rollup plugin that prints raw, gzip (-9) and brotli sizes of every file it writes, against the budget
// that test/snippet/size.test.ts enforces. It logs with console.log so the report shows even under --silent.
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

/** Hard cap on gzip -9 bytes of dist/sspx.js: the size test fails past it. Issue 16 aims at under 900 (brotli, as
 * served, at most 800). The script leaves to the collector what it can do: the collector picks the token (and tells
 * a macro from it) in the URLs the script sends, so the script only checks that a value under data-params may be
 * one; it takes the current URL for the landing URL when a browser has no navigation timing; data-debug prints the
 * collector's answer (its click id, or why it stored nothing) instead of reasons of its own; the language and the
 * client hints come from the request's headers. The build is one block, not an IIFE. What is left are the
 * contract's behaviours, each with its cost in gzip bytes (measured by removing it alone): Google Play decoration
 * ~57, the check that the URL holds a token before anything is sent ~49, the sendBeacon and image fallbacks ~37
 * (the image ~22), the navigation entry (a URL rewritten before the script ran) ~35, data-debug ~35 (its `no token`
 * ~10, the consent value ~12), consent ~29, decorating links added later (on click) ~26, the stored click id ~21,
 * the data-params list and its default ~12, the referrer ~8, the current URL ~6. Under 900 needs one of them
 * dropped. The cap sits at today's size, so any growth is a decision. */
export const GZIP_BUDGET = 917;

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
