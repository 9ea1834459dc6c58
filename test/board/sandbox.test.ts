// The Espruino sandbox of the board emulator (board/emulator/sandbox.ts): small bundles
// must run as on Espruino 2v29 — the API it offers works, and what Espruino lacks or does
// differently is missing or different here too (PROFILE.md).

import vm from 'node:vm';
import { EmulatedSerial, Sandbox } from '../../board/emulator/sandbox';

interface Run {
  sb: Sandbox;
  writes: { dev: string; text: string }[];
  console: string[];
}

const running: Sandbox[] = [];
afterEach(() => {
  for (const sb of running.splice(0)) sb.stop();
});

function start(source: string, opts: { uncaught?: boolean } = {}): Run {
  const r: Run = { sb: null as unknown as Sandbox, writes: [], console: [] };
  r.sb = new Sandbox({ onConsole: (t) => r.console.push(t), ...(opts.uncaught ? { onUncaught: () => {} } : {}) });
  running.push(r.sb);
  r.sb.onSerialWrite = (dev: EmulatedSerial, bytes: Uint8Array) => r.writes.push({ dev: dev.name, text: Buffer.from(bytes).toString('latin1') });
  r.sb.run(source, 'test-bundle.js');
  return r;
}

/** What the bundle wrote to USB, as text. */
const usb = (r: Run): string => r.writes.filter((w) => w.dev === 'USB').map((w) => w.text).join('');

/** Evaluates one expression in a fresh sandbox (as the bundle would), returning the result. */
function evaluate(expr: string): unknown {
  const sb = new Sandbox({ onConsole: () => {} });
  running.push(sb);
  return vm.runInContext(expr, sb.context);
}

async function until(done: () => boolean, what: string, limitMs = 5000): Promise<void> {
  const t0 = Date.now();
  while (!done()) {
    if (Date.now() - t0 > limitMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('sandbox: the Espruino API a bundle uses', () => {
  it('runs a small bundle with E.CRC32, setTimeout, USB.write, LoopbackA.setConsole and getTime', async () => {
    const r = start(`
      var t0 = getTime();
      setTimeout(function () {
        LoopbackA.setConsole(true);
        USB.write('crc=' + E.CRC32('123456789') + ';');
        USB.write(new Uint8Array([0x41, 0x42]));
        USB.write([0x43]);
        print('to the console');
        var t1 = getTime();
        USB.write(typeof t0 + ',' + (t1 >= t0) + ',' + (t1 - t0 < 1000) + ';');
        setTimeout(function () { USB.write('done'); }, 1);
      }, 1);
    `);
    await until(() => usb(r).includes('done'), 'the bundle to finish');
    expect(usb(r)).toBe(`crc=${0xcbf43926};ABCnumber,true,true;done`);
    // print went to the console, which the bundle had moved off USB
    expect(r.sb.console.name).toBe('LoopbackA');
    expect(r.writes.filter((w) => w.dev === 'LoopbackA').map((w) => w.text)).toEqual(['to the console\r\n']);
    expect(r.console).toEqual(['to the console\r\n']);
    expect(r.sb.uncaught).toEqual([]);
  });

  it('prints to USB while the console has not been moved', () => {
    const r = start(`print('hello', 1);`);
    expect(r.sb.console.name).toBe('USB');
    expect(usb(r)).toBe('hello 1\r\n');
  });

  it('delivers bytes arriving on USB to USB.on("data") as a byte string', () => {
    const r = start(`USB.on('data', function (d) { USB.write('[' + typeof d + ':' + d.length + ':' + d.charCodeAt(0) + ':' + d.charCodeAt(2) + ']'); });`);
    r.sb.USB.inject(Uint8Array.from([0x00, 0x80, 0xff]));
    expect(usb(r)).toBe('[string:3:0:255]');
  });

  it('E.toUint8Array returns an array of the sandbox (instanceof works inside)', () => {
    const r = start(`var u = E.toUint8Array('\\x01\\xff'); USB.write((u instanceof Uint8Array) + ',' + u.length + ',' + u[1]);`);
    expect(usb(r)).toBe('true,2,255');
  });

  it('process.env reports the Pico and Espruino 2v29', () => {
    expect(evaluate('process.env.BOARD + " " + process.env.VERSION')).toBe('PICO_R1_3 2v29');
  });
});

describe('sandbox: what Espruino 2v29 lacks is missing', () => {
  it.each(['Map', 'Set', 'WeakMap', 'Symbol', 'BigInt', 'Reflect', 'Proxy', 'TextEncoder', 'TextDecoder', 'globalThis', 'queueMicrotask'])(
    'a bundle using %s fails with a ReferenceError, recorded as uncaught',
    (name) => {
      expect(evaluate(`typeof ${name}`)).toBe('undefined');
      const r = start(`LoopbackA.setConsole(); USB.write('before;'); var x = ${name}.length; USB.write('after');`);
      expect(usb(r)).toBe('before;');
      expect(r.sb.uncaught).toHaveLength(1);
      const e = r.sb.uncaught[0] as { name: string; message: string };
      expect(e.name).toBe('ReferenceError');
      expect(e.message).toContain(name);
      // printed as Espruino does, on the console (which the bundle moved off USB)
      expect(r.console.join('')).toContain('Uncaught ReferenceError');
      expect(r.writes.filter((w) => w.dev === 'LoopbackA').map((w) => w.text).join('')).toContain('Uncaught');
    },
  );

  it.each([
    ['Array.from', 'Array.from([1])'],
    ['Math.imul', 'Math.imul(3, 4)'],
    ['Object.freeze', 'Object.freeze({})'],
    ['Number.isInteger', 'Number.isInteger(1)'],
    ['Math.trunc', 'Math.trunc(1.5)'],
  ])('%s is undefined: calling it throws a TypeError', (name, call) => {
    expect(evaluate(`typeof ${name}`)).toBe('undefined');
    const r = start(`LoopbackA.setConsole(); ${call}; USB.write('after');`);
    expect(usb(r)).toBe('');
    expect(r.console.join('')).toContain('Uncaught TypeError');
    expect((r.sb.uncaught[0] as { name: string }).name).toBe('TypeError');
  });

  // PROFILE.md: Number.MAX_SAFE_INTEGER "is undefined" on Espruino 2v29
  it('Number.MAX_SAFE_INTEGER is undefined, not 2^53-1', () => {
    expect(evaluate('typeof Number.MAX_SAFE_INTEGER')).toBe('undefined');
    expect(evaluate('Number.MAX_SAFE_INTEGER === 9007199254740991')).toBe(false);
  });
});

describe('sandbox: what Espruino 2v29 does differently', () => {
  it('Uint8Array.prototype.slice returns a plain Array', () => {
    expect(evaluate('var s = new Uint8Array([1, 2, 3]).slice(1); [Array.isArray(s), s instanceof Uint8Array, s.join(",")].join(" ")')).toBe('true false 2,3');
    // subarray is still a Uint8Array view
    expect(evaluate('var u = new Uint8Array([1, 2, 3]); var v = u.subarray(1); v[0] = 9; [v instanceof Uint8Array, u[1]].join(" ")')).toBe('true 9');
  });

  it('Math.pow(2, 32) is not exactly 4294967296 (exp/log pow), small powers stay exact', () => {
    expect(evaluate('Math.pow(2, 32) !== 4294967296')).toBe(true);
    expect(Math.abs((evaluate('Math.pow(2, 32)') as number) - 4294967296)).toBeLessThan(1e-3);
    expect(evaluate('Math.pow(2, 8)')).toBe(256);
    // the exponent operator would be exact: it is absent on Espruino, and the bundle checker forbids it
    expect(evaluate('2 * 2147483648')).toBe(4294967296);
  });

  it('String.fromCharCode keeps 8 bits (no Unicode on the Pico)', () => {
    expect(evaluate('String.fromCharCode(0x20AC).charCodeAt(0)')).toBe(0xac);
    expect(evaluate('String.fromCharCode(0x41, 0x142).length')).toBe(2);
    expect(evaluate('String.fromCharCode(0x41, 0x142)')).toBe('AB');
  });
});

describe('sandbox: the event loop', () => {
  it('records an exception in a timer callback as uncaught and keeps running later timers', async () => {
    const r = start(`
      setTimeout(function () { throw new Error('boom'); }, 1);
      setTimeout(function () { USB.write('first;'); }, 1);
      setTimeout(function () { USB.write('later'); }, 10);
    `, { uncaught: true });
    await until(() => usb(r).includes('later'), 'the later timer');
    expect(usb(r)).toBe('first;later');
    expect(r.sb.uncaught).toHaveLength(1);
    expect((r.sb.uncaught[0] as Error).message).toBe('boom');
    expect(r.sb.pendingTimers).toBe(0);
  });

  it('clearTimeout cancels a timer', async () => {
    const r = start(`
      var t = setTimeout(function () { USB.write('cancelled timer ran'); }, 1);
      clearTimeout(t);
      setTimeout(function () { USB.write('ok'); }, 5);
    `);
    await until(() => usb(r).includes('ok'), 'the second timer');
    expect(usb(r)).toBe('ok');
  });

  it('stop() stops every timer and nothing more runs', async () => {
    const r = start(`
      var n = 0;
      setInterval(function () { n++; USB.write('tick;'); }, 1);
      setTimeout(function () { USB.write('late timer'); }, 30);
      USB.on('data', function () { USB.write('data after stop'); });
    `);
    await until(() => usb(r).split('tick;').length > 3, 'a few ticks');
    expect(r.sb.pendingTimers).toBe(2);
    r.sb.stop();
    expect(r.sb.pendingTimers).toBe(0);
    const seen = usb(r);
    // longer than the interval and the pending timeout: neither may fire any more
    await new Promise((resolve) => setTimeout(resolve, 60));
    r.sb.USB.inject(Uint8Array.from([1]));
    r.sb.run(`USB.write('code after stop');`);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(usb(r)).toBe(seen);
    expect(usb(r)).not.toContain('late timer');
  });
});

describe('sandbox: require()', () => {
  it('offers crypto SHA1/SHA224/SHA256 as the Pico build has them, as ArrayBuffers of the context', () => {
    const sb = new Sandbox({ onConsole: () => {} });
    const out: unknown[] = [];
    (sb.context as unknown as { report: (x: unknown) => void }).report = (x) => out.push(x);
    sb.run(`
      var c = require("crypto");
      var d = new Uint8Array(c.SHA256("abc"));
      var h = ''; for (var i = 0; i < d.length; i++) h += (d[i] < 16 ? '0' : '') + d[i].toString(16);
      report(h);
      report(c.SHA256(new Uint8Array([0x61, 0x62, 0x63])) instanceof ArrayBuffer);
      report(new Uint8Array(c.SHA1("abc")).length + ',' + new Uint8Array(c.SHA224("abc")).length);
      report(typeof c.SHA512);
    `);
    // FIPS 180-2 test vector for "abc"
    expect(out).toEqual(['ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', true, '20,28', 'undefined']);
    expect(sb.uncaught).toEqual([]);
    sb.stop();
  });

  it('fails for modules a board does not have, as Espruino does', () => {
    const sb = new Sandbox({ onConsole: () => {} });
    sb.run('require("fs")');
    sb.run('require("Storage")');
    expect(sb.uncaught.map((e) => (e as Error).message)).toEqual(['Module fs not found', 'Module Storage not found']);
    const withStorage = new Sandbox({ onConsole: () => {}, modules: { Storage: { getFree: () => 1 } } });
    withStorage.run('if (require("Storage").getFree() !== 1) throw new Error("wrong module")');
    expect(withStorage.uncaught).toEqual([]);
    sb.stop();
    withStorage.stop();
  });
});
