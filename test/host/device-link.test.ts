// The host's link client against a scripted device end (a raw protocol Link over an
// in-memory line): one request at a time, CANCEL beside it, timeouts that say the device
// is not answering, aborts that tell the device, resets that fail what was in flight,
// and answers that break the rules reported rather than trusted.

import { encodeMessage } from '../../protocol/src/codec';
import { ErrorCode, Message, MsgType } from '../../protocol/src/messages';
import { linePair } from '../../shared/src/line';
import { DeviceError, DeviceLink } from '../../host/src/link/device-link';
import { HELLO_OK, ScriptedDevice, until } from './scripted-device';

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

const code = async (p: Promise<unknown>): Promise<string> => p.then(() => 'resolved', (e: DeviceError) => e.code);

test('connect: SYNC, then HELLO with our version range', async () => {
  const { dev, close } = await setup();
  expect(dev.requests[0]).toMatchObject({ type: MsgType.HELLO, id: 1, body: { minVersion: 1, maxVersion: 1 } });
  close();
});

test('connect to nothing fails with a message that says what to check', async () => {
  const [a] = linePair();
  const host = new DeviceLink(a);
  await expect(host.connect({ timeoutMs: 150 })).rejects.toMatchObject({ code: 'DEVICE_TIMEOUT', message: expect.stringContaining('is it connected') });
  host.close();
});

test('one operation at a time: the second goes out only after the first is answered; PING goes beside', async () => {
  const { host, dev, close } = await setup();
  const held: Message[] = [];
  dev.onRequest = (m) => (m.type === MsgType.PING ? dev.reply(m, { data: m.body.data as Uint8Array }) : held.push(m));
  const balance = { balance: { amount: 1250, currency: 'EUR' } };
  const p1 = host.request(MsgType.PURSE_BALANCE, {});
  const p2 = host.request(MsgType.PURSE_BALANCE, {});
  await until(() => held.length === 1, 'the first PURSE_BALANCE');
  // HELLO, PING and CANCEL are answered during an operation (SPEC §5.0.5): they do not queue
  await expect(host.request(MsgType.PING, { data: new Uint8Array([5]) })).resolves.toEqual({ data: new Uint8Array([5]) });
  expect(held.map((m) => m.id)).toEqual([2]);
  expect(host.busy).toMatchObject({ type: MsgType.PURSE_BALANCE, id: 2, queued: 1 });
  // a caller that will not wait is told at once, and nothing is sent
  await expect(host.request(MsgType.READ_LOG, {}, { ifBusy: 'fail' })).rejects.toMatchObject({ code: 'HOST_BUSY', message: expect.stringContaining('PURSE_BALANCE (request 2) is still running') });
  dev.reply(held[0], balance);
  await expect(p1).resolves.toEqual(balance);
  await until(() => held.length === 2, 'the second PURSE_BALANCE');
  expect(held.map((m) => m.id)).toEqual([2, 3]);
  dev.reply(held[1], balance);
  await expect(p2).resolves.toEqual(balance);
  expect(host.busy).toBeNull();
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

test('a device ERROR without words (SPEC §5.14) is worded by the host from its code, path and tries', async () => {
  const { host, dev, close } = await setup();
  // as the firmware sends it: no message field
  const bare = (id: number, body: Record<string, unknown>): void => {
    dev.link.send(encodeMessage(MsgType.ERROR, id, body, 'response'));
  };
  dev.onRequest = (m) => bare(m.id, { code: ErrorCode.PIN_FAILED, path: 'SW:63C2', triesLeft: 2 });
  const e = await host.request(MsgType.CONFIRM, { statement: new Uint8Array([0xa0]) }).catch((x: DeviceError) => x);
  expect(e).toMatchObject({ code: 'PIN_FAILED', wireCode: ErrorCode.PIN_FAILED, path: 'SW:63C2', triesLeft: 2, message: 'wrong PIN: 2 tries left (at SW:63C2)' });
  dev.onRequest = (m) => bare(m.id, { code: ErrorCode.SCHEMA, path: 'statement.3' });
  const s = await host.request(MsgType.CONFIRM, { statement: new Uint8Array([0xa0]) }).catch((x: DeviceError) => x);
  expect(s).toMatchObject({ code: 'SCHEMA', message: 'a field of the request does not match its schema (at statement.3)' });
  dev.onRequest = (m) => bare(m.id, { code: 99 });
  const u = await host.request(MsgType.CONFIRM, { statement: new Uint8Array([0xa0]) }).catch((x: DeviceError) => x);
  expect(u).toMatchObject({ wireCode: 99, message: 'device error 99' });
  close();
});

test('no answer: TIMEOUT says the device is not answering', async () => {
  const { host, close } = await setup();
  const e = await host.request(MsgType.PING, { data: new Uint8Array(0) }, { timeoutMs: 150 }).catch((x: DeviceError) => x);
  expect(e).toMatchObject({ code: 'DEVICE_TIMEOUT', message: expect.stringContaining('not answering') });
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

test('a device that restarts under the first HELLO (its boot SYNC): connect handshakes again and succeeds', async () => {
  const [a, b] = linePair();
  const dev = new ScriptedDevice(b);
  const host = new DeviceLink(a, { rto: 30 });
  let hellos = 0;
  dev.onRequest = (m) => {
    if (m.type !== MsgType.HELLO) return;
    hellos++;
    if (hellos === 1) {
      // still booting: the firmware's own SYNC goes out instead of an answer
      dev.link.close();
      dev.link = dev.make();
      dev.onRequest = (m2) => m2.type === MsgType.HELLO && (hellos++, dev.reply(m2, HELLO_OK));
      dev.link.sync();
    }
  };
  await expect(host.connect({ timeoutMs: 2000 })).resolves.toMatchObject({ firmware: '0.1.0' });
  expect(hellos).toBe(2);
  host.close();
  dev.link.close();
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
  expect(await code(p)).toBe('DEVICE_TIMEOUT');
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
