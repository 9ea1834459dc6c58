// Exclusive sessions: one application holds a device at a time, across processes. The
// holder is written into a lock file under $SEMPER_HOME/locks (default ~/.semper/locks),
// created with O_EXCL so exactly one process wins; a lock whose process is gone (same
// machine, pid not alive) is stale and taken over. A second application gets a
// DeviceInUseError that names the holder instead of interleaving its bytes with the
// first one's exchange. (On Unix the serial port is also opened exclusively — TIOCEXCL —
// but that says nothing about who holds it, and a TCP emulator has no such lock.)

import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname, homedir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** The holder of a device, as written in its lock file. */
export interface LockHolder {
  app: string;
  pid: number;
  host: string;
  /** ISO 8601 time the session began. */
  since: string;
  device: string;
  /** Distinguishes this holder from a later one with the same pid. */
  token: string;
}

export class DeviceInUseError extends Error {
  readonly code = 'DEVICE_IN_USE';
  constructor(readonly holder: LockHolder) {
    super(`${holder.device} is in use by ${holder.app} (pid ${holder.pid}${holder.host === hostname() ? '' : ` on ${holder.host}`}) since ${holder.since}: close that application, or wait for it to release the device`);
    this.name = 'DeviceInUseError';
  }
}

export interface LockOptions {
  /** Directory of $SEMPER_HOME (default $SEMPER_HOME or ~/.semper). */
  home?: string;
  /** Is this pid alive? (default: signal 0; EPERM counts as alive). */
  isAlive?: (pid: number) => boolean;
  /** Release automatically when this process exits (default true). */
  releaseOnExit?: boolean;
}

/** $SEMPER_HOME, or ~/.semper. */
export function semperHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.SEMPER_HOME || join(homedir(), '.semper');
}

/** The lock file for a device spec (`serial:/dev/ttyACM0` → locks/serial_dev_ttyACM0.lock). */
export function lockPath(device: string, home: string = semperHome()): string {
  const name = device.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 120) || 'device';
  return join(home, 'locks', `${name}.lock`);
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A held session: release() gives the device back (idempotent). */
export class DeviceSession {
  private released = false;
  private readonly onExit = (): void => this.release();

  constructor(
    readonly holder: LockHolder,
    readonly path: string,
    releaseOnExit: boolean,
  ) {
    if (releaseOnExit) process.once('exit', this.onExit);
  }

  get held(): boolean {
    return !this.released;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    process.removeListener('exit', this.onExit);
    // only our own lock: a stale-lock takeover may have given the file to someone else
    if (readHolder(this.path)?.token === this.holder.token) {
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
    }
  }
}

/**
 * Moves a stale lock out of the way. If another contender replaced it meanwhile (its
 * token differs from the stale one we judged), it is put back: only the dead holder's
 * lock is ever removed.
 */
function takeOverStale(path: string, stale: LockHolder | null, aside: string): void {
  try {
    renameSync(path, aside);
  } catch {
    return; // someone else moved it first
  }
  const moved = readHolder(aside);
  if (moved && moved.token !== stale?.token) {
    try {
      linkSync(aside, path);
    } catch {
      // a third contender won meanwhile; the moved lock was live only for a moment
    }
  }
  unlinkSync(aside);
}

/** The holder recorded in a lock file, or null if there is none or it is unreadable. */
export function readHolder(path: string): LockHolder | null {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
    return typeof h.pid === 'number' && typeof h.app === 'string' ? h : null;
  } catch {
    return null;
  }
}

/** Who holds `device`, if a live process does (a stale lock counts as free). */
export function deviceHolder(device: string, opts: LockOptions = {}): LockHolder | null {
  const h = readHolder(lockPath(device, opts.home ?? semperHome()));
  return h && !isStale(h, opts.isAlive ?? pidAlive) ? h : null;
}

function isStale(h: LockHolder, isAlive: (pid: number) => boolean): boolean {
  // a lock from another machine (a shared home directory) cannot be checked: respect it
  return h.host === hostname() && !isAlive(h.pid);
}

/**
 * Takes the device for `app`, or throws DeviceInUseError naming the holder. A lock left
 * by a process that no longer runs is taken over.
 */
export function acquire(device: string, app: string, opts: LockOptions = {}): DeviceSession {
  const home = opts.home ?? semperHome();
  const path = lockPath(device, home);
  mkdirSync(join(home, 'locks'), { recursive: true, mode: 0o700 });
  const holder: LockHolder = { app, pid: process.pid, host: hostname(), since: new Date().toISOString(), device, token: randomBytes(8).toString('hex') };
  // the lock is written whole beside it and linked into place: link() fails if the name
  // exists, so exactly one contender wins and nobody ever reads a half-written lock
  const tmp = `${path}.${process.pid}-${holder.token}`;
  writeFileSync(tmp, JSON.stringify(holder) + '\n', { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(tmp, path);
        return new DeviceSession(holder, path, opts.releaseOnExit !== false);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const h = readHolder(path);
      if (h && !isStale(h, opts.isAlive ?? pidAlive)) throw new DeviceInUseError(h);
      takeOverStale(path, h, `${tmp}.stale`);
    }
  } finally {
    unlinkSync(tmp);
  }
  const h = readHolder(path);
  if (h) throw new DeviceInUseError(h);
  throw new Error(`could not take the lock ${path}: it keeps changing`);
}
