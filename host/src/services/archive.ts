// The archive (SEMPER §3.2 "secure archiving"): an append-only evidence log behind the
// ArchiveStore interface, and its SQLite implementation. Every record is hash-chained to
// the one before (archive-chain.ts, ARCHIVE.md); optional signed checkpoints bind the head
// to an archive key so a rewrite of the whole file is detected too.
//
// Durability rule: append() resolves only after COMMIT, and the database runs in WAL mode
// with synchronous=FULL, so a record is on disk before anyone is told about it. Callers
// acknowledge to a peer only after append() has resolved.

import { randomBytes } from 'node:crypto';
import {
  ArchiveEntry,
  ArchiveError,
  ArchivedRecord,
  checkEntry,
  Checkpoint,
  checkpointPayload,
  CheckpointSigner,
  decodeBody,
  encodeBody,
  genesisHash,
  linkHash,
  RECORD_KINDS,
  RecordKind,
  recordOf,
  StoredRow,
  verifyRun,
  VerifyOptions,
  VerifyReport,
} from './archive-chain';
import { immediate, mapSqliteError, OpenOptions, openDatabase, SqliteDb, StoreError, whereClause } from './sqlite';

export type { ArchiveEntry, ArchivedRecord, Checkpoint, CheckpointSigner, RecordKind, VerifyOptions, VerifyReport };
export { ArchiveError, RECORD_KINDS };
export { softwareCheckpointSigner } from './archive-chain';

/** Filters of list(); all optional, combined with AND. Results ascend by seq. */
export interface ArchiveQuery {
  deal?: string;
  kind?: RecordKind;
  /** Time range in ms since the epoch: from inclusive, to exclusive. */
  from?: number;
  to?: number;
  /** Paging: records with seq > afterSeq, at most `limit` of them. */
  afterSeq?: number;
  limit?: number;
}

/** The archive as the layers above see it. Engines: SQLite (here), PostgreSQL (later). */
export interface ArchiveStore {
  /** 16 random bytes fixed at creation; bound into the chain and every checkpoint. */
  readonly archiveId: Uint8Array;
  /** Appends one record; resolves after it is durably committed. BAD_INPUT, StoreError BUSY. */
  append(entry: ArchiveEntry): Promise<ArchivedRecord>;
  /** The record `seq`; NOT_FOUND. */
  get(seq: number): Promise<ArchivedRecord>;
  list(query?: ArchiveQuery): Promise<ArchivedRecord[]>;
  /** Records first..last (inclusive), in order, as stored (not verified). */
  range(first: number, last: number): Promise<ArchivedRecord[]>;
  /** The last record's seq and hash (seq 0 and the genesis hash when empty). */
  head(): Promise<{ seq: number; hash: Uint8Array }>;
  /** Signs a checkpoint over the head now (needs a signer). */
  checkpoint(): Promise<Checkpoint>;
  checkpoints(): Promise<Checkpoint[]>;
  /** Recomputes the whole chain and checks the checkpoints; throws the first problem. */
  verify(opts?: VerifyOptions): Promise<VerifyReport>;
  close(): void;
}

export interface SqliteArchiveOptions extends OpenOptions {
  /** Clock in milliseconds since the epoch (default Date.now). */
  now?: () => number;
  /** Signs checkpoints; without it checkpoint() fails and none are made automatically. */
  signer?: CheckpointSigner;
  /** Make a checkpoint in the same transaction as every N-th record (needs `signer`). */
  checkpointEvery?: number;
}

/** A records row as better-sqlite3 returns it (integers as bigint with safeIntegers). */
type Row = Omit<StoredRow, 'seq' | 'time' | 'amount' | 'body' | 'prev' | 'hash'> & {
  seq: number | bigint;
  time: number | bigint;
  amount: number | bigint | null;
  body: Buffer;
  prev: Buffer;
  hash: Buffer;
};

// Results are copied with Array.from: arrays made by the native module belong to Node's main
// realm, and cbor-x writes arrays of another realm (jest's vm) as indefinite-length.
const COLUMNS = 'seq, time, kind, deal, transfer, counterparty, label, amount, currency, body, prev, hash';
const MAX_LIMIT = 100_000;

function u8(b: Buffer | Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

// A damaged file can hold a value of another type than the STRICT table declares (the
// record's header on disk says NULL or a number): the record is damaged, not the program.
function blobOf(v: unknown, seq: number, what: string): Uint8Array {
  if (!Buffer.isBuffer(v)) throw new ArchiveError('TAMPERED', `record ${seq}: the stored ${what} is not bytes (the file is damaged)`, seq);
  return u8(v);
}

function toStored(r: Row): StoredRow {
  const seq = Number(r.seq);
  const [body, prev, hash] = [blobOf(r.body, seq, 'body'), blobOf(r.prev, seq, 'link'), blobOf(r.hash, seq, 'hash')];
  const amount = typeof r.amount === 'bigint' ? (r.amount >= BigInt(Number.MIN_SAFE_INTEGER) && r.amount <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(r.amount) : NaN) : r.amount;
  return { ...r, seq, time: Number(r.time), amount, body, prev, hash };
}

function toRecord(r: Row): ArchivedRecord {
  const s = toStored(r);
  return recordOf(s, decodeBody(s.body, s.seq).entry);
}

function checkSeq(n: unknown, what: string): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new ArchiveError('BAD_INPUT', `${what} must be a non-negative integer`);
  return n;
}

export class SqliteArchive implements ArchiveStore {
  readonly archiveId: Uint8Array;
  private readonly genesis: Uint8Array;

  private constructor(
    /** The connection; preferences and access control share it to commit with the archive. */
    readonly db: SqliteDb,
    private readonly opts: SqliteArchiveOptions,
    private readonly ownsDb: boolean,
  ) {
    if (opts.checkpointEvery !== undefined && (!Number.isSafeInteger(opts.checkpointEvery) || opts.checkpointEvery < 1 || !opts.signer)) {
      throw new ArchiveError('BAD_INPUT', 'checkpointEvery must be a positive integer and needs a signer');
    }
    this.archiveId = immediate(db, () => {
      db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run('archive_id', randomBytes(16));
      return u8(db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get('archive_id') as Buffer);
    });
    this.genesis = genesisHash(this.archiveId);
  }

  /** Opens (creating if needed) the archive database at `path`. */
  static open(path: string, opts: SqliteArchiveOptions = {}): SqliteArchive {
    const db = openDatabase(path, opts);
    try {
      return new SqliteArchive(db, opts, true);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /** An archive on an already open connection (from openDatabase), which the caller closes. */
  static on(db: SqliteDb, opts: SqliteArchiveOptions = {}): SqliteArchive {
    return new SqliteArchive(db, opts, false);
  }

  async append(entry: ArchiveEntry): Promise<ArchivedRecord> {
    const clean = checkEntry(entry);
    return immediate(this.db, () => this.appendInTransaction(clean));
  }

  /**
   * Appends inside the caller's open transaction on `db` (access control commits its
   * decision, the spending and the archive record together). Durable when that commits.
   */
  appendInTransaction(entry: ArchiveEntry): ArchivedRecord {
    if (!this.db.inTransaction) throw new ArchiveError('BAD_INPUT', 'appendInTransaction needs an open transaction');
    const clean = checkEntry(entry);
    const last = this.db.prepare('SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: Buffer } | undefined;
    const seq = (last?.seq ?? 0) + 1;
    const prev = last ? u8(last.hash) : this.genesis;
    const time = Math.floor((this.opts.now ?? Date.now)());
    const body = encodeBody(seq, time, clean);
    const hash = linkHash(prev, body);
    this.db
      .prepare(`INSERT INTO records (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(seq, time, clean.kind, clean.deal ?? null, clean.transfer ?? null, clean.counterparty ?? null, clean.label ?? null, clean.amount ?? null, clean.currency ?? null, body, prev, hash);
    const every = this.opts.checkpointEvery;
    if (every && seq % every === 0) this.insertCheckpoint(seq, hash, time);
    return { ...clean, seq, time, body, prev, hash };
  }

  async get(seq: number): Promise<ArchivedRecord> {
    checkSeq(seq, 'seq');
    const r = this.read(() => this.db.prepare(`SELECT ${COLUMNS} FROM records WHERE seq = ?`).get(seq) as Row | undefined);
    if (!r) throw new ArchiveError('NOT_FOUND', `no record ${seq}`, seq);
    return toRecord(r);
  }

  async list(q: ArchiveQuery = {}): Promise<ArchivedRecord[]> {
    if (q.kind !== undefined && !RECORD_KINDS.includes(q.kind)) throw new ArchiveError('BAD_INPUT', `kind must be one of ${RECORD_KINDS.join(', ')}`);
    const w = whereClause([
      ['deal = ?', q.deal],
      ['kind = ?', q.kind],
      ['time >= ?', q.from === undefined ? undefined : checkSeq(q.from, 'from')],
      ['time < ?', q.to === undefined ? undefined : checkSeq(q.to, 'to')],
      ['seq > ?', q.afterSeq === undefined ? undefined : checkSeq(q.afterSeq, 'afterSeq')],
    ]);
    const limit = q.limit === undefined ? -1 : checkSeq(q.limit, 'limit');
    if (limit > MAX_LIMIT) throw new ArchiveError('BAD_INPUT', `limit must be at most ${MAX_LIMIT}`);
    const sql = `SELECT ${COLUMNS} FROM records ${w.sql} ORDER BY seq LIMIT ?`;
    return this.read(() => Array.from(this.db.prepare(sql).all(...w.args, limit) as Row[], toRecord));
  }

  async range(first: number, last: number): Promise<ArchivedRecord[]> {
    checkSeq(first, 'first');
    checkSeq(last, 'last');
    return this.read(() => Array.from(this.db.prepare(`SELECT ${COLUMNS} FROM records WHERE seq BETWEEN ? AND ? ORDER BY seq`).all(first, last) as Row[], toRecord));
  }

  async head(): Promise<{ seq: number; hash: Uint8Array }> {
    const last = this.read(() => this.db.prepare('SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: Buffer } | undefined);
    return last ? { seq: last.seq, hash: u8(last.hash) } : { seq: 0, hash: this.genesis };
  }

  async checkpoint(): Promise<Checkpoint> {
    if (!this.opts.signer) throw new ArchiveError('BAD_INPUT', 'no checkpoint signer configured');
    return immediate(this.db, () => {
      const last = this.db.prepare('SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: Buffer } | undefined;
      if (!last) throw new ArchiveError('BAD_INPUT', 'the archive is empty: nothing to checkpoint');
      const existing = this.db.prepare('SELECT seq, time, head, sign1 FROM checkpoints WHERE seq = ?').get(last.seq) as CheckpointRow | undefined;
      return existing ? toCheckpoint(existing) : this.insertCheckpoint(last.seq, u8(last.hash), Math.floor((this.opts.now ?? Date.now)()));
    });
  }

  async checkpoints(): Promise<Checkpoint[]> {
    return this.read(() => this.checkpointRows());
  }

  async verify(opts: VerifyOptions = {}): Promise<VerifyReport> {
    return this.read(() => {
      // one read transaction: a consistent snapshot even while another process appends
      const run = this.db.transaction(() => {
        const cps = this.checkpointRows();
        const rows = this.db.prepare(`SELECT ${COLUMNS} FROM records ORDER BY seq`).safeIntegers(true);
        const stored = (function* () {
          for (const r of rows.iterate() as IterableIterator<Row>) yield toStored(r);
        })();
        return verifyRun(stored, cps, this.archiveId, { seq: 1, prev: this.genesis }, opts);
      });
      return run.deferred();
    });
  }

  close(): void {
    if (this.ownsDb && this.db.open) this.db.close();
  }

  private insertCheckpoint(seq: number, head: Uint8Array, time: number): Checkpoint {
    const sign1 = this.opts.signer!.sign(checkpointPayload(this.archiveId, seq, head, time));
    this.db.prepare('INSERT INTO checkpoints (seq, time, head, sign1) VALUES (?, ?, ?, ?)').run(seq, time, head, sign1);
    return { seq, time, head, sign1 };
  }

  private checkpointRows(): Checkpoint[] {
    return Array.from(this.db.prepare('SELECT seq, time, head, sign1 FROM checkpoints ORDER BY seq').all() as CheckpointRow[], toCheckpoint);
  }

  private read<T>(fn: () => T): T {
    if (!this.db.open) throw new StoreError('CLOSED', 'the archive is closed');
    try {
      return fn();
    } catch (e) {
      return mapSqliteError(e);
    }
  }
}

interface CheckpointRow {
  seq: number | bigint;
  time: number | bigint;
  head: Buffer;
  sign1: Buffer;
}

function toCheckpoint(r: CheckpointRow): Checkpoint {
  const seq = Number(r.seq);
  const time = Number(r.time);
  // a damaged file can rename a column (a flipped case bit in the schema) or change a value's type
  const at = Number.isSafeInteger(seq) ? seq : undefined;
  if (at === undefined || !Number.isSafeInteger(time) || !Buffer.isBuffer(r.head) || !Buffer.isBuffer(r.sign1)) {
    throw new ArchiveError('CHECKPOINT_INVALID', `a checkpoint${at === undefined ? '' : ` at record ${at}`} cannot be read as written (the file is damaged)`, at);
  }
  return { seq, time, head: u8(r.head), sign1: u8(r.sign1) };
}
