// The archive's hash chain, independent of any storage engine: the canonical record body,
// the chain links, signed checkpoints and the verification of a run of records. ARCHIVE.md
// beside this file is the specification of every byte hashed or signed here.
//
//   genesis  = SHA-256(canonical CBOR ["semper-archive", 1, archive id])
//   hash_i   = SHA-256(hash_{i-1} ‖ body_i)          (hash_0 = genesis)
//   body_i   = canonical CBOR of the record map (labels 1-12, absent fields omitted)
//   checkpoint = COSE_Sign1(ES256) over {1: "semper-archive-checkpoint", 2: archive id,
//                                        3: seq, 4: hash_seq, 5: time}

import { sha256 } from '@noble/hashes/sha256';
import { decodeCanonical, encodeCanonical, HostCbor, HostCborMap } from '../../../shared/src/cbor';
import { CoseError, decodeSign1, Sign1, signSign1, verifyDecodedSign1 } from '../../../shared/src/cose';
import { currencyExponent, isMinorUnits } from './money';

/** What a record is evidence of. A closed list: adding a kind is a change to ARCHIVE.md. */
export const RECORD_KINDS = [
  'transfer',
  'signature',
  'payment-token',
  'receipt',
  'offer',
  'order',
  'deposit',
  'refund',
  'certificate',
  'ttp-decision',
  'access-decision',
  'preference-change',
  'note',
  'deal',
] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

export type ArchiveErrorCode =
  | 'BAD_INPUT' // append() or a query with a field outside its rules
  | 'NOT_FOUND' // no record with that sequence number
  | 'TAMPERED' // a record's bytes or index columns do not hash to its stored link
  | 'BROKEN_LINK' // a record does not point at the hash of the one before it
  | 'MISSING_RECORD' // a sequence number is missing (a deleted row)
  | 'REORDERED' // a record sits at another position than the one it was written at
  | 'TRUNCATED' // a checkpoint covers records that are no longer there
  | 'CHECKPOINT_INVALID' // a checkpoint is malformed or not signed by a trusted key
  | 'CHECKPOINT_MISMATCH' // a trusted checkpoint disagrees with the chain (the archive was rewritten)
  | 'NO_CHECKPOINT' // a trusted checkpoint was required and there is none
  | 'BAD_PACK'; // an evidence pack that is not the format

export class ArchiveError extends Error {
  override readonly name = 'ArchiveError';
  constructor(
    readonly code: ArchiveErrorCode,
    message: string,
    /** The first bad record (or checkpoint position), when the error is about one. */
    readonly seq?: number,
  ) {
    super(message);
  }
}

function fail(code: ArchiveErrorCode, msg: string, seq?: number): never {
  throw new ArchiveError(code, msg, seq);
}

/** What a caller archives. Money as integer minor units + ISO 4217 code, both or neither. */
export interface ArchiveEntry {
  kind: RecordKind;
  /** Deal id (SEMPER §3.5). */
  deal?: string;
  /** Transfer id within the deal. */
  transfer?: string;
  /** The other party, as the accounting export names it (a certificate name, an origin). */
  counterparty?: string;
  /** Further parties involved (bank, TTP, ...). */
  parties?: string[];
  /** A label for accounting ("book order 42"). */
  label?: string;
  /** Signed minor units: negative when money leaves this party. */
  amount?: number;
  currency?: string;
  /** The evidence itself, e.g. a COSE_Sign1. */
  evidence?: Uint8Array;
  /** Free text: a reason, a description. */
  note?: string;
}

/** A record as archived: the entry plus its position, time and chain link. */
export interface ArchivedRecord extends ArchiveEntry {
  seq: number;
  /** Milliseconds since the Unix epoch (UTC). */
  time: number;
  /** The canonical CBOR body that is hashed. */
  body: Uint8Array;
  /** hash_{seq-1}. */
  prev: Uint8Array;
  /** hash_seq = SHA-256(prev ‖ body). */
  hash: Uint8Array;
}

const F = { seq: 1, time: 2, kind: 3, deal: 4, transfer: 5, counterparty: 6, parties: 7, label: 8, amount: 9, currency: 10, evidence: 11, note: 12 } as const;
const TEXT_FIELDS = ['deal', 'transfer', 'counterparty', 'label', 'note'] as const;
const MAX_TEXT = 4096;
const MAX_PARTIES = 16;
export const MAX_EVIDENCE = 1 << 20;
export const BODY_LIMITS = { maxSize: MAX_EVIDENCE + 65536, maxDepth: 4, maxLength: MAX_EVIDENCE, maxCount: 32, maxTag: 255 };

function checkText(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_TEXT || !v.isWellFormed()) fail('BAD_INPUT', `${what} must be a non-empty string of at most ${MAX_TEXT} characters`);
  return v;
}

/** Checks an entry against the rules of ARCHIVE.md; returns a clean copy. BAD_INPUT. */
export function checkEntry(e: ArchiveEntry): ArchiveEntry {
  if (typeof e !== 'object' || e === null) fail('BAD_INPUT', 'entry must be an object');
  if (!RECORD_KINDS.includes(e.kind)) fail('BAD_INPUT', `kind must be one of ${RECORD_KINDS.join(', ')}`);
  const out: ArchiveEntry = { kind: e.kind };
  for (const k of TEXT_FIELDS) if (e[k] !== undefined) out[k] = checkText(e[k], k);
  if (e.parties !== undefined && (!Array.isArray(e.parties) || e.parties.length > 0)) {
    if (!Array.isArray(e.parties) || e.parties.length > MAX_PARTIES) fail('BAD_INPUT', `parties must be an array of at most ${MAX_PARTIES} names`);
    out.parties = e.parties.map((p) => checkText(p, 'party'));
  }
  if ((e.amount === undefined) !== (e.currency === undefined)) fail('BAD_INPUT', 'amount and currency go together');
  if (e.amount !== undefined) {
    if (!isMinorUnits(e.amount)) fail('BAD_INPUT', 'amount must be an integer number of minor units');
    if (typeof e.currency !== 'string' || currencyExponent(e.currency) === undefined) fail('BAD_INPUT', `currency ${String(e.currency)} is not a known ISO 4217 code`);
    out.amount = e.amount;
    out.currency = e.currency;
  }
  if (e.evidence !== undefined) {
    if (!(e.evidence instanceof Uint8Array) || e.evidence.length > MAX_EVIDENCE) fail('BAD_INPUT', `evidence must be at most ${MAX_EVIDENCE} bytes`);
    out.evidence = new Uint8Array(e.evidence);
  }
  return out;
}

/** The canonical CBOR body of a record (ARCHIVE.md §Record). */
export function encodeBody(seq: number, time: number, e: ArchiveEntry): Uint8Array {
  const m: HostCborMap = new Map<number | string, HostCbor>([
    [F.seq, seq],
    [F.time, time],
    [F.kind, e.kind],
  ]);
  if (e.deal !== undefined) m.set(F.deal, e.deal);
  if (e.transfer !== undefined) m.set(F.transfer, e.transfer);
  if (e.counterparty !== undefined) m.set(F.counterparty, e.counterparty);
  if (e.parties !== undefined && e.parties.length > 0) m.set(F.parties, e.parties);
  if (e.label !== undefined) m.set(F.label, e.label);
  if (e.amount !== undefined) m.set(F.amount, e.amount);
  if (e.currency !== undefined) m.set(F.currency, e.currency);
  if (e.evidence !== undefined) m.set(F.evidence, e.evidence);
  if (e.note !== undefined) m.set(F.note, e.note);
  return encodeCanonical(m);
}

/** Decodes and checks a body; TAMPERED (at `seq`) if it is not a valid record. */
export function decodeBody(body: Uint8Array, seq: number): { seq: number; time: number; entry: ArchiveEntry } {
  try {
    const m = decodeCanonical(body, BODY_LIMITS);
    if (!(m instanceof Map)) throw new Error('not a map');
    for (const k of m.keys()) if (typeof k !== 'number' || k < 1 || k > 12) throw new Error('unknown label');
    const s = m.get(F.seq);
    const t = m.get(F.time);
    if (!isMinorUnits(s) || s < 1 || !isMinorUnits(t) || t < 0) throw new Error('seq / time');
    const raw: Record<string, unknown> = { kind: m.get(F.kind) };
    for (const k of TEXT_FIELDS) if (m.has(F[k])) raw[k] = m.get(F[k]);
    for (const k of ['parties', 'amount', 'currency', 'evidence'] as const) if (m.has(F[k])) raw[k] = m.get(F[k]);
    if (Array.isArray(raw.parties) && raw.parties.length === 0) throw new Error('empty parties');
    const entry = checkEntry(raw as unknown as ArchiveEntry);
    // exact: the decoded record encodes back to the very same bytes (nothing dropped or added)
    if (!bytesEqual(encodeBody(s, t, entry), body)) throw new Error('not the canonical body');
    return { seq: s, time: t, entry };
  } catch (_e) {
    return fail('TAMPERED', `record ${seq} is not a valid record body`, seq);
  }
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** hash_0 of the archive `archiveId`. */
export function genesisHash(archiveId: Uint8Array): Uint8Array {
  return sha256(encodeCanonical(['semper-archive', 1, archiveId]));
}

/** hash_i = SHA-256(hash_{i-1} ‖ body_i). */
export function linkHash(prev: Uint8Array, body: Uint8Array): Uint8Array {
  return sha256.create().update(prev).update(body).digest();
}

// ----------------------------------------------------------------------- checkpoints

export interface Checkpoint {
  seq: number;
  time: number;
  /** hash_seq. */
  head: Uint8Array;
  /** COSE_Sign1 over the checkpoint payload. */
  sign1: Uint8Array;
}

/** Signs checkpoints: returns a COSE_Sign1 (ES256) over `payload`. A software key or, later, a card. */
export interface CheckpointSigner {
  sign(payload: Uint8Array): Uint8Array;
}

const CHECKPOINT_MAGIC = 'semper-archive-checkpoint';

/** kid of a P-256 public key in checkpoints: the first 8 bytes of SHA-256 of the SEC1 point. */
export function keyId(publicKey: Uint8Array): Uint8Array {
  return sha256(publicKey).slice(0, 8);
}

/** A CheckpointSigner with a software P-256 key (e.g. from the key store). */
export function softwareCheckpointSigner(privateKey: Uint8Array, publicKey: Uint8Array): CheckpointSigner {
  const kid = keyId(publicKey);
  return { sign: (payload) => signSign1(payload, privateKey, { kid }) };
}

export function checkpointPayload(archiveId: Uint8Array, seq: number, head: Uint8Array, time: number): Uint8Array {
  return encodeCanonical(
    new Map<number | string, HostCbor>([
      [1, CHECKPOINT_MAGIC],
      [2, archiveId],
      [3, seq],
      [4, head],
      [5, time],
    ]),
  );
}

/**
 * Checks a checkpoint's COSE_Sign1: its payload matches (archive id, seq, head, time) and,
 * when trusted keys are given, one of them signed it. CHECKPOINT_INVALID / CHECKPOINT_MISMATCH.
 */
export function checkCheckpoint(cp: Checkpoint, archiveId: Uint8Array, chainHash: Uint8Array, trustedKeys: readonly Uint8Array[] | undefined): void {
  let s: Sign1;
  try {
    s = decodeSign1(cp.sign1);
  } catch (_e) {
    return fail('CHECKPOINT_INVALID', `checkpoint at ${cp.seq} is not a COSE_Sign1`, cp.seq);
  }
  // exactly {1: -7} protected and {4: kid} unprotected: the kid is not signed, so it must name
  // the key that verifies, and nothing else may ride along unauthenticated
  const kid = s.unprotected.get(4);
  if (s.protectedMap.size !== 1 || s.unprotected.size !== 1 || !(kid instanceof Uint8Array)) fail('CHECKPOINT_INVALID', `checkpoint at ${cp.seq}: headers must be exactly alg and kid`, cp.seq);
  if (!bytesEqual(s.payload, checkpointPayload(archiveId, cp.seq, cp.head, cp.time))) fail('CHECKPOINT_INVALID', `checkpoint at ${cp.seq}: the signed payload does not match its columns`, cp.seq);
  if (trustedKeys) {
    const ok = trustedKeys.some((k) => {
      if (!bytesEqual(kid, keyId(k))) return false;
      try {
        verifyDecodedSign1(s, k);
        return true;
      } catch (e) {
        if (e instanceof CoseError) return false;
        throw e;
      }
    });
    if (!ok) fail('CHECKPOINT_INVALID', `checkpoint at ${cp.seq} is not signed by a trusted key`, cp.seq);
  }
  if (!bytesEqual(cp.head, chainHash)) fail('CHECKPOINT_MISMATCH', `checkpoint at ${cp.seq} does not match the chain: the archive was rewritten`, cp.seq);
}

// ----------------------------------------------------------------------- verification

/** A stored record as an engine hands it to the verifier (index columns included). */
export interface StoredRow {
  seq: number;
  time: number;
  kind: string;
  deal: string | null;
  transfer: string | null;
  counterparty: string | null;
  label: string | null;
  amount: number | null;
  currency: string | null;
  body: Uint8Array;
  prev: Uint8Array;
  hash: Uint8Array;
}

export interface VerifyOptions {
  /** Public keys (SEC1) whose checkpoints are trusted. Without them signatures are not checked. */
  trustedKeys?: readonly Uint8Array[];
  /** Fail with NO_CHECKPOINT unless a trusted checkpoint covers at least one record. */
  requireCheckpoint?: boolean;
}

export interface VerifyReport {
  records: number;
  head: { seq: number; hash: Uint8Array };
  checkpoints: number;
  /** The highest seq covered by a checkpoint that verified (0: none). */
  anchoredSeq: number;
  /** Whether checkpoint signatures were checked against trusted keys. */
  trusted: boolean;
}

/** The decoded record of a row after its body, columns and link have been checked. */
export function recordOf(row: StoredRow, entry: ArchiveEntry): ArchivedRecord {
  return { ...entry, seq: row.seq, time: row.time, body: row.body, prev: row.prev, hash: row.hash };
}

function columnsMatch(row: StoredRow, time: number, e: ArchiveEntry): boolean {
  return (
    row.time === time &&
    row.kind === e.kind &&
    row.deal === (e.deal ?? null) &&
    row.transfer === (e.transfer ?? null) &&
    row.counterparty === (e.counterparty ?? null) &&
    row.label === (e.label ?? null) &&
    row.amount === (e.amount ?? null) &&
    row.currency === (e.currency ?? null)
  );
}

/**
 * Walks rows in seq order from `start` (seq and prev hash of the first row) and checks every
 * link and the checkpoints within the run. Throws the first problem as an ArchiveError.
 */
export function verifyRun(
  rows: Iterable<StoredRow>,
  checkpoints: readonly Checkpoint[],
  archiveId: Uint8Array,
  start: { seq: number; prev: Uint8Array },
  opts: VerifyOptions = {},
  onRecord?: (r: ArchivedRecord) => void,
): VerifyReport {
  const cps = [...checkpoints].sort((a, b) => a.seq - b.seq);
  let ci = 0;
  while (ci < cps.length && cps[ci].seq < start.seq) ci++;
  let expected = start.seq;
  let head = start.prev;
  let anchoredSeq = 0;
  let n = 0;
  for (const row of rows) {
    if (row.seq !== expected) fail('MISSING_RECORD', `record ${expected} is missing (the next one is ${row.seq})`, expected);
    const d = decodeBody(row.body, row.seq);
    if (d.seq !== row.seq) fail('REORDERED', `record ${row.seq} holds the record written as ${d.seq}`, row.seq);
    if (!columnsMatch(row, d.time, d.entry)) fail('TAMPERED', `record ${row.seq}: an index column differs from the record`, row.seq);
    if (!bytesEqual(row.prev, head)) fail('BROKEN_LINK', `record ${row.seq} does not link to record ${row.seq - 1}`, row.seq);
    const h = linkHash(head, row.body);
    if (!bytesEqual(h, row.hash)) fail('TAMPERED', `record ${row.seq} does not hash to its stored link`, row.seq);
    while (ci < cps.length && cps[ci].seq === row.seq) {
      checkCheckpoint(cps[ci], archiveId, h, opts.trustedKeys);
      anchoredSeq = row.seq;
      ci++;
    }
    onRecord?.(recordOf(row, d.entry));
    head = h;
    expected++;
    n++;
  }
  if (ci < cps.length) fail('TRUNCATED', `a checkpoint covers record ${cps[ci].seq} but the archive ends at ${expected - 1}`, expected);
  if (opts.requireCheckpoint && (anchoredSeq === 0 || !opts.trustedKeys)) fail('NO_CHECKPOINT', 'no checkpoint signed by a trusted key covers the records');
  return { records: n, head: { seq: expected - 1, hash: head }, checkpoints: cps.length, anchoredSeq, trusted: opts.trustedKeys !== undefined };
}
