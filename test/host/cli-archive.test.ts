// `semper archive`: list, show, export (CSV, evidence pack), verify, help, exit codes and
// the messages that say what to do.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HELP, parseDate, run } from '../../host/src/cli/archive';
import { SqliteArchive } from '../../host/src/services/archive';
import { verifyEvidencePack } from '../../host/src/services/archive-export';
import { archiveKey, sampleEntry, tamper, tempDir } from './services/fixtures/harness';

let tmp: ReturnType<typeof tempDir>;
let db: string;
const key = archiveKey();
const hexKey = Buffer.from(key.publicKey).toString('hex');

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { out: (s) => (out += s), err: (s) => (err += s), env: { SEMPER_HOME: join(tmp.dir, 'home') } });
  return { code, out, err };
}

beforeEach(async () => {
  tmp = tempDir('cli-archive-');
  db = join(tmp.dir, 'a.db');
  let clock = Date.UTC(2026, 5, 10, 8);
  const a = SqliteArchive.open(db, { now: () => (clock += 3_600_000), signer: key.signer, checkpointEvery: 5 });
  for (let i = 0; i < 12; i++) await a.append(sampleEntry(i));
  a.close();
});
afterEach(() => tmp.cleanup());

test('help: on every command, and the exit codes are documented', async () => {
  for (const argv of [['--help'], ['list', '--help'], ['show', '--help'], ['export', '--help'], ['verify', '-h']]) {
    const r = await cli(...argv);
    expect(r).toEqual({ code: 0, out: HELP + '\n', err: '' });
  }
  expect(HELP).toMatch(/exit status: 0 ok; 1 verify found tampering/);
  expect((await cli()).code).toBe(2);
});

test('list: a statement, with filters and paging', async () => {
  const r = await cli('list', '--db', db, '--limit', '3');
  expect(r.code).toBe(0);
  expect(r.out.split('\n')).toEqual([
    '     1  2026-06-10 09:00:00  offer                    -12.50 EUR  Shop, "Books" Ltd  book order 0  deal deal-0',
    '     2  2026-06-10 10:00:00  order                                Shop, "Books" Ltd  book order 1  deal deal-1',
    '     3  2026-06-10 11:00:00  payment-token            -37.50 EUR  Shop, "Books" Ltd  book order 2  deal deal-2',
    '… more: semper archive list --after 3',
    '',
  ]);
  expect((await cli('list', '--db', db, '--kind', 'order')).out).toMatch(/^ +2 .*\n +7 .*\n +12 .*\n$/);
  expect((await cli('list', '--db', db, '--deal', 'deal-1', '--kind', 'order')).out).toMatch(/^ +2 .*\n$/);
  expect((await cli('list', '--db', db, '--from', '2026-06-10T12:00:00Z', '--to', '2026-06-10T14:00:00Z')).out.split('\n').map((l) => l.slice(0, 6).trim())).toEqual(['4', '5', '']);
  expect((await cli('list', '--db', db, '--after', '10')).out.split('\n')).toHaveLength(3);
  expect((await cli('list', '--db', db, '--deal', 'none')).out).toBe('no records\n');
});

test('show: one record in full', async () => {
  const r = await cli('show', '2', '--db', db);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/^record {5}2\ntime {7}2026-06-10T10:00:00.000Z\nkind {7}order\ndeal {7}deal-1\nparty {6}Shop, "Books" Ltd\nothers {5}bank.example, ttp.example\nlabel {6}book order 1\nevidence {3}17 bytes\n {11}[0-9a-f]{34}\nprev {7}[0-9a-f]{64}\nhash {7}[0-9a-f]{64}\n$/);
  expect(await cli('show', '99', '--db', db)).toMatchObject({ code: 2, err: expect.stringMatching(/no record 99: see semper archive list/) });
  expect(await cli('show', 'two', '--db', db)).toMatchObject({ code: 2 });
});

test('export: CSV and an evidence pack an arbiter verifies offline', async () => {
  const csv = join(tmp.dir, 'out.csv');
  expect(await cli('export', '--csv', csv, '--db', db, '--deal', 'deal-0')).toMatchObject({ code: 0, out: `4 records written to ${csv}\n` });
  const lines = readFileSync(csv, 'utf8').split('\r\n');
  expect(lines[0]).toBe('seq,date,kind,label,counterparty,amount,currency,deal,record_hash');
  expect(lines[1]).toMatch(/^1,2026-06-10T09:00:00.000Z,offer,book order 0,"Shop, ""Books"" Ltd",-12.50,EUR,deal-0,[0-9a-f]{64}$/);
  expect(statSync(csv).mode & 0o777).toBe(0o600);

  const pack = join(tmp.dir, 'deal.pack');
  expect((await cli('export', '--pack', pack, '--db', db, '--deal', 'deal-2')).code).toBe(0);
  const v = verifyEvidencePack(readFileSync(pack), [key.publicKey], { requireAnchor: false });
  expect(v.records.map((r) => r.seq)).toEqual([3, 6, 9, 12]);
  expect(v.anchoredSeq).toBe(10);

  expect(await cli('export', '--csv', csv, '--db', db, '--deal', 'nope')).toMatchObject({ code: 4 });
  expect(await cli('export', '--db', db)).toMatchObject({ code: 2, err: expect.stringMatching(/exactly one of --csv FILE or --pack FILE/) });
});

test('verify: OK, then tampering named with exit status 1', async () => {
  expect(await cli('verify', '--db', db)).toMatchObject({ code: 0, out: expect.stringMatching(/^OK: 12 records.*\n2 checkpoints, signatures NOT checked: pass --trusted-key/) });
  expect(await cli('verify', '--db', db, '--trusted-key', hexKey, '--require-checkpoint')).toMatchObject({ code: 0, out: expect.stringMatching(/records up to 10 are anchored/) });
  expect(await cli('verify', '--db', db, '--trusted-key', Buffer.from(archiveKey(3).publicKey).toString('hex'))).toMatchObject({ code: 1, err: expect.stringMatching(/CHECKPOINT_INVALID at record 5/) });
  tamper(db, (d) => d.exec('UPDATE records SET amount = 0 WHERE seq = 7'));
  const r = await cli('verify', '--db', db);
  expect(r).toMatchObject({ code: 1, out: '' });
  expect(r.err).toMatch(/^semper archive: TAMPERED at record 7: .*\nThe archive has been changed outside semper .* Keep a copy/);
});

test('errors say what to do', async () => {
  expect(await cli('list', '--db', join(tmp.dir, 'missing.db'))).toMatchObject({ code: 3, err: expect.stringMatching(/no database at .*missing.db: the host agent creates it on first use; or name another file with --db FILE/) });
  expect(await cli('frobnicate')).toMatchObject({ code: 2, err: expect.stringMatching(/unknown command frobnicate: use list, show, export or verify/) });
  expect(await cli('list', '--bogus')).toMatchObject({ code: 2, err: expect.stringMatching(/--bogus/) });
  expect(await cli('verify', '--deal', 'x', '--db', db)).toMatchObject({ code: 2, err: expect.stringMatching(/verify does not take --deal/) });
  expect(await cli('list', '--db', db, '--from', 'yesterday')).toMatchObject({ code: 2, err: expect.stringMatching(/write a date as YYYY-MM-DD/) });
  expect(await cli('list', '--db', db, '--kind', 'gift')).toMatchObject({ code: 2, err: expect.stringMatching(/use one of transfer, /) });
  expect(await cli('verify', '--db', db, '--trusted-key', 'abcd')).toMatchObject({ code: 2, err: expect.stringMatching(/130 hex digits/) });
});

test('the default database is $SEMPER_HOME/archive.db, the folder created 0700', async () => {
  const r = await cli('list');
  expect(r.code).toBe(3);
  expect(statSync(join(tmp.dir, 'home')).mode & 0o777).toBe(0o700);
  expect(r.err).toContain(join(tmp.dir, 'home', 'archive.db'));
  expect(existsSync(join(tmp.dir, 'home', 'archive.db'))).toBe(false);
});

test('dates: a bare --to day includes that whole day (UTC)', () => {
  expect(parseDate('2026-06-10', 'from')).toBe(Date.UTC(2026, 5, 10));
  expect(parseDate('2026-06-10', 'to', true)).toBe(Date.UTC(2026, 5, 11));
  expect(parseDate('2026-06-10T12:30:00+02:00', 'from')).toBe(Date.UTC(2026, 5, 10, 10, 30));
});
