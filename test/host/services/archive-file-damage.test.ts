// Damage to the archive's database FILE, byte by byte, as a disk or an editor would do it
// (not through SQL, as archive.test.ts tampers): `semper archive verify` names the damaged
// record when the byte belongs to one; any other byte leaves the records as they were or
// makes the file unreadable with a typed error that says what to do — never a crash, and
// never "OK" over changed records.

import fc from 'fast-check';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../../host/src/cli/archive';
import { ArchivedRecord, SqliteArchive } from '../../../host/src/services/archive';
import { archiveKey, sampleEntry, tempDir } from './fixtures/harness';

const key = archiveKey();
const hexKey = Buffer.from(key.publicKey).toString('hex');
const RECORDS = 12;
let tmp: ReturnType<typeof tempDir>;
let pristine: Buffer;
let records: ArchivedRecord[];
let n = 0;

beforeAll(async () => {
  tmp = tempDir('archive-file-');
  const file = join(tmp.dir, 'archive.db');
  let clock = Date.UTC(2026, 5, 10, 8);
  const a = SqliteArchive.open(file, { now: () => (clock += 60_000), signer: key.signer, checkpointEvery: 5 });
  for (let i = 0; i < RECORDS; i++) await a.append(sampleEntry(i));
  records = await a.list();
  a.close();
  // the last connection's close moves the WAL into the file: the file is the whole archive
  expect(existsSync(`${file}-wal`)).toBe(false);
  pristine = readFileSync(file);
});
afterAll(() => tmp.cleanup());

/** A copy of the archive file with one byte XORed. */
function damaged(at: number, xor: number): string {
  const b = Buffer.from(pristine);
  b[at] ^= xor;
  const file = join(tmp.dir, `d${n++}.db`);
  writeFileSync(file, b);
  return file;
}

async function verify(file: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(['verify', '--db', file, '--trusted-key', hexKey], { out: (s) => (out += s), err: (s) => (err += s), env: {} });
  return { code, out, err };
}

/**
 * Where a record's body, link and hash stand in the pristine file. They are the last three
 * columns of its row, stored one after the other; the body (it holds the record's number) is
 * found exactly once, while a hash also stands in the next record's link and in checkpoints.
 */
function placesOf(r: ArchivedRecord): { column: string; start: number; length: number }[] {
  const body = Buffer.from(r.body);
  const start = pristine.indexOf(body);
  expect(start).toBeGreaterThanOrEqual(0);
  expect(pristine.indexOf(body, start + 1)).toBe(-1);
  const prev = start + body.length;
  const hash = prev + r.prev.length;
  expect(pristine.subarray(prev, prev + r.prev.length).equals(Buffer.from(r.prev))).toBe(true);
  expect(pristine.subarray(hash, hash + r.hash.length).equals(Buffer.from(r.hash))).toBe(true);
  return [
    { column: 'body', start, length: body.length },
    { column: 'link', start: prev, length: r.prev.length },
    { column: 'hash', start: hash, length: r.hash.length },
  ];
}

test('the intact file verifies', async () => {
  const file = join(tmp.dir, 'copy.db');
  copyFileSync(join(tmp.dir, 'archive.db'), file);
  expect(await verify(file)).toMatchObject({ code: 0, out: expect.stringMatching(/^OK: 12 records/) });
});

test('a flipped byte in a record’s body, link or hash on disk: verify names that record', async () => {
  for (const r of records) {
    for (const { column, start, length } of placesOf(r)) {
      for (const i of [0, length >> 1, length - 1]) {
        const v = await verify(damaged(start + i, 0x20));
        expect([column, i, v.code, v.err]).toEqual([column, i, 1, expect.stringMatching(new RegExp(`^semper archive: [A-Z_]+ at record ${r.seq}: `))]);
      }
    }
  }
});

/** The outcomes allowed after any damage: OK with the records as written, a record named, or the file refused with what to do. */
async function expectNamedOrRefused(file: string): Promise<void> {
  const v = await verify(file);
  if (v.code === 0) {
    // verify passed: then what the archive shows is what was written
    const a = SqliteArchive.open(file, { mustExist: true });
    try {
      expect(snapshot(await a.list())).toBe(snapshot(records));
    } finally {
      a.close();
    }
  } else if (v.code === 1) {
    // the damaged record named, or — damage outside the records (a checkpoint, the schema) — what is damaged, and what to do
    expect(v.err).toMatch(/^semper archive: [A-Z_]+( at record \d+)?: [^\n]+\n.*restore a backup/);
  } else {
    expect([v.code, v.err]).toEqual([3, expect.stringMatching(/^semper archive: .+: .*(restore a backup|upgrade semper)/)]);
    expect(v.err).not.toMatch(/undefined/);
  }
}

const snapshot = (rs: ArchivedRecord[]): string => JSON.stringify(rs, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));

test('a flipped case bit in the schema renames a checkpoint column: a typed tamper report, not a crash (found by the property below)', async () => {
  const at = pristine.indexOf(Buffer.from('time INTEGER NOT NULL', 'latin1'), pristine.indexOf(Buffer.from('CREATE TABLE checkpoints', 'latin1')));
  expect(at).toBeGreaterThan(0);
  const v = await verify(damaged(at, 0x20)); // time -> Time
  expect([v.code, v.err]).toEqual([1, expect.stringMatching(/^semper archive: CHECKPOINT_INVALID( at record \d+)?: .*damaged[\s\S]*restore a backup/)]);
});

test('the header and cell pointers of the records’ page: a cell that reads as NULL bytes is a named record, not a crash', async () => {
  const page = Math.floor(pristine.indexOf(Buffer.from(records[0].body)) / 4096) * 4096;
  expect(Math.floor(pristine.indexOf(Buffer.from(records[RECORDS - 1].body)) / 4096) * 4096).toBe(page);
  for (let at = page; at < page + 32; at++) for (const xor of [1, 2, 0x10, 0x80]) await expectNamedOrRefused(damaged(at, xor));
});

test('property: any byte of the file, any flip: the records unchanged, the damaged record named, or the file refused with what to do', async () => {
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: pristine.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, xor) => expectNamedOrRefused(damaged(at, xor))),
    { numRuns: 300 },
  );
}, 120_000);
