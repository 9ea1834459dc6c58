// Opening a versioned SQLite database of the seller side (the catalogue): the one sequence
// every SEMPER database is opened with — WAL, synchronous=FULL, busy timeout, foreign keys,
// migrations by PRAGMA user_version under the write lock, a `meta` row naming the kind of
// database — lives in host/src/services/sqlite.ts, shared with the archive and the bank.

export { openVersionedDatabase } from '../services/sqlite';
export type { MigrationStep, VersionedSchema } from '../services/sqlite';
