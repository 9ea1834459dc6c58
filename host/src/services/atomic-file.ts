// Atomic file replacement: write a temporary file beside the target, fsync it, rename it
// over the target, fsync the directory. A crash at any point leaves either the old file or
// the new one, never a mix (POSIX rename is atomic within a file system).

import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** File mode of a newly created file (default 0o600: secrets live in these files). */
  mode?: number;
  /** Test seam: runs after the temporary file is written and synced, before the rename. */
  beforeRename?: (tempPath: string) => void | Promise<void>;
}

/** Replaces `path` with `data` atomically (temp + fsync + rename + directory fsync). */
export async function writeFileAtomic(path: string, data: Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', opts.mode ?? 0o600);
  try {
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await opts.beforeRename?.(tmp);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  await syncDir(dir);
}

async function syncDir(dir: string): Promise<void> {
  let d;
  try {
    d = await open(dir, 'r');
    await d.sync();
  } catch (_e) {
    // some platforms (Windows, a few network file systems) cannot fsync a directory
  } finally {
    await d?.close();
  }
}
