// The emulated flash Storage (board/emulator/storage.ts, STORAGE.md): Espruino 2v29's
// Storage API on a NOR-flash model with the real record layout, free-space accounting,
// compaction, persistence, and the power-cut guarantee — checked exhaustively at every
// byte of one replacement and of one compaction, and on random operation sequences.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import fc from 'fast-check';
import { Sandbox } from '../../board/emulator/sandbox';
import {
  EspruinoStorage,
  HEADER_SIZE,
  PICO_STORAGE,
  PowerCut,
  VirtualFlash,
  espruinoJSON,
  parseLiberalJSON,
  storageModule,
} from '../../board/emulator/storage';

const pico = () => new EspruinoStorage(new VirtualFlash(PICO_STORAGE));
const bytes = (n: number, seed = 1): string => {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode((i * 31 + seed * 17 + (i >> 3)) & 0xff);
  return s;
};
const footprint = (n: number) => HEADER_SIZE + ((n + 3) & ~3);

/** Every file's contents, by name. */
function contents(st: EspruinoStorage): Map<string, string> {
  const m = new Map<string, string>();
  for (const n of st.list()) m.set(n, st.read(n) as string);
  return m;
}

describe('VirtualFlash', () => {
  test('programming only clears bits; erase sets a whole page to 0xFF', () => {
    const f = new VirtualFlash({ pageSize: 16, pages: 2 });
    expect(f.size).toBe(32);
    expect([...f.read(0, 32)].every((b) => b === 0xff)).toBe(true);
    f.write(3, [0xf0]);
    f.write(3, [0x3c]);
    expect(f.byte(3)).toBe(0x30);
    f.write(20, [0]);
    f.erase(0);
    expect(f.byte(3)).toBe(0xff);
    expect(f.byte(20)).toBe(0);
    expect(f.bytesWritten).toBe(3);
    expect(f.erases).toBe(1);
    expect(f.eraseCounts).toEqual([1, 0]);
    expect(() => f.write(30, [1, 2, 3])).toThrow(/out of range/);
  });

  test('a power cut stops a write mid-way, and the flash stays off until powered on', () => {
    const f = new VirtualFlash({ pageSize: 16, pages: 2 });
    f.cutAfterBytes(2);
    expect(() => f.write(0, [1, 2, 3, 4])).toThrow(PowerCut);
    expect([...f.read(0, 4)]).toEqual([1, 2, 0xff, 0xff]);
    expect(f.poweredOff).toBe(true);
    expect(() => f.erase(0)).toThrow(PowerCut);
    f.powerOn();
    f.write(2, [3]);
    expect(f.byte(2)).toBe(3);
    f.cutAfterBytes(0);
    expect(() => f.erase(1)).toThrow(PowerCut);
  });

  test('save is atomic (temporary file + rename) and load restores the image', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flash-'));
    const file = path.join(dir, 'flash.bin');
    const f = VirtualFlash.load(file, { pageSize: 64, pages: 2 });
    f.write(5, [0x12]);
    f.save(file);
    expect(fs.readdirSync(dir)).toEqual(['flash.bin']);
    const g = VirtualFlash.load(file, { pageSize: 64, pages: 2 });
    expect(g.byte(5)).toBe(0x12);
    expect(() => VirtualFlash.load(file, { pageSize: 64, pages: 3 })).toThrow(/expected 192/);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('Storage API (2v29 behaviour)', () => {
  test('write / read with offset and length, as jsfReadFile clips them', () => {
    const st = pico();
    expect(st.read('a')).toBeUndefined();
    expect(st.write('a', 'Hello World')).toBe(true);
    expect(st.read('a')).toBe('Hello World');
    expect(st.read('a', 6)).toBe('World');
    expect(st.read('a', 6, 3)).toBe('Wor');
    expect(st.read('a', -4, 5)).toBe('Hello');
    expect(st.read('a', 8, 100)).toBe('rld');
    expect(st.read('a', 50)).toBe('');
    expect(st.read('a', 0, 0)).toBe('Hello World');
  });

  test('binary data: strings of bytes, arrays, typed arrays, numbers, objects as JSON', () => {
    const st = pico();
    const bin = '\x00\x01\xfe\xff\x80';
    st.write('bin', bin);
    expect(st.read('bin')).toBe(bin);
    st.write('arr', [1, 2, 255, 256]);
    expect(st.read('arr')).toBe('\x01\x02\xff\x00');
    st.write('u8', new Uint8Array([9, 8, 7]));
    expect(st.read('u8')).toBe('\x09\x08\x07');
    st.write('view', new Uint8Array([1, 2, 3, 4]).subarray(1, 3));
    expect(st.read('view')).toBe('\x02\x03');
    st.write('num', 65);
    expect(st.read('num')).toBe('A');
    st.write('obj', { a: 1, b: 'x' });
    expect(st.read('obj')).toBe('{"a":1,"b":"x"}');
    expect([...(st.readBytes('u8') as Uint8Array)]).toEqual([9, 8, 7]);
  });

  test('errors Espruino throws, and false for negative offset or size', () => {
    const st = pico();
    expect(() => st.write('z', '')).toThrow("Can't create zero length file");
    expect(() => st.write('z', undefined)).toThrow("Can't get pointer to data to write");
    expect(() => st.write('nofile', 'x', 5)).toThrow('Unable to find or create file');
    expect(st.write('z', 'x', -1)).toBe(false);
    expect(st.write('z', 'x', 0, -1)).toBe(false);
    expect(() => st.write('big', bytes(60000))).toThrow('Unable to find or create file');
    expect(st.list()).toEqual([]);
  });

  test('multi-part write: create with a size, fill later (the example of the Storage docs)', () => {
    const st = pico();
    expect(st.write('a', 'Hello', 0, 14)).toBe(true);
    expect(st.read('a')).toBe('Hello' + '\xff'.repeat(9));
    st.write('a', ' ', 5);
    st.write('a', 'World!!!', 6);
    expect(st.read('a')).toBe('Hello World!!!');
    expect(() => st.write('a', 'x', 3)).toThrow('File already written with different data');
    expect(() => st.write('a', 'toolong', 10)).toThrow('Too much data for file size');
    st.write('a', ' ', 0); // offset 0 again: the file is re-written
    expect(st.read('a')).toBe(' ');
    // a first chunk bigger than the size: the file is created empty, then the write fails
    expect(() => st.write('b', 'abcdef', 0, 3)).toThrow('Too much data for file size');
    expect(st.read('b')).toBe('\xff\xff\xff');
    // a file whose area is still blank is reused in place, as jsfWriteFile does
    const before = st.getStats();
    st.write('b', 'ab', 0, 3);
    expect(st.read('b')).toBe('ab\xff');
    expect(st.getStats().trashCount).toBe(before.trashCount);
  });

  test('names: byte strings of at most 28 chars (longer ones are truncated, as jsfNameFromVar does)', () => {
    const st = pico();
    const long = 'abcdefghijklmnopqrstuvwxyz0123456789';
    st.write(long, 'x');
    expect(st.list()).toEqual([long.slice(0, 28)]);
    expect(st.read(long.slice(0, 28))).toBe('x');
    expect(st.read(long.slice(0, 28) + 'ZZ')).toBe('x');
    st.write('.bootcde', 'code');
    st.write(12, 'number name');
    expect(st.read('12')).toBe('number name');
    expect(st.list()).toEqual([long.slice(0, 28), '.bootcde', '12']);
  });

  test('list with a regex, erase, eraseAll', () => {
    const st = pico();
    st.write('a.js', '1');
    st.write('b.json', '2');
    st.write('c.js', '3');
    expect(st.list()).toEqual(['a.js', 'b.json', 'c.js']);
    expect(st.list(/\.js$/)).toEqual(['a.js', 'c.js']);
    expect(st.list(undefined, { sf: true })).toEqual([]);
    expect(st.list(undefined, { sf: false })).toEqual(['a.js', 'b.json', 'c.js']);
    st.erase('b.json');
    st.erase('nothing');
    expect(st.list()).toEqual(['a.js', 'c.js']);
    expect(st.read('b.json')).toBeUndefined();
    st.eraseAll();
    expect(st.list()).toEqual([]);
    expect(st.getFree()).toBe(PICO_STORAGE.pageSize * PICO_STORAGE.pages);
  });

  test('writeJSON writes Espruino\'s compact JSON; readJSON parses it liberally', () => {
    const st = pico();
    st.writeJSON('s.json', { name: 'caf\xe9', list: [1, 2.5, null], 'x-y': true, skip: undefined, f: () => 1 });
    expect(st.read('s.json')).toBe('{name:"caf\\xe9",list:[1,2.5,null],"x-y":true}');
    expect(st.readJSON('s.json')).toEqual({ name: 'caf\xe9', list: [1, 2.5, null], 'x-y': true });
    st.write('bad', '{oops');
    expect(() => st.readJSON('bad')).toThrow();
    expect(st.readJSON('bad', true)).toBeUndefined();
    expect(st.readJSON('missing')).toBeUndefined();
    expect(parseLiberalJSON("{a:'q',\"b\":[1,],}")).toEqual({ a: 'q', b: [1] });
    expect(espruinoJSON({ u: new Uint8Array([1, 2]) })).toBe('{u:[1,2]}');
  });

  test('rewriting identical contents writes nothing', () => {
    const st = pico();
    st.write('a', 'same');
    const n = st.flash.bytesWritten;
    expect(st.write('a', 'same')).toBe(true);
    expect(st.flash.bytesWritten).toBe(n);
  });
});

describe('free space, replacement and compaction', () => {
  test('getFree and getStats account for headers, alignment and trash', () => {
    const st = pico();
    const total = 3 * 16384;
    expect(st.getFree()).toBe(total);
    st.write('a', bytes(10));
    expect(st.getFree()).toBe(total - footprint(10));
    st.write('b', bytes(100));
    expect(st.getStats()).toEqual({ totalBytes: total, freeBytes: total - footprint(10) - footprint(100), fileBytes: footprint(10) + footprint(100), fileCount: 2, trashBytes: 0, trashCount: 0 });
    // replacement: the new copy is appended, the old one becomes trash
    st.write('a', bytes(20, 2));
    expect(st.read('a')).toBe(bytes(20, 2));
    expect(st.getStats()).toMatchObject({ fileCount: 2, trashCount: 1, trashBytes: footprint(10), freeBytes: total - footprint(10) - footprint(100) - footprint(20) });
    st.erase('b');
    expect(st.getStats()).toMatchObject({ fileCount: 1, trashCount: 2 });
    expect(st.compact()).toBe(true);
    expect(st.getStats()).toEqual({ totalBytes: total, freeBytes: total - footprint(20), fileBytes: footprint(20), fileCount: 1, trashBytes: 0, trashCount: 0 });
    expect(st.read('a')).toBe(bytes(20, 2));
    expect(st.compact()).toBe(false); // already compacted
  });

  test('the Pico: 48 KB; the largest single file is 49120 bytes', () => {
    const st = pico();
    expect(st.write('max', bytes(49152 - HEADER_SIZE))).toBe(true);
    expect(st.getFree()).toBe(0);
    expect(st.read('max')).toBe(bytes(49152 - HEADER_SIZE));
    st.eraseAll();
    expect(() => st.write('max', bytes(49152 - HEADER_SIZE + 1))).toThrow('Unable to find or create file');
  });

  test("when space runs out, writing compacts and retries ('device' mode: in place, as Espruino); the files survive", () => {
    const st = new EspruinoStorage(new VirtualFlash(PICO_STORAGE), { compaction: 'device' });
    const files = new Map<string, string>();
    // 40 files of 1000 bytes: 41,280 bytes of 49,152
    for (let i = 0; i < 40; i++) {
      files.set(`f${i}`, bytes(1000, i));
      st.write(`f${i}`, files.get(`f${i}`));
    }
    const erasesBefore = st.flash.erases;
    // rewrite them over and over: trash fills the rest, then compaction must happen
    for (let round = 1; round <= 5; round++) {
      for (let i = 0; i < 40; i += 3) {
        files.set(`f${i}`, bytes(1000, i + 100 * round));
        st.write(`f${i}`, files.get(`f${i}`));
      }
    }
    expect(st.flash.erases).toBeGreaterThan(erasesBefore);
    // 41 KB of files: no page can be emptied with a copy elsewhere, so this is the device's in-place compaction
    expect(st.unsafeCompactions).toBeGreaterThan(0);
    expect(contents(st)).toEqual(files);
    expect(st.list().length).toBe(40);
    // a file that fits only once all trash is reclaimed
    st.compact();
    const free = st.getFree();
    expect(free).toBe(49152 - 40 * footprint(1000));
    st.write('last', bytes(free - HEADER_SIZE));
    expect(st.read('last')).toBe(bytes(free - HEADER_SIZE));
    expect(contents(st).size).toBe(41);
  });

  test("compaction: 'safe' mode (the default) refuses a write that only an in-place compaction could make room for", () => {
    const st = pico();
    const files = new Map<string, string>();
    for (let i = 0; i < 40; i++) {
      files.set(`f${i}`, bytes(1000, i));
      st.write(`f${i}`, files.get(`f${i}`));
    }
    let failed = 0;
    for (let i = 0; i < 40; i++) {
      try {
        st.write(`f${i}`, bytes(1000, i + 500));
        files.set(`f${i}`, bytes(1000, i + 500));
      } catch (e) {
        expect((e as Error).message).toBe('Unable to find or create file');
        failed++;
      }
    }
    expect(failed).toBeGreaterThan(0);
    expect(st.unsafeCompactions).toBe(0);
    // a failed replacement may have deleted the old copy first (as Espruino does); the rest is intact
    const got = contents(st);
    for (const [n, v] of got) expect(v).toBe(files.get(n));
    expect(files.size - got.size).toBeLessThanOrEqual(failed);
  });

  test('replacing a big file when both copies cannot coexist deletes the old one first, as Espruino does', () => {
    const st = new EspruinoStorage(new VirtualFlash(PICO_STORAGE), { compaction: 'device' });
    st.write('keep', bytes(8000));
    st.write('big', bytes(30000, 1));
    st.write('big', bytes(30000, 2));
    expect(st.read('big')).toBe(bytes(30000, 2));
    expect(st.read('keep')).toBe(bytes(8000));
    expect(st.getStats()).toMatchObject({ fileCount: 2, trashCount: 0 });
  });

  test('persistence: save the flash to a file and boot from it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-'));
    const file = path.join(dir, 'pico-storage.bin');
    const st = new EspruinoStorage(VirtualFlash.load(file));
    st.write('.bootcde', 'print(1)');
    st.writeJSON('cfg', { pin: 1234 });
    st.write('a', 'old');
    st.write('a', 'new');
    st.flash.save(file);
    expect(fs.statSync(file).size).toBe(49152);
    const again = new EspruinoStorage(VirtualFlash.load(file));
    expect(again.list()).toEqual(['.bootcde', 'cfg', 'a']);
    expect(again.read('a')).toBe('new');
    expect(again.readJSON('cfg')).toEqual({ pin: 1234 });
    expect(again.getStats().trashCount).toBe(1);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('storageModule in the sandbox', () => {
  test('require("Storage")-style object: values and errors belong to the firmware realm', () => {
    const sb = new Sandbox();
    const st = pico();
    (sb.context as Record<string, unknown>).Storage = storageModule(st, (b) => sb.inContext(b));
    const run = (code: string): unknown => vm.runInContext(code, sb.context);
    run('Storage.write("a", "hi\\xff"); Storage.writeJSON("j", {x: [1, 2]});');
    expect(st.read('a')).toBe('hi\xff');
    expect(run('Storage.read("a")')).toBe('hi\xff');
    expect(run('Storage.readArrayBuffer("a") instanceof ArrayBuffer')).toBe(true);
    expect(run('new Uint8Array(Storage.readArrayBuffer("a"))[2]')).toBe(255);
    expect(run('Storage.readArrayBuffer("none")')).toBeUndefined();
    expect(run('var o = Storage.readJSON("j"); (o instanceof Object) && (o.x instanceof Array) && o.x[1]')).toBe(2);
    expect(run('Storage.list() instanceof Array && Storage.list(/^a/).join()')).toBe('a');
    expect(run('try { Storage.write("x", ""); "no" } catch (e) { (e instanceof Error) + ":" + e.message }')).toBe("true:Can't create zero length file");
    expect(run('var s = Storage.getStats(); s instanceof Object && s.fileCount')).toBe(2);
    expect(run('Storage.getFree()')).toBe(st.getFree());
    run('Storage.erase("a"); Storage.compact();');
    expect(st.list()).toEqual(['j']);
    run('Storage.eraseAll()');
    expect(st.list()).toEqual([]);
    sb.stop();
  });
});

// ------------------------------------------------------------------------------------------
// Power cuts
// ------------------------------------------------------------------------------------------

type Op =
  | { kind: 'write'; name: string; data: string }
  | { kind: 'create'; name: string; data: string; size: number }
  | { kind: 'part'; name: string; data: string; offset: number }
  | { kind: 'erase'; name: string }
  | { kind: 'compact' }
  | { kind: 'eraseAll' };

function apply(st: EspruinoStorage, op: Op): void {
  if (op.kind === 'write') st.write(op.name, op.data);
  else if (op.kind === 'create') st.write(op.name, op.data, 0, op.size);
  else if (op.kind === 'part') st.write(op.name, op.data, op.offset);
  else if (op.kind === 'erase') st.erase(op.name);
  else if (op.kind === 'compact') st.compact();
  else st.eraseAll();
}

/** What each file may read back as after a cut during `op`, given the files before it. */
function allowedAfter(before: Map<string, string>, op: Op, name: string): (string | undefined)[] {
  const old = before.get(name);
  if (op.kind === 'write' && op.name === name) return [old, op.data, undefined];
  if (op.kind === 'create' && op.name === name) return [old, op.data + '\xff'.repeat(op.size - op.data.length), undefined];
  if (op.kind === 'part' && op.name === name && old !== undefined) {
    // written in place, in order: any prefix of the chunk (as Espruino leaves it)
    const out: string[] = [];
    for (let k = 0; k <= op.data.length; k++) out.push(old.slice(0, op.offset) + op.data.slice(0, k) + old.slice(op.offset + k));
    return out;
  }
  if (op.kind === 'erase' && op.name === name) return [old, undefined];
  if (op.kind === 'eraseAll') return [old, undefined];
  return [old];
}

/**
 * Runs `op` on a copy of `flash` with the power failing after `cut` steps, reboots, and
 * checks the guarantee. Returns false if the op completed before the cut.
 */
let probeFull = 0;
const beforeCache = new WeakMap<VirtualFlash, { version: number; files: Map<string, string> }>();

function cutAndCheck(flash: VirtualFlash, op: Op, cut: number, opts: { absentAllowed?: boolean; recoveryCut?: number } = {}): boolean {
  const f = flash.clone();
  let before = beforeCache.get(flash);
  if (!before || before.version !== flash.version) {
    before = { version: flash.version, files: contents(new EspruinoStorage(f.clone())) };
    beforeCache.set(flash, before);
  }
  const files = before.files;
  const st = new EspruinoStorage(f);
  f.cutAfterBytes(cut);
  let wasCut = false;
  try {
    apply(st, op);
  } catch (e) {
    if (!(e instanceof PowerCut)) throw e;
    wasCut = true;
  }
  f.powerOn();
  if (opts.recoveryCut !== undefined) {
    // the power fails again while booting (recovery writes), then comes back
    f.cutAfterBytes(opts.recoveryCut);
    try {
      new EspruinoStorage(f);
    } catch (e) {
      if (!(e instanceof PowerCut)) throw e;
    }
    f.powerOn();
  }
  const after = new EspruinoStorage(f); // reboot
  const got = contents(after);
  const names = new Set([...files.keys(), ...got.keys()]);
  for (const n of names) {
    const allowed = allowedAfter(files, op, n).filter((v) => opts.absentAllowed !== false || v !== undefined || !files.has(n) || op.kind !== 'write');
    if (!allowed.includes(got.get(n))) {
      throw new Error(`cut at ${cut} of ${op.kind}: file ${JSON.stringify(n)} reads ${JSON.stringify(got.get(n)?.slice(0, 20))}`);
    }
  }
  expect(after.list().length).toBe(new Set(after.list()).size); // no duplicate names
  // the storage is still usable: a small write succeeds and reads back, or (full, and no
  // safe compaction can make room) fails without touching the other files
  try {
    after.write('probe', 'after-cut');
    expect(after.read('probe')).toBe('after-cut');
    if (after.getFree() < 64 && after.getStats().trashBytes < 64) probeFull++;
  } catch (e) {
    expect((e as Error).message).toBe('Unable to find or create file');
    probeFull++;
  }
  const withProbe = contents(after);
  withProbe.delete('probe');
  got.delete('probe');
  expect(withProbe).toEqual(got);
  return wasCut;
}

/** Steps (bytes + erases) an operation takes without a cut, and whether it compacted in place. */
function dryRun(flash: VirtualFlash, op: Op): { steps: number; unsafe: boolean } {
  const f = flash.clone();
  const st = new EspruinoStorage(f);
  const s0 = f.steps;
  apply(st, op);
  return { steps: f.steps - s0, unsafe: st.unsafeCompactions > 0 };
}
const stepsOf = (flash: VirtualFlash, op: Op): number => {
  const r = dryRun(flash, op);
  expect(r.unsafe).toBe(false);
  return r.steps;
};

describe('power cuts', () => {
  test('a header torn in its first bytes leaves dirty space, which compaction reclaims', () => {
    const flash = new VirtualFlash({ pageSize: 512, pages: 2 });
    const st = new EspruinoStorage(flash);
    st.write('a', bytes(100));
    const free = st.getFree();
    flash.cutAfterBytes(2);
    expect(() => st.write('b', bytes(50))).toThrow(PowerCut);
    flash.powerOn();
    const again = new EspruinoStorage(flash);
    expect(again.list()).toEqual(['a']);
    expect(again.getFree()).toBeLessThan(free); // not allocatable until erased
    again.write('c', bytes(30));
    expect(again.compact()).toBe(true);
    expect(contents(again)).toEqual(new Map([['a', bytes(100)], ['c', bytes(30)]]));
    expect(again.getFree()).toBe(1024 - footprint(100) - footprint(30));
  });

  test('exhaustive: a cut at every byte of replacing a file keeps the old or the new version', () => {
    const st = pico();
    for (let i = 0; i < 12; i++) st.write(`f${i}`, bytes(300 + 37 * i, i));
    st.erase('f3');
    const op: Op = { kind: 'write', name: 'f5', data: bytes(500, 99) };
    const n = stepsOf(st.flash, op);
    expect(n).toBe(HEADER_SIZE + 500 + 1 + 4); // header, data, commit byte, delete of the old copy
    let cuts = 0;
    for (let k = 0; k < n; k++) {
      expect(cutAndCheck(st.flash, op, k, { absentAllowed: false })).toBe(true);
      cuts++;
    }
    expect(cutAndCheck(st.flash, op, n)).toBe(false);
    // and a second cut during the recovery at boot
    let twice = 0;
    for (let k = 0; k < n; k += 8) {
      for (let j = 0; j < 4; j++) cutAndCheck(st.flash, op, k, { absentAllowed: false, recoveryCut: j });
      twice += 4;
    }
    console.log(`replace: ${cuts} cut points checked, and ${twice} with a second cut during boot recovery`);
  });

  test('exhaustive: a cut at every byte and erase of a compaction loses nothing', () => {
    // small pages so that the compaction moves files across several pages
    const flash = new VirtualFlash({ pageSize: 512, pages: 4 });
    const st = new EspruinoStorage(flash);
    for (let i = 0; i < 9; i++) st.write(`f${i}`, bytes(30 + 9 * i, i));
    for (const i of [0, 2, 5]) st.erase(`f${i}`);
    st.write('f1', bytes(90, 50)); // pages 0 and 1 used, with trash; 2 and 3 blank
    expect(st.getStats()).toMatchObject({ fileCount: 6, trashCount: 4 });
    const op: Op = { kind: 'compact' };
    const n = stepsOf(flash, op);
    expect(n).toBeGreaterThan(500);
    for (let k = 0; k < n; k++) expect(cutAndCheck(flash, op, k)).toBe(true);
    expect(cutAndCheck(flash, op, n)).toBe(false);
    const done = new EspruinoStorage(flash.clone());
    done.compact();
    expect(done.getStats().trashCount).toBe(0);
    console.log(`compaction: ${n} cut points checked (${flash.pages} pages of ${flash.pageSize} bytes)`);
  });

  test('exhaustive: a cut anywhere in a write that triggers compaction', () => {
    const flash = new VirtualFlash({ pageSize: 256, pages: 4 });
    const st = new EspruinoStorage(flash);
    for (let i = 0; i < 2; i++) st.write(`g${i}`, bytes(60, i));
    for (let r = 0; r < 3; r++) st.write(`g${r % 2}`, bytes(60, 10 + r));
    // 460 bytes used, 4 files of trash: 600 bytes fit only after compaction
    expect(st.getFree()).toBeLessThan(HEADER_SIZE + 600);
    const op: Op = { kind: 'write', name: 'g3', data: bytes(600, 77) };
    const trashBefore = st.getStats().trashCount;
    const n = stepsOf(flash, op);
    const after = new EspruinoStorage(flash.clone());
    apply(after, op);
    expect(after.getStats().trashCount).toBeLessThan(trashBefore); // it did compact
    for (let k = 0; k < n; k++) expect(cutAndCheck(flash, op, k)).toBe(true);
    console.log(`write with compaction: ${n} cut points checked`);
  });

  test('property: random operations, a cut at a random byte, reboot — committed files survive', () => {
    const name = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'cfg.json', 'long-file-name-of-28-chars!!');
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('write' as const), name, data: fc.nat({ max: 300 }).chain((len) => fc.nat(1000).map((seed) => bytes(len + 1, seed))) }) },
      {
        weight: 2,
        arbitrary: fc.record({ kind: fc.constant('create' as const), name, data: fc.nat(80).map((n) => bytes(n + 1, n)), size: fc.nat(200) }).map((o) => ({ ...o, size: o.data.length + o.size })),
      },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('part' as const), name, data: fc.nat(40).map((n) => bytes(n + 1, 3 * n)), offset: fc.integer({ min: 1, max: 250 }) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('erase' as const), name }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'compact' } as Op) },
      { weight: 1, arbitrary: fc.constant({ kind: 'eraseAll' } as Op) },
    );
    let cuts = 0;
    let unsafe = 0;
    fc.assert(
      fc.property(fc.constantFrom(256, 512), fc.array(opArb, { maxLength: 40 }), opArb, fc.double({ min: 0, max: 1, noNaN: true }), (pageSize, ops, last, where) => {
        const flash = new VirtualFlash({ pageSize, pages: 3 });
        const st = new EspruinoStorage(flash);
        for (const op of ops) {
          try {
            apply(st, op);
          } catch (e) {
            if (e instanceof PowerCut) throw e;
            // "Unable to find or create file" when full is Espruino's answer too
          }
        }
        let run: { steps: number; unsafe: boolean };
        try {
          run = dryRun(flash, last);
        } catch (e) {
          if (e instanceof PowerCut) throw e;
          return; // the operation fails without a cut (storage full)
        }
        if (run.steps === 0) return;
        if (run.unsafe) {
          unsafe++; // the device's in-place compaction: no guarantee, as on the device
          return;
        }
        cutAndCheck(flash, last, Math.floor(where * run.steps));
        cuts++;
      }),
      { numRuns: 800, seed: 20261124 },
    );
    console.log(`property: ${cuts} random cut points checked (${unsafe} runs skipped: in-place compaction; ${probeFull} reboots found the storage full)`);
    expect(cuts).toBeGreaterThan(400);
  });
});
