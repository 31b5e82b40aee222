// A rollup plugin that prints raw, gzip (-9) and brotli sizes of every file it writes, against the budget
// that test/snippet/size.test.ts enforces. It logs with console.log so the report shows even under --silent.
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

/** Hard cap on gzip -9 bytes of dist/sspx.js, the issue's: the size test fails past it (our aim is under 900). The
 * script is at 1,023 B (from 1,343), with every behaviour the snippet tests require; what is left is mostly the names
 * of the browser APIs it must call. It got here by moving work to the collector, which is free: the landing URL goes
 * as it is with the tag's attributes, and the collector strips the token params and reads the device ids
 * (snippet/landing.ts, one parser for both); client hints and the time zone go as the objects the browser gives. */
export const GZIP_BUDGET = 1024;

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
