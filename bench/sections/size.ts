// 1. Script size: the landing-page script as built (dist/sspx.js, minified), compressed as servers send it, the
// same bundle before minification (the project's own rollup configuration, without its output plugins), and what
// GET /sspx.js costs on the wire from a running collector to a browser that accepts brotli.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { OutputOptions } from 'rollup';
import { packageRoot } from '../../collector/paths.js';
import { migrate, startCollector } from '../lib/proc.js';
import { fmt, goalRow, type Row, type Section } from '../lib/report.js';
import { collectorConfig, NO_ROUTER, scratch } from '../lib/setup.js';

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

/** GET /sspx.js over a raw socket: the bytes of the answer's head (status line and headers) and of its body as sent */
function onTheWire(url: string): Promise<{ head: number; body: number; encoding: string; status: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(Number(port), hostname, () =>
      socket.write(`GET /sspx.js HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAccept-Encoding: br\r\nConnection: close\r\n\r\n`),
    );
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n') + 4;
      const head = all.subarray(0, end).toString('latin1');
      resolve({ head: end, body: all.length - end, encoding: /^content-encoding:\s*(\S+)/im.exec(head)?.[1] ?? 'none', status: head.split('\r\n')[0] });
    });
  });
}

async function wireBytes(): Promise<{ head: number; body: number; encoding: string; status: string }> {
  const { dir, cleanup } = scratch();
  try {
    const config = collectorConfig(dir, NO_ROUTER, { dispatcher: false });
    migrate(dir, config);
    const collector = await startCollector('collector', dir, config);
    try {
      return await onTheWire(collector.url);
    } finally {
      await collector.stop();
    }
  } finally {
    cleanup();
  }
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
  const wire = await wireBytes();
  const wired = wire.status.includes(' 200 ');
  const onWire = (row: Row): Row => (wired ? row : { ...row, status: 'FAILED', margin: wire.status });
  return {
    name: S,
    rows: [
      { section: S, metric: 'raw (bundled, not minified)', value: `${fmt(raw)} B` },
      { section: S, metric: 'minified (dist/sspx.js)', value: `${fmt(min.length)} B` },
      goalRow(S, 'gzip -9', gzip, `${fmt(gzip)} B`, 899, 'lower', '< 900 B'),
      { section: S, metric: 'brotli (quality 11)', value: `${fmt(brotli)} B` },
      onWire(goalRow(S, `GET /sspx.js, Accept-Encoding: br — body on the wire (${wire.encoding})`, wire.body, `${fmt(wire.body)} B`, 800, 'lower', '≤ 800 B')),
      onWire(goalRow(S, 'GET /sspx.js — status line and headers', wire.head, `${fmt(wire.head)} B`, 400, 'lower', '≤ 400 B')),
    ],
    data: { raw_bytes: raw, minified_bytes: min.length, gzip_bytes: gzip, brotli_bytes: brotli, gzip_goal: 900, wire },
  };
}
