// Exports of the archive: CSV for accounting (RFC 4180) and the evidence pack, one
// self-contained canonical CBOR file that an arbiter verifies offline with
// verifyEvidencePack(bytes, trustedKeys). Formats: ARCHIVE.md §Export, §Evidence pack.

import { decodeCanonical, encodeCanonical, HostCbor, HostCborMap } from '../../../shared/src/cbor';
import { decodeSign1 } from '../../../shared/src/cose';
import { ArchiveQuery, ArchiveStore } from './archive';
import {
  ArchiveError,
  ArchivedRecord,
  BODY_LIMITS,
  bytesEqual,
  Checkpoint,
  decodeBody,
  genesisHash,
  linkHash,
  StoredRow,
  verifyRun,
} from './archive-chain';
import { formatMinorUnits } from './money';

// ------------------------------------------------------------------------------ CSV

export const CSV_HEADER = ['seq', 'date', 'kind', 'label', 'counterparty', 'amount', 'currency', 'deal', 'record_hash'] as const;

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or LF; quotes doubled.
 * Text that a spreadsheet would run as a formula (leading = + - @ tab CR) gets a leading
 * apostrophe first (OWASP "CSV injection"); amounts are written by us and never need it.
 */
export function csvField(v: string, text = true): string {
  const s = text && /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** The accounting CSV of `records`: header row, CRLF line ends, amounts as decimal strings. */
export function toCsv(records: readonly ArchivedRecord[]): string {
  const lines = [CSV_HEADER.join(',')];
  for (const r of records) {
    const amount = r.amount !== undefined && r.currency !== undefined ? (formatMinorUnits(r.amount, r.currency) ?? '') : '';
    lines.push(
      [
        String(r.seq),
        new Date(r.time).toISOString(),
        csvField(r.kind),
        csvField(r.label ?? ''),
        csvField(r.counterparty ?? ''),
        csvField(amount, false),
        csvField(r.currency ?? ''),
        csvField(r.deal ?? ''),
        hex(r.hash),
      ].join(','),
    );
  }
  return lines.join('\r\n') + '\r\n';
}

// -------------------------------------------------------------------- evidence pack

const PACK_MAGIC = 'semper-evidence-pack';
const PACK_VERSION = 1;
const P = { magic: 1, version: 2, archiveId: 3, first: 4, prev: 5, bodies: 6, selected: 7, checkpoints: 8 } as const;
const PACK_LIMITS = { ...BODY_LIMITS, maxSize: 1 << 28, maxDepth: 4, maxCount: 1 << 20 };

export type PackSelection = Omit<ArchiveQuery, 'afterSeq' | 'limit'>;

/**
 * Builds the evidence pack of the records matching `selection`: the contiguous run from the
 * first selected record to the first checkpoint at or after the last one (or to the last
 * selected record when no checkpoint covers it yet), every checkpoint in that run, and the
 * list of selected seqs. BAD_INPUT when nothing matches.
 */
export async function exportEvidencePack(archive: ArchiveStore, selection: PackSelection = {}): Promise<Uint8Array> {
  const selected = await archive.list(selection);
  if (selected.length === 0) throw new ArchiveError('BAD_INPUT', 'no record matches the selection');
  const first = selected[0].seq;
  const last = selected[selected.length - 1].seq;
  const cps = await archive.checkpoints();
  const cover = cps.find((c) => c.seq >= last);
  const end = cover ? cover.seq : last;
  const run = await archive.range(first, end);
  const m: HostCborMap = new Map<number | string, HostCbor>([
    [P.magic, PACK_MAGIC],
    [P.version, PACK_VERSION],
    [P.archiveId, archive.archiveId],
    [P.first, first],
    [P.prev, run[0].prev],
    [P.bodies, run.map((r) => r.body)],
    [P.selected, selected.map((r) => r.seq)],
    [P.checkpoints, cps.filter((c) => c.seq >= first && c.seq <= end).map((c) => c.sign1)],
  ]);
  return encodeCanonical(m);
}

export interface PackReport {
  archiveId: Uint8Array;
  /** The selected records, verified. */
  records: ArchivedRecord[];
  /** How many records the pack carries only to link the selection to a checkpoint. */
  linking: number;
  /** The highest seq covered by a checkpoint signed by a trusted key (0: none). */
  anchoredSeq: number;
  /** Every selected record is covered by a trusted checkpoint. */
  anchored: boolean;
}

function bad(msg: string): never {
  throw new ArchiveError('BAD_PACK', `not an evidence pack: ${msg}`);
}

/** A checkpoint as carried in a pack: its columns come from its own signed payload. */
function checkpointOf(sign1: HostCbor): Checkpoint {
  if (!(sign1 instanceof Uint8Array)) bad('checkpoint is not a byte string');
  try {
    const p = decodeCanonical(decodeSign1(sign1).payload, PACK_LIMITS);
    const [seq, head, time] = p instanceof Map ? [p.get(3), p.get(4), p.get(5)] : [];
    if (typeof seq !== 'number' || !(head instanceof Uint8Array) || typeof time !== 'number') throw new Error('payload');
    return { seq, time, head, sign1 };
  } catch (_e) {
    throw new ArchiveError('CHECKPOINT_INVALID', 'a checkpoint in the pack is malformed');
  }
}

/**
 * Verifies an evidence pack offline: structure, every chain link of the run, every checkpoint
 * against `trustedKeys` (SEC1 P-256 public keys). Unless `requireAnchor` is false, every
 * selected record must be covered by a trusted checkpoint (NO_CHECKPOINT otherwise).
 * Throws ArchiveError; returns the selected records.
 */
export function verifyEvidencePack(bytes: Uint8Array, trustedKeys: readonly Uint8Array[], opts: { requireAnchor?: boolean } = {}): PackReport {
  let m: HostCbor;
  try {
    m = decodeCanonical(bytes, PACK_LIMITS);
  } catch (e) {
    return bad(`not canonical CBOR within the limits (${(e as Error).message})`);
  }
  if (!(m instanceof Map) || m.size !== 8 || m.get(P.magic) !== PACK_MAGIC) bad('wrong magic or fields');
  if (m.get(P.version) !== PACK_VERSION) bad(`version ${String(m.get(P.version))}`);
  const archiveId = m.get(P.archiveId);
  const first = m.get(P.first);
  const prev = m.get(P.prev);
  const bodies = m.get(P.bodies);
  const selected = m.get(P.selected);
  const sign1s = m.get(P.checkpoints);
  if (!(archiveId instanceof Uint8Array) || archiveId.length !== 16) bad('archive id');
  if (typeof first !== 'number' || first < 1 || !(prev instanceof Uint8Array) || prev.length !== 32) bad('start of the run');
  if (!Array.isArray(bodies) || bodies.length === 0 || !bodies.every((b) => b instanceof Uint8Array)) bad('records');
  if (!Array.isArray(selected) || selected.length === 0 || !Array.isArray(sign1s)) bad('selection or checkpoints');
  const end = first + bodies.length - 1;
  for (let i = 0; i < selected.length; i++) {
    const s = selected[i];
    if (typeof s !== 'number' || s < first || s > end || (i > 0 && s <= (selected[i - 1] as number))) bad('selected seqs must ascend within the run');
  }
  if (first === 1 && !bytesEqual(prev, genesisHash(archiveId))) throw new ArchiveError('BROKEN_LINK', 'record 1 does not start at the archive genesis', 1);

  // rows as a store would hold them, links recomputed: verifyRun then checks positions and checkpoints
  const rows: StoredRow[] = [];
  let h = prev;
  (bodies as Uint8Array[]).forEach((body, i) => {
    const seq = first + i;
    const { time, entry } = decodeBody(body, seq);
    const hash = linkHash(h, body);
    rows.push({ seq, time, kind: entry.kind, deal: entry.deal ?? null, transfer: entry.transfer ?? null, counterparty: entry.counterparty ?? null, label: entry.label ?? null, amount: entry.amount ?? null, currency: entry.currency ?? null, body, prev: h, hash });
    h = hash;
  });
  const wanted = new Set(selected as number[]);
  const records: ArchivedRecord[] = [];
  const report = verifyRun(rows, sign1s.map(checkpointOf), archiveId, { seq: first, prev }, { trustedKeys }, (r) => {
    if (wanted.has(r.seq)) records.push(r);
  });
  const anchored = report.anchoredSeq >= (selected[selected.length - 1] as number);
  if ((opts.requireAnchor ?? true) && !anchored) throw new ArchiveError('NO_CHECKPOINT', 'no checkpoint signed by a trusted key covers the selected records');
  return { archiveId, records, linking: rows.length - records.length, anchoredSeq: report.anchoredSeq, anchored };
}
