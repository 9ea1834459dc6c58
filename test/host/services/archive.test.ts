// The archive: append and query, the exact bytes of ARCHIVE.md, durability settings,
// append-only triggers, and every kind of tampering verify() must name.

import { sha256 } from '@noble/hashes/sha256';
import Database from 'better-sqlite3';
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeCanonical } from '../../../shared/src/cbor';
import { decodeSign1 } from '../../../shared/src/cose';
import { ArchiveErrorCode, checkpointPayload, genesisHash } from '../../../host/src/services/archive-chain';
import { ArchiveError, SqliteArchive } from '../../../host/src/services/archive';
import { archiveKey, flipByte, sampleEntry, tamper, tempDir } from './fixtures/harness';

let tmp: ReturnType<typeof tempDir>;
let file: string;
let clock: number;
const now = () => clock;
const key = archiveKey();

beforeEach(() => {
  tmp = tempDir('archive-');
  file = join(tmp.dir, 'archive.db');
  clock = Date.UTC(2026, 0, 15, 9, 30);
});
afterEach(() => tmp.cleanup());

async function filled(n: number, opts: { checkpointEvery?: number } = {}): Promise<SqliteArchive> {
  const a = SqliteArchive.open(file, { now, signer: key.signer, ...opts });
  for (let i = 0; i < n; i++) {
    await a.append(sampleEntry(i));
    clock += 60_000;
  }
  return a;
}

async function verifyCode(a: SqliteArchive, opts = { trustedKeys: [key.publicKey] }): Promise<[ArchiveErrorCode, number | undefined]> {
  try {
    await a.verify(opts);
  } catch (e) {
    if (e instanceof ArchiveError) return [e.code, e.seq];
    throw e;
  }
  throw new Error('verify passed');
}

/** verify() on a fresh connection after raw-SQL tampering. */
async function verifyAfter(sql: (db: Database.Database) => void): Promise<[ArchiveErrorCode, number | undefined]> {
  tamper(file, sql);
  const a = SqliteArchive.open(file);
  try {
    return await verifyCode(a);
  } finally {
    a.close();
  }
}

describe('append and query', () => {
  test('records come back as written, numbered from 1, chained from the genesis', async () => {
    const a = await filled(6);
    const all = await a.list();
    expect(all.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(all[0]).toMatchObject({ kind: 'offer', deal: 'deal-0', counterparty: 'Shop, "Books" Ltd', label: 'book order 0', amount: -1250, currency: 'EUR', time: Date.UTC(2026, 0, 15, 9, 30) });
    expect(all[1].parties).toEqual(['bank.example', 'ttp.example']);
    expect([...all[0].prev]).toEqual([...genesisHash(a.archiveId)]);
    for (let i = 1; i < all.length; i++) expect([...all[i].prev]).toEqual([...all[i - 1].hash]);
    expect(await a.head()).toEqual({ seq: 6, hash: all[5].hash });
    expect((await a.get(4)).label).toBe('book order 3');
    await expect(a.get(7)).rejects.toMatchObject({ code: 'NOT_FOUND', seq: 7 });
    a.close();
  });

  test('queries by deal, kind, time range, with paging', async () => {
    const a = await filled(12);
    const t0 = Date.UTC(2026, 0, 15, 9, 30);
    expect((await a.list({ deal: 'deal-1' })).map((r) => r.seq)).toEqual([2, 5, 8, 11]);
    expect((await a.list({ kind: 'receipt' })).map((r) => r.seq)).toEqual([4, 9]);
    expect((await a.list({ from: t0 + 2 * 60_000, to: t0 + 5 * 60_000 })).map((r) => r.seq)).toEqual([3, 4, 5]);
    expect((await a.list({ afterSeq: 4, limit: 3 })).map((r) => r.seq)).toEqual([5, 6, 7]);
    expect((await a.list({ deal: 'deal-2', afterSeq: 6 })).map((r) => r.seq)).toEqual([9, 12]);
    expect((await a.range(3, 5)).map((r) => r.seq)).toEqual([3, 4, 5]);
    await expect(a.list({ kind: 'bogus' as never })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(a.list({ limit: -1 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    a.close();
  });

  test.each([
    ['a float amount', { kind: 'order', amount: 12.5, currency: 'EUR' }],
    ['an amount without currency', { kind: 'order', amount: 1250 }],
    ['a currency without amount', { kind: 'order', currency: 'EUR' }],
    ['an unknown currency', { kind: 'order', amount: 1, currency: 'XXX' }],
    ['an amount beyond 2^53', { kind: 'order', amount: 2 ** 53, currency: 'EUR' }],
    ['an unknown kind', { kind: 'gossip' }],
    ['an empty label', { kind: 'note', label: '' }],
    ['a lone surrogate', { kind: 'note', note: '\ud800' }],
  ])('refuses %s with BAD_INPUT and writes nothing', async (_name, entry) => {
    const a = SqliteArchive.open(file);
    await expect(a.append(entry as never)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    expect((await a.head()).seq).toBe(0);
    a.close();
  });
});

describe('the bytes of ARCHIVE.md', () => {
  test('body, link, genesis and checkpoint payload are exactly as specified', async () => {
    const a = SqliteArchive.open(file, { now });
    const r = await a.append({ kind: 'receipt', deal: 'd1', counterparty: 'shop', amount: 995, currency: 'EUR', evidence: Uint8Array.of(1, 2), label: 'L' });
    // {1: 1, 2: time, 3: "receipt", 4: "d1", 6: "shop", 8: "L", 9: 995, 10: "EUR", 11: h'0102'}
    const expected = Buffer.concat([
      Buffer.from('a9' + '0101' + '02' + '1b' + clock.toString(16).padStart(16, '0'), 'hex'),
      Buffer.from('03' + '67' + Buffer.from('receipt').toString('hex') + '04' + '62' + '6431' + '06' + '64' + Buffer.from('shop').toString('hex'), 'hex'),
      Buffer.from('08' + '614c' + '09' + '1903e3' + '0a' + '63' + Buffer.from('EUR').toString('hex') + '0b' + '420102', 'hex'),
    ]);
    expect(Buffer.from(r.body).toString('hex')).toBe(expected.toString('hex'));
    const genesis = sha256(Buffer.concat([Buffer.from('83' + '6e' + Buffer.from('semper-archive').toString('hex') + '01' + '50', 'hex'), a.archiveId]));
    expect([...r.prev]).toEqual([...genesis]);
    expect([...r.hash]).toEqual([...sha256(Buffer.concat([genesis, r.body]))]);
    expect(Buffer.from(checkpointPayload(a.archiveId, 1, r.hash, clock)).toString('hex')).toBe(
      Buffer.from(encodeCanonical(new Map<number, never>([[1, 'semper-archive-checkpoint' as never], [2, a.archiveId as never], [3, 1 as never], [4, r.hash as never], [5, clock as never]]))).toString('hex'),
    );
    a.close();
  });
});

describe('durability and append-only', () => {
  test('WAL with synchronous=FULL; UPDATE and DELETE refused by the database itself', async () => {
    const a = await filled(3);
    expect(a.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(a.db.pragma('synchronous', { simple: true })).toBe(2);
    await a.checkpoint();
    for (const sql of ["UPDATE records SET label = 'x' WHERE seq = 2", 'DELETE FROM records WHERE seq = 3', 'DELETE FROM checkpoints', 'UPDATE checkpoints SET seq = 9']) {
      expect(() => a.db.exec(sql)).toThrow(/append-only/);
    }
    await expect(a.verify({ trustedKeys: [key.publicKey] })).resolves.toMatchObject({ records: 3, anchoredSeq: 3 });
    a.close();
  });

  test('an append of another connection in between keeps one chain', async () => {
    const a = SqliteArchive.open(file, { now });
    const b = SqliteArchive.open(file, { now });
    expect([...b.archiveId]).toEqual([...a.archiveId]);
    for (let i = 0; i < 10; i++) await (i % 3 ? a : b).append(sampleEntry(i));
    await expect(b.verify()).resolves.toMatchObject({ records: 10 });
    a.close();
    b.close();
  });

  test('periodic checkpoints are signed by the archive key over the head', async () => {
    const a = await filled(10, { checkpointEvery: 4 });
    const cps = await a.checkpoints();
    expect(cps.map((c) => c.seq)).toEqual([4, 8]);
    expect([...cps[1].head]).toEqual([...(await a.get(8)).hash]);
    expect([...decodeSign1(cps[0].sign1).payload]).toEqual([...checkpointPayload(a.archiveId, 4, cps[0].head, cps[0].time)]);
    expect(await a.verify({ trustedKeys: [key.publicKey], requireCheckpoint: true })).toMatchObject({ records: 10, checkpoints: 2, anchoredSeq: 8, trusted: true });
    await expect(SqliteArchive.open(join(tmp.dir, 'x.db')).checkpoint()).rejects.toMatchObject({ code: 'BAD_INPUT' });
    expect(() => SqliteArchive.open(join(tmp.dir, 'y.db'), { checkpointEvery: 3 })).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    a.close();
  });

  test('a missing file is NOT_FOUND with mustExist; a non-database is NOT_A_DATABASE', async () => {
    expect(() => SqliteArchive.open(join(tmp.dir, 'none.db'), { mustExist: true })).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    const junk = join(tmp.dir, 'junk.db');
    writeFileSync(junk, 'this is not sqlite, just some text that is long enough to be read as a header '.repeat(20));
    expect(() => SqliteArchive.open(junk)).toThrow(expect.objectContaining({ code: 'NOT_A_DATABASE' }));
  });
});

describe('tampering is detected and the first bad record named', () => {
  beforeEach(async () => {
    const a = await filled(8, { checkpointEvery: 4 });
    a.close();
  });

  test('an intact archive verifies', async () => {
    const a = SqliteArchive.open(file);
    await expect(a.verify({ trustedKeys: [key.publicKey] })).resolves.toMatchObject({ records: 8, anchoredSeq: 8 });
    a.close();
  });

  test("a record's label changed in its body and its column alike", async () => {
    const sql = "UPDATE records SET body = unhex(replace(hex(body), hex('book order 2'), hex('book order 9'))), label = 'book order 9' WHERE seq = 3";
    expect(await verifyAfter((db) => expect(db.prepare(sql).run().changes).toBe(1))).toEqual(['TAMPERED', 3]);
  });

  test("one byte of a record's body changed in place (blob surgery)", async () => {
    expect(await verifyAfter((db) => flipByte(db, 'records', 'body', 5))).toEqual(['TAMPERED', 5]);
  });

  test('an index column changed (the amount a query shows)', async () => {
    expect(await verifyAfter((db) => db.exec('UPDATE records SET amount = -1 WHERE seq = 3'))).toEqual(['TAMPERED', 3]);
  });

  test('a body replaced by a valid one with its own link recomputed', async () => {
    expect(
      await verifyAfter((db) => {
        const r = db.prepare('SELECT body, prev FROM records WHERE seq = 2').get() as { body: Buffer; prev: Buffer };
        const body = Buffer.from(r.body);
        body[body.length - 1] ^= 1; // the last evidence byte
        db.prepare('UPDATE records SET body = ?, hash = ? WHERE seq = 2').run(body, Buffer.from(sha256(Buffer.concat([r.prev, body]))));
      }),
    ).toEqual(['BROKEN_LINK', 3]);
  });

  test('a row deleted', async () => {
    expect(await verifyAfter((db) => db.exec('DELETE FROM records WHERE seq = 6'))).toEqual(['MISSING_RECORD', 6]);
  });

  test('two rows swapped', async () => {
    expect(await verifyAfter((db) => db.exec('UPDATE records SET seq = -1 WHERE seq = 2; UPDATE records SET seq = 2 WHERE seq = 3; UPDATE records SET seq = 3 WHERE seq = -1;'))).toEqual(['REORDERED', 2]);
  });

  test('the tail truncated behind a checkpoint', async () => {
    expect(await verifyAfter((db) => db.exec('DELETE FROM records WHERE seq > 6'))).toEqual(['TRUNCATED', 7]);
  });

  test('a checkpoint signature damaged', async () => {
    expect(await verifyAfter((db) => flipByte(db, 'checkpoints', 'sign1', 4))).toEqual(['CHECKPOINT_INVALID', 4]);
  });

  describe('the whole database replaced by a re-chained forgery', () => {
    /** Rebuilds the file from its own records with record 3 changed, every link recomputed. */
    async function forge(signer?: ReturnType<typeof archiveKey>['signer']): Promise<void> {
      const src = SqliteArchive.open(file);
      const records = await src.list();
      const cps = await src.checkpoints();
      const id = src.archiveId;
      src.close();
      rmSync(file);
      for (const ext of ['-wal', '-shm']) rmSync(file + ext, { force: true });
      const forged = SqliteArchive.open(file, { now, ...(signer ? { signer } : {}) });
      tamper(file, (db) => db.prepare("UPDATE meta SET value = ? WHERE key = 'archive_id'").run(Buffer.from(id)));
      forged.close();
      const again = SqliteArchive.open(file, { now, ...(signer ? { signer, checkpointEvery: 4 } : {}) });
      for (const r of records) {
        clock = r.time;
        await again.append({ ...r, ...(r.seq === 3 ? { amount: -1 } : {}) });
      }
      again.close();
      // the forger keeps the genuine checkpoints when it has no key of its own
      if (!signer) tamper(file, (db) => cps.forEach((c) => db.prepare('INSERT INTO checkpoints VALUES (?, ?, ?, ?)').run(c.seq, c.time, Buffer.from(c.head), Buffer.from(c.sign1))));
    }

    test('with the genuine checkpoints kept: CHECKPOINT_MISMATCH', async () => {
      await forge();
      const a = SqliteArchive.open(file);
      expect(await verifyCode(a)).toEqual(['CHECKPOINT_MISMATCH', 4]);
      a.close();
    });

    test("with checkpoints signed by the forger's key: CHECKPOINT_INVALID", async () => {
      await forge(archiveKey(7).signer);
      const a = SqliteArchive.open(file);
      await expect(a.verify()).resolves.toMatchObject({ records: 8, trusted: false }); // the chain alone is consistent
      expect(await verifyCode(a)).toEqual(['CHECKPOINT_INVALID', 4]);
      a.close();
    });

    test('with no checkpoints at all: NO_CHECKPOINT when one is required', async () => {
      await forge();
      tamper(file, (db) => db.exec('DELETE FROM checkpoints'));
      const a = SqliteArchive.open(file);
      expect(await verifyCode(a, { trustedKeys: [key.publicKey], requireCheckpoint: true } as never)).toEqual(['NO_CHECKPOINT', undefined]);
      a.close();
    });
  });

  test('a copy of the file verifies the same (nothing depends on the path)', async () => {
    const copy = join(tmp.dir, 'copy.db');
    const a = SqliteArchive.open(file);
    a.db.pragma('wal_checkpoint(TRUNCATE)');
    copyFileSync(file, copy);
    a.close();
    const b = SqliteArchive.open(copy);
    await expect(b.verify({ trustedKeys: [key.publicKey] })).resolves.toMatchObject({ records: 8 });
    b.close();
  });
});

describe('module rules (host/src/services/README.md)', () => {
  const dir = join(__dirname, '../../../host/src/services');
  const sources = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  test('the import scan sees multi-line imports', () => {
    expect([...readFileSync(join(dir, 'archive.ts'), 'utf8').matchAll(/^(?:import|export)\b[^;]*?\bfrom '([^']+)'/gm)].map((m) => m[1])).toContain('./archive-chain');
  });
  test.each(sources)('%s imports only what the README allows', (f) => {
    const imports = [...readFileSync(join(dir, f), 'utf8').matchAll(/^(?:import|export)\b[^;]*?\bfrom '([^']+)'/gm)].map((m) => m[1]);
    for (const m of imports) {
      expect(m).toMatch(/^(node:|@noble\/|\.\/|\.\.\/\.\.\/\.\.\/(shared|protocol)\/src\/|better-sqlite3$)/);
      if (m === 'better-sqlite3') expect(f).toBe('sqlite.ts');
    }
  });
});
