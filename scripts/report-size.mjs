// A rollup plugin that prints raw, gzip (-9) and brotli sizes of every file it writes, against the budget
// that test/snippet/size.test.ts enforces. It logs with console.log so the report shows even under --silent.
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

/** Hard cap on gzip -9 bytes of dist/sspx.js: the size test fails past it. Issue 16 aims at under 900. The script
 * leaves to the collector what it can do: the token is picked (and a macro told from it) by the collector from the
 * URLs the script sends, so the script only checks that a value under data-params may be one; data-debug prints the
 * collector's answer (its click id, or why it stored nothing) instead of carrying reasons of its own; the language
 * and the client hints come from the request's headers. The cap sits at today's size, so any growth is a decision. */
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
