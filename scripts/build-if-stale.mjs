// `npm start` and `npm run demo` build first only when dist/ is missing or older than what it is built from:
// a fresh clone builds once, an unchanged checkout starts at once, an edited source is never served stale.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const INPUTS = ['snippet', 'collector', 'scripts', 'rollup.config.mjs', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];
// one output of each build step: rollup writes the script, tsc every module
const OUTPUTS = ['dist/sspx.js', 'dist/collector/cli.js'];

/** the newest modification time under a file or directory */
function newest(path) {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return readdirSync(path).reduce((m, name) => Math.max(m, newest(join(path, name))), s.mtimeMs);
}

const built = OUTPUTS.map((o) => join(root, o));
const stale = !built.every(existsSync) ||
  Math.min(...built.map((o) => statSync(o).mtimeMs)) < Math.max(...INPUTS.map((i) => join(root, i)).filter(existsSync).map(newest));

if (stale) {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const run = spawnSync(npm, ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  process.exit(run.status ?? 1);
}
