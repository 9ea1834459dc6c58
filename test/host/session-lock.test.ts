// Exclusive sessions across processes: a forked process holds the device, this one is told
// who holds it and since when; once the holder dies its lock is stale and taken over;
// release gives the device back; a lock is only ever removed by its own holder.

import { fork, ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { acquire, DeviceInUseError, deviceHolder, lockPath } from '../../host/src/device/session-lock';

const DEVICE = 'serial:/dev/ttyACM0';
let home: string;
let childJs: string;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'semper-lock-'));
  // the child runs the same module, compiled on the spot
  childJs = join(home, 'holder.js');
  const entry = join(home, 'holder.ts');
  writeFileSync(
    entry,
    `import { acquire } from ${JSON.stringify(join(__dirname, '..', '..', 'host', 'src', 'device', 'session-lock'))};
const s = acquire(process.argv[2], process.argv[3], { home: process.argv[4] });
process.send!({ held: s.holder });
process.on('message', () => { s.release(); process.send!({ released: true }); });`,
  );
  buildSync({ entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', outfile: childJs, logLevel: 'silent' });
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

function holder(app: string): Promise<{ child: ChildProcess; pid: number }> {
  const child = fork(childJs, [DEVICE, app, home], { stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve({ child, pid: child.pid! }));
    child.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
  });
}

const exited = (c: ChildProcess): Promise<void> => new Promise((r) => c.once('exit', () => r()));

test('a second process gets "in use by <app> (pid N) since <time>"; the device is free again after release', async () => {
  const { child, pid } = await holder('semper-agent');
  let err: unknown;
  try {
    acquire(DEVICE, 'semper doctor', { home });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(DeviceInUseError);
  const e = err as DeviceInUseError;
  expect(e.code).toBe('DEVICE_IN_USE');
  expect(e.holder).toMatchObject({ app: 'semper-agent', pid, device: DEVICE });
  expect(e.message).toMatch(new RegExp(`^serial:/dev/ttyACM0 is in use by semper-agent \\(pid ${pid}\\) since \\d{4}-\\d\\d-\\d\\dT`));
  expect(deviceHolder(DEVICE, { home })).toMatchObject({ app: 'semper-agent', pid });

  child.send('release');
  await new Promise((r) => child.once('message', r));
  child.kill();
  await exited(child);
  const mine = acquire(DEVICE, 'semper doctor', { home });
  expect(JSON.parse(readFileSync(lockPath(DEVICE, home), 'utf8'))).toMatchObject({ app: 'semper doctor', pid: process.pid });
  mine.release();
  expect(deviceHolder(DEVICE, { home })).toBeNull();
}, 15000);

test('a holder that died leaves a stale lock, which the next application takes over', async () => {
  const { child, pid } = await holder('crashed-app');
  child.kill('SIGKILL'); // no chance to release
  await exited(child);
  expect(readFileSync(lockPath(DEVICE, home), 'utf8')).toContain(`"pid":${pid}`);
  expect(deviceHolder(DEVICE, { home })).toBeNull();
  const s = acquire(DEVICE, 'semper-agent', { home });
  expect(s.holder.app).toBe('semper-agent');
  s.release();
}, 15000);

test('within one process too; release is idempotent and never removes another holder\'s lock', () => {
  const a = acquire(DEVICE, 'first', { home, releaseOnExit: false });
  expect(() => acquire(DEVICE, 'second', { home })).toThrow(/in use by first/);
  // pretend a takeover happened behind a's back: a must not delete the new holder's lock
  const alive = () => false;
  const b = acquire(DEVICE, 'second', { home, isAlive: alive, releaseOnExit: false });
  a.release();
  expect(deviceHolder(DEVICE, { home })).toMatchObject({ app: 'second' });
  b.release();
  b.release();
  expect(deviceHolder(DEVICE, { home })).toBeNull();
  expect(lockPath('tcp://127.0.0.1:37137', '/h')).toBe('/h/locks/tcp_127.0.0.1_37137.lock');
});
