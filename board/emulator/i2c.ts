// Espruino's I2C API as firmware sees it (I2C1…I2C3 and software `new I2C()`), on top of an
// emulated bus that routes each transaction to the device attached at its 7-bit address.
// Behaviour follows Espruino 2v29's source (src/jswrap_spi_i2c.c, src/jsi2c.c,
// src/jsvariterator.c, targets/stm32/jshardware.c — the Pico is an STM32F401):
//  - writeTo(address, ...data) flattens its data like E.toUint8Array: numbers (low 8 bits),
//    strings (char codes), arrays (recursively), ArrayBuffers and typed arrays, and
//    `{data, count}` / `{callback}` objects; with no bytes at all nothing is sent;
//  - `address` may be `{address, stop:false}` to leave the bus without a STOP (repeated start);
//  - a hardware port whose address phase is not acknowledged fails with the STM32 driver's
//    InternalError "Timeout on I2C Write Transmit Mode 2" / "Timeout on I2C Read Receive Mode";
//  - software I2C does not check the ACK (I2C_NACK_CHECK is off), so a write to an absent
//    address is silently lost and a read returns 0xFF bytes (SDA stays pulled up);
//  - readFrom returns a Uint8Array (of the sandbox realm, through `toContext`).

/** A device on the bus. One call = one START (or repeated START) addressed to it. */
export interface I2CDevice {
  /** The master wrote `bytes` after the address byte; `stop` tells whether a STOP followed. */
  write(bytes: Uint8Array, stop: boolean): void;
  /** The master reads `count` bytes. */
  read(count: number, stop: boolean): Uint8Array;
}

/** One transaction as it appeared on the bus. */
export interface I2CTransaction {
  /** Which port drove it: 'I2C1', 'I2C2', 'I2C3' or 'software'. */
  port: string;
  /** 7-bit address. */
  address: number;
  dir: 'write' | 'read';
  /** Written bytes, or the bytes read back. */
  bytes: Uint8Array;
  stop: boolean;
  /** Whether some device acknowledged the address. */
  acked: boolean;
}

/** An I²C bus with devices at 7-bit addresses and a transaction log for tests. */
export class I2CBus {
  private readonly devices = new Map<number, I2CDevice>();
  readonly log: I2CTransaction[] = [];
  /** The log keeps at most this many transactions (oldest dropped); 0 disables logging. */
  logLimit = 100000;

  attach(address: number, device: I2CDevice): void {
    const a = checkAddress(address);
    if (this.devices.has(a)) throw new Error('I2C address 0x' + a.toString(16) + ' already in use');
    this.devices.set(a, device);
  }

  detach(address: number): void {
    this.devices.delete(address & 0x7f);
  }

  has(address: number): boolean {
    return this.devices.has(address & 0x7f);
  }

  /** A write transaction; false when nobody acknowledged the address. */
  write(address: number, bytes: Uint8Array, stop = true, port = 'I2C1'): boolean {
    const a = address & 0x7f;
    const dev = this.devices.get(a);
    this.record({ port, address: a, dir: 'write', bytes: Uint8Array.from(bytes), stop, acked: !!dev });
    if (!dev) return false;
    dev.write(Uint8Array.from(bytes), stop);
    return true;
  }

  /** A read transaction; undefined when nobody acknowledged the address. */
  read(address: number, count: number, stop = true, port = 'I2C1'): Uint8Array | undefined {
    const a = address & 0x7f;
    const dev = this.devices.get(a);
    const bytes = dev ? fit(dev.read(count, stop), count) : new Uint8Array(0);
    this.record({ port, address: a, dir: 'read', bytes, stop, acked: !!dev });
    return dev ? bytes : undefined;
  }

  /** Everything written to `address` (acknowledged or not), concatenated. */
  written(address: number): Uint8Array {
    const parts = this.log.filter((t) => t.dir === 'write' && t.address === (address & 0x7f)).map((t) => t.bytes);
    return Uint8Array.from(Buffer.concat(parts));
  }

  clearLog(): void {
    this.log.length = 0;
  }

  private record(t: I2CTransaction): void {
    if (this.logLimit <= 0) return;
    this.log.push(t);
    if (this.log.length > this.logLimit) this.log.splice(0, this.log.length - this.logLimit);
  }
}

function checkAddress(address: number): number {
  if (!Number.isInteger(address) || address < 0 || address > 0x7f) throw new Error('I2C address must be 7 bits: ' + address);
  return address;
}

function fit(bytes: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(count).fill(0xff);
  out.set(bytes.subarray(0, count));
  return out;
}

/** Makes the error objects the firmware catches; by default plain host-realm Errors with `name` set. */
export type ErrorFactory = (name: 'Error' | 'TypeError' | 'InternalError', message: string) => unknown;

const defaultError: ErrorFactory = (name, message) => {
  const e = name === 'TypeError' ? new TypeError(message) : new Error(message);
  if (name === 'InternalError') e.name = 'InternalError';
  return e;
};

/** The type name Espruino's `%t` prints in error messages (jswGetBasicObjectName, else typeof). */
function espruinoType(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return 'Array';
  if (typeof v === 'function') return 'Function';
  if (typeof v === 'string') return 'String';
  if (typeof v === 'number' || typeof v === 'boolean') return 'Number';
  if (typeof v === 'object') {
    const tag = Object.prototype.toString.call(v).slice(8, -1);
    return tag === 'ArrayBuffer' || TYPED_TAGS.has(tag) ? tag : 'Object';
  }
  return typeof v;
}

const TYPED_TAGS = new Set([
  'Uint8Array', 'Int8Array', 'Uint8ClampedArray', 'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array',
]);

/** jsvGetInteger then `(unsigned char)`: NaN and infinities are 0, fractions truncate. */
function byteOf(n: number): number {
  if (!Number.isFinite(n)) return 0;
  const t = Math.trunc(n) % 256;
  return t < 0 ? t + 256 : t;
}

/**
 * Flattens writeTo's data arguments as Espruino's jsvIterateCallback does (the rules of
 * E.toUint8Array). Throws what Espruino throws (through `err`) for unsuitable values.
 */
export function flattenI2CData(args: unknown[], err: ErrorFactory = defaultError): Uint8Array {
  const out: number[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'number') out.push(byteOf(v));
    else if (typeof v === 'boolean') out.push(v ? 1 : 0);
    else if (typeof v === 'string') for (let i = 0; i < v.length; i++) out.push(v.charCodeAt(i) & 0xff);
    else if (Array.isArray(v)) for (let i = 0; i < v.length; i++) walk(v[i]);
    else if (v !== null && typeof v === 'object') {
      const tag = Object.prototype.toString.call(v).slice(8, -1);
      if (tag === 'ArrayBuffer') for (const b of new Uint8Array(v as ArrayBuffer)) out.push(b);
      else if (TYPED_TAGS.has(tag)) {
        const arr = v as ArrayLike<number>;
        for (let i = 0; i < arr.length; i++) out.push(byteOf(arr[i]));
      }
      else {
        const o = v as Record<string, unknown>;
        if (typeof o.callback === 'function') {
          const r = (o.callback as () => unknown)();
          if (r !== undefined) walk(r);
        } else if (o.data !== undefined && (typeof o.count === 'number' || typeof o.count === 'boolean')) {
          for (let n = Math.trunc(Number(o.count)); n > 0; n--) walk(o.data);
        } else {
          let shown: string;
          try {
            shown = JSON.stringify(v);
          } catch {
            shown = String(v);
          }
          throw err('TypeError', 'If specifying an object, it must be of the form {data : ..., count : N} or {callback : fn} - got ' + shown);
        }
      }
    } else throw err('TypeError', 'Expecting Number or iterable, got ' + espruinoType(v));
  };
  for (const a of args) walk(a);
  return Uint8Array.from(out);
}

export interface I2CGlobalsOptions {
  /**
   * Which ports reach this bus: hardware 'I2C1' | 'I2C2' | 'I2C3' and 'software' (a `new I2C()`).
   * The others exist but nothing answers on them. Default: all of them (the board wiring
   * is not modelled pin by pin).
   */
  ports?: string[];
  /** Builds errors in the sandbox's realm (so `e instanceof Error` holds inside). */
  makeError?: ErrorFactory;
}

interface PortState {
  name: string;
  hardware: boolean;
  setup: boolean;
  options?: { scl?: unknown; sda?: unknown; bitrate: number };
}

/** The Pico has three I2C peripherals (boards/PICO_R1_3.py: 'i2c' : 3). */
const HARDWARE_PORTS = ['I2C1', 'I2C2', 'I2C3'];

/**
 * The globals to install into the sandbox context: `I2C` (constructor, for software I2C)
 * and `I2C1`, `I2C2`, `I2C3`, all instances of it.
 */
export function i2cGlobals(bus: I2CBus, toContext: (bytes: Uint8Array) => Uint8Array, opts: I2CGlobalsOptions = {}): Record<string, unknown> {
  const err = opts.makeError ?? defaultError;
  const reaches = new Set(opts.ports ?? [...HARDWARE_PORTS, 'software']);
  const states = new WeakMap<object, PortState>();
  const nobody = new I2CBus();
  nobody.logLimit = 0;
  const busFor = (p: PortState): I2CBus => (reaches.has(p.hardware ? p.name : 'software') ? bus : nobody);

  const stateOf = (self: unknown): PortState => {
    const s = typeof self === 'object' && self !== null ? states.get(self) : undefined;
    if (!s) throw err('Error', 'Expecting an I2C object');
    return s;
  };

  const parseAddress = (a: unknown): { address: number; stop: boolean } => {
    if (a !== null && typeof a === 'object') {
      const o = a as { address?: unknown; stop?: unknown };
      return { address: byteOf(Number(o.address) || 0) & 0x7f, stop: o.stop === undefined ? true : !!o.stop };
    }
    return { address: byteOf(Number(a) || 0) & 0x7f, stop: true };
  };

  // A class in the host realm: `new I2C()` inside the sandbox makes a software port and
  // `I2C1 instanceof I2C` holds, as on Espruino.
  class I2C {
    constructor() {
      states.set(this, { name: 'software', hardware: false, setup: false });
    }

    setup(options?: unknown): void {
      const s = stateOf(this);
      // jsvReadConfigObject: undefined or an object with only the known keys
      if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
        throw err('Error', 'Expecting Object or undefined, got ' + espruinoType(options));
      }
      for (const k of Object.keys(options ?? {})) {
        if (k !== 'scl' && k !== 'sda' && k !== 'bitrate') throw err('Error', 'Unknown option ' + JSON.stringify(k));
      }
      const o = (options ?? {}) as { scl?: unknown; sda?: unknown; bitrate?: unknown };
      const bitrate = o.bitrate === undefined ? 100000 : Math.trunc(Number(o.bitrate)) || 0;
      if (bitrate < 100) throw err('Error', 'Invalid I2C bitrate');
      s.options = { scl: o.scl, sda: o.sda, bitrate };
      // hardware ports pick default pins; software needs both
      s.setup = s.hardware || (o.scl !== undefined && o.sda !== undefined);
    }

    writeTo(address: unknown, ...data: unknown[]): void {
      const s = stateOf(this);
      const a = parseAddress(address);
      const bytes = flattenI2CData(data, err);
      if (bytes.length === 0) return; // Espruino sends nothing at all
      if (!s.setup) {
        if (s.hardware) throw err('Error', 'I2C device not responding'); // START never completes: peripheral not enabled
        return; // software I2C without pins does nothing
      }
      const acked = busFor(s).write(a.address, bytes, a.stop, s.name);
      if (!acked && s.hardware) throw err('InternalError', 'Timeout on I2C Write Transmit Mode 2');
    }

    readFrom(address: unknown, quantity: unknown): Uint8Array | undefined {
      const s = stateOf(this);
      const a = parseAddress(address);
      const n = Math.trunc(Number(quantity)) | 0;
      if (n <= 0) return undefined;
      if (!s.setup) {
        if (s.hardware) throw err('Error', 'I2C device not responding');
        return toContext(new Uint8Array(n));
      }
      const got = busFor(s).read(a.address, n, a.stop, s.name);
      if (!got) {
        if (s.hardware) throw err('InternalError', 'Timeout on I2C Read Receive Mode');
        return toContext(new Uint8Array(n).fill(0xff));
      }
      return toContext(got);
    }

    /** `writeTo({address, stop:false}, reg)` then `readFrom(address, quantity)`. */
    readReg(address: unknown, reg: unknown, quantity: unknown): Uint8Array | undefined {
      const a = byteOf(Number(address) || 0) & 0x7f;
      this.writeTo({ address: a, stop: false }, byteOf(Number(reg) || 0));
      return this.readFrom(a, quantity);
    }
  }

  const g: Record<string, unknown> = { I2C };
  for (const name of HARDWARE_PORTS) {
    const port = Object.create(I2C.prototype) as object;
    states.set(port, { name, hardware: true, setup: false });
    g[name] = port;
  }
  return g;
}
