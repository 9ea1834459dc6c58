// The firmware AS BUNDLED (dist/device/firmware.js) in the Espruino sandbox, talked to over
// its USB line: by the host's DeviceLink, and by a raw Link that sends bytes the host codec
// would never produce.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { EmulatedDevice } from '../../board/emulator/device';
import { DeviceError, DeviceLink, StatusEvent } from '../../host/src/link/device-link';
import { decodeHostMessage } from '../../host/src/link/codec';
import { Link } from '../../protocol/src/link';
import { Frame, FrameKind, FrameReader } from '../../protocol/src/frame';
import { CborMap, CborValue, encode } from '../../protocol/src/cbor';
import { ErrorCode, Message, MsgType } from '../../protocol/src/messages';
import { prng } from '../helpers/virtual-clock';

const ROOT = join(__dirname, '..', '..');
const FIRMWARE_FILE = join(ROOT, 'dist', 'device', 'firmware.js');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

let FIRMWARE = '';
beforeAll(() => {
  if (!existsSync(FIRMWARE_FILE)) throw new Error(`firmware bundle ${FIRMWARE_FILE} is missing: run \`npm run build\` first`);
  FIRMWARE = readFileSync(FIRMWARE_FILE, 'utf8');
});

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const concat = (parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));

/** Waits (in real time, but only as a hang guard) until `done()` holds. */
async function until(done: () => boolean, what: string, limitMs = 5000): Promise<void> {
  const t0 = Date.now();
  while (!done()) {
    if (Date.now() - t0 > limitMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Every byte the device wrote on USB must belong to a good link frame: no console text. */
function expectOnlyFrames(traffic: Uint8Array[]): Frame[] {
  const frames: Frame[] = [];
  const r = new FrameReader((d) => zlibCrc32(d), (f) => frames.push(f));
  const all = concat(traffic);
  r.push(all);
  r.push(new Uint8Array(1)); // close a trailing partial block, if any
  expect(r.stats).toEqual({ frames: frames.length, crcErrors: 0, malformed: 0, oversize: 0, badVersion: 0 });
  const text = Buffer.from(all).toString('latin1');
  for (const needle of ['pwned', 'Uncaught', '>print', 'reset()']) expect(text).not.toContain(needle);
  return frames;
}

interface Rig {
  device: EmulatedDevice;
  consoleText: string[];
}

const rigs: { device: EmulatedDevice; close: () => void }[] = [];
afterEach(() => {
  for (const r of rigs.splice(0)) {
    r.close();
    r.device.powerOff();
  }
});

function newDevice(): Rig {
  const consoleText: string[] = [];
  const device = new EmulatedDevice({ firmware: FIRMWARE, onConsole: (t) => consoleText.push(t) });
  return { device, consoleText };
}

/** The device powered on and a DeviceLink connected (SYNC + HELLO) to it. */
async function connected(): Promise<Rig & { host: DeviceLink; hello: Record<string, unknown>; statuses: StatusEvent[] }> {
  const rig = newDevice();
  const host = new DeviceLink(rig.device.usb);
  rigs.push({ device: rig.device, close: () => host.close() });
  const statuses: StatusEvent[] = [];
  host.on('status', (s: StatusEvent) => statuses.push(s));
  rig.device.powerOn();
  const hello = await host.connect({ timeoutMs: 5000 });
  return { ...rig, host, hello, statuses };
}

async function rejection(p: Promise<unknown>): Promise<DeviceError> {
  try {
    await p;
  } catch (e) {
    return e as DeviceError;
  }
  throw new Error('the request succeeded, an error was expected');
}

/** A host end that sends raw message bytes over a real Link (no host codec on the way out). */
class RawHost {
  readonly link: Link;
  readonly received: Uint8Array[] = [];
  readonly trace: { dir: 'tx' | 'rx'; f: Frame }[] = [];
  synced = 0;
  constructor(rig: Rig) {
    const line = rig.device.usb;
    this.link = new Link({
      write: (b) => line.write(b),
      crc32: (d) => zlibCrc32(d),
      timers: { now: () => performance.now(), set: (fn, ms) => setTimeout(fn, ms), clear: (h) => clearTimeout(h as NodeJS.Timeout) },
      onMessage: (b) => this.received.push(b),
      onSynced: () => this.synced++,
      onTrace: (dir, f) => this.trace.push({ dir, f }),
    });
    line.onData((b) => this.link.receive(b));
    rigs.push({ device: rig.device, close: () => this.link.close() });
  }
  /** Messages decoded with the host codec (responses). */
  messages(): Message[] {
    return this.received.map((b) => decodeHostMessage(b, 'response'));
  }
  /** Sends `bytes` as one message and resolves with the next non-STATUS message. */
  async ask(bytes: Uint8Array): Promise<Message> {
    const seen = this.received.length;
    expect(this.link.send(bytes)).toBe(true);
    let reply: Message | undefined;
    await until(() => {
      for (let i = seen; i < this.received.length; i++) {
        const m = decodeHostMessage(this.received[i], 'response');
        if (m.type !== MsgType.STATUS) {
          reply = m;
          return true;
        }
      }
      return false;
    }, 'a reply from the firmware');
    return reply as Message;
  }
}

/** Powers the device on with a RawHost already listening, and waits for the handshake and STATUS. */
async function rawConnected(): Promise<Rig & { raw: RawHost }> {
  const rig = newDevice();
  const raw = new RawHost(rig);
  rig.device.powerOn();
  await until(() => raw.synced > 0 && raw.messages().some((m) => m.type === MsgType.STATUS), 'the boot handshake');
  return { ...rig, raw };
}

const map = (...kv: [number, CborValue][]): CborMap => {
  const m = new CborMap();
  for (const [k, v] of kv) m.set(k, v);
  return m;
};

describe('firmware link: handshake and HELLO', () => {
  it('sends SYNC at boot, then STATUS (state 0, id 0) once the handshake is done', async () => {
    const { device, raw } = await rawConnected();
    const rx = raw.trace.filter((t) => t.dir === 'rx');
    expect(FrameKind.SYNC).toBe(2);
    expect(rx[0].f.kind).toBe(FrameKind.SYNC);
    expect(rx[0].f.payload).toHaveLength(4);
    // we answered it with its own nonce
    const ack = raw.trace.find((t) => t.dir === 'tx' && t.f.kind === FrameKind.SYNC_ACK);
    expect(ack && hex(ack.f.payload)).toBe(hex(rx[0].f.payload));
    const status = raw.messages().filter((m) => m.type === MsgType.STATUS);
    expect(status).toEqual([{ type: MsgType.STATUS, id: 0, body: { state: 0, card: false } }]);
    // that STATUS travels as an EVENT frame, outside the sequence: no DATA frame was used
    const events = rx.filter((t) => t.f.kind === FrameKind.EVENT);
    expect(events).toHaveLength(1);
    expect(rx.filter((t) => t.f.kind === FrameKind.DATA)).toHaveLength(0);
    expect(device.sandbox.console.name).toBe('LoopbackA');
    expect(device.sandbox.USB.consoleHere).toBe(false);
    expect(device.sandbox.uncaught).toEqual([]);
  });

  it('answers HELLO with version 1, the package version, board, serial, capabilities and maxMessage', async () => {
    const { hello, statuses, device } = await connected();
    expect(hello).toEqual({
      version: 1,
      firmware: PKG.version,
      board: 'PICO_R1_3',
      serial: Uint8Array.from([0x33, 0x00, 0x3c, 0x00, 0x0c, 0x51, 0x35, 0x32, 0x39, 0x33, 0x36, 0x38]),
      capabilities: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
      card: false,
      maxMessage: 2048,
    });
    expect(hello.capabilities).toEqual([MsgType.HELLO, MsgType.PING, MsgType.CONFIRM, MsgType.SIGN, MsgType.VERIFY_OFFER, MsgType.PURSE_BALANCE, MsgType.PURSE_DEBIT, MsgType.PURSE_LOAD, MsgType.READ_LOG, MsgType.CHANGE_PIN, MsgType.CANCEL, MsgType.STORE_CERT]);
    expect(statuses.length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s.state === 0 && s.id === 0 && s.card === false)).toBe(true);
    expect(device.sandbox.uncaught).toEqual([]);
  });

  it('refuses HELLO for protocol versions 2..3 with VERSION, and still works afterwards', async () => {
    const { host } = await connected();
    const e = await rejection(host.request(MsgType.HELLO, { minVersion: 2, maxVersion: 3 }));
    expect(e).toBeInstanceOf(DeviceError);
    expect(e.code).toBe('VERSION');
    expect(e.wireCode).toBe(ErrorCode.VERSION);
    const again = await host.request(MsgType.HELLO, { minVersion: 1, maxVersion: 3, agent: 'test' });
    expect(again.version).toBe(1);
  });
});

describe('firmware link: requests', () => {
  it.each([0, 1, 1024])('echoes a PING of %i bytes', async (n) => {
    const { host } = await connected();
    const data = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
    const r = await host.request(MsgType.PING, { data });
    expect(r).toEqual({ data });
  });

  // without a card, or with input that cannot be shown, each operation answers a typed error
  // at once — before anything reaches the screen — and the link is fine afterwards
  const refusedAtOnce: [string, number, Record<string, unknown>, string, string | undefined][] = [
    ['CONFIRM', MsgType.CONFIRM, { statement: Uint8Array.from([0xa1, 0x01, 0x01]) }, 'SCHEMA', 'statement.2'],
    ['SIGN', MsgType.SIGN, { statement: Uint8Array.from([0xa1, 0x01, 0x01]), timeout: 30 }, 'SCHEMA', 'statement.2'],
    ['VERIFY_OFFER', MsgType.VERIFY_OFFER, { certificate: Uint8Array.from([1]), offer: Uint8Array.from([2]) }, 'MALFORMED', 'body.2'],
    ['PURSE_BALANCE', MsgType.PURSE_BALANCE, {}, 'NO_CARD', undefined],
    ['PURSE_DEBIT', MsgType.PURSE_DEBIT, { statement: Uint8Array.from([0xa0]) }, 'SCHEMA', 'statement.1'],
    ['PURSE_LOAD', MsgType.PURSE_LOAD, { instruction: Uint8Array.from([0xa0]) }, 'MALFORMED', 'body.1'],
    ['READ_LOG', MsgType.READ_LOG, { max: 5 }, 'NO_CARD', undefined],
    ['CHANGE_PIN', MsgType.CHANGE_PIN, {}, 'NO_CARD', undefined],
  ];

  it.each(refusedAtOnce)('refuses %s at once without a card or with bad input', async (_name, type, body, code, path) => {
    const { host } = await connected();
    const e = await rejection(host.request(type, body));
    expect(e).toBeInstanceOf(DeviceError);
    expect([e.code, e.path]).toEqual([code, path]);
    expect(await host.request(MsgType.PING, { data: Uint8Array.from([1]) })).toEqual({ data: Uint8Array.from([1]) });
  });

  it('answers CANCEL of an unknown id with cancelled: false', async () => {
    const { host } = await connected();
    expect(await host.request(MsgType.CANCEL, { target: 12345 })).toEqual({ cancelled: false });
  });
});

describe('firmware link: malformed messages get an ERROR with the wire code and id', () => {
  const M = ErrorCode;
  const cases: [string, () => Uint8Array, number, number, string | undefined][] = [
    // name, bytes, wire code, id in the ERROR, path
    ['non-canonical type (0x18 0x02)', () => Uint8Array.from([0x83, 0x18, 0x02, 0x05, 0xa1, 0x01, 0x40]), M.NON_CANONICAL, 5, undefined],
    ['non-canonical id (0x18 0x06)', () => Uint8Array.from([0x83, 0x02, 0x18, 0x06, 0xa1, 0x01, 0x40]), M.NON_CANONICAL, 6, undefined],
    ['unsorted map keys', () => Uint8Array.from([0x83, 0x02, 0x07, 0xa2, 0x09, 0x00, 0x01, 0x40]), M.NON_CANONICAL, 7, undefined],
    ['indefinite-length byte string', () => Uint8Array.from([0x83, 0x02, 0x08, 0xa1, 0x01, 0x5f, 0x41, 0x01, 0xff]), M.NON_CANONICAL, 8, undefined],
    ['a float in the body', () => Uint8Array.from([0x83, 0x02, 0x09, 0xa1, 0x01, 0xf9, 0x3c, 0x00]), M.MALFORMED, 9, undefined],
    ['truncated CBOR', () => Uint8Array.from([0x83, 0x02, 0x0a, 0xa1, 0x01, 0x45, 0x01]), M.MALFORMED, 10, undefined],
    ['trailing bytes', () => concat([encode([2, 11, map([1, new Uint8Array(0)])]), Uint8Array.from([0x00])]), M.MALFORMED, 11, undefined],
    ['unknown type 99', () => encode([99, 12, map()]), M.UNKNOWN_TYPE, 12, undefined],
    ['a response-only type (STATUS) as a request', () => encode([MsgType.STATUS, 13, map([1, 0], [2, false])]), M.UNKNOWN_TYPE, 13, undefined],
    ['unknown type with the largest id', () => encode([99, 4294967295, map()]), M.UNKNOWN_TYPE, 4294967295, undefined],
    ['unknown body field', () => encode([MsgType.PING, 14, map([1, new Uint8Array(0)], [9, 0])]), M.SCHEMA, 14, 'body.9'],
    ['missing required field', () => encode([MsgType.PING, 15, map()]), M.SCHEMA, 15, 'body.1'],
    ['field of the wrong type', () => encode([MsgType.PING, 16, map([1, 'text'])]), M.SCHEMA, 16, 'body.1'],
    ['PING data over 1024 bytes', () => encode([MsgType.PING, 17, map([1, new Uint8Array(1025)])]), M.SCHEMA, 17, 'body.1'],
    ['a body that is not a map', () => encode([MsgType.PING, 18, [1]]), M.SCHEMA, 18, 'body'],
    ['request id 0', () => encode([MsgType.PING, 0, map([1, new Uint8Array(0)])]), M.MALFORMED, 0, 'id'],
    ['not an array', () => encode(5), M.MALFORMED, 0, undefined],
    ['an array of two', () => encode([MsgType.PING, 19]), M.MALFORMED, 0, undefined],
    ['a negative type', () => encode([-1, 20, map()]), M.MALFORMED, 0, 'type'],
    ['a text id', () => encode([MsgType.PING, 'x', map()]), M.MALFORMED, 0, 'id'],
    ['nesting too deep', () => encode([MsgType.PING, 21, map([1, [[[[1]]]]])]), M.MALFORMED, 21, undefined],
    ['empty message', () => new Uint8Array(0), M.MALFORMED, 0, undefined],
  ];

  it.each(cases)('%s', async (_name, bytes, code, id, path) => {
    const { raw, device } = await rawConnected();
    const reply = await raw.ask(bytes());
    expect(reply.type).toBe(MsgType.ERROR);
    expect({ code: reply.body.code, id: reply.id }).toEqual({ code, id });
    if (path !== undefined) expect(reply.body.path).toBe(path);
    // the device sends no English (SPEC §5.14): the host words the code
    expect(reply.body.message).toBeUndefined();
    expect(device.sandbox.uncaught).toEqual([]);
    // and a good request still works on the same link
    const pong = await raw.ask(encode([MsgType.PING, 99, map([1, Uint8Array.from([7])])]));
    expect(pong).toEqual({ type: MsgType.PING, id: 99, body: { data: Uint8Array.from([7]) } });
  });
});

describe('firmware link: the USB line is not a console', () => {
  it('moves the console to LoopbackA at boot', async () => {
    const { device } = await connected();
    expect(device.sandbox.console.name).toBe('LoopbackA');
    expect(device.sandbox.LoopbackA.consoleHere).toBe(true);
    expect(device.sandbox.USB.consoleHere).toBe(false);
  });

  it('does not evaluate JavaScript typed on USB, nothing but frames comes back, and HELLO works afterwards', async () => {
    const { device, host, consoleText } = await connected();
    const usb = device.usb;
    for (const line of ['\x10print("pwned")\n', 'reset()\n', '\x03\x03', '\x10\x01print("pwned")\x04\n', 'LoopbackA.setConsole=0;USB.setConsole();print("pwned")\r\n']) {
      usb.write(Buffer.from(line, 'latin1'));
    }
    // bytes are handled in order: once this answer is back, the text above has been consumed
    const h = await host.request(MsgType.HELLO, { minVersion: 1, maxVersion: 1 });
    expect(h.firmware).toBe(PKG.version);
    expect(await host.request(MsgType.PING, { data: Uint8Array.from([1, 2]) })).toEqual({ data: Uint8Array.from([1, 2]) });
    const frames = expectOnlyFrames(device.usbTraffic);
    expect(frames.length).toBeGreaterThan(0);
    expect(consoleText.join('')).not.toContain('pwned');
    expect(device.sandbox.console.name).toBe('LoopbackA');
    expect(device.sandbox.uncaught).toEqual([]);
  });

  it('survives a flood of 200 KB of random bytes and answers HELLO afterwards', async () => {
    const { device, host } = await connected();
    const rnd = prng(0xf100d);
    const usb = device.usb;
    let sent = 0;
    while (sent < 200 * 1024) {
      const n = 1 + Math.floor(rnd() * 1024);
      const chunk = new Uint8Array(n);
      for (let i = 0; i < n; i++) chunk[i] = Math.floor(rnd() * 256);
      usb.write(chunk);
      sent += n;
    }
    const h = await host.request(MsgType.HELLO, { minVersion: 1, maxVersion: 1 }, { timeoutMs: 10000 });
    expect(h.version).toBe(1);
    const data = Uint8Array.from({ length: 200 }, (_, i) => i);
    expect(await host.request(MsgType.PING, { data })).toEqual({ data });
    expect(device.sandbox.uncaught).toEqual([]);
    expectOnlyFrames(device.usbTraffic);
  });
});
