// The reconnecting connection against the real firmware over TCP: the emulator's server
// stopped (unplug) fails what was in flight with LINK_LOST and the connection comes back
// when it is restarted; a device reboot on an open line resets the link and HELLO is asked
// again; nothing is ever sent twice on the caller's behalf.

import { MsgType } from '../../protocol/src/messages';
import { linePair } from '../../shared/src/line';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backoffDelay, DeviceConnection, StateChange } from '../../host/src/device/connection';
import { openDevice } from '../../host/src/device';
import { TcpTransport, Transport } from '../../host/src/device/transports';
import { newDevice, serveTcp } from './emulator-rig';
import { HELLO_OK, ScriptedDevice, until } from './scripted-device';

test('emulator stopped and restarted: LINK_LOST for the request in flight, then reconnected with backoff', async () => {
  let server = await serveTcp();
  const port = server.port;
  const conn = new DeviceConnection(new TcpTransport('127.0.0.1', port), { backoff: { initialMs: 40, maxMs: 160 } });
  const states: StateChange[] = [];
  conn.on('state', (s: StateChange) => states.push(s));
  const hellos: unknown[] = [];
  conn.on('hello', (h) => hellos.push(h));
  await conn.open();

  const inFlight = conn.request(MsgType.PING, { data: new Uint8Array([1]) });
  void server.stop(); // the cable is pulled before the device can answer
  await expect(inFlight).rejects.toMatchObject({ code: 'LINK_LOST' });
  await until(() => states.filter((s) => s.state === 'reconnecting').length >= 2, 'two failed attempts');
  expect(states.find((s) => s.state === 'disconnected' && s.reason?.includes('nothing listens'))).toBeDefined();

  server = await serveTcp(port);
  await conn.whenConnected(5000);
  await expect(conn.request(MsgType.PING, { data: new Uint8Array([2]) })).resolves.toEqual({ data: new Uint8Array([2]) });
  expect(hellos).toHaveLength(2);
  const attempts = states.filter((s) => s.state === 'reconnecting').map((s) => s.attempt);
  expect(attempts.slice(0, 3)).toEqual([1, 2, 3]);
  expect(states[states.length - 1]).toEqual({ state: 'connected' });

  conn.close();
  expect(conn.state).toBe('closed');
  await expect(conn.request(MsgType.PING, { data: new Uint8Array(0) })).rejects.toMatchObject({ code: 'CLOSED' });
  await server.stop();
}, 15000);

test('device reboot on an open line: reset reported, HELLO asked again, connected', async () => {
  const server = await serveTcp();
  const conn = new DeviceConnection(new TcpTransport('127.0.0.1', server.port));
  const events: string[] = [];
  conn.on('state', (s: StateChange) => events.push(s.state));
  conn.on('reset', (r: string) => events.push(`reset:${r}`));
  conn.on('hello', () => events.push('hello'));
  await conn.open();
  const old = server.device;
  server.setDevice(newDevice().powerOn()); // power cycle: the firmware boots and sends SYNC
  old.powerOff();
  await until(() => events.filter((e) => e === 'hello').length === 2, 'the second HELLO');
  expect(events).toEqual(['connecting', 'connected', 'hello', 'reset:peer', 'reconnecting', 'connected', 'hello']);
  await expect(conn.request(MsgType.PING, { data: new Uint8Array([3]) })).resolves.toEqual({ data: new Uint8Array([3]) });
  conn.close();
  await server.stop();
});

/** A Transport over an in-memory line, for a scripted device end. */
class MemoryTransport extends Transport {
  readonly spec = 'memory:';
  constructor(private readonly line: ReturnType<typeof linePair>[0]) {
    super();
    line.onData((b) => this.deliver(b));
  }
  protected async doOpen(): Promise<void> {}
  protected doWrite(b: Uint8Array): void {
    this.line.write(b);
  }
  protected doClose(): void {}
}

test('a device restart fails the operation in flight with LINK_RESET and never repeats it', async () => {
  const [a, b] = linePair();
  const dev = new ScriptedDevice(b);
  dev.onRequest = (m) => m.type === MsgType.HELLO && dev.reply(m, HELLO_OK);
  const conn = new DeviceConnection(new MemoryTransport(a), { link: { rto: 30 } });
  await conn.open();
  dev.onRequest = (m) => m.type === MsgType.HELLO && dev.reply(m, HELLO_OK); // the debit is never answered
  const debit = conn.request(MsgType.PURSE_DEBIT, { statement: new Uint8Array([0xa0]) });
  await until(() => dev.requests.some((m) => m.type === MsgType.PURSE_DEBIT), 'the debit');
  dev.link.sync(); // the device reboots
  await expect(debit).rejects.toMatchObject({ code: 'LINK_RESET' });
  await conn.whenConnected(2000);
  await new Promise((r) => setTimeout(r, 100));
  expect(dev.requests.filter((m) => m.type === MsgType.PURSE_DEBIT)).toHaveLength(1);
  conn.close();
  dev.link.close();
});

test('backoff doubles up to its ceiling', () => {
  expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n))).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
  expect([1, 2, 3].map((n) => backoffDelay(n, { initialMs: 10, factor: 3, maxMs: 50 }))).toEqual([10, 30, 50]);
});

test('openDevice: resolve, take the session, connect; a second application is told who holds the device', async () => {
  const server = await serveTcp();
  const home = mkdtempSync(join(tmpdir(), 'semper-open-'));
  const device = `tcp://127.0.0.1:${server.port}`;
  const first = await openDevice({ device, app: 'semper-agent', lockOptions: { home } });
  expect(first.connection.state).toBe('connected');
  await expect(first.client.ping(new Uint8Array([1]))).resolves.toMatchObject({ data: new Uint8Array([1]) });
  await expect(openDevice({ device, app: 'other-app', lockOptions: { home } })).rejects.toMatchObject({ code: 'DEVICE_IN_USE', message: expect.stringContaining('in use by semper-agent') });
  first.close();
  // the emulator, like a serial port, takes the next host once it has seen the first one go
  await until(() => (server as unknown as { client: unknown }).client === null, 'the emulator to see the first host go');
  const second = await openDevice({ device, app: 'other-app', lockOptions: { home } });
  expect(second.session?.holder.app).toBe('other-app');
  second.close();
  await server.stop();
  rmSync(home, { recursive: true, force: true });
});
