// openVersionedDatabase, the one way every SEMPER database is opened (the archive, the bank,
// the seller's catalogue): durability settings, migrations step by step (SQL and functions),
// the `meta` kind row, and files that must be refused without being written to.

import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openBankDatabase } from '../../../host/src/bank/bank';
import { SqliteArchive } from '../../../host/src/services/archive';
import { openDatabase, openVersionedDatabase, SqliteDb, VersionedSchema } from '../../../host/src/services/sqlite';
import { tempDir } from './fixtures/harness';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => (tmp = tempDir('sqlite-')));
afterEach(() => tmp.cleanup());

const V1 = 'CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT; CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL) STRICT;';
const V2 = 'ALTER TABLE notes ADD COLUMN words INTEGER;';
const backfill = (db: SqliteDb): void => void db.exec("UPDATE notes SET words = length(text) - length(replace(text, ' ', '')) + 1");

const version = (db: SqliteDb): number => db.pragma('user_version', { simple: true }) as number;
const code = (f: () => unknown): string | undefined => {
  try {
    (f() as SqliteDb | undefined)?.close?.();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

test('WAL, synchronous=FULL, foreign keys; the kind row is written once', () => {
  const path = join(tmp.dir, 'notes.db');
  const schema: VersionedSchema = { kind: 'semper-notes', steps: [V1] };
  for (let i = 0; i < 2; i++) {
    const db = openVersionedDatabase(path, schema);
    expect([db.pragma('journal_mode', { simple: true }), db.pragma('synchronous', { simple: true }), db.pragma('foreign_keys', { simple: true }), version(db)]).toEqual(['wal', 2, 1, 1]);
    expect(db.prepare('SELECT key, value FROM meta').all()).toEqual([{ key: 'kind', value: 'semper-notes' }]);
    db.close();
  }
});

test('an older file is migrated step by step, a function step included, and never again', () => {
  const path = join(tmp.dir, 'notes.db');
  const v1 = openVersionedDatabase(path, { kind: 'semper-notes', steps: [V1] });
  v1.prepare('INSERT INTO notes (text) VALUES (?)').run('three words here');
  v1.close();
  let runs = 0;
  const schema: VersionedSchema = {
    kind: 'semper-notes',
    steps: [
      V1,
      (db) => {
        runs++;
        db.exec(V2);
        backfill(db);
      },
    ],
  };
  const v2 = openVersionedDatabase(path, schema);
  expect([version(v2), v2.prepare('SELECT words FROM notes').pluck().get()]).toEqual([2, 3]);
  v2.close();
  openVersionedDatabase(path, schema).close();
  expect(runs).toBe(1);
});

test('a step that fails leaves the file as it was (one transaction)', () => {
  const path = join(tmp.dir, 'notes.db');
  openVersionedDatabase(path, { kind: 'semper-notes', steps: [V1] }).close();
  expect(code(() => openVersionedDatabase(path, { kind: 'semper-notes', steps: [V1, V2, 'CREATE TABLE broken ('] }))).toBe('IO');
  const db = new Database(path);
  expect([version(db), db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('notes')]).toEqual([1, ['id', 'text']]);
  db.close();
});

test('one kind of database is never opened, or migrated, as another', () => {
  const archive = join(tmp.dir, 'archive.db');
  const bank = join(tmp.dir, 'bank.db');
  SqliteArchive.open(archive).close();
  openBankDatabase(bank).close();
  const archiveBytes = readFileSync(archive);
  // the archive is at user_version 1 like a first bank: not migrated to the bank's schema
  expect(code(() => openBankDatabase(archive))).toBe('NOT_A_DATABASE');
  expect(() => openDatabase(bank)).toThrow(expect.objectContaining({ code: 'NOT_A_DATABASE', message: expect.stringContaining('semper-bank') }));
  expect(code(() => openVersionedDatabase(bank, { kind: 'semper-notes', steps: [V1, V2] }))).toBe('NOT_A_DATABASE');
  expect(readFileSync(archive).equals(archiveBytes)).toBe(true);
  const raw = new Database(archive);
  expect(raw.prepare("SELECT name FROM sqlite_schema WHERE name = 'accounts'").get()).toBeUndefined();
  raw.close();
});

test('a foreign SQLite file with tables but no schema version is refused, not written to', () => {
  const path = join(tmp.dir, 'foreign.db');
  const raw = new Database(path);
  raw.exec('CREATE TABLE contacts (name TEXT)');
  raw.close();
  const before = readFileSync(path);
  expect(code(() => openDatabase(path))).toBe('NOT_A_DATABASE');
  expect(code(() => openVersionedDatabase(path, { kind: 'semper-notes', steps: [V1] }))).toBe('NOT_A_DATABASE');
  expect(readFileSync(path).equals(before)).toBe(true);
});

test('a newer schema is UNSUPPORTED and says to upgrade; a missing file with mustExist is NOT_FOUND', () => {
  const path = join(tmp.dir, 'notes.db');
  openVersionedDatabase(path, { kind: 'semper-notes', steps: [V1, V2] }).close();
  expect(() => openVersionedDatabase(path, { kind: 'semper-notes', steps: [V1] })).toThrow(expect.objectContaining({ code: 'UNSUPPORTED', message: expect.stringMatching(/schema version 2, newer than this program's 1; upgrade semper/) }));
  expect(code(() => openVersionedDatabase(join(tmp.dir, 'none.db'), { steps: [V1] }, { mustExist: true }))).toBe('NOT_FOUND');
});
