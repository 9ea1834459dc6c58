// The key store: software P-256 keys of the merchant, bank, TTP and CA roles in one file,
// encrypted at rest under a passphrase (buyer keys never come here: they live on the card).
//
// File = canonical CBOR map
//   { 1: "semper-keystore", 2: 1 (format version),
//     3: KDF {1: "scrypt", 2: log2 N, 3: r, 4: p, 5: salt (bstr 16)},
//     4: COSE_Encrypt0 (A256GCM) of the key list, external_aad = canonical CBOR of {1, 2, 3},
//     5: SHA-256 of the canonical CBOR of {1, 2, 3, 4} }
// key = scrypt(NFC(passphrase) as UTF-8, salt, N, r, p, 32 bytes).
// Key list (plaintext) = [* {1: label (tstr), 2: role (tstr), 3: COSE_Key with d, 4: created (uint s)}].
//
// The checksum tells accidental damage (CORRUPT) from a wrong passphrase: with an intact
// checksum, an AEAD failure means the passphrase (or a deliberate edit) — WRONG_PASSPHRASE.
// Either way nothing is written. Every save goes through writeFileAtomic.

import { access, readFile } from 'node:fs/promises';
import { p256 } from '@noble/curves/p256';
import { scryptAsync } from '@noble/hashes/scrypt';
import { sha256 } from '@noble/hashes/sha256';
import { randomBytes } from '@noble/hashes/utils';
import { decodeCanonical, encodeCanonical, HostCbor, HostCborMap } from '../../../shared/src/cbor';
import { CoseError, coseKeyFromMap, coseKeyFromPrivate, coseKeyToMap, decryptEncrypt0, encryptEncrypt0, publicKeyOf } from '../../../shared/src/cose';
import { writeFileAtomic, AtomicWriteOptions } from './atomic-file';

export type KeyRole = 'merchant' | 'bank' | 'ttp' | 'ca';
const ROLES: readonly KeyRole[] = ['merchant', 'bank', 'ttp', 'ca'];

export type KeyStoreErrorCode =
  | 'NOT_FOUND' // no key store file at the path
  | 'EXISTS' // create() on a path that already has a file
  | 'CORRUPT' // the file is damaged: not the format, or the checksum does not match
  | 'WRONG_PASSPHRASE' // the file is intact but does not decrypt under this passphrase
  | 'UNSUPPORTED' // another format version, or KDF parameters outside the accepted range
  | 'WEAK_PARAMETERS' // scrypt parameters below the production minimum without allowWeakKdf
  | 'BAD_INPUT' // empty passphrase, bad label, unknown role, not a P-256 private key
  | 'DUPLICATE_LABEL'
  | 'UNKNOWN_LABEL'
  | 'CLOSED'; // used after close()

export class KeyStoreError extends Error {
  override readonly name = 'KeyStoreError';
  constructor(
    readonly code: KeyStoreErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  logN: number;
  r: number;
  p: number;
}

/** Production parameters: N = 2^15, r = 8, p = 1 (32 MiB, ~0.1-0.3 s) — RFC 7914 / OWASP's interactive minimum. */
export const PRODUCTION_SCRYPT: Readonly<ScryptParams> = { logN: 15, r: 8, p: 1 };
const MIN_LOG_N = 15;
/** Upper bounds accepted when opening, so a tampered header cannot make us allocate gigabytes. */
const MAX_LOG_N = 22;
const MAX_RP = 64;

export interface KeyStoreOptions {
  /** scrypt parameters for create() and changePassphrase() (default PRODUCTION_SCRYPT). */
  scrypt?: ScryptParams;
  /** Accept logN below 15 — for tests only. */
  allowWeakKdf?: boolean;
  /** Clock in seconds (default: system time). */
  now?: () => number;
  /** Passed to writeFileAtomic (test seam for crashes). */
  write?: AtomicWriteOptions;
}

export interface KeyInfo {
  label: string;
  role: KeyRole;
  /** SEC1 uncompressed P-256 point. */
  publicKey: Uint8Array;
  created: number;
}

interface Entry extends KeyInfo {
  privateKey: Uint8Array;
}

const MAGIC = 'semper-keystore';
const VERSION = 1;
const LIMITS = { maxSize: 1 << 20, maxDepth: 8, maxLength: 1 << 20, maxCount: 4096, maxTag: 255 };

function fail(code: KeyStoreErrorCode, msg: string): never {
  throw new KeyStoreError(code, msg);
}

function passphraseBytes(p: string): Uint8Array {
  if (typeof p !== 'string' || p.length === 0) fail('BAD_INPUT', 'empty passphrase');
  return new TextEncoder().encode(p.normalize('NFC'));
}

function checkParams(s: ScryptParams, allowWeak: boolean): void {
  const ok = (n: number, lo: number, hi: number) => Number.isInteger(n) && n >= lo && n <= hi;
  if (!ok(s.logN, 1, MAX_LOG_N) || !ok(s.r, 1, MAX_RP) || !ok(s.p, 1, MAX_RP) || s.r * s.p > MAX_RP) fail('UNSUPPORTED', 'scrypt parameters out of range');
  if (s.logN < MIN_LOG_N && !allowWeak) fail('WEAK_PARAMETERS', `scrypt N below 2^${MIN_LOG_N}`);
}

async function deriveKey(passphrase: string, salt: Uint8Array, s: ScryptParams): Promise<Uint8Array> {
  const pw = passphraseBytes(passphrase);
  try {
    return await scryptAsync(pw, salt, { N: 2 ** s.logN, r: s.r, p: s.p, dkLen: 32 });
  } finally {
    pw.fill(0);
  }
}

function headerMap(s: ScryptParams, salt: Uint8Array): HostCborMap {
  const kdf: HostCborMap = new Map<number | string, HostCbor>([
    [1, 'scrypt'],
    [2, s.logN],
    [3, s.r],
    [4, s.p],
    [5, salt],
  ]);
  return new Map<number | string, HostCbor>([
    [1, MAGIC],
    [2, VERSION],
    [3, kdf],
  ]);
}

interface Parsed {
  params: ScryptParams;
  salt: Uint8Array;
  aad: Uint8Array;
  sealed: Uint8Array;
}

/** Reads the outer layer: format, checksum, KDF header. CORRUPT / UNSUPPORTED. */
function parseFile(bytes: Uint8Array): Parsed {
  let m: HostCbor;
  try {
    m = decodeCanonical(bytes, LIMITS);
  } catch (_e) {
    return fail('CORRUPT', 'not a key store file (CBOR)');
  }
  if (!(m instanceof Map) || m.size !== 5 || m.get(1) !== MAGIC) fail('CORRUPT', 'not a key store file');
  const sum = m.get(5);
  const body = new Map(m);
  body.delete(5);
  if (!(sum instanceof Uint8Array) || Buffer.compare(Buffer.from(sum), Buffer.from(sha256(encodeCanonical(body)))) !== 0) fail('CORRUPT', 'checksum mismatch');
  if (m.get(2) !== VERSION) fail('UNSUPPORTED', `format version ${String(m.get(2))}`);
  const kdf = m.get(3);
  const sealed = m.get(4);
  if (!(kdf instanceof Map) || kdf.get(1) !== 'scrypt' || !(sealed instanceof Uint8Array)) fail('CORRUPT', 'key store header');
  const [logN, r, p, salt] = [kdf.get(2), kdf.get(3), kdf.get(4), kdf.get(5)];
  if (typeof logN !== 'number' || typeof r !== 'number' || typeof p !== 'number' || !(salt instanceof Uint8Array) || salt.length !== 16) fail('CORRUPT', 'KDF parameters');
  const params = { logN, r, p };
  checkParams(params, true);
  return { params, salt, aad: encodeCanonical(headerMap(params, salt)), sealed };
}

function parseEntries(plain: Uint8Array): Entry[] {
  try {
    const v = decodeCanonical(plain, LIMITS);
    if (!Array.isArray(v)) throw new Error('not an array');
    const seen = new Set<string>();
    return v.map((e) => {
      if (!(e instanceof Map)) throw new Error('entry');
      const label = e.get(1);
      const role = e.get(2);
      const created = e.get(4);
      if (typeof label !== 'string' || seen.has(label) || !ROLES.includes(role as KeyRole) || typeof created !== 'number') throw new Error('entry fields');
      seen.add(label);
      const key = coseKeyFromMap(e.get(3) as HostCbor);
      if (!key.d) throw new Error('no private key');
      return { label, role: role as KeyRole, created, privateKey: key.d, publicKey: publicKeyOf(key) };
    });
  } catch (_e) {
    return fail('CORRUPT', 'the decrypted key list is malformed');
  }
}

/** An open key store. Keys stay in memory until close(), which wipes them. */
export class KeyStore {
  private closed = false;

  private constructor(
    readonly path: string,
    private entries: Entry[],
    private key: Uint8Array,
    private salt: Uint8Array,
    private params: ScryptParams,
    private readonly opts: KeyStoreOptions,
  ) {}

  /** Creates a new, empty key store file; EXISTS if there is already a file at `path`. */
  static async create(path: string, passphrase: string, opts: KeyStoreOptions = {}): Promise<KeyStore> {
    const params = opts.scrypt ?? PRODUCTION_SCRYPT;
    checkParams(params, opts.allowWeakKdf ?? false);
    passphraseBytes(passphrase);
    if (await exists(path)) fail('EXISTS', 'a key store file is already there');
    const salt = randomBytes(16);
    const ks = new KeyStore(path, [], await deriveKey(passphrase, salt, params), salt, { ...params }, opts);
    await ks.save();
    return ks;
  }

  /** Opens and decrypts a key store. NOT_FOUND, CORRUPT, UNSUPPORTED, WRONG_PASSPHRASE; never writes. */
  static async open(path: string, passphrase: string, opts: KeyStoreOptions = {}): Promise<KeyStore> {
    passphraseBytes(passphrase);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') fail('NOT_FOUND', 'no key store file');
      throw e;
    }
    const f = parseFile(new Uint8Array(bytes));
    const key = await deriveKey(passphrase, f.salt, f.params);
    let plain: Uint8Array;
    try {
      plain = decryptEncrypt0(f.sealed, key, { externalAad: f.aad, limits: LIMITS });
    } catch (e) {
      key.fill(0);
      if (e instanceof CoseError && e.code === 'DECRYPT_FAILED') fail('WRONG_PASSPHRASE', 'the passphrase does not open this key store');
      return fail('CORRUPT', 'the sealed key list is malformed');
    }
    const entries = parseEntries(plain);
    plain.fill(0);
    return new KeyStore(path, entries, key, f.salt, f.params, opts);
  }

  /** Public information about every key. */
  list(): KeyInfo[] {
    this.live();
    return this.entries.map(({ label, role, publicKey, created }) => ({ label, role, publicKey: publicKey.slice(), created }));
  }

  /** A copy of the private key of `label` (wipe it after use). */
  privateKey(label: string): Uint8Array {
    return this.find(label).privateKey.slice();
  }

  publicKey(label: string): Uint8Array {
    return this.find(label).publicKey.slice();
  }

  /** Generates a new P-256 key, saves the store; returns the public key. */
  async generate(label: string, role: KeyRole): Promise<Uint8Array> {
    const priv = p256.utils.randomPrivateKey();
    try {
      return await this.import(label, role, priv);
    } finally {
      priv.fill(0);
    }
  }

  /** Adds an existing P-256 private key, saves the store; returns the public key. */
  async import(label: string, role: KeyRole, privateKey: Uint8Array): Promise<Uint8Array> {
    this.live();
    if (typeof label !== 'string' || label.length === 0 || label.length > 64) fail('BAD_INPUT', 'label must be 1..64 characters');
    if (!ROLES.includes(role)) fail('BAD_INPUT', `role must be one of ${ROLES.join(', ')}`);
    if (this.entries.some((e) => e.label === label)) fail('DUPLICATE_LABEL', `a key labelled ${label} exists`);
    let k;
    try {
      k = coseKeyFromPrivate(privateKey);
    } catch (_e) {
      return fail('BAD_INPUT', 'not a P-256 private key');
    }
    const entry: Entry = { label, role, created: Math.floor(this.opts.now?.() ?? Date.now() / 1000), privateKey: k.d!, publicKey: publicKeyOf(k) };
    await this.commit([...this.entries, entry]);
    return entry.publicKey.slice();
  }

  async remove(label: string): Promise<void> {
    const e = this.find(label);
    await this.commit(this.entries.filter((x) => x !== e));
    e.privateKey.fill(0);
  }

  /** Re-encrypts under a new passphrase (fresh salt; optionally new scrypt parameters). */
  async changePassphrase(passphrase: string, params: ScryptParams = this.params): Promise<void> {
    this.live();
    checkParams(params, this.opts.allowWeakKdf ?? false);
    const salt = randomBytes(16);
    const key = await deriveKey(passphrase, salt, params);
    const old = { key: this.key, salt: this.salt, params: this.params };
    Object.assign(this, { key, salt, params: { ...params } });
    try {
      await this.save();
    } catch (e) {
      Object.assign(this, old);
      key.fill(0);
      throw e;
    }
    old.key.fill(0);
  }

  /** Wipes the keys from memory; the object is unusable afterwards. */
  close(): void {
    for (const e of this.entries) e.privateKey.fill(0);
    this.key.fill(0);
    this.entries = [];
    this.closed = true;
  }

  private live(): void {
    if (this.closed) fail('CLOSED', 'the key store is closed');
  }

  private find(label: string): Entry {
    this.live();
    return this.entries.find((e) => e.label === label) ?? fail('UNKNOWN_LABEL', `no key labelled ${label}`);
  }

  /** Saves `next`; the in-memory list changes only when the file did. */
  private async commit(next: Entry[]): Promise<void> {
    const prev = this.entries;
    this.entries = next;
    try {
      await this.save();
    } catch (e) {
      this.entries = prev;
      throw e;
    }
  }

  private async save(): Promise<void> {
    const list: HostCbor[] = this.entries.map(
      (e) =>
        new Map<number | string, HostCbor>([
          [1, e.label],
          [2, e.role],
          [3, coseKeyToMap(coseKeyFromPrivate(e.privateKey), true)],
          [4, e.created],
        ]),
    );
    const plain = encodeCanonical(list);
    const header = headerMap(this.params, this.salt);
    const sealed = encryptEncrypt0(plain, this.key, { externalAad: encodeCanonical(header) });
    plain.fill(0);
    const body = new Map(header);
    body.set(4, sealed);
    const file = new Map(body);
    file.set(5, sha256(encodeCanonical(body)));
    await writeFileAtomic(this.path, encodeCanonical(file), this.opts.write);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (_e) {
    return false;
  }
}
