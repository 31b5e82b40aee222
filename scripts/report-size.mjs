// A rollup plugin that prints raw, gzip (-9) and brotli sizes of every file it writes.
// It logs with console.log so the report shows even under `rollup --silent`.
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

/** the three sizes of a script, in bytes */
export function sizes(code) {
  const buf = Buffer.from(code);
  return {
    raw: buf.length,
    gzip: gzipSync(buf, { level: 9 }).length,
    brotli: brotliCompressSync(buf, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
}

export function reportSize({ budget = Infinity } = {}) {
  return {
    name: 'report-size',
    writeBundle(options, bundle) {
      for (const [file, chunk] of Object.entries(bundle)) {
        if (chunk.type !== 'chunk') continue;
        const { raw, gzip, brotli } = sizes(chunk.code);
        const over = gzip > budget ? `  OVER the ${budget} B gzip budget` : '';
        console.log(`${file}: ${raw} B raw, ${gzip} B gzip, ${brotli} B brotli${over}`);
      }
    },
  };
}
