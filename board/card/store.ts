// Persistent card state: an NV memory of atomic records, and a Java-Card-style transaction
// journal (before-images) on top of it, so that DEBIT and LOAD change balance, counters and
// log together or not at all.
//
// Model. NV memory is a set of named records; writing one record is atomic (as a Java Card
// single field / array-element update is, JCRE §7). Inside a transaction the first write of
// each record first appends the record's before-image to the journal record, then writes
// the record; commit is a single write that empties the journal. Power-up recovery
// (`CardStore.open`) restores every before-image of a non-empty journal, then empties it;
// recovery is idempotent, so a cut during recovery is recovered by the next power-up.
//
// Fault injection: `MemoryNv.cutAfterWrites(k)` makes the k-th following NV write hit a
// power cut: mode 'dropped' loses that write, 'applied' completes it; either way it throws
// `PowerCut` and every later write throws too, until `powerUp()`.
//
// `FileNv` keeps the records in one JSON file and replaces it atomically on every write
// (write temp file, fsync, rename, fsync the directory).

import * as fs from 'node:fs';
import * as path from 'node:path';

export class PowerCut extends Error {
  constructor() {
    super('power cut (NV write interrupted)');
    this.name = 'PowerCut';
  }
}

export interface Nv {
  read(key: string): Uint8Array | undefined;
  write(key: string, value: Uint8Array): void;
  keys(): string[];
}

/** Named records kept in a map: what both kinds of NV read the same way. */
abstract class RecordNv implements Nv {
  readonly records = new Map<string, Uint8Array>();

  read(key: string): Uint8Array | undefined {
    const v = this.records.get(key);
    return v === undefined ? undefined : v.slice();
  }

  keys(): string[] {
    return [...this.records.keys()];
  }

  abstract write(key: string, value: Uint8Array): void;
}

export class MemoryNv extends RecordNv {
  /** NV writes since creation (or since `resetCount`). */
  writes = 0;
  private cutAt = 0;
  private cutMode: 'dropped' | 'applied' = 'dropped';
  private dead = false;

  constructor(initial?: Map<string, Uint8Array>) {
    super();
    if (initial) for (const [k, v] of initial) this.records.set(k, v.slice());
  }

  write(key: string, value: Uint8Array): void {
    if (this.dead) throw new PowerCut();
    this.writes++;
    if (this.cutAt > 0 && this.writes >= this.cutAt) {
      if (this.cutMode === 'applied') this.records.set(key, value.slice());
      this.dead = true;
      this.cutAt = 0;
      throw new PowerCut();
    }
    this.records.set(key, value.slice());
  }

  /** The k-th NV write from now (k ≥ 1) is interrupted by a power cut. */
  cutAfterWrites(k: number, mode: 'dropped' | 'applied' = 'dropped'): void {
    this.cutAt = this.writes + k;
    this.cutMode = mode;
  }

  get powered(): boolean {
    return !this.dead;
  }

  powerUp(): void {
    this.dead = false;
    this.cutAt = 0;
  }

  clone(): MemoryNv {
    return new MemoryNv(this.records);
  }
}

export class FileNv extends RecordNv {
  constructor(readonly file: string) {
    super();
    if (fs.existsSync(file)) {
      const obj = JSON.parse(fs.readFileSync(file, 'utf8')) as { format: string; records: Record<string, string> };
      if (obj.format !== 'semper-card-nv/1') throw new Error(`${file}: not a card state file`);
      for (const [k, v] of Object.entries(obj.records)) this.records.set(k, Uint8Array.from(Buffer.from(v, 'hex')));
    }
  }

  write(key: string, value: Uint8Array): void {
    this.records.set(key, value.slice());
    this.flush();
  }

  /** Writes all records to a temp file, fsyncs it, renames it over the state file, fsyncs the directory. */
  flush(): void {
    const records: Record<string, string> = {};
    for (const k of [...this.records.keys()].sort()) records[k] = Buffer.from(this.records.get(k)!).toString('hex');
    const text = JSON.stringify({ format: 'semper-card-nv/1', records }, null, 1);
    const tmp = `${this.file}.tmp-${process.pid}`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
    try {
      const dfd = fs.openSync(path.dirname(path.resolve(this.file)), 'r');
      try {
        fs.fsyncSync(dfd);
      } finally {
        fs.closeSync(dfd);
      }
    } catch (_e) {
      // directories cannot be fsynced on every platform
    }
  }

  /** Copies every record of `from` into this file (one atomic file write). */
  static save(file: string, from: Nv): FileNv {
    const f = new FileNv(file);
    for (const k of from.keys()) f.records.set(k, from.read(k)!);
    f.flush();
    return f;
  }
}

// ------------------------------------------------------------------ journal and typed view

const JOURNAL = 'journal';

function encodeJournal(entries: Array<[string, Uint8Array | undefined]>): Uint8Array {
  const parts: number[] = [];
  for (const [k, v] of entries) {
    const kb = Buffer.from(k, 'utf8');
    parts.push(kb.length);
    for (const x of kb) parts.push(x);
    if (v === undefined) parts.push(0xff, 0xff);
    else {
      parts.push(v.length >> 8, v.length & 0xff);
      for (const x of v) parts.push(x);
    }
  }
  return Uint8Array.from(parts);
}

function decodeJournal(b: Uint8Array): Array<[string, Uint8Array | undefined]> {
  const out: Array<[string, Uint8Array | undefined]> = [];
  let i = 0;
  while (i < b.length) {
    const kl = b[i++];
    const k = Buffer.from(b.slice(i, i + kl)).toString('utf8');
    i += kl;
    const vl = (b[i] << 8) | b[i + 1];
    i += 2;
    if (vl === 0xffff) out.push([k, undefined]);
    else {
      out.push([k, b.slice(i, i + vl)]);
      i += vl;
    }
  }
  return out;
}

/** Deleting a record is modelled as writing an empty value (records are never removed). */
export class CardStore {
  private txn: Array<[string, Uint8Array | undefined]> | null = null;

  private constructor(readonly nv: Nv) {}

  /** Power-up: rolls back an uncommitted transaction, then returns the store. */
  static open(nv: Nv): CardStore {
    const s = new CardStore(nv);
    s.recover();
    return s;
  }

  /** Whether the journal holds an uncommitted transaction (before recovery). */
  static needsRecovery(nv: Nv): boolean {
    const j = nv.read(JOURNAL);
    return j !== undefined && j.length > 0;
  }

  private recover(): void {
    const j = this.nv.read(JOURNAL);
    if (j === undefined || j.length === 0) return;
    for (const [k, v] of decodeJournal(j)) this.nv.write(k, v ?? new Uint8Array(0));
    this.nv.write(JOURNAL, new Uint8Array(0));
  }

  get inTransaction(): boolean {
    return this.txn !== null;
  }

  begin(): void {
    if (this.txn) throw new Error('transaction already open');
    this.txn = [];
  }

  commit(): void {
    if (!this.txn) throw new Error('no transaction');
    if (this.txn.length > 0) this.nv.write(JOURNAL, new Uint8Array(0)); // the commit point
    this.txn = null;
  }

  /** Rolls back in place (no power cut): restores the before-images like recovery does. */
  abort(): void {
    if (!this.txn) throw new Error('no transaction');
    this.txn = null;
    this.recover();
  }

  read(key: string): Uint8Array | undefined {
    const v = this.nv.read(key);
    return v === undefined || v.length === 0 ? undefined : v;
  }

  write(key: string, value: Uint8Array): void {
    if (key === JOURNAL) throw new Error('reserved record');
    if (this.txn && !this.txn.some(([k]) => k === key)) {
      this.txn.push([key, this.nv.read(key)]);
      this.nv.write(JOURNAL, encodeJournal(this.txn));
    }
    this.nv.write(key, value);
  }

  readUint(key: string): number {
    const v = this.read(key);
    if (!v) return 0;
    let n = 0;
    for (const b of v) n = n * 256 + b;
    return n;
  }

  writeUint(key: string, n: number, bytes = 8): void {
    this.write(key, uintBytes(n, bytes));
  }

  readText(key: string): string {
    const v = this.read(key);
    return v ? Buffer.from(v).toString('utf8') : '';
  }
}

export function uintBytes(n: number, bytes: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a safe unsigned integer: ${n}`);
  const out = new Uint8Array(bytes);
  let x = n;
  for (let i = bytes - 1; i >= 0; i--) {
    out[i] = x % 256;
    x = Math.floor(x / 256);
  }
  if (x !== 0) throw new RangeError(`${n} does not fit in ${bytes} bytes`);
  return out;
}

export function readUintBytes(b: Uint8Array, off: number, len: number): number {
  let n = 0;
  for (let i = 0; i < len; i++) n = n * 256 + b[off + i];
  return n;
}
