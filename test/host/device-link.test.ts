// The host's link client against a scripted device end (a raw protocol Link over an
// in-memory line): one request at a time, CANCEL beside it, timeouts that say the device
// is not answering, aborts that tell the device, resets that fail what was in flight,
// and answers that break the rules reported rather than trusted.

import { crc32 } from 'node:zlib';
import { Link } from '../../protocol/src/link';
import { decodeMessage, encodeMessage } from '../../protocol/src/codec';
import { ErrorCode, Message, MsgType } from '../../protocol/src/messages';
import { linePair, Line } from '../../shared/src/line';
import { DeviceError, DeviceLink } from '../../host/src/link/device-link';

const timers = { now: () => performance.now(), set: (fn: () => void, ms: number) => setTimeout(fn, ms), clear: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };

/** A device end whose behaviour each test scripts in `onRequest`. */
class ScriptedDevice {
  link: Link;
  requests: Message[] = [];
  onRequest: (m: Message) => void = () => {};
  constructor(readonly line: Line) {
    this.link = this.make();
  }
  make(): Link {
    const link = new Link({
      write: (b) => this.line.write(b),
      crc32: (d) => crc32(d),
      timers,
      rto: 30,
      onMessage: (b) => {
        const m = decodeMessage(b, 'request');
        this.requests.push(m);
        this.onRequest(m);
      },
    });
    this.line.onData((b) => link.receive(b));
    return link;
  }
  reply(m: Message, body: Record<string, unknown>): void {
    this.link.send(encodeMessage(m.type, m.id, body, 'response'));
  }
  error(id: number, code: number, message: string): void {
    this.link.send(encodeMessage(MsgType.ERROR, id, { code, message }, 'response'));
  }
}

const HELLO_OK = { version: 1, firmware: '0.1.0', board: 'TEST', serial: new Uint8Array(4), capabilities: [1, 2, 11], card: false, maxMessage: 2048 };

async function setup(): Promise<{ host: DeviceLink; dev: ScriptedDevice; close: () => void }> {
  const [a, b] = linePair();
  const dev = new ScriptedDevice(b);
  const host = new DeviceLink(a, { rto: 30 });
  dev.onRequest = (m) => {
    if (m.type === MsgType.HELLO) dev.reply(m, HELLO_OK);
  };
  await host.connect({ timeoutMs: 2000 });
  return { host, dev, close: () => (host.close(), dev.link.close()) };
}

/** Waits until `cond` holds (polling), so the tests do not depend on the machine's speed. */
async function until(cond: () => boolean, what: string, maxMs = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > maxMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const code = async (p: Promise<unknown>): Promise<string> => p.then(() => 'resolved', (e: DeviceError) => e.code);

test('connect: SYNC, then HELLO with our version range', async () => {
  const { dev, close } = await setup();
  expect(dev.requests[0]).toMatchObject({ type: MsgType.HELLO, id: 1, body: { minVersion: 1, maxVersion: 1 } });
  close();
});

test('connect to nothing fails with a message that says what to check', async () => {
  const [a] = linePair();
  const host = new DeviceLink(a);
  await expect(host.connect({ timeoutMs: 150 })).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringContaining('is it connected') });
  host.close();
});

test('one request at a time: the second goes out only after the first is answered', async () => {
  const { host, dev, close } = await setup();
  const held: Message[] = [];
  dev.onRequest = (m) => held.push(m);
  const p1 = host.request(MsgType.PING, { data: new Uint8Array([1]) });
  const p2 = host.request(MsgType.PING, { data: new Uint8Array([2]) });
  await until(() => held.length === 1, 'the first PING');
  await new Promise((r) => setTimeout(r, 50)); // room for a wrongly sent second one
  expect(held.map((m) => m.id)).toEqual([2]);
  dev.reply(held[0], { data: new Uint8Array([1]) });
  await expect(p1).resolves.toEqual({ data: new Uint8Array([1]) });
  await until(() => held.length === 2, 'the second PING');
  expect(held.map((m) => m.id)).toEqual([2, 3]);
  dev.reply(held[1], { data: new Uint8Array([2]) });
  await expect(p2).resolves.toEqual({ data: new Uint8Array([2]) });
  close();
});

test('a device ERROR rejects with its name, wire code and message', async () => {
  const { host, dev, close } = await setup();
  dev.onRequest = (m) => dev.error(m.id, ErrorCode.USER_REFUSED, 'refused on the device');
  const e = await host.request(MsgType.CONFIRM, { statement: new Uint8Array([0xa0]) }).catch((x: DeviceError) => x);
  expect(e).toBeInstanceOf(DeviceError);
  expect(e).toMatchObject({ code: 'USER_REFUSED', wireCode: ErrorCode.USER_REFUSED, message: 'refused on the device' });
  close();
});

test('no answer: TIMEOUT says the device is not answering', async () => {
  const { host, close } = await setup();
  const e = await host.request(MsgType.PING, { data: new Uint8Array(0) }, { timeoutMs: 150 }).catch((x: DeviceError) => x);
  expect(e).toMatchObject({ code: 'TIMEOUT', message: expect.stringContaining('not answering') });
  close();
});

test('abort: the caller gets ABORTED at once and the device gets a CANCEL for that id', async () => {
  const { host, dev, close } = await setup();
  dev.onRequest = (m) => {
    if (m.type === MsgType.CANCEL) dev.reply(m, { cancelled: true });
  };
  const ac = new AbortController();
  const p = host.request(MsgType.SIGN, { statement: new Uint8Array([0xa0]) }, { signal: ac.signal });
  await until(() => dev.requests.some((m) => m.type === MsgType.SIGN), 'the SIGN');
  ac.abort();
  expect(await code(p)).toBe('ABORTED');
  await until(() => dev.requests.some((m) => m.type === MsgType.CANCEL), 'the CANCEL');
  const cancel = dev.requests.find((m) => m.type === MsgType.CANCEL);
  expect(cancel?.body).toEqual({ target: dev.requests.find((m) => m.type === MsgType.SIGN)?.id });
  // an already aborted signal sends nothing
  const before = dev.requests.length;
  expect(await code(host.request(MsgType.PING, { data: new Uint8Array(0) }, { signal: AbortSignal.abort() }))).toBe('ABORTED');
  await new Promise((r) => setTimeout(r, 50));
  expect(dev.requests.length).toBe(before);
  close();
});

test('CANCEL goes out beside a running request and gets its own answer', async () => {
  const { host, dev, close } = await setup();
  let sign: Message | undefined;
  dev.onRequest = (m) => {
    if (m.type === MsgType.SIGN) sign = m;
    if (m.type === MsgType.CANCEL) {
      dev.reply(m, { cancelled: true });
      if (sign) dev.error(sign.id, ErrorCode.CANCELLED, 'cancelled by the host');
    }
  };
  const p = host.request(MsgType.SIGN, { statement: new Uint8Array([0xa0]) });
  await until(() => sign !== undefined, 'the SIGN');
  await expect(host.request(MsgType.CANCEL, { target: sign!.id })).resolves.toEqual({ cancelled: true });
  expect(await code(p)).toBe('CANCELLED');
  close();
});

test('device restart: the request in flight fails with LINK_RESET, and the link works again', async () => {
  const { host, dev, close } = await setup();
  dev.onRequest = () => {};
  const resets: string[] = [];
  host.on('reset', (r: string) => resets.push(r));
  const p = host.request(MsgType.PING, { data: new Uint8Array([9]) }, { timeoutMs: 5000 });
  await until(() => dev.requests.some((m) => m.type === MsgType.PING), 'the PING');
  dev.link.close();
  dev.link = dev.make();
  dev.onRequest = (m) => dev.reply(m, m.type === MsgType.HELLO ? HELLO_OK : { data: m.body.data as Uint8Array });
  dev.link.sync(); // the device boots
  const e = await p.catch((x: DeviceError) => x);
  expect(e).toMatchObject({ code: 'LINK_RESET', message: expect.stringContaining('device restarted') });
  expect(resets).toContain('peer');
  await expect(host.request(MsgType.PING, { data: new Uint8Array([7]) })).resolves.toEqual({ data: new Uint8Array([7]) });
  close();
});

test('rule-breaking answers are reported, not trusted: wrong type, unknown id, answers in EVENT frames, bad bytes', async () => {
  const { host, dev, close } = await setup();
  const problems: string[] = [];
  host.on('protocol-error', (e: DeviceError) => problems.push(e.message));
  dev.onRequest = (m) => {
    dev.link.send(encodeMessage(MsgType.HELLO, m.id, HELLO_OK, 'response')); // wrong type for a PING
    dev.link.send(encodeMessage(MsgType.PING, 999, { data: new Uint8Array(0) }, 'response')); // nobody asked
    dev.link.sendEvent(encodeMessage(MsgType.PING, m.id, { data: new Uint8Array(0) }, 'response')); // answer outside the sequence
    dev.link.send(new Uint8Array([0x83, 0x02, 0x18])); // not a message
  };
  const p = host.request(MsgType.PING, { data: new Uint8Array(0) }, { timeoutMs: 400 });
  expect(await code(p)).toBe('TIMEOUT');
  await until(() => problems.length >= 4, 'four protocol errors');
  expect(problems).toHaveLength(4);
  expect(problems.join('\n')).toMatch(/unexpected HELLO response/);
  expect(problems.join('\n')).toMatch(/unexpected PING response with id 999/);
  expect(problems.join('\n')).toMatch(/EVENT frame/);
  expect(problems.join('\n')).toMatch(/fails checks/);
  close();
});

test('STATUS events arrive as events; an ERROR with id 0 is unsolicited', async () => {
  const { host, dev, close } = await setup();
  const statuses: unknown[] = [];
  const unsolicited: DeviceError[] = [];
  host.on('status', (s) => statuses.push(s));
  host.on('unsolicited-error', (e: DeviceError) => unsolicited.push(e));
  dev.link.sendEvent(encodeMessage(MsgType.STATUS, 0, { state: 2, card: true, step: 1, steps: 3, label: 'Confirm' }, 'response'));
  dev.error(0, ErrorCode.INTERNAL, 'fault');
  await until(() => unsolicited.length > 0, 'the unsolicited ERROR');
  expect(statuses).toEqual([{ id: 0, state: 2, card: true, step: 1, steps: 3, label: 'Confirm' }]);
  expect(unsolicited.map((e) => e.code)).toEqual(['INTERNAL']);
  close();
});

test('requests that break the catalogue are refused before they are sent; close() fails what waits', async () => {
  const { host, dev, close } = await setup();
  expect(await code(host.request(MsgType.PING, { data: 'x' }))).toBe('SCHEMA');
  expect(await code(host.request(MsgType.STATUS, {}))).toBe('UNKNOWN_TYPE');
  dev.onRequest = () => {};
  const p1 = host.request(MsgType.PING, { data: new Uint8Array(0) });
  const p2 = host.request(MsgType.PING, { data: new Uint8Array(0) });
  await until(() => dev.requests.filter((m) => m.type === MsgType.PING).length === 1, 'the first PING');
  close();
  expect([await code(p1), await code(p2)]).toEqual(['CLOSED', 'CLOSED']);
  expect(await code(host.request(MsgType.PING, { data: new Uint8Array(0) }))).toBe('CLOSED');
});
