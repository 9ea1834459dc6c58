// The embedded SQLite stores of the host: the archive, the preferences and the access-control
// audit (one database file), and the bank's and the seller's own files. Every one is opened
// the same way, by openVersionedDatabase: WAL mode with synchronous=FULL (a COMMIT that has
// returned is on disk: the WAL is fsynced before COMMIT returns), a busy timeout so concurrent
// writers queue instead of failing at once, foreign keys, and a schema migrated step by step
// through PRAGMA user_version under the write lock.
//
// Other engines (PostgreSQL for multi-instance servers) implement the interfaces in
// archive.ts and preferences.ts; nothing above this file sees SQL of the archive.

import Database from 'better-sqlite3';

export type SqliteDb = Database.Database;

export type StoreErrorCode =
  | 'NOT_FOUND' // mustExist and no database file at the path
  | 'BUSY' // another connection holds the write lock longer than the busy timeout
  | 'UNSUPPORTED' // the file has a newer schema than this program knows
  | 'NOT_A_DATABASE' // the file is not SQLite, or is damaged
  | 'IO' // any other database failure (disk full, I/O error, a constraint): nothing was committed
  | 'CLOSED'; // used after close()

export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface OpenOptions {
  /** Refuse to create a new file (NOT_FOUND instead). */
  mustExist?: boolean;
  /** How long a writer waits for the lock held by another connection (default 5000 ms). */
  busyTimeoutMs?: number;
}

/** The archive's schema version, written to PRAGMA user_version. */
export const SCHEMA_VERSION = 1;

// Every evidence table refuses UPDATE and DELETE: the API never issues them, and a
// program that tries (a bug, an SQL injection) fails loudly. Someone with the file can
// drop the triggers: that is what the hash chain and the signed checkpoints detect.
export const appendOnly = (table: string): string => `
CREATE TRIGGER ${table}_no_update BEFORE UPDATE ON ${table} BEGIN SELECT RAISE(ABORT, '${table} is append-only'); END;
CREATE TRIGGER ${table}_no_delete BEFORE DELETE ON ${table} BEGIN SELECT RAISE(ABORT, '${table} is append-only'); END;`;

const SCHEMA_V1 = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) STRICT;
CREATE TABLE records (
  seq INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  kind TEXT NOT NULL,
  deal TEXT,
  transfer TEXT,
  counterparty TEXT,
  label TEXT,
  amount INTEGER,
  currency TEXT,
  body BLOB NOT NULL,
  prev BLOB NOT NULL,
  hash BLOB NOT NULL
) STRICT;
CREATE INDEX records_deal ON records (deal, seq);
CREATE INDEX records_kind ON records (kind, seq);
CREATE INDEX records_time ON records (time, seq);
CREATE TABLE checkpoints (
  seq INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  head BLOB NOT NULL,
  sign1 BLOB NOT NULL
) STRICT;
CREATE TABLE rules (
  subject TEXT NOT NULL,
  op TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('allowed', 'denied')),
  PRIMARY KEY (subject, op)
) STRICT;
CREATE TABLE limits (
  subject TEXT NOT NULL,
  currency TEXT NOT NULL,
  per_transaction INTEGER CHECK (per_transaction >= 0),
  per_day INTEGER CHECK (per_day >= 0),
  PRIMARY KEY (subject, currency)
) STRICT;
CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  subject TEXT NOT NULL,
  op TEXT NOT NULL,
  amount INTEGER,
  currency TEXT,
  deal TEXT,
  outcome TEXT NOT NULL,
  reason TEXT NOT NULL,
  archive_seq INTEGER NOT NULL
) STRICT;
CREATE TABLE spending (
  id INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  subject TEXT NOT NULL,
  currency TEXT NOT NULL,
  amount INTEGER NOT NULL CHECK (amount > 0),
  audit_id INTEGER NOT NULL REFERENCES audit (id)
) STRICT;
CREATE INDEX spending_window ON spending (subject, currency, time);
${appendOnly('records')}
${appendOnly('checkpoints')}
${appendOnly('audit')}
${appendOnly('spending')}
`;

// By shape, not instanceof: the native addon keeps the SqliteError class (and the realm) of
// the first copy of the module that loaded it; test runners load modules once per suite.
function isSqliteError(e: unknown): e is Error & { code: string } {
  const x = e as { name?: unknown; code?: unknown } | null;
  return typeof x === 'object' && x !== null && x.name === 'SqliteError' && typeof x.code === 'string';
}

function isTypeError(e: unknown, re: RegExp): boolean {
  const x = e as { name?: unknown; message?: unknown } | null;
  return typeof x === 'object' && x !== null && x.name === 'TypeError' && typeof x.message === 'string' && re.test(x.message);
}

/** Turns SQLite's errors into StoreErrors; rethrows everything else (the services' own typed errors). */
export function mapSqliteError(e: unknown): never {
  if (isSqliteError(e)) {
    if (e.code.startsWith('SQLITE_BUSY') || e.code.startsWith('SQLITE_LOCKED')) throw new StoreError('BUSY', 'the database is locked by another writer; try again');
    if (e.code === 'SQLITE_NOTADB' || e.code.startsWith('SQLITE_CORRUPT')) throw new StoreError('NOT_A_DATABASE', 'the file is not a SEMPER database or is damaged');
    if (e.code === 'SQLITE_CANTOPEN') throw new StoreError('NOT_FOUND', 'the database file cannot be opened');
    throw new StoreError('IO', `database error ${e.code}: ${e.message}`);
  }
  if (isTypeError(e, /database connection is not open/)) throw new StoreError('CLOSED', 'the database is closed');
  throw e;
}

/** One migration: SQL, or a function for what SQL alone cannot do (a backfill of existing rows). */
export type MigrationStep = string | ((db: SqliteDb) => void);

export interface VersionedSchema {
  /**
   * The value of the `meta` row `kind` ("semper-bank", "semper-catalogue"), written when the
   * file is created (unless the first step wrote it) and checked at every open, before any
   * migration: all SEMPER databases start at user_version 1, and one kind must never be read,
   * or migrated, as another. Without it (the archive, whose files predate the row) a file
   * that names another kind is refused.
   */
  kind?: string;
  /**
   * Migrations in order: `steps[0]` creates version 1 (and `meta (key TEXT PRIMARY KEY,
   * value …)` when `kind` is set), `steps[1]` turns 1 into 2, … The latest version is
   * `steps.length`.
   */
  steps: readonly MigrationStep[];
}

/**
 * Opens (and on first use creates, or upgrades) the database at `path` (':memory:' works):
 * WAL, synchronous=FULL, busy timeout, foreign keys, the schema. Typed StoreErrors: NOT_FOUND
 * (mustExist), NOT_A_DATABASE (not SQLite, damaged, another kind of database, or a foreign
 * file with tables and no schema version — never written to), UNSUPPORTED (a newer schema).
 */
export function openVersionedDatabase(path: string, schema: VersionedSchema, opts: OpenOptions = {}): SqliteDb {
  let db: SqliteDb;
  try {
    db = new Database(path, { fileMustExist: opts.mustExist ?? false });
  } catch (e) {
    if (isSqliteError(e) && e.code === 'SQLITE_CANTOPEN') throw new StoreError('NOT_FOUND', `no database at ${path}`);
    if (isTypeError(e, /does not exist/)) throw new StoreError('NOT_FOUND', `no database at ${path}`);
    return mapSqliteError(e);
  }
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
    // identified before anything is written: switching to WAL already changes the file's header
    identify(db, schema);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db, schema);
  } catch (e) {
    db.close();
    return mapSqliteError(e);
  }
  return db;
}

/** The archive's schema (with the preferences and the audit, which share its file). */
export const ARCHIVE_SCHEMA: VersionedSchema = { steps: [SCHEMA_V1] };

/** Opens (and on first use creates) the archive database at `path`. */
export function openDatabase(path: string, opts: OpenOptions = {}): SqliteDb {
  return openVersionedDatabase(path, ARCHIVE_SCHEMA, opts);
}

const userVersion = (db: SqliteDb): number => db.pragma('user_version', { simple: true }) as number;

/** Refuses a file that is another kind of database, a foreign one, or a newer one. Reads only. */
function identify(db: SqliteDb, schema: VersionedSchema): void {
  const version = userVersion(db);
  if (version > 0) assertKind(db, schema);
  else if (db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table'").get() !== undefined) {
    throw new StoreError('NOT_A_DATABASE', 'the file holds tables but no schema version: it is not a SEMPER database, or it is damaged');
  }
  const latest = schema.steps.length;
  if (version > latest) throw new StoreError('UNSUPPORTED', `the ${schema.kind ?? 'archive'} database has schema version ${version}, newer than this program's ${latest}; upgrade semper`);
}

function migrate(db: SqliteDb, schema: VersionedSchema): void {
  const latest = schema.steps.length;
  if (userVersion(db) < latest) {
    immediate(db, () => {
      // under the write lock: another process may have created or migrated it meanwhile
      identify(db, schema);
      const from = userVersion(db);
      for (let v = from; v < latest; v++) {
        const step = schema.steps[v];
        if (typeof step === 'string') db.exec(step);
        else step(db);
      }
      if (from === 0 && schema.kind !== undefined && kindOf(db) === undefined) db.prepare("INSERT INTO meta (key, value) VALUES ('kind', ?)").run(schema.kind);
      db.pragma(`user_version = ${latest}`);
    });
  }
  assertKind(db, schema);
}

/** The `meta` row `kind` (text, or the bank's blob), undefined when there is none. */
function kindOf(db: SqliteDb): string | undefined {
  // another program's SQLite file may have a user_version but no meta table
  if (db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta'").get() === undefined) return undefined;
  const v = db.prepare("SELECT value FROM meta WHERE key = 'kind'").pluck().get() as unknown;
  if (typeof v === 'string') return v;
  return Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
}

function assertKind(db: SqliteDb, schema: VersionedSchema): void {
  const kind = kindOf(db);
  if (kind === schema.kind) return;
  if (schema.kind === undefined) throw new StoreError('NOT_A_DATABASE', `the file is a ${kind} database, not an archive`);
  throw new StoreError('NOT_A_DATABASE', `the file is not a ${schema.kind} database${kind === undefined ? '' : ` (it is a ${kind} database)`}`);
}

/**
 * Runs `fn` in a BEGIN IMMEDIATE transaction (the write lock is taken before anything is
 * read, so read-decide-write sequences of two connections cannot interleave), or as a
 * savepoint inside an enclosing one. Returns after COMMIT. BUSY if the lock stays taken.
 */
export function immediate<T>(db: SqliteDb, fn: () => T): T {
  try {
    return db.transaction(fn).immediate();
  } catch (e) {
    return mapSqliteError(e);
  }
}

/** `WHERE a = ? AND …` from the conditions whose value is defined, with their arguments. */
export function whereClause(conds: [string, string | number | undefined][]): { sql: string; args: (string | number)[] } {
  const used = conds.filter((c): c is [string, string | number] => c[1] !== undefined);
  return { sql: used.length ? `WHERE ${used.map((c) => c[0]).join(' AND ')}` : '', args: used.map((c) => c[1]) };
}
