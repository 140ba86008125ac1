// Creating directories without Node's recursive mkdir, which can loop forever.
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * `mkdir -p` that always ends. Node 20's `mkdirSync(dir, { recursive: true })` steps back to the parent on
 * ENOENT and forward again once the parent exists; where a directory exists but a child "does not exist" after
 * it was made (/proc, a dangling symlink, a stale mount) it never stops, on one core, with no output
 * (`intake start --data-dir /proc/nope` spun so). Here each level is tried at most twice, so the error of the
 * deepest level that cannot be made is thrown. A path that exists but is not a directory throws ENOTDIR.
 */
export function makeDir(dir: string): void {
  try {
    mkdirSync(dir);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (statSync(dir).isDirectory()) return;
      throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), {
        code: 'ENOTDIR',
        path: dir,
      });
    }
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw err;
    makeDir(parent);
  }
  mkdirSync(dir); // the parent exists now: a second ENOENT is final
}
