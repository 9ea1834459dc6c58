// The typed client against a scripted device end: one method per request type with its
// body on the wire and its typed answer; DeviceError with code name, path and triesLeft;
// progress from STATUS; "waiting for the user" kept apart from "not answering"; abort;
// capabilities respected; one operation at a time.

import { decodeCanonicalModel } from '../../shared/src/cbor';
import { ErrorCode, Message, MsgType, NESTED_LIMITS, StatementKind } from '../../protocol/src/messages';
import { linePair } from '../../shared/src/line';
import { DeviceLink } from '../../host/src/link/device-link';
import { DeviceClient, encodeStatement, Progress, Statement } from '../../host/src/device/client';
import { HELLO_OK, ScriptedDevice, until } from './scripted-device';

const ALL = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
const PAYMENT: Statement = { kind: StatementKind.PAYMENT, title: 'Order 4711 at CD-ROM Versand', amount: { amount: 1250, currency: 'EUR' }, payee: 'CD-ROM Versand GmbH', reference: 'ORD-1998-4711' };

async function setup(capabilities = ALL): Promise<{ client: DeviceClient; dev: ScriptedDevice; link: DeviceLink; close: () => void }> {
  const [a, b] = linePair();
  const dev = new ScriptedDevice(b);
  const link = new DeviceLink(a, { rto: 30 });
  dev.onRequest = (m) => dev.reply(m, { ...HELLO_OK, capabilities });
  const client = new DeviceClient(link, { hello: await link.connect({ timeoutMs: 2000 }) });
  return { client, dev, link, close: () => (link.close(), dev.link.close()) };
}

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

test('every request type: the body on the wire and the typed answer', async () => {
  const { client, dev, close } = await setup();
  const answers: Record<number, Record<string, unknown>> = {
    [MsgType.HELLO]: { ...HELLO_OK, capabilities: ALL },
    [MsgType.PING]: { data: bytes(3, 9) },
    [MsgType.CONFIRM]: {},
    [MsgType.SIGN]: { protected: new Uint8Array([0xa1, 0x01, 0x26]), signature: bytes(64, 1), kid: bytes(8, 2) },
    [MsgType.VERIFY_OFFER]: { merchant: 'CD-ROM Versand GmbH', offerDigest: bytes(32, 3), validUntil: 1700000000 },
    [MsgType.PURSE_BALANCE]: { balance: { amount: 5000, currency: 'EUR' } },
    [MsgType.PURSE_DEBIT]: { token: bytes(40, 4) },
    [MsgType.PURSE_LOAD]: { balance: { amount: 7000, currency: 'EUR' } },
    [MsgType.READ_LOG]: { entries: [{ counter: 7, kind: 1, amount: 1250, currency: 'EUR', party: 'CD-ROM Versand GmbH', time: 0 }] },
    [MsgType.CHANGE_PIN]: {},
    [MsgType.CANCEL]: { cancelled: false },
  };
  dev.onRequest = (m) => dev.reply(m, answers[m.type]);
  const seen = (type: number): Message => dev.requests.filter((m) => m.type === type).pop()!;

  await expect(client.hello()).resolves.toMatchObject({ firmware: '0.1.0', capabilities: ALL });
  await expect(client.ping(bytes(3, 9))).resolves.toMatchObject({ data: bytes(3, 9), rttMs: expect.any(Number) });
  await expect(client.confirm({ kind: StatementKind.PAIRING, title: 'Pair this PC', code: '4711-0815' }, { timeout: 30 })).resolves.toBeUndefined();
  expect(seen(MsgType.CONFIRM).body.timeout).toBe(30);

  const signed = await client.sign(PAYMENT);
  expect(signed).toMatchObject({ signature: bytes(64, 1), kid: bytes(8, 2) });
  // the statement went as canonical CBOR bytes, exactly those returned for the COSE payload
  expect(seen(MsgType.SIGN).body).toEqual({ statement: signed.statement });
  expect(decodeCanonicalModel(signed.statement, NESTED_LIMITS)).toBeDefined();
  expect(Buffer.from(signed.statement).toString('hex')).toMatch(/^a5010102781c/); // map(5), kind 1, title text(28): SPEC §8.f

  await expect(client.verifyOffer(bytes(10, 5), bytes(20, 6))).resolves.toEqual({ merchant: 'CD-ROM Versand GmbH', offerDigest: bytes(32, 3), validUntil: 1700000000 });
  await expect(client.purseBalance()).resolves.toEqual({ amount: 5000, currency: 'EUR' });
  await expect(client.purseDebit(PAYMENT, { timeout: 60 })).resolves.toEqual({ token: bytes(40, 4) });
  await expect(client.purseLoad(bytes(30, 7))).resolves.toEqual({ amount: 7000, currency: 'EUR' });
  await expect(client.readLog(5)).resolves.toEqual([{ counter: 7, kind: 1, amount: 1250, currency: 'EUR', party: 'CD-ROM Versand GmbH', time: 0 }]);
  expect(seen(MsgType.READ_LOG).body).toEqual({ max: 5 });
  await expect(client.changePin()).resolves.toBeUndefined();
  await expect(client.cancel(99)).resolves.toBe(false);
  expect(seen(MsgType.CANCEL).body).toEqual({ target: 99 });
  close();
});

test('device errors: the wire name, path and PIN tries left', async () => {
  const { client, dev, close } = await setup();
  dev.onRequest = (m) => {
    if (m.type === MsgType.SIGN) dev.error(m.id, ErrorCode.PIN_FAILED, 'wrong PIN', { triesLeft: 2 });
    if (m.type === MsgType.CONFIRM) dev.error(m.id, ErrorCode.SCHEMA, 'kind not accepted', { path: 'statement.1' });
  };
  await expect(client.sign(PAYMENT)).rejects.toMatchObject({ name: 'DeviceError', code: 'PIN_FAILED', wireCode: 16, triesLeft: 2 });
  await expect(client.confirm(PAYMENT)).rejects.toMatchObject({ code: 'SCHEMA', path: 'statement.1' });
  // a statement that breaks its schema is refused before it is sent, naming the field
  expect(() => encodeStatement({ kind: 9, title: 'x' })).toThrow(expect.objectContaining({ code: 'SCHEMA', path: 'statement.1' }));
  close();
});

test('progress from STATUS, and waiting for the user is not "not answering": USER_TIMEOUT comes from the device', async () => {
  const { client, dev, close } = await setup();
  const progress: Progress[] = [];
  const waiting: Progress[] = [];
  client.on('waiting-for-user', (p: Progress) => waiting.push(p));
  dev.onRequest = (m) => {
    dev.status(m.id, { state: 1, card: true, step: 1, steps: 3, label: 'Check offer' });
    dev.status(m.id, { state: 2, card: true, step: 2, steps: 3, label: 'Confirm' });
    // the user does not decide: the device gives up after its own timeout (here 300 ms)
    setTimeout(() => dev.error(m.id, ErrorCode.USER_TIMEOUT, 'no decision'), 300);
  };
  // the host would give up after 100 ms of silence, but the device said it waits for the user
  const e = await client.sign(PAYMENT, { timeout: 10, timeoutMs: 100, onProgress: (p) => progress.push(p) }).catch((x) => x);
  expect(e).toMatchObject({ code: 'USER_TIMEOUT' });
  expect(progress).toEqual([
    { requestId: expect.any(Number), state: 'BUSY', card: true, step: 1, steps: 3, label: 'Check offer', waitingForUser: false },
    { requestId: expect.any(Number), state: 'AWAITING_USER', card: true, step: 2, steps: 3, label: 'Confirm', waitingForUser: true },
  ]);
  expect(waiting).toHaveLength(1);
  // a device that says nothing at all is not answering
  dev.onRequest = () => {};
  await expect(client.sign(PAYMENT, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'DEVICE_TIMEOUT', message: expect.stringContaining('not answering') });
  close();
});

test('abort: ABORTED for the caller, CANCEL for the device; one operation at a time', async () => {
  const { client, dev, link, close } = await setup();
  dev.onRequest = (m) => {
    if (m.type === MsgType.CANCEL) dev.reply(m, { cancelled: true });
    if (m.type === MsgType.PING) dev.reply(m, { data: m.body.data as Uint8Array });
  };
  const ac = new AbortController();
  const p = client.purseDebit(PAYMENT, { signal: ac.signal });
  await until(() => dev.requests.some((m) => m.type === MsgType.PURSE_DEBIT), 'the debit');
  // the device is busy with the debit: a second operation queues, or fails at once if asked
  await expect(client.purseBalance({ ifBusy: 'fail' })).rejects.toMatchObject({ code: 'HOST_BUSY' });
  await expect(client.ping(bytes(1, 1))).resolves.toMatchObject({ data: bytes(1, 1) });
  expect(link.busy).toMatchObject({ type: MsgType.PURSE_DEBIT });
  ac.abort();
  await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
  await until(() => dev.requests.some((m) => m.type === MsgType.CANCEL), 'the CANCEL');
  expect(dev.requests.find((m) => m.type === MsgType.CANCEL)!.body).toEqual({ target: dev.requests.find((m) => m.type === MsgType.PURSE_DEBIT)!.id });
  close();
});

test('a request type the firmware does not list in HELLO fails locally with UNSUPPORTED', async () => {
  const { client, dev, close } = await setup([1, 2, 11]);
  const before = dev.requests.length;
  await expect(client.sign(PAYMENT)).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringContaining('does not implement SIGN (it offers HELLO, PING, CANCEL)') });
  await new Promise((r) => setTimeout(r, 30));
  expect(dev.requests.length).toBe(before);
  close();
});
