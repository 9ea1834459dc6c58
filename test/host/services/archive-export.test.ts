// Exports: the accounting CSV (golden output, RFC 4180 quoting, ISO 4217 exponents) and the
// evidence pack (round trip, selection, anchoring, tampering).

import { join } from 'node:path';
import { decodeCanonical, encodeCanonical, HostCbor, HostCborMap } from '../../../shared/src/cbor';
import { SqliteArchive } from '../../../host/src/services/archive';
import { ArchiveError, ArchiveErrorCode } from '../../../host/src/services/archive-chain';
import { csvField, exportEvidencePack, toCsv, verifyEvidencePack } from '../../../host/src/services/archive-export';
import { CURRENCY_EXPONENTS, formatMinorUnits } from '../../../host/src/services/money';
import { archiveKey, sampleEntry, tempDir } from './fixtures/harness';

let tmp: ReturnType<typeof tempDir>;
let clock: number;
const key = archiveKey();
beforeEach(() => {
  tmp = tempDir('archive-export-');
  clock = Date.UTC(2026, 2, 1, 12, 0, 0);
});
afterEach(() => tmp.cleanup());

function open(checkpointEvery?: number): SqliteArchive {
  return SqliteArchive.open(join(tmp.dir, 'a.db'), { now: () => clock, signer: key.signer, ...(checkpointEvery ? { checkpointEvery } : {}) });
}

describe('money', () => {
  test.each([
    [-1234, 'EUR', '-12.34'],
    [5, 'EUR', '0.05'],
    [0, 'EUR', '0.00'],
    [700, 'JPY', '700'],
    [-7, 'JPY', '-7'],
    [5, 'KWD', '0.005'],
    [123456789, 'BHD', '123456.789'],
    [Number.MAX_SAFE_INTEGER, 'USD', '90071992547409.91'],
  ])('%i minor units of %s are %s', (amount, currency, text) => {
    expect(formatMinorUnits(amount, currency)).toBe(text);
  });

  test('no guessing: unknown currencies and non-integers give undefined', () => {
    expect(formatMinorUnits(100, 'XYZ')).toBeUndefined();
    expect(formatMinorUnits(1.5, 'EUR')).toBeUndefined();
    expect(formatMinorUnits(100, 'toString')).toBeUndefined();
    expect(Object.isFrozen(CURRENCY_EXPONENTS)).toBe(true);
  });
});

describe('CSV for accounting', () => {
  test('RFC 4180 quoting and spreadsheet-formula neutralising', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\r\nlines')).toBe('"two\r\nlines"');
    expect(csvField('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    expect(csvField('+1')).toBe("'+1");
    expect(csvField('-12.50', false)).toBe('-12.50');
  });

  test('golden output', async () => {
    const a = open();
    await a.append({ kind: 'order', deal: 'D-1', counterparty: 'Books, "Ltd"', label: 'order 42', amount: -1999, currency: 'EUR' });
    clock += 1500;
    await a.append({ kind: 'receipt', deal: 'D-1', counterparty: 'Books, "Ltd"', label: 'receipt\nfor order 42' });
    clock += 86_400_000;
    await a.append({ kind: 'refund', deal: 'D-2', counterparty: '=cmd|x', label: 'refund', amount: 500, currency: 'JPY' });
    await a.append({ kind: 'deposit', amount: 12345, currency: 'KWD' });
    const records = await a.list();
    const csv = toCsv(records);
    const golden = [
      'seq,date,kind,label,counterparty,amount,currency,deal,record_hash',
      '1,2026-03-01T12:00:00.000Z,order,order 42,"Books, ""Ltd""",-19.99,EUR,D-1,#1',
      '2,2026-03-01T12:00:01.500Z,receipt,"receipt\nfor order 42","Books, ""Ltd""",,,D-1,#2',
      "3,2026-03-02T12:00:01.500Z,refund,refund,'=cmd|x,500,JPY,D-2,#3",
      '4,2026-03-02T12:00:01.500Z,deposit,,,12.345,KWD,,#4',
      '',
    ].join('\r\n');
    expect(csv).toBe(golden.replace(/#(\d)/g, (_m, n) => Buffer.from(records[Number(n) - 1].hash).toString('hex')));
    a.close();
  });
});

describe('evidence pack', () => {
  async function fill(a: SqliteArchive, n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      await a.append(sampleEntry(i));
      clock += 1000;
    }
  }

  function code(f: () => unknown): ArchiveErrorCode {
    try {
      f();
    } catch (e) {
      if (e instanceof ArchiveError) return e.code;
      throw e;
    }
    throw new Error('accepted');
  }

  /** Decodes a pack, lets `edit` change its map, re-encodes canonically (a careful forger). */
  function rewrite(pack: Uint8Array, edit: (m: HostCborMap) => void): Uint8Array {
    const m = decodeCanonical(pack, { maxSize: 1 << 28, maxDepth: 8, maxLength: 1 << 24, maxCount: 1 << 20, maxTag: 255 }) as HostCborMap;
    edit(m);
    return encodeCanonical(m);
  }

  test('round trip: the records of one deal, linked to the checkpoint after them', async () => {
    const a = open(5);
    await fill(a, 12);
    const pack = await exportEvidencePack(a, { deal: 'deal-1' }); // seqs 2, 5, 8, 11
    const r = verifyEvidencePack(pack, [key.publicKey], { requireAnchor: false });
    expect(r.records.map((x) => x.seq)).toEqual([2, 5, 8, 11]);
    expect(r.anchoredSeq).toBe(10);
    expect(r.anchored).toBe(false); // 11 is after the last checkpoint
    expect(code(() => verifyEvidencePack(pack, [key.publicKey]))).toBe('NO_CHECKPOINT');

    await a.checkpoint();
    const anchored = await exportEvidencePack(a, { deal: 'deal-1' });
    const v = verifyEvidencePack(anchored, [key.publicKey]);
    expect(v).toMatchObject({ anchored: true, anchoredSeq: 12, linking: 7 });
    expect([...v.archiveId]).toEqual([...a.archiveId]);
    const orig = await a.get(8);
    expect(v.records[2]).toEqual(orig);
    a.close();
  });

  test('a selection at the start of the archive is tied to the genesis; nothing selected is BAD_INPUT', async () => {
    const a = open(3);
    await fill(a, 3);
    const pack = await exportEvidencePack(a, { kind: 'offer' });
    expect(verifyEvidencePack(pack, [key.publicKey]).records.map((x) => x.seq)).toEqual([1]);
    expect(code(() => verifyEvidencePack(rewrite(pack, (m) => m.set(5, new Uint8Array(32))), [key.publicKey]))).toBe('BROKEN_LINK');
    await expect(exportEvidencePack(a, { deal: 'nope' })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    a.close();
  });

  test('tampering with a pack is detected', async () => {
    const a = open(4);
    await fill(a, 8);
    const pack = await exportEvidencePack(a, { deal: 'deal-2' }); // 3, 6 → run 3..8
    a.close();
    const bodies = (m: HostCborMap) => m.get(6) as Uint8Array[];
    expect(code(() => verifyEvidencePack(pack, [archiveKey(9).publicKey]))).toBe('CHECKPOINT_INVALID');
    expect(code(() => verifyEvidencePack(pack, []))).toBe('CHECKPOINT_INVALID');
    // a body changed, links recomputed by the verifier: the checkpoint no longer matches
    const edited = rewrite(pack, (m) => {
      const b = bodies(m)[1];
      b[b.length - 1] ^= 1;
    });
    expect(code(() => verifyEvidencePack(edited, [key.publicKey]))).toBe('CHECKPOINT_MISMATCH');
    expect(code(() => verifyEvidencePack(rewrite(pack, (m) => bodies(m).reverse()), [key.publicKey]))).toBe('REORDERED');
    expect(code(() => verifyEvidencePack(rewrite(pack, (m) => bodies(m).splice(1, 1)), [key.publicKey]))).toBe('REORDERED');
    expect(code(() => verifyEvidencePack(rewrite(pack, (m) => m.set(8, [])), [key.publicKey]))).toBe('NO_CHECKPOINT');
    expect(code(() => verifyEvidencePack(rewrite(pack, (m) => m.set(7, [6, 3] as HostCbor[])), [key.publicKey]))).toBe('BAD_PACK');
    expect(code(() => verifyEvidencePack(rewrite(pack, (m) => m.set(1, 'other')), [key.publicKey]))).toBe('BAD_PACK');
    expect(code(() => verifyEvidencePack(pack.subarray(0, pack.length - 1), [key.publicKey]))).toBe('BAD_PACK');
  });
});
