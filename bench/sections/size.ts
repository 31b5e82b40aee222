// 1. Script size: the landing-page script as built (dist/sspx.js, minified), compressed as servers send it, and the
// same bundle before minification (the project's own rollup configuration, without its output plugins).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { OutputOptions } from 'rollup';
import { packageRoot } from '../../collector/paths.js';
import { fmt, goalRow, type Section } from '../lib/report.js';

const S = 'script size';

/**
 * The same bundle as rollup.config.mjs makes (its input and output format), before terser: the size the minifier
 * starts from. Types are stripped file by file (no type check, so a work-in-progress snippet still measures).
 */
async function unminified(): Promise<number> {
  const { rollup } = await import('rollup');
  const ts = (await import('typescript')).default;
  const config = (await import(pathToFileURL(join(packageRoot, 'rollup.config.mjs')).href)).default as { input: string; output: OutputOptions };
  const bundle = await rollup({
    input: join(packageRoot, config.input),
    plugins: [
      {
        name: 'strip-types',
        resolveId: (source, importer) =>
          importer && source.startsWith('.') && source.endsWith('.js') ? join(dirname(importer), source.replace(/\.js$/, '.ts')) : null,
        transform: (code, id) =>
          id.endsWith('.ts') ? ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ES2020, module: ts.ModuleKind.ESNext } }).outputText : null,
      },
    ],
  });
  const { output } = await bundle.generate({ format: config.output.format, strict: config.output.strict });
  await bundle.close();
  return Buffer.byteLength(output[0].code);
}

export async function scriptSize(): Promise<Section> {
  const min = readFileSync(join(packageRoot, 'dist', 'sspx.js'));
  const gzip = gzipSync(min, { level: 9 }).length;
  const brotli = brotliCompressSync(min, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: min.length } }).length;
  let raw = NaN;
  try {
    raw = await unminified();
  } catch (err) {
    console.warn(`script size: could not bundle the unminified script (${(err as Error).message})`);
  }
  return {
    name: S,
    rows: [
      { section: S, metric: 'raw (bundled, not minified)', value: `${fmt(raw)} B` },
      { section: S, metric: 'minified (dist/sspx.js)', value: `${fmt(min.length)} B` },
      goalRow(S, 'gzip -9: budget', gzip, `${fmt(gzip)} B`, 1024, 'lower', '≤ 1,024 B'),
      goalRow(S, 'gzip -9: goal', gzip, `${fmt(gzip)} B`, 899, 'lower', '< 900 B'),
      { section: S, metric: 'brotli (quality 11)', value: `${fmt(brotli)} B` },
    ],
    data: { raw_bytes: raw, minified_bytes: min.length, gzip_bytes: gzip, brotli_bytes: brotli, gzip_budget: 1024, gzip_goal: 900 },
  };
}
