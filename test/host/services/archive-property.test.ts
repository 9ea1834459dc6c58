// Property tests of the hash chain: for random record sequences the chain verifies, and
// any single-byte change of any stored record byte (body, link, hash) or of an evidence
// pack is always detected.

import fc from 'fast-check';
import { join } from 'node:path';
import { SqliteArchive } from '../../../host/src/services/archive';
import { ArchiveEntry, ArchiveError, RECORD_KINDS } from '../../../host/src/services/archive-chain';
import { exportEvidencePack, verifyEvidencePack } from '../../../host/src/services/archive-export';
import { archiveKey, flipByte, tamper, tempDir } from './fixtures/harness';

const key = archiveKey();
let tmp: ReturnType<typeof tempDir>;
let n = 0;
beforeAll(() => {
  tmp = tempDir('archive-prop-');
});
afterAll(() => tmp.cleanup());

const text = fc.string({ minLength: 1, maxLength: 24, unit: 'grapheme' });
const entry: fc.Arbitrary<ArchiveEntry> = fc
  .record(
    {
      kind: fc.constantFrom(...RECORD_KINDS),
      deal: text,
      counterparty: text,
      parties: fc.array(text, { minLength: 1, maxLength: 3 }),
      label: text,
      money: fc.record({ amount: fc.maxSafeInteger().filter((x) => x >= Number.MIN_SAFE_INTEGER), currency: fc.constantFrom('EUR', 'JPY', 'KWD') }),
      evidence: fc.uint8Array({ maxLength: 80 }),
      note: text,
    },
    { requiredKeys: ['kind'] },
  )
  .map(({ money, ...e }) => ({ ...e, ...(money ?? {}) }));

async function build(entries: ArchiveEntry[]): Promise<string> {
  const file = join(tmp.dir, `p${n++}.db`);
  const a = SqliteArchive.open(file, { signer: key.signer, now: () => 1_800_000_000_000 + n });
  for (const e of entries) await a.append(e);
  await a.checkpoint();
  a.close();
  return file;
}

async function verifies(file: string): Promise<boolean> {
  const a = SqliteArchive.open(file);
  try {
    await a.verify({ trustedKeys: [key.publicKey] });
    return true;
  } catch (e) {
    if (e instanceof ArchiveError) return false;
    throw e;
  } finally {
    a.close();
  }
}

test('random sequences verify; a single-byte change in any stored record is detected', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 8 }), fc.nat(), fc.constantFrom('body', 'prev', 'hash'), fc.nat(), fc.integer({ min: 1, max: 255 }), async (entries, which, column, at, xor) => {
      const file = await build(entries);
      const a = SqliteArchive.open(file);
      const back = await a.list();
      a.close();
      expect(back.map(({ seq: _s, time: _t, body: _b, prev: _p, hash: _h, ...e }) => e)).toEqual(entries.map((e) => ({ ...e, evidence: e.evidence && new Uint8Array(e.evidence) })));
      expect(await verifies(file)).toBe(true);
      const seq = (which % entries.length) + 1;
      tamper(file, (db) => flipByte(db, 'records', column, seq, at, xor));
      expect(await verifies(file)).toBe(false);
    }),
    { numRuns: 60 },
  );
});

test('a change of any bit or byte anywhere in an evidence pack is detected', async () => {
  const entries = fc.sample(entry, { numRuns: 3, seed: 42 });
  const file = await build(entries);
  const a = SqliteArchive.open(file);
  const pack = await exportEvidencePack(a);
  a.close();
  expect(verifyEvidencePack(pack, [key.publicKey]).records).toHaveLength(3);
  // one bit of every byte, then random changes
  for (let at = 0; at < pack.length; at++) {
    const bad = pack.slice();
    bad[at] ^= 1 << at % 8;
    expect(() => verifyEvidencePack(bad, [key.publicKey])).toThrow(ArchiveError);
  }
  fc.assert(
    fc.property(fc.nat(pack.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
      const bad = pack.slice();
      bad[at] ^= xor;
      expect(() => verifyEvidencePack(bad, [key.publicKey])).toThrow(ArchiveError);
    }),
    { numRuns: 300 },
  );
});
