// A store's files hold tokens, visitors and orders: only their owner may read them, whatever the umask.
import { closeSync, openSync } from 'node:fs';

/** creates an empty file only its owner may read and write (an empty file is an empty SQLite database; SQLite gives
 * its -wal, -shm and -journal files the same mode); a file that already exists is left as it is */
export function createPrivateFile(path: string): void {
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}
