// Emulated flash Storage for the board emulator: Espruino 2v29's `require("Storage")` on a
// virtual NOR flash with the real record layout (src/jsflash.c), the Pico's page geometry,
// free-space accounting, compaction, persistence to a file and power-cut simulation.
// STORAGE.md beside this file describes the layout, what is faithful and what is not, and
// the power-cut guarantee.

import fs from 'node:fs';
import path from 'node:path';

// ------------------------------------------------------------------------------------------
// Virtual flash
// ------------------------------------------------------------------------------------------

/** Thrown by VirtualFlash (and through it by EspruinoStorage) when the simulated power fails. */
export class PowerCut extends Error {
  constructor() {
    super('power cut');
    this.name = 'PowerCut';
  }
}

export interface FlashGeometry {
  /** Bytes per erasable page (sector). */
  pageSize: number;
  /** Number of pages. */
  pages: number;
  /** Address of the first byte on the real chip (for messages only). */
  baseAddress?: number;
}

/** The Espruino Pico (boards/PICO_R1_3.py `saved_code`): sectors 1-3 of the STM32F401, 3 x 16 KB at 0x08004000. */
export const PICO_STORAGE: Readonly<Required<FlashGeometry>> = { pageSize: 16384, pages: 3, baseAddress: 0x08004000 };

/**
 * A NOR flash area: bytes erase to 0xFF page by page, and programming can only clear
 * bits (new = old AND data). Every programmed byte and every page erase counts as one
 * non-volatile step; `cutAfterBytes(n)` makes the power fail after n more steps.
 */
export class VirtualFlash {
  readonly pageSize: number;
  readonly pages: number;
  readonly size: number;
  readonly baseAddress: number;
  /** Bytes programmed since creation. */
  bytesWritten = 0;
  /** Page erases since creation. */
  erases = 0;
  /** Changes whenever the contents may have changed (for caches). */
  version = 0;
  /** Erases per page (wear). */
  readonly eraseCounts: number[];
  private mem: Uint8Array;
  private budget = Infinity;
  private dead = false;

  constructor(geometry: FlashGeometry = PICO_STORAGE, contents?: Uint8Array) {
    if (!(geometry.pageSize > 0 && geometry.pageSize % 4 === 0 && geometry.pages > 0)) throw new Error('VirtualFlash: bad geometry');
    this.pageSize = geometry.pageSize;
    this.pages = geometry.pages;
    this.size = geometry.pageSize * geometry.pages;
    this.baseAddress = geometry.baseAddress ?? 0;
    this.eraseCounts = new Array<number>(this.pages).fill(0);
    this.mem = new Uint8Array(this.size).fill(0xff);
    if (contents) {
      if (contents.length !== this.size) throw new Error(`VirtualFlash: image is ${contents.length} bytes, expected ${this.size}`);
      this.mem.set(contents);
    }
  }

  /** Non-volatile steps (programmed bytes + page erases) so far. */
  get steps(): number {
    return this.bytesWritten + this.erases;
  }

  read(addr: number, length: number): Uint8Array {
    this.check(addr, length);
    return this.mem.slice(addr, addr + length);
  }

  byte(addr: number): number {
    return this.mem[addr];
  }

  /** Every byte in the range reads 0xFF. */
  isErased(addr: number, length: number): boolean {
    this.check(addr, length);
    for (let i = addr; i < addr + length; i++) if (this.mem[i] !== 0xff) return false;
    return true;
  }

  /** Programs bytes in order (AND semantics). On a power cut the prefix written so far stays. */
  write(addr: number, bytes: Uint8Array | number[]): void {
    this.check(addr, bytes.length);
    this.alive();
    this.version++;
    for (let i = 0; i < bytes.length; i++) {
      if (this.budget <= 0) this.cut();
      this.budget--;
      this.mem[addr + i] &= bytes[i] & 0xff;
      this.bytesWritten++;
    }
  }

  /** Erases one page to 0xFF (atomic in this model: either it happens or it does not). */
  erase(page: number): void {
    if (!(page >= 0 && page < this.pages)) throw new Error(`VirtualFlash: no page ${page}`);
    this.alive();
    if (this.budget <= 0) this.cut();
    this.budget--;
    this.version++;
    this.mem.fill(0xff, page * this.pageSize, (page + 1) * this.pageSize);
    this.erases++;
    this.eraseCounts[page]++;
  }

  /** The power fails after `n` more non-volatile steps (bytes programmed or pages erased). */
  cutAfterBytes(n: number): void {
    this.budget = n;
  }

  /** Power back on after a cut (clears any pending cut). */
  powerOn(): void {
    this.dead = false;
    this.budget = Infinity;
  }

  get poweredOff(): boolean {
    return this.dead;
  }

  /** A copy of the whole area (an image as a flash dump would give). */
  image(): Uint8Array {
    return this.mem.slice();
  }

  clone(): VirtualFlash {
    return new VirtualFlash({ pageSize: this.pageSize, pages: this.pages, baseAddress: this.baseAddress }, this.mem);
  }

  /** Writes the image to `file` atomically (temporary file, then rename). */
  save(file: string): void {
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, this.mem);
    fs.renameSync(tmp, file);
  }

  /** Loads an image saved by `save`, or a blank (erased) flash if the file does not exist. */
  static load(file: string, geometry: FlashGeometry = PICO_STORAGE): VirtualFlash {
    if (!fs.existsSync(file)) return new VirtualFlash(geometry);
    return new VirtualFlash(geometry, new Uint8Array(fs.readFileSync(file)));
  }

  private cut(): never {
    this.dead = true;
    throw new PowerCut();
  }

  private alive(): void {
    if (this.dead) throw new PowerCut();
  }

  private check(addr: number, length: number): void {
    if (!(addr >= 0 && length >= 0 && addr + length <= this.size)) throw new Error(`VirtualFlash: access out of range (${addr}+${length})`);
  }
}

// ------------------------------------------------------------------------------------------
// Record layout (src/jsflash.h, 2v29)
// ------------------------------------------------------------------------------------------

/** sizeof(JsfFileHeader): uint32 size (flags in the top 8 bits) + 28-byte 0-padded name. */
export const HEADER_SIZE = 32;
/** JSF_MAX_FILENAME_LENGTH = sizeof(JsfFileName). */
export const MAX_NAME_LENGTH = 28;
/** JSF_ALIGNMENT on the STM32F4 (no FLASH_64BITS_ALIGNMENT). */
export const ALIGNMENT = 4;

/** JsfFileFlags. */
export const FLAGS = { NONE: 0, FILENAME_TABLE: 32, STORAGEFILE: 64, COMPRESSED: 128 } as const;
/** Emulator only: a record whose header is reserved but whose contents are not committed yet. */
export const FLAG_PENDING = 1;

const align = (n: number): number => (n + ALIGNMENT - 1) & ~(ALIGNMENT - 1);

/** One record found by scanning the flash. */
export interface FileRecord {
  /** Offset of the header in the area. */
  addr: number;
  /** Offset of the data. */
  data: number;
  size: number;
  flags: number;
  /** The 28 name bytes. */
  name: Uint8Array;
  /** Name as a byte string (up to the first NUL). */
  nameStr: string;
  deleted: boolean;
  /** Counted as a file by Espruino (not deleted, flags NONE / STORAGEFILE / COMPRESSED). */
  live: boolean;
  /** Bytes taken in flash: header + data padded to the alignment. */
  footprint: number;
}

interface FreeRun {
  start: number;
  end: number;
  /** Every byte of the run is 0xFF (a torn write may leave a few programmed bytes). */
  clean: boolean;
}

interface Scan {
  records: FileRecord[];
  runs: FreeRun[];
}

/** Name bytes as Espruino builds them (jsfNameFromVar): the string's chars, up to a NUL, at most 28, 0-padded. */
export function nameBytes(name: unknown): Uint8Array {
  const s = String(name);
  const out = new Uint8Array(MAX_NAME_LENGTH);
  for (let i = 0; i < s.length && i < MAX_NAME_LENGTH; i++) {
    const c = s.charCodeAt(i) & 0xff;
    if (c === 0) break;
    out[i] = c;
  }
  return out;
}

const bytesToString = (b: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
};

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

// ------------------------------------------------------------------------------------------
// Storage
// ------------------------------------------------------------------------------------------

export interface StorageStats {
  totalBytes: number;
  freeBytes: number;
  fileBytes: number;
  fileCount: number;
  trashBytes: number;
  trashCount: number;
}

export interface StorageOptions {
  /** How errors are made for the caller (the firmware's own Error in the sandbox). */
  makeError?: (message: string) => Error;
  /**
   * 'safe' (default): compaction is always power-safe; when it cannot free enough space
   * the write fails with "Unable to find or create file" (nothing is lost). 'device': then
   * compact in place as Espruino does — the device's capacity, and its risk: a cut during
   * that compaction can lose files, as on the device.
   */
  compaction?: 'device' | 'safe';
  /** Called when an in-place (not power-safe) compaction starts. */
  onUnsafeCompaction?: () => void;
}

/**
 * Espruino's Storage over a VirtualFlash. Constructing it on a flash is a boot: it scans
 * the area and finishes or discards whatever a power cut interrupted (see STORAGE.md).
 */
export class EspruinoStorage {
  private readonly makeError: (message: string) => Error;
  private readonly mode: 'device' | 'safe';
  private readonly onUnsafeCompaction?: () => void;
  private cache?: { version: number; scan: Scan };
  /** In-place (not power-safe) compactions run so far. */
  unsafeCompactions = 0;

  constructor(
    readonly flash: VirtualFlash,
    opts: StorageOptions = {},
  ) {
    if (flash.size >= 0xff0000) throw new Error('EspruinoStorage: area too large for the commit scheme');
    this.makeError = opts.makeError ?? ((m) => new Error(m));
    this.mode = opts.compaction ?? 'safe';
    this.onUnsafeCompaction = opts.onUnsafeCompaction;
    this.recover();
  }

  // ---------------------------------------------------------------- API (jswrap_storage.c)

  /** Storage.write(name, data, offset, size) — jsfWriteFile. */
  write(name: unknown, data: unknown, offset?: unknown, size?: unknown): boolean {
    let off = toInt(offset);
    let total = toInt(size);
    let payload = data;
    if (isPlainObject(data)) {
      payload = JSON.stringify(data);
      off = 0;
      total = 0;
    }
    return this.writeBytes(nameBytes(name), payload, off, total);
  }

  /** Storage.writeJSON(name, data): Espruino's compact JSON (unquoted keys, \xXX escapes). */
  writeJSON(name: unknown, data: unknown): boolean {
    return this.writeBytes(nameBytes(name), espruinoJSON(data) ?? '', 0, 0);
  }

  /** Storage.read(name, offset, length) — a byte string, or undefined if there is no such file. */
  read(name: unknown, offset?: unknown, length?: unknown): string | undefined {
    const b = this.readBytes(name, offset, length);
    return b === undefined ? undefined : bytesToString(b);
  }

  /** The file's bytes (jsfReadFile's clipping rules), or undefined. */
  readBytes(name: unknown, offset?: unknown, length?: unknown): Uint8Array | undefined {
    const rec = this.find(nameBytes(name));
    if (!rec) return undefined;
    let off = toInt(offset);
    let len = toInt(length);
    if (off < 0) off = 0;
    if (len <= 0) len = rec.size;
    if (off > rec.size) off = rec.size;
    if (off + len > rec.size) len = rec.size - off;
    if (len <= 0) return new Uint8Array(0);
    return this.flash.read(rec.data + off, len);
  }

  /** Storage.readJSON(name, noExceptions) with Espruino's liberal parser. */
  readJSON(name: unknown, noExceptions?: unknown, realm: JsonRealm = hostRealm): unknown {
    const s = this.read(name);
    if (s === undefined) return undefined;
    try {
      return parseLiberalJSON(s, realm);
    } catch (e) {
      if (noExceptions) return undefined;
      throw this.makeError(e instanceof Error ? e.message : String(e));
    }
  }

  /** Storage.list(regex, filter) — names of the files, in flash order. */
  list(regex?: unknown, filter?: unknown): string[] {
    let containing = 0;
    let notContaining = 0;
    if (filter !== null && typeof filter === 'object' && 'sf' in filter) {
      if ((filter as { sf: unknown }).sf) containing |= FLAGS.STORAGEFILE;
      else notContaining |= FLAGS.STORAGEFILE;
    }
    const out: string[] = [];
    for (const r of this.scan().records) {
      if (!r.live) continue;
      if (notContaining & r.flags) continue;
      if (containing && !(containing & r.flags)) continue;
      let n = r.nameStr;
      if (r.flags & FLAGS.STORAGEFILE) {
        if (n.charCodeAt(n.length - 1) !== 1) continue;
        if (containing & FLAGS.STORAGEFILE) n = n.slice(0, -1);
      }
      if (regex !== undefined && regex !== null) {
        const m = String.prototype.match.call(n, regex as RegExp);
        if (m === null || m === undefined) continue;
      }
      out.push(n);
    }
    return out;
  }

  /** Storage.erase(name). */
  erase(name: unknown): void {
    const rec = this.find(nameBytes(name));
    if (rec) this.markDeleted(rec);
  }

  /** Storage.eraseAll(): every file is marked deleted first, then the pages are erased last to first. */
  eraseAll(): void {
    for (const r of this.scan().records) if (!r.deleted) this.markDeleted(r);
    for (let p = this.flash.pages - 1; p >= 0; p--) this.flash.erase(p);
  }

  /** Storage.getFree(): the largest file (with its header) that can be written without compacting. */
  getFree(): number {
    return this.largestRun(this.scan());
  }

  /** Storage.getStats() (2v29 has it, jswrap_storage.c). */
  getStats(): StorageStats {
    const s = this.scan();
    const st: StorageStats = { totalBytes: this.flash.size, freeBytes: this.largestRun(s), fileBytes: 0, fileCount: 0, trashBytes: 0, trashCount: 0 };
    for (const r of s.records) {
      if (r.live) {
        st.fileBytes += r.footprint;
        st.fileCount++;
      } else {
        st.trashBytes += r.footprint;
        st.trashCount++;
      }
    }
    return st;
  }

  /** Storage.compact(): power-safe compaction, then (mode 'device' only) in-place for what remains. True if space was freed. */
  compact(): boolean {
    if (!this.hasTrash()) return false; // jsfBankCompact: "Already fully compacted"
    let freed = this.compactSafely();
    if (this.hasTrash() && this.mode === 'device') {
      this.compactInPlace();
      freed = true;
    }
    return freed;
  }

  /** Power-safe compaction only (STORAGE.md): reclaims what can be reclaimed without risk. */
  compactSafely(): boolean {
    let freed = false;
    // bounded: each round erases at least one page that held trash, or moves a file down
    for (let round = 0; round < 4 * this.flash.pages + 4; round++) {
      if (this.cleanOneGroup()) {
        freed = true;
        continue;
      }
      if (!this.packOne()) break;
    }
    return freed;
  }

  private hasTrash(): boolean {
    const s = this.scan();
    return s.records.some((r) => !r.live) || s.runs.some((r) => !r.clean);
  }

  // ---------------------------------------------------------------- writing

  private writeBytes(name: Uint8Array, data: unknown, offset: number, size: number): boolean {
    if (offset < 0 || size < 0) return false;
    const bytes = dataBytes(data);
    if (!bytes) throw this.makeError("Can't get pointer to data to write");
    if (size === 0) size = bytes.length;
    if (!size) throw this.makeError("Can't create zero length file");
    const rec = this.find(name);
    if (
      (!rec && offset === 0) ||
      (rec && offset === 0 && (rec.flags !== FLAGS.NONE || size !== rec.size || !this.isErased(rec.data, size)))
    ) {
      if (rec && offset === 0 && size === rec.size && rec.flags === FLAGS.NONE && bytes.length === size &&
          sameBytes(this.flash.read(rec.data, size), bytes)) return true; // unchanged
      const tooMuch = bytes.length > size;
      this.createFile(name, size, tooMuch ? new Uint8Array(0) : bytes, rec);
      if (tooMuch) throw this.makeError('Too much data for file size');
      return true;
    }
    if (!rec) throw this.makeError('Unable to find or create file');
    if (offset + bytes.length > rec.size) throw this.makeError('Too much data for file size');
    if (!this.isErased(rec.data + offset, bytes.length)) throw this.makeError('File already written with different data');
    this.flash.write(rec.data + offset, bytes);
    return true;
  }

  /** Writes a new record (contents first, committed by its last byte), then deletes `old`. */
  private createFile(name: Uint8Array, size: number, first: Uint8Array, old: FileRecord | undefined): void {
    const need = HEADER_SIZE + align(size);
    let pos = this.allocate(need);
    if (pos < 0 && this.compactionCouldHelp(need)) {
      this.compactSafely();
      pos = this.allocate(need);
    }
    if (pos < 0 && old) {
      // not room for both copies: like Espruino, delete the old one first (STORAGE.md)
      this.markDeleted(old);
      old = undefined;
      if (this.compactionCouldHelp(need)) this.compactSafely();
      pos = this.allocate(need);
    }
    if (pos < 0 && this.mode === 'device' && this.compactionCouldHelp(need)) {
      this.compactInPlace();
      pos = this.allocate(need);
    }
    if (pos < 0) throw this.makeError('Unable to find or create file');
    this.writeRecord(pos, name, FLAGS.NONE, size, first);
    if (old) {
      // a compaction may have moved the old copy: delete it where it is now
      const now = this.scan().records.find((r) => r.live && sameBytes(r.name, name) && r.addr !== pos);
      if (now) this.markDeleted(now);
    }
  }

  /**
   * Record write order (emulator): flags byte with PENDING, then size bytes 0,1,2 (the
   * header is invalid until byte 2, as the 24-bit size is >= 0xFF0000 before), the name,
   * the data, and finally the flags byte PENDING -> flags: one byte commits the file.
   */
  private writeRecord(pos: number, name: Uint8Array, flags: number, size: number, data: Uint8Array): void {
    this.flash.write(pos + 3, [flags | FLAG_PENDING]);
    this.flash.write(pos, [size & 0xff, (size >> 8) & 0xff, (size >> 16) & 0xff]);
    this.flash.write(pos + 4, name);
    if (data.length) this.flash.write(pos + HEADER_SIZE, data);
    this.flash.write(pos + 3, [flags]);
  }

  /** Espruino's delete: clear name.firstChars (byte 0 first — that byte alone marks it deleted here). */
  private markDeleted(rec: FileRecord): void {
    this.flash.write(rec.addr + 4, [0, 0, 0, 0]);
  }

  private isErased(addr: number, len: number): boolean {
    return this.flash.isErased(addr, len);
  }

  private compactionCouldHelp(need: number): boolean {
    const s = this.scan();
    let reclaimable = 0;
    for (const r of s.records) if (!r.live) reclaimable += r.footprint;
    for (const run of s.runs) reclaimable += run.end - run.start;
    return need < reclaimable;
  }

  // ---------------------------------------------------------------- scanning

  /** First live record of that name (flash order, as jsfFindFile). */
  private find(name: Uint8Array): FileRecord | undefined {
    if (name[0] === 0) return undefined;
    return this.scan().records.find((r) => !r.deleted && !(r.flags & FLAG_PENDING) && sameBytes(r.name, name));
  }

  /**
   * Walks the records as jsfGetNextFileHeader(GNFH_GET_ALL) does: header after header
   * (aligned); where a header is not valid, jump to the next page. Unlike 2v29 it goes on
   * past an empty page instead of stopping there.
   */
  private scan(): Scan {
    if (this.cache && this.cache.version === this.flash.version) return this.cache.scan;
    const scan = this.scanFlash();
    this.cache = { version: this.flash.version, scan };
    return scan;
  }

  private scanFlash(): Scan {
    const f = this.flash;
    const records: FileRecord[] = [];
    const ends: number[] = [];
    let addr = 0;
    while (addr < f.size) {
      const rec = addr + HEADER_SIZE <= f.size ? this.header(addr) : undefined;
      if (rec) {
        records.push(rec);
        addr = align(addr + rec.footprint);
        continue;
      }
      ends.push(addr);
      addr = (Math.floor(addr / f.pageSize) + 1) * f.pageSize;
    }
    const runs: FreeRun[] = [];
    let ri = 0;
    for (const start of ends) {
      while (ri < records.length && records[ri].addr < start) ri++;
      const end = ri < records.length ? records[ri].addr : f.size;
      if (end <= start) continue;
      runs.push({ start, end, clean: this.isErased(start, end - start) });
    }
    // merge clean runs that touch (an empty page after a page's free tail); a dirty run
    // (torn header) stays apart, and the blank pages after it stay usable: the scan jumps
    // from the torn header to the next page start
    const merged: FreeRun[] = [];
    for (const r of runs) {
      const last = merged[merged.length - 1];
      if (last && last.end === r.start && last.clean && r.clean) last.end = r.end;
      else merged.push({ ...r });
    }
    return { records, runs: merged };
  }

  /** jsfGetFileHeader: valid if size is neither all-ones nor 0 and the file fits in the area. */
  private header(addr: number): FileRecord | undefined {
    const h = this.flash.read(addr, HEADER_SIZE);
    const word = (h[0] | (h[1] << 8) | (h[2] << 16) | (h[3] << 24)) >>> 0;
    const size = word & 0xffffff;
    const flags = word >>> 24;
    if (word === 0xffffffff || word === 0 || addr + HEADER_SIZE + size > this.flash.size) return undefined;
    const name = h.slice(4, 32);
    const deleted = name[0] === 0; // 2v29 tests all of firstChars; byte 0 alone suffices here
    const nul = name.indexOf(0);
    const nameStr = bytesToString(nul < 0 ? name : name.subarray(0, nul));
    const real = flags === FLAGS.NONE || flags === FLAGS.STORAGEFILE || flags === FLAGS.COMPRESSED;
    return { addr, data: addr + HEADER_SIZE, size, flags, name, nameStr, deleted, live: !deleted && real, footprint: HEADER_SIZE + align(size) };
  }

  /** Largest clean free run. */
  private largestRun(s: Scan, exclude?: [number, number]): number {
    let best = 0;
    for (const r of this.usableRuns(s, exclude)) best = Math.max(best, r.end - r.start);
    return best;
  }

  /** Clean runs, cut short where they would enter the excluded range. */
  private usableRuns(s: Scan, exclude?: [number, number]): FreeRun[] {
    const out: FreeRun[] = [];
    for (const r of s.runs) {
      if (!r.clean) continue;
      let start = r.start;
      let end = r.end;
      if (exclude) {
        // a run that starts in the excluded pages goes on after them: the scan reaches
        // that page start (it jumps to the next page where a chain ends)
        if (start >= exclude[0] && start < exclude[1]) start = exclude[1];
        if (start < exclude[0] && end > exclude[0]) end = exclude[0];
      }
      if (end - start >= HEADER_SIZE + ALIGNMENT) out.push({ start, end, clean: true });
    }
    return out;
  }

  /** First fit (lowest address), as _jsfCreateFile. Returns -1 if nothing fits. */
  private allocate(need: number, exclude?: [number, number]): number {
    for (const r of this.usableRuns(this.scan(), exclude)) if (r.end - r.start >= need) return r.start;
    return -1;
  }

  // ---------------------------------------------------------------- boot recovery

  /** Finishes interrupted deletes, discards uncommitted records and duplicate copies. */
  private recover(): void {
    const seen: Uint8Array[] = [];
    for (const r of this.scan().records) {
      if (r.deleted) {
        if (r.name[1] !== 0 || r.name[2] !== 0 || r.name[3] !== 0) this.markDeleted(r);
        continue;
      }
      if (r.flags & FLAG_PENDING) {
        this.markDeleted(r);
        continue;
      }
      if (seen.some((n) => sameBytes(n, r.name))) this.markDeleted(r); // a copy whose original was not deleted yet
      else seen.push(r.name);
    }
  }

  // ---------------------------------------------------------------- compaction

  /**
   * The page group that starts at page `p`: p and the pages that records (or torn bytes)
   * beginning in the group run into. Erasing the group leaves no record tail behind it
   * that the scan could take for a header. Files to move are those with a byte inside.
   */
  private group(s: Scan, p: number): { lo: number; hi: number; dirty: boolean; live: FileRecord[] } {
    const ps = this.flash.pageSize;
    const lastPage = (end: number) => Math.floor((end - 1) / ps);
    const dirtyEnd = (run: FreeRun) => {
      let last = run.start;
      for (let a = run.start; a < run.end; a++) if (this.flash.byte(a) !== 0xff) last = a;
      return last + 1;
    };
    let q = p;
    for (let changed = true; changed; ) {
      changed = false;
      const lo = p * ps;
      const hi = (q + 1) * ps;
      for (const r of s.records) {
        if (r.addr >= lo && r.addr < hi && lastPage(r.addr + r.footprint) > q) {
          q = lastPage(r.addr + r.footprint);
          changed = true;
        }
      }
      for (const run of s.runs) {
        if (!run.clean && run.start >= lo && run.start < hi && lastPage(dirtyEnd(run)) > q) {
          q = lastPage(dirtyEnd(run));
          changed = true;
        }
      }
    }
    const lo = p * ps;
    const hi = (q + 1) * ps;
    const overlaps = (a: number, b: number) => a < hi && b > lo;
    const dirty =
      s.records.some((r) => !r.live && overlaps(r.addr, r.addr + r.footprint)) ||
      s.runs.some((run) => !run.clean && overlaps(run.start, dirtyEnd(run)));
    return { lo, hi, dirty, live: s.records.filter((r) => r.live && overlaps(r.addr, r.addr + r.footprint)) };
  }

  /**
   * Safe step: evacuates one page group holding trash — copies its files elsewhere (each
   * copy committed before its original is deleted), then erases its pages, last first.
   */
  private cleanOneGroup(): boolean {
    const s = this.scan();
    for (let p = 0; p < this.flash.pages; p++) {
      const g = this.group(s, p);
      if (!g.dirty) continue;
      const ex: [number, number] = [g.lo, g.hi];
      // will every file fit outside the group? (first fit, simulated)
      const runs = this.usableRuns(s, ex).map((r) => ({ ...r }));
      let fits = true;
      for (const r of g.live) {
        const run = runs.find((x) => x.end - x.start >= r.footprint);
        if (!run) {
          fits = false;
          break;
        }
        run.start += r.footprint;
      }
      if (!fits) continue;
      for (const r of g.live) this.moveRecord(this.current(r), ex);
      for (let page = g.hi / this.flash.pageSize - 1; page >= g.lo / this.flash.pageSize; page--) this.flash.erase(page);
      return true;
    }
    return false;
  }

  /** The record as it is now (addresses do not change while a group is evacuated, but re-read to be sure). */
  private current(r: FileRecord): FileRecord {
    return this.header(r.addr) ?? r;
  }

  /** Safe step: moves the highest file that fits in a free run of an earlier page down there. */
  private packOne(): boolean {
    const s = this.scan();
    const live = s.records.filter((r) => r.live);
    const runs = this.usableRuns(s);
    const ps = this.flash.pageSize;
    for (let i = live.length - 1; i >= 0; i--) {
      const r = live[i];
      const run = runs.find((x) => x.end - x.start >= r.footprint);
      if (run && Math.floor(run.start / ps) < Math.floor(r.addr / ps)) {
        this.moveRecord(r);
        return true;
      }
    }
    return false;
  }

  /**
   * What jsfCompactInternal achieves: every file, in flash order, packed from the start of
   * the area; pages rewritten in order (erase, then program). Not power-safe — a cut loses
   * or garbles the files in the page being rewritten, as on the device (STORAGE.md).
   */
  private compactInPlace(): void {
    const f = this.flash;
    const img = new Uint8Array(f.size).fill(0xff);
    let pos = 0;
    for (const r of this.scan().records) {
      if (!r.live) continue;
      img.set(f.read(r.addr, HEADER_SIZE + r.size), pos);
      pos += r.footprint;
    }
    this.unsafeCompactions++;
    this.onUnsafeCompaction?.();
    for (let p = 0; p < f.pages; p++) {
      const lo = p * f.pageSize;
      const want = img.subarray(lo, lo + f.pageSize);
      if (sameBytes(f.read(lo, f.pageSize), want)) continue;
      f.erase(p);
      let last = want.length;
      while (last > 0 && want[last - 1] === 0xff) last--;
      if (last) f.write(lo, want.subarray(0, last));
    }
  }

  private moveRecord(r: FileRecord, exclude?: [number, number]): void {
    const pos = this.allocate(r.footprint, exclude);
    if (pos < 0) throw new Error('EspruinoStorage: internal error, no room to move a file');
    this.writeRecord(pos, r.name, r.flags, r.size, this.flash.read(r.data, r.size));
    this.markDeleted(r);
  }
}

// ------------------------------------------------------------------------------------------
// Data conversion
// ------------------------------------------------------------------------------------------

function toInt(v: unknown): number {
  if (v === undefined || v === null) return 0;
  const n = Math.trunc(Number(v));
  return Number.isFinite(n) ? n : 0;
}

const tag = (v: unknown): string => Object.prototype.toString.call(v);

function isPlainObject(v: unknown): boolean {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v) && tag(v) !== '[object ArrayBuffer]';
}

/** The bytes Espruino writes for `data` (JSV_GET_AS_CHAR_ARRAY): undefined if it has none. */
function dataBytes(data: unknown): Uint8Array | undefined {
  if (data === undefined) return undefined;
  if (typeof data === 'string') return Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  if (tag(data) === '[object ArrayBuffer]') return new Uint8Array((data as ArrayBuffer).slice(0));
  const out: number[] = [];
  const walk = (v: unknown) => {
    if (typeof v === 'number' || typeof v === 'boolean') out.push(Number(v) & 0xff);
    else if (typeof v === 'string') for (let i = 0; i < v.length; i++) out.push(v.charCodeAt(i) & 0xff);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (ArrayBuffer.isView(v)) out.push(...new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  };
  walk(data);
  return Uint8Array.from(out);
}

/** writeJSON's output: JSON with identifier keys unquoted and non-ASCII as \xXX (2v20+). */
export function espruinoJSON(v: unknown): string | undefined {
  const str = (s: string) =>
    '"' +
    // eslint-disable-next-line no-control-regex
    s.replace(/[\u0000-\u001f"\\\u007f-\uffff]/g, (c) => {
      const map: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };
      if (map[c]) return map[c];
      const code = c.charCodeAt(0);
      return code < 0x100 ? '\\x' + code.toString(16).padStart(2, '0') : '\\u' + code.toString(16).padStart(4, '0');
    }) +
    '"';
  const enc = (x: unknown): string | undefined => {
    if (x !== null && typeof x === 'object' && typeof (x as { toJSON?: unknown }).toJSON === 'function') x = (x as { toJSON: () => unknown }).toJSON();
    if (x === undefined || typeof x === 'function') return undefined;
    if (x === null) return 'null';
    if (typeof x === 'number') return Number.isFinite(x) ? String(x) : 'null';
    if (typeof x === 'boolean') return String(x);
    if (typeof x === 'string') return str(x);
    if (ArrayBuffer.isView(x)) x = Array.prototype.slice.call(x);
    if (Array.isArray(x)) return '[' + x.map((e) => enc(e) ?? 'null').join(',') + ']';
    const parts: string[] = [];
    for (const k of Object.keys(x as object)) {
      const e = enc((x as Record<string, unknown>)[k]);
      if (e === undefined) continue;
      parts.push((/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? k : str(k)) + ':' + e);
    }
    return '{' + parts.join(',') + '}';
  };
  return enc(v);
}

/** Constructors used to build what readJSON returns (the firmware realm's, in the sandbox). */
export interface JsonRealm {
  newObject: () => Record<string, unknown>;
  newArray: () => unknown[];
}
const hostRealm: JsonRealm = { newObject: () => ({}), newArray: () => [] };

/** jswrap_json_parse_liberal: JSON plus unquoted keys, single quotes, \xXX escapes, trailing commas. */
export function parseLiberalJSON(text: string, realm: JsonRealm = hostRealm): unknown {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const fail = (): never => {
    throw new SyntaxError(`Got ${i < text.length ? JSON.stringify(text[i]) : 'EOF'} at ${i} in JSON`);
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const o = realm.newObject();
      ws();
      while (text[i] !== '}') {
        ws();
        let k: string;
        if (text[i] === '"' || text[i] === "'") k = string();
        else {
          const m = /^[A-Za-z0-9_$]+/.exec(text.slice(i));
          if (!m) fail();
          k = (m as RegExpExecArray)[0];
          i += k.length;
        }
        ws();
        if (text[i++] !== ':') fail();
        o[k] = value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== '}') fail();
        ws();
      }
      i++;
      return o;
    }
    if (c === '[') {
      i++;
      const a = realm.newArray();
      ws();
      while (text[i] !== ']') {
        a.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== ']') fail();
        ws();
      }
      i++;
      return a;
    }
    if (c === '"' || c === "'") return string();
    const m = /^(-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|true|false|null|undefined|NaN|Infinity|-Infinity)/.exec(text.slice(i));
    if (!m) return fail();
    i += m[0].length;
    const lit: Record<string, unknown> = { true: true, false: false, null: null, undefined: undefined, NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };
    return m[0] in lit ? lit[m[0]] : Number(m[0]);
  };
  const string = (): string => {
    const q = text[i++];
    let s = '';
    while (i < text.length && text[i] !== q) {
      let c = text[i++];
      if (c === '\\') {
        c = text[i++];
        const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', f: '\f', v: '\v', '0': '\0' };
        if (c === 'x') {
          c = String.fromCharCode(parseInt(text.slice(i, i + 2), 16));
          i += 2;
        } else if (c === 'u') {
          c = String.fromCharCode(parseInt(text.slice(i, i + 4), 16));
          i += 4;
        } else if (simple[c] !== undefined) c = simple[c];
      }
      s += c;
    }
    if (i >= text.length) fail();
    i++;
    return s;
  };
  const v = value();
  ws();
  if (i < text.length) fail();
  return v;
}

// ------------------------------------------------------------------------------------------
// The module the firmware gets from require("Storage")
// ------------------------------------------------------------------------------------------

/**
 * What `require("Storage")` returns in the sandbox. `toContext` makes a Uint8Array with the
 * sandbox's constructor (Sandbox.inContext); the realm's Error, Object and Array are reached
 * through it so that values and exceptions handed to the firmware belong to its realm.
 */
export function storageModule(storage: EspruinoStorage, toContext: (b: Uint8Array) => Uint8Array): Record<string, unknown> {
  const probe = toContext(new Uint8Array(0));
  const CtxFunction = (probe.constructor as unknown as { constructor: FunctionConstructor }).constructor;
  const realmGlobals = new CtxFunction('return { Error: Error, Object: Object, Array: Array };')() as {
    Error: ErrorConstructor;
    Object: ObjectConstructor;
    Array: ArrayConstructor;
  };
  const jsonRealm: JsonRealm = { newObject: () => new realmGlobals.Object() as Record<string, unknown>, newArray: () => new realmGlobals.Array() };
  const rethrow = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof PowerCut) throw e;
      throw new realmGlobals.Error(e instanceof Error ? e.message : String(e));
    }
  };
  const toArray = (a: string[]): unknown[] => {
    const out = new realmGlobals.Array();
    for (const x of a) out.push(x);
    return out;
  };
  return {
    write: (name: unknown, data: unknown, offset?: unknown, size?: unknown) => rethrow(() => storage.write(name, data, offset, size)),
    writeJSON: (name: unknown, data: unknown) => rethrow(() => storage.writeJSON(name, data)),
    read: (name: unknown, offset?: unknown, length?: unknown) => storage.read(name, offset, length),
    readJSON: (name: unknown, noExceptions?: unknown) => rethrow(() => storage.readJSON(name, noExceptions, jsonRealm)),
    readArrayBuffer: (name: unknown) => {
      const b = storage.readBytes(name);
      return b === undefined ? undefined : toContext(b).buffer;
    },
    list: (regex?: unknown, filter?: unknown) => rethrow(() => toArray(storage.list(regex, filter))),
    erase: (name: unknown) => rethrow(() => storage.erase(name)),
    eraseAll: () => rethrow(() => storage.eraseAll()),
    getFree: () => storage.getFree(),
    getStats: () => {
      const o = new realmGlobals.Object() as Record<string, unknown>;
      Object.assign(o, storage.getStats());
      return o;
    },
    compact: () => {
      rethrow(() => storage.compact());
    },
  };
}
