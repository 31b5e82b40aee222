// A command's Io (collector/commands/fire.ts) that keeps what the command printed, for assertions.
import { Writable } from 'node:stream';
import type { Io } from '../../collector/commands/fire.js';

export function captureIo(): Io & { stdout: () => string; stderr: () => string } {
  const sink = () => {
    const chunks: string[] = [];
    return { w: new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) }), text: () => chunks.join('') };
  };
  const out = sink();
  const err = sink();
  return { out: out.w, err: err.w, env: {}, stdout: out.text, stderr: err.text };
}
