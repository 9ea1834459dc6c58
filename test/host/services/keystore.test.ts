// The key store: round trip, wrong passphrase, corruption, crash-safe saves. scrypt runs
// with N = 2^10 here (allowWeakKdf); production refuses less than 2^15.

import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/p256';
import { KeyStore, KeyStoreError, KeyStoreErrorCode, KeyStoreOptions, PRODUCTION_SCRYPT } from '../../../host/src/services/keystore';
import { writeFileAtomic } from '../../../host/src/services/atomic-file';
import { signSign1, verifySign1 } from '../../../shared/src/cose';
import { decodeCanonical, encodeCanonical, HostCborMap } from '../../../shared/src/cbor';
import { sha256 } from '@noble/hashes/sha256';

const FAST: KeyStoreOptions = { scrypt: { logN: 10, r: 8, p: 1 }, allowWeakKdf: true, now: () => 1_700_000_000 };
let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keystore-'));
  file = join(dir, 'keys.cbor');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function code(p: Promise<unknown>): Promise<KeyStoreErrorCode> {
  try {
    await p;
  } catch (e) {
    if (e instanceof KeyStoreError) return e.code;
    throw e;
  }
  throw new Error('did not throw');
}

describe('key store', () => {
  test('round trip: generate and import keys for every role, reopen, sign with them', async () => {
    const ks = await KeyStore.create(file, 'correct horse', FAST);
    const ca = await ks.generate('ca-1', 'ca');
    await ks.generate('shop', 'merchant');
    await ks.generate('bank', 'bank');
    const imported = p256.utils.randomPrivateKey();
    await ks.import('ttp', 'ttp', imported);
    ks.close();
    expect(() => ks.list()).toThrow(expect.objectContaining({ code: 'CLOSED' }));

    const again = await KeyStore.open(file, 'correct horse', FAST);
    expect(again.list().map((k) => [k.label, k.role, k.created])).toEqual([
      ['ca-1', 'ca', 1_700_000_000],
      ['shop', 'merchant', 1_700_000_000],
      ['bank', 'bank', 1_700_000_000],
      ['ttp', 'ttp', 1_700_000_000],
    ]);
    expect([...again.privateKey('ttp')]).toEqual([...imported]);
    expect([...again.publicKey('ca-1')]).toEqual([...ca]);
    const signed = signSign1(Uint8Array.of(1, 2, 3), again.privateKey('ca-1'));
    expect([...verifySign1(signed, ca).payload]).toEqual([1, 2, 3]);
    await again.remove('bank');
    again.close();
    expect((await KeyStore.open(file, 'correct horse', FAST)).list().map((k) => k.label)).toEqual(['ca-1', 'shop', 'ttp']);
  });

  test('the file holds no private key in clear and only public parameters', async () => {
    const ks = await KeyStore.create(file, 'pw', FAST);
    await ks.generate('shop', 'merchant');
    const priv = Buffer.from(ks.privateKey('shop'));
    const bytes = await readFile(file);
    expect(bytes.includes(priv)).toBe(false);
    expect(bytes.includes(Buffer.from('shop'))).toBe(false); // labels are inside the ciphertext too
  });

  test('wrong passphrase: typed error, the file unchanged', async () => {
    const ks = await KeyStore.create(file, 'right', FAST);
    await ks.generate('shop', 'merchant');
    const before = await readFile(file);
    expect(await code(KeyStore.open(file, 'wrong', FAST))).toBe('WRONG_PASSPHRASE');
    expect(await code(KeyStore.open(file, '', FAST))).toBe('BAD_INPUT');
    expect((await readFile(file)).equals(before)).toBe(true);
    expect((await KeyStore.open(file, 'right', FAST)).list()).toHaveLength(1);
  });

  test('corrupted file: every flipped byte is CORRUPT (checksum), never a wrong key or an untyped error', async () => {
    const ks = await KeyStore.create(file, 'pw', FAST);
    await ks.generate('shop', 'merchant');
    const good = await readFile(file);
    const codes = new Set<string>();
    for (let i = 0; i < good.length; i += 7) {
      const bad = Buffer.from(good);
      bad[i] ^= 0x41;
      await writeFile(file, bad);
      codes.add(await code(KeyStore.open(file, 'pw', FAST)));
    }
    expect(codes).toEqual(new Set(['CORRUPT']));
    await writeFile(file, good.subarray(0, good.length - 10));
    expect(await code(KeyStore.open(file, 'pw', FAST))).toBe('CORRUPT');
    await writeFile(file, 'not a key store');
    expect(await code(KeyStore.open(file, 'pw', FAST))).toBe('CORRUPT');
    expect(await code(KeyStore.open(join(dir, 'absent'), 'pw', FAST))).toBe('NOT_FOUND');
  });

  test('a deliberate edit with a recomputed checksum is refused as WRONG_PASSPHRASE (the AEAD catches it)', async () => {
    const ks = await KeyStore.create(file, 'pw', FAST);
    await ks.generate('shop', 'merchant');
    const m = decodeCanonical(new Uint8Array(await readFile(file)), { maxSize: 1 << 20, maxDepth: 8, maxLength: 1 << 20, maxCount: 64, maxTag: 255 }) as HostCborMap;
    const sealed = (m.get(4) as Uint8Array).slice();
    sealed[sealed.length - 1] ^= 1;
    m.set(4, sealed);
    m.delete(5);
    m.set(5, sha256(encodeCanonical(m)));
    await writeFile(file, encodeCanonical(m));
    expect(await code(KeyStore.open(file, 'pw', FAST))).toBe('WRONG_PASSPHRASE');
  });

  test('atomic save: a crash between the temp write and the rename leaves the old file intact', async () => {
    let crash = false;
    const ks = await KeyStore.create(file, 'pw', {
      ...FAST,
      write: {
        beforeRename: () => {
          if (crash) throw new Error('power cut');
        },
      },
    });
    await ks.generate('shop', 'merchant');
    const before = await readFile(file);
    crash = true;
    await expect(ks.generate('bank', 'bank')).rejects.toThrow('power cut');
    expect((await readFile(file)).equals(before)).toBe(true);
    expect(ks.list().map((k) => k.label)).toEqual(['shop']); // memory follows the file
    expect(await readdir(dir)).toEqual(['keys.cbor']);
    expect((await KeyStore.open(file, 'pw', FAST)).list().map((k) => k.label)).toEqual(['shop']);
  });

  test('writeFileAtomic: the new content or the old, never a mix', async () => {
    await writeFileAtomic(file, Uint8Array.of(1, 2, 3));
    await expect(
      writeFileAtomic(file, Uint8Array.of(9, 9, 9, 9), {
        beforeRename: async (tmp) => {
          expect([...(await readFile(tmp))]).toEqual([9, 9, 9, 9]); // fully written and synced
          throw new Error('crash');
        },
      }),
    ).rejects.toThrow('crash');
    expect([...(await readFile(file))]).toEqual([1, 2, 3]);
    await writeFileAtomic(file, Uint8Array.of(4));
    expect([...(await readFile(file))]).toEqual([4]);
  });

  test('passphrase change, parameters, labels', async () => {
    const ks = await KeyStore.create(file, 'old', FAST);
    await ks.generate('shop', 'merchant');
    await ks.changePassphrase('new', { logN: 11, r: 8, p: 1 });
    expect(await code(KeyStore.open(file, 'old', FAST))).toBe('WRONG_PASSPHRASE');
    expect((await KeyStore.open(file, 'new', FAST)).list()).toHaveLength(1);
    expect(await code(ks.generate('shop', 'bank'))).toBe('DUPLICATE_LABEL');
    expect(await code(ks.generate('x', 'buyer' as never))).toBe('BAD_INPUT');
    expect(await code(ks.import('y', 'bank', new Uint8Array(32)))).toBe('BAD_INPUT');
    expect(() => ks.privateKey('nope')).toThrow(expect.objectContaining({ code: 'UNKNOWN_LABEL' }));
    expect(await code(KeyStore.create(file, 'x', FAST))).toBe('EXISTS');
    expect(await code(KeyStore.create(join(dir, 'weak'), 'x', { scrypt: { logN: 10, r: 8, p: 1 } }))).toBe('WEAK_PARAMETERS');
    expect(await code(KeyStore.create(join(dir, 'huge'), 'x', { scrypt: { logN: 30, r: 8, p: 1 } }))).toBe('UNSUPPORTED');
    expect(PRODUCTION_SCRYPT.logN).toBeGreaterThanOrEqual(15);
  });
});
