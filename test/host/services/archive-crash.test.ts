// Acknowledged ⇒ durable, never partial (invariant I6): a child process appends in a loop
// and reports every append() that returned; it is killed with SIGKILL mid-loop. Reopened,
// the archive verifies, has no partial record, and holds every record reported before the kill.

import { join } from 'node:path';
import { SqliteArchive } from '../../../host/src/services/archive';
import { archiveKey, exited, forkFixture, sampleEntry, tempDir } from './fixtures/harness';

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('archive-crash-');
});
afterAll(() => tmp.cleanup());

// kill this many ms after the N-th acknowledgement: at once, and while later appends (some
// with 256 KiB of evidence) are being written
test.each([
  [3, 0],
  [17, 4],
  [41, 9],
])('SIGKILL after %i acknowledged appends and %i ms', async (killAfter, delayMs) => {
  const file = join(tmp.dir, `crash-${killAfter}.db`);
  const child = forkFixture('append-child', tmp.dir, [file]);
  const acked: number[] = [];
  // never leave the child running, whatever happens below
  const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await new Promise<void>((res, rej) => {
    child.on('message', (seq) => {
      acked.push(seq as number);
      if (acked.length === killAfter) {
        setTimeout(() => {
          child.kill('SIGKILL');
          res();
        }, delayMs);
      }
    });
    child.once('exit', (code) => (acked.length < killAfter ? rej(new Error(`child exited early with ${code}`)) : undefined));
  });
  clearTimeout(guard);
  expect((await exited(child)).signal).toBe('SIGKILL');

  const a = SqliteArchive.open(file);
  const report = await a.verify({ trustedKeys: [archiveKey().publicKey] });
  // every acknowledged append is there; at most the few in flight beyond it
  expect(report.records).toBeGreaterThanOrEqual(Math.max(...acked));
  expect(acked).toEqual(acked.map((_, i) => i + 1)); // in order, none skipped
  const all = await a.list();
  all.forEach((r, i) => {
    const want = sampleEntry(i);
    expect(r).toMatchObject({ seq: i + 1, kind: want.kind, label: want.label, note: `child record ${i}` });
    expect(r.evidence!.length).toBe(i % 5 === 4 ? 256 * 1024 : 16 + i);
  });
  expect(report.anchoredSeq).toBe(Math.floor(report.records / 7) * 7);
  expect(a.db.pragma('integrity_check', { simple: true })).toBe('ok');
  a.close();
});
