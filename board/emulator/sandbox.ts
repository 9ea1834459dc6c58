// Runs a firmware bundle, unmodified, in an isolated node:vm context that offers the
// Espruino 2v29 API the firmware uses and lacks what Espruino lacks (PROFILE.md, and
// the behaviour measured on the 2v29 interpreter). This is the core of the board
// emulator; the display, keypad, card and storage models plug in around it.

import vm from 'node:vm';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { sha1 } from '@noble/hashes/sha1';
import { sha224, sha256 } from '@noble/hashes/sha256';

/** Removed from the context because Espruino 2v29 has no such thing. */
const ABSENT_GLOBALS = [
  'Map', 'Set', 'WeakMap', 'WeakSet', 'WeakRef', 'FinalizationRegistry', 'Symbol', 'BigInt', 'BigInt64Array', 'BigUint64Array',
  'Proxy', 'Reflect', 'TextEncoder', 'TextDecoder', 'queueMicrotask', 'structuredClone', 'SharedArrayBuffer', 'Atomics',
  'globalThis', 'RangeError', 'Intl', 'WebAssembly', 'AggregateError',
];

/** Static members Espruino lacks, as [global, member]. */
const ABSENT_MEMBERS: [string, string][] = [
  ['Array', 'from'], ['Array', 'of'], ['Number', 'isInteger'], ['Number', 'isSafeInteger'], ['Number', 'MAX_SAFE_INTEGER'],
  ['Number', 'MIN_SAFE_INTEGER'], ['Number', 'EPSILON'], ['ArrayBuffer', 'isView'], ['Object', 'freeze'], ['Object', 'isFrozen'],
  ['Object', 'fromEntries'], ['Math', 'imul'], ['Math', 'clz32'], ['Math', 'fround'], ['Math', 'trunc'], ['String', 'fromCodePoint'],
  ['Promise', 'allSettled'], ['Promise', 'any'],
];

// Run inside the context after the deletions: behaviours of 2v29 that differ from V8
// and that firmware could silently depend on (measured on the interpreter).
const PRELUDE = `
// Number.MAX_SAFE_INTEGER & co cannot be deleted in V8 (non-configurable): replace the
// global Number by one without them, sharing the prototype so primitives are unchanged
Number = (function (ON) {
  var NN = function Number(v) { return arguments.length ? ON(v) : 0; };
  NN.prototype = ON.prototype;
  ['isNaN', 'isFinite', 'parseInt', 'parseFloat', 'MAX_VALUE', 'MIN_VALUE', 'NaN', 'POSITIVE_INFINITY', 'NEGATIVE_INFINITY'].forEach(function (k) { NN[k] = ON[k]; });
  return NN;
})(Number);
(function () {
  var TA = Object.getPrototypeOf(Uint8Array.prototype);
  // Uint8Array.prototype.slice returns a plain Array on Espruino
  var slice = TA.slice;
  Object.defineProperty(TA, 'slice', { configurable: true, writable: true, value: function (a, b) {
    var r = slice.call(this, a, b), out = [];
    for (var i = 0; i < r.length; i++) out.push(r[i]);
    return out;
  } });
  // Math.pow is exp(log(x)*y) for whole exponents of 10 and more: inexact (2^32 -> 4294967295.99999666)
  var pow = Math.pow;
  Math.pow = function (x, y) { return (y >= 10 && x > 0) ? Math.exp(Math.log(x) * y) : pow(x, y); };
  // String.fromCharCode keeps 8 bits on the Pico (no Unicode support in its build)
  var fcc = String.fromCharCode;
  String.fromCharCode = function () { var s = ''; for (var i = 0; i < arguments.length; i++) s += fcc(arguments[i] & 0xff); return s; };
  // 'class X extends Error' loses its message
})();
`;

export interface SerialPortModel {
  /** Bytes the firmware wrote, as they leave the device. */
  onWrite?: (bytes: Uint8Array) => void;
}

type DataHandler = (data: string) => void;

/** An Espruino Serial-like device object (USB, Serial1, LoopbackA…). */
export class EmulatedSerial {
  private handlers: DataHandler[] = [];
  consoleHere = false;
  constructor(
    readonly name: string,
    private readonly sandbox: Sandbox,
  ) {}
  on(event: string, cb: DataHandler): void {
    if (event === 'data') this.handlers.push(cb);
  }
  removeAllListeners(): void {
    this.handlers = [];
  }
  write(data: unknown): void {
    this.sandbox.serialWrite(this, toBytes(data));
  }
  print(data: unknown): void {
    this.write(String(data));
  }
  println(data: unknown): void {
    this.write(String(data) + '\r\n');
  }
  setConsole(): void {
    this.sandbox.moveConsole(this);
  }
  /** Serial.setup(baud, options): recorded, so the board can check what the firmware asked for. */
  setup(baud?: unknown, options?: unknown): void {
    this.baud = typeof baud === 'number' ? baud : 9600;
    this.options = options && typeof options === 'object' ? { ...(options as Record<string, unknown>) } : {};
  }
  baud = 9600;
  options: Record<string, unknown> = {};
  /** Bytes arriving from outside, delivered as Espruino does: a (byte) string. */
  inject(bytes: Uint8Array): void {
    if (this.handlers.length === 0) return;
    const s = Buffer.from(bytes).toString('latin1');
    for (const h of this.handlers) this.sandbox.callback(() => h(s));
  }
}

function toBytes(data: unknown): Uint8Array {
  if (typeof data === 'string') return Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff);
  // typed arrays made inside the context belong to another realm: no instanceof here
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  if (Array.isArray(data)) return Uint8Array.from(data as number[], (n) => n & 0xff);
  if (typeof data === 'number') return new Uint8Array([data & 0xff]);
  return Uint8Array.from(String(data), (c) => c.charCodeAt(0) & 0xff);
}

export interface SandboxOptions {
  board?: string;
  serial?: string;
  /** Receives what the firmware prints to wherever the console is. */
  onConsole?: (text: string) => void;
  /** Receives uncaught errors (Espruino prints them and carries on). */
  onUncaught?: (e: unknown) => void;
  /** Built-in modules `require()` offers besides crypto (e.g. Storage), by name. */
  modules?: Record<string, unknown>;
  /**
   * More globals from the board's peripherals (pins, I2C, …), made once the sandbox exists
   * so that they can use its clock and its typed-array realm.
   */
  globals?: (sb: Sandbox) => Record<string, unknown>;
}

/** Espruino's built-in modules, as `require(name)` returns them; anything else fails as on a board. */
const NO_MODULE = (name: string): Error => new Error('Module ' + name + ' not found');

/** One emulated interpreter running one bundle. */
export class Sandbox {
  readonly context: vm.Context;
  readonly USB: EmulatedSerial;
  readonly LoopbackA: EmulatedSerial;
  readonly LoopbackB: EmulatedSerial;
  readonly Serial1: EmulatedSerial;
  readonly Serial2: EmulatedSerial;
  /** Where the console (REPL) currently lives. */
  console: EmulatedSerial;
  readonly uncaught: unknown[] = [];
  private uncaughtHandler: ((e: unknown) => void) | null = null;
  private timers = new Map<number, NodeJS.Timeout>();
  private nextTimer = 1;
  private stopped = false;
  private readonly t0 = process.hrtime.bigint();
  /** Called with the bytes the firmware writes to each serial device. */
  onSerialWrite: (dev: EmulatedSerial, bytes: Uint8Array) => void = () => {};

  constructor(private readonly opts: SandboxOptions = {}) {
    this.USB = new EmulatedSerial('USB', this);
    this.LoopbackA = new EmulatedSerial('LoopbackA', this);
    this.LoopbackB = new EmulatedSerial('LoopbackB', this);
    this.Serial1 = new EmulatedSerial('Serial1', this);
    this.Serial2 = new EmulatedSerial('Serial2', this);
    this.console = this.USB;
    this.USB.consoleHere = true;
    const g: Record<string, unknown> = {
      USB: this.USB,
      LoopbackA: this.LoopbackA,
      LoopbackB: this.LoopbackB,
      Serial1: this.Serial1,
      Serial2: this.Serial2,
      E: this.makeE(),
      require: (name: unknown) => {
        const n = String(name);
        const m = n === 'crypto' ? this.crypto() : opts.modules?.[n];
        if (m === undefined) throw NO_MODULE(n);
        return m;
      },
      getTime: () => Number(process.hrtime.bigint() - this.t0) / 1e9,
      getSerial: () => opts.serial ?? '33003c00-0c513532-39333638',
      setTimeout: (fn: () => void, ms: number) => this.setTimer(fn, ms, false),
      setInterval: (fn: () => void, ms: number) => this.setTimer(fn, ms, true),
      clearTimeout: (id: number) => this.clearTimer(id),
      clearInterval: (id: number) => this.clearTimer(id),
      print: (...a: unknown[]) => this.consolePrint(a),
      console: { log: (...a: unknown[]) => this.consolePrint(a) },
      process: {
        env: { VERSION: '2v29', BOARD: opts.board ?? 'PICO_R1_3' },
        memory: () => ({ free: 5100, usage: 0, total: 5100, history: 0, gc: 0, gctime: 0, blocksize: 17 }),
        version: '2v29',
        // process.on('uncaughtException', fn): the error goes to fn instead of the console
        on: (event: unknown, fn: unknown) => {
          if (event === 'uncaughtException' && typeof fn === 'function') this.uncaughtHandler = fn as (e: unknown) => void;
        },
      },
    };
    this.context = vm.createContext(g, { name: 'espruino', codeGeneration: { strings: true, wasm: false } });
    const strip = ABSENT_GLOBALS.map((n) => `delete this[${JSON.stringify(n)}];`).join('') +
      ABSENT_MEMBERS.map(([o, m]) => `try { Object.defineProperty(${o}, ${JSON.stringify(m)}, { value: undefined, configurable: true, writable: true }); delete ${o}[${JSON.stringify(m)}]; } catch (e) {}`).join('');
    vm.runInContext(strip + PRELUDE, this.context);
    if (opts.globals) Object.assign(this.context, opts.globals(this));
  }

  /**
   * The interpreter's clock for peripherals: milliseconds since power-on, and timers that
   * run through the event loop like the firmware's own (errors are caught as uncaught).
   */
  get clock(): { now(): number; setTimeout(fn: () => void, ms: number): unknown; clearTimeout(h: unknown): void } {
    return {
      now: () => Number(process.hrtime.bigint() - this.t0) / 1e6,
      setTimeout: (fn, ms) => this.setTimer(fn, ms, false),
      clearTimeout: (h) => this.clearTimer(h as number),
    };
  }

  private cryptoModule: Record<string, unknown> | null = null;

  /**
   * require("crypto") as the Pico's build has it: SHA1, SHA224 and SHA256 (SHA384/512
   * need USE_SHA512, which the Pico board file leaves out — measured). Digests come back
   * as ArrayBuffers of the context.
   */
  private crypto(): Record<string, unknown> {
    if (this.cryptoModule) return this.cryptoModule;
    const digest = (f: (b: Uint8Array) => Uint8Array) => (data: unknown) => this.inContext(f(toBytes(data))).buffer;
    this.cryptoModule = { SHA1: digest(sha1), SHA224: digest(sha224), SHA256: digest(sha256) };
    return this.cryptoModule;
  }

  private makeE(): Record<string, unknown> {
    return {
      CRC32: (data: unknown) => zlibCrc32(toBytes(data)) >>> 0,
      toString: (data: unknown) => Buffer.from(toBytes(data)).toString('latin1'),
      toUint8Array: (data: unknown) => this.inContext(toBytes(data)),
      hwRand: () => (Math.random() * 4294967296) | 0,
      getSizeOf: () => 1,
      on: () => {},
      setConsole: () => {},
    };
  }

  /** A Uint8Array made with the context's own constructor, so `instanceof` works inside. */
  inContext(bytes: Uint8Array): Uint8Array {
    const U8 = vm.runInContext('Uint8Array', this.context) as Uint8ArrayConstructor;
    const out = new U8(bytes.length);
    out.set(bytes);
    return out;
  }

  /** Loads and runs the bundle text, as Espruino evaluates code from Storage at boot. */
  run(source: string, filename = 'firmware.js'): void {
    this.callback(() => vm.runInContext(source, this.context, { filename }));
  }

  /** Runs `fn` as the interpreter's event loop would: an exception is printed, not fatal. */
  callback(fn: () => void): void {
    if (this.stopped) return;
    try {
      fn();
    } catch (e) {
      this.uncaught.push(e);
      if (this.opts.onUncaught) this.opts.onUncaught(e);
      const h = this.uncaughtHandler;
      if (h) {
        try {
          h(e);
        } catch (e2) {
          this.uncaught.push(e2);
          this.consolePrint(['Uncaught', e2]);
        }
      } else if (!this.opts.onUncaught) this.consolePrint(['Uncaught', e]);
    }
  }

  serialWrite(dev: EmulatedSerial, bytes: Uint8Array): void {
    this.onSerialWrite(dev, bytes);
  }

  moveConsole(dev: EmulatedSerial): void {
    this.console.consoleHere = false;
    this.console = dev;
    dev.consoleHere = true;
  }

  private consolePrint(args: unknown[]): void {
    const text = args.map((a) => (typeof a === 'string' ? a : String(a))).join(' ') + '\r\n';
    if (this.opts.onConsole) this.opts.onConsole(text);
    // what is printed goes to wherever the console is — the host link only if the
    // firmware never moved it, which the tests check
    this.serialWrite(this.console, toBytes(text));
  }

  private setTimer(fn: () => void, ms: number, repeat: boolean): number {
    const id = this.nextTimer++;
    const run = () => {
      if (!repeat) this.timers.delete(id);
      this.callback(fn);
    };
    const delay = Math.max(0, Number(ms) || 0);
    this.timers.set(id, repeat ? setInterval(run, delay) : setTimeout(run, delay));
    return id;
  }

  private clearTimer(id: number): void {
    const t = this.timers.get(id);
    if (t) {
      clearTimeout(t);
      clearInterval(t);
      this.timers.delete(id);
    }
  }

  /** Pending timers (the interpreter stays alive while there are any). */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Power off: every timer stops and nothing more runs. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) {
      clearTimeout(t);
      clearInterval(t);
    }
    this.timers.clear();
  }
}
