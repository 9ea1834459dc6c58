// Opening a versioned SQLite database of the seller side: WAL, synchronous=FULL (a COMMIT
// that has returned is on disk), a busy timeout so writers queue, foreign keys, and a schema
// upgraded step by step through PRAGMA user_version under the write lock. A `meta` row names
// the kind of database, so a catalogue is never opened on the archive or the bank's file
// (they start at user_version 1 too).
//
// Generic on purpose (the bank and the archive each carry their own copy of this sequence);
// host/src/services/sqlite.ts could take it over, which is outside this folder's reach.

import Database from 'better-sqlite3';
import { immediate, mapSqliteError, SqliteDb, StoreError } from '../services/sqlite';

export interface VersionedSchema {
  /** The value of the `meta` row `kind`, e.g. "semper-catalogue". */
  kind: string;
  /**
   * Migrations in order: `steps[0]` creates version 1 (and must create
   * `meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`), `steps[1]` turns 1 into 2, …
   */
  steps: readonly string[];
}

export interface OpenVersionedOptions {
  /** How long a writer waits for another connection's write lock (default 5000 ms). */
  busyTimeoutMs?: number;
}

/** Opens (and creates or upgrades) the database at `path`; ':memory:' works. Typed StoreErrors. */
export function openVersionedDatabase(path: string, schema: VersionedSchema, o: OpenVersionedOptions = {}): SqliteDb {
  let db: SqliteDb;
  try {
    db = new Database(path);
  } catch (e) {
    return mapSqliteError(e);
  }
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(o.busyTimeoutMs ?? 5000))}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    const latest = schema.steps.length;
    const version = (): number => db.pragma('user_version', { simple: true }) as number;
    if (version() > latest) throw new StoreError('UNSUPPORTED', `the ${schema.kind} database has schema ${version()}, newer than this program's ${latest}`);
    if (version() < latest) {
      immediate(db, () => {
        // re-read under the write lock: another process may have migrated meanwhile
        const from = version();
        for (let v = from; v < latest; v++) db.exec(schema.steps[v]);
        if (from === 0) db.prepare("INSERT INTO meta (key, value) VALUES ('kind', ?)").run(schema.kind);
        db.pragma(`user_version = ${latest}`);
      });
    }
    // another program's SQLite file may have a user_version but no meta table
    const hasMeta = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta'").pluck().get() !== undefined;
    const kind = hasMeta ? (db.prepare("SELECT value FROM meta WHERE key = 'kind'").pluck().get() as unknown) : undefined;
    if (kind !== schema.kind) throw new StoreError('NOT_A_DATABASE', `the file is not a ${schema.kind} database`);
  } catch (e) {
    db.close();
    return mapSqliteError(e);
  }
  return db;
}
