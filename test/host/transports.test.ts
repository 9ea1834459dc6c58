// Transports to the real firmware: a serial port through `serialport` on a real pty pair
// made by socat (not serialport's mock), TCP to the emulator's server, and a spawned
// emulator's stdin/stdout; `--device` specs; discovery by USB id and by HELLO probing.

import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MsgType } from '../../protocol/src/messages';
import { DeviceClient } from '../../host/src/device/client';
import { DeviceConnection, StateChange } from '../../host/src/device/connection';
import { findDevices, isBoardPort, resolveDevice } from '../../host/src/device/discovery';
import { parseDeviceSpec, SerialTransport, SpawnTransport, TcpTransport, Transport } from '../../host/src/device/transports';
import { newDevice, ROOT, serveTcp } from './emulator-rig';
import { until } from './scripted-device';

const HAVE_SOCAT = !spawnSync('socat', ['-V']).error;

/** Two linked ptys made by socat: what one end writes the other reads, like a null-modem cable. */
async function ptyPair(a: string, b: string): Promise<ChildProcess> {
  const p = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
  await until(() => existsSync(a) && existsSync(b), 'socat to make the ptys', 5000);
  return p;
}

/** Closes a transport and waits until it has (a serial port left open on a vanished pty can poll its read end for ever). */
async function shut(t: { state: string; close(): void; once(e: 'close', f: () => void): unknown }): Promise<void> {
  if (t.state === 'closed') return;
  const closed = new Promise<void>((r) => t.once('close', () => r()));
  t.close();
  await closed;
}

/** The emulated device with its USB line on one end of a serial line (re-attachable after a replug). */
function deviceOnSerial(path: string): { attach: () => Promise<void>; close: () => Promise<void> } {
  const device = newDevice();
  let port: SerialTransport | null = null;
  device.usb.onData((b) => port?.write(b));
  device.powerOn();
  return {
    attach: async () => {
      // the port of the pty before the replug is closed first: its pty is gone
      if (port) await shut(port);
      port = new SerialTransport(path);
      port.onData((b) => device.usb.write(b));
      await port.open();
    },
    close: async () => {
      if (port) await shut(port);
      device.powerOff();
    },
  };
}

(HAVE_SOCAT ? test : test.skip)('serial: the firmware through a real pty pair and serialport; unplug fails the request with LINK_LOST; replug reconnects', async () => {
  const dir = tmpdir();
  const hostPath = join(dir, `semper-host-${process.pid}`);
  const devPath = join(dir, `semper-dev-${process.pid}`);
  let socat = await ptyPair(hostPath, devPath);
  const dev = deviceOnSerial(devPath);
  await dev.attach();
  const conn = new DeviceConnection(new SerialTransport(hostPath), { backoff: { initialMs: 50, maxMs: 200 } });
  const states: StateChange[] = [];
  conn.on('state', (s: StateChange) => states.push(s));
  await expect(conn.open()).resolves.toMatchObject({ version: 1, board: 'PICO_R1_3', capabilities: expect.arrayContaining([1, 2, 11]) });
  const client = new DeviceClient(conn, { hello: conn.hello });
  const data = Uint8Array.from({ length: 600 }, (_, i) => i & 0xff);
  await expect(client.ping(data)).resolves.toMatchObject({ data });

  // unplug: the cable (socat) goes away with a request on the line
  const p = conn.request(MsgType.PING, { data: new Uint8Array(8) }, { timeoutMs: 5000 });
  socat.kill('SIGKILL');
  await expect(p).rejects.toMatchObject({ code: 'LINK_LOST', message: expect.stringContaining('outcome is unknown') });
  await until(() => conn.state !== 'connected', 'the connection to notice');
  await expect(conn.request(MsgType.PING, { data: new Uint8Array(1) })).rejects.toMatchObject({ code: 'NOT_CONNECTED' });

  // replug: the ports come back, the device end reopens its side, the host finds it again
  socat = await ptyPair(hostPath, devPath);
  await dev.attach();
  await conn.whenConnected(10000);
  await expect(client.ping(new Uint8Array([4, 2]))).resolves.toMatchObject({ data: new Uint8Array([4, 2]) });
  const names = states.map((s) => s.state);
  expect(names.slice(0, 3)).toEqual(['connecting', 'connected', 'disconnected']);
  expect(names).toContain('reconnecting');
  expect(names[names.length - 1]).toBe('connected');
  conn.close();
  await dev.close();
  socat.kill();
}, 20000);

test('tcp: the emulator over TCP; state events; a clear error when nothing listens', async () => {
  const server = await serveTcp();
  const t = new TcpTransport('127.0.0.1', server.port);
  const states: string[] = [];
  t.on('state', (s: string) => states.push(s));
  const conn = new DeviceConnection(t, { reconnect: false });
  await expect(conn.open()).resolves.toMatchObject({ firmware: expect.any(String), maxMessage: 2048 });
  await expect(conn.request(MsgType.PING, { data: new Uint8Array([1, 2, 3]) })).resolves.toEqual({ data: new Uint8Array([1, 2, 3]) });
  conn.close();
  expect(states).toEqual(['opening', 'open', 'closed']);
  await server.stop();
  await expect(new TcpTransport('127.0.0.1', server.port).open()).rejects.toThrow(/nothing listens there — is the emulator running/);
});

test('spawn: the emulator as a child process, the line on its stdin/stdout', async () => {
  const t = new SpawnTransport(`"${process.execPath}" ${join('dist', 'board', 'emulator', 'cli.js')} --stdio --no-web`, { cwd: ROOT });
  const conn = new DeviceConnection(t, { reconnect: false, handshakeTimeoutMs: 10000 });
  await expect(conn.open()).resolves.toMatchObject({ version: 1 });
  await expect(conn.request(MsgType.PING, { data: new Uint8Array([5]) })).resolves.toEqual({ data: new Uint8Array([5]) });
  const closed = new Promise((r) => t.once('close', r));
  conn.close();
  await closed;
  expect(t.state).toBe('closed');
}, 20000);

test('--device specs', () => {
  expect(parseDeviceSpec('serial:/dev/ttyACM0')).toEqual({ kind: 'serial', path: '/dev/ttyACM0' });
  expect(parseDeviceSpec('/dev/ttyACM1')).toEqual({ kind: 'serial', path: '/dev/ttyACM1' });
  expect(parseDeviceSpec('COM3')).toEqual({ kind: 'serial', path: 'COM3' });
  expect(parseDeviceSpec('tcp://127.0.0.1:37137')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 37137 });
  expect(parseDeviceSpec('tcp://localhost')).toEqual({ kind: 'tcp', host: 'localhost', port: 37137 });
  expect(parseDeviceSpec('tcp://[::1]:4000')).toEqual({ kind: 'tcp', host: '::1', port: 4000 });
  expect(parseDeviceSpec('spawn:npm run --silent emulator -- --stdio')).toEqual({ kind: 'spawn', command: 'npm run --silent emulator -- --stdio' });
  expect(parseDeviceSpec('auto')).toEqual({ kind: 'auto' });
  expect(() => parseDeviceSpec('tcp://host:99999')).toThrow(/bad tcp port/);
  expect(() => parseDeviceSpec('usb:1')).toThrow(/unknown device "usb:1": use serial:/);
});

const PORTS = [
  { path: '/dev/ttyS0' },
  { path: '/dev/ttyACM0', vendorId: '0483', productId: '5740', manufacturer: 'STMicroelectronics' },
  { path: '/dev/ttyUSB0', vendorId: '10c4', productId: 'ea60' },
];

test('discovery: the USB id picks the board; probing asks HELLO and closes the port again', async () => {
  expect(PORTS.map(isBoardPort)).toEqual([false, true, false]);
  await expect(findDevices({ list: async () => PORTS })).resolves.toEqual([expect.objectContaining({ path: '/dev/ttyACM0', spec: 'serial:/dev/ttyACM0', usbMatch: true })]);

  // probing: the board's port answers (the emulator behind it), the other USB port does not
  const server = await serveTcp();
  const opened: Transport[] = [];
  const open = (path: string): Transport => {
    const t = path === '/dev/ttyACM0' ? new TcpTransport('127.0.0.1', server.port) : new TcpTransport('127.0.0.1', 1);
    opened.push(t);
    return t;
  };
  const found = await findDevices({ list: async () => PORTS, probeAll: true, open, probeTimeoutMs: 1000 });
  expect(found).toEqual([expect.objectContaining({ path: '/dev/ttyACM0', probe: { ok: true, hello: expect.objectContaining({ version: 1 }) } })]);
  expect(opened).toHaveLength(2); // ttyS0 has no USB id: never written to
  expect(opened.map((t) => t.state)).toEqual(['closed', 'closed']);
  await server.stop();
});

test('resolveDevice: auto finds the one board, explains none or several; SEMPER_DEVICE overrides', async () => {
  await expect(resolveDevice('auto', { list: async () => PORTS, env: {} })).resolves.toMatchObject({ spec: 'serial:/dev/ttyACM0' });
  await expect(resolveDevice(undefined, { list: async () => [PORTS[0]], env: {} })).rejects.toThrow(/no SEMPER device found: no serial port with USB id 0483:5740 \(serial ports seen: \/dev\/ttyS0\).*semper doctor/);
  const two = [PORTS[1], { ...PORTS[1], path: '/dev/ttyACM1' }];
  await expect(resolveDevice('auto', { list: async () => two, env: {} })).rejects.toThrow(/several SEMPER devices found \(\/dev\/ttyACM0, \/dev\/ttyACM1\)/);
  await expect(resolveDevice(undefined, { list: async () => [], env: { SEMPER_DEVICE: 'tcp://127.0.0.1:4000' } })).resolves.toMatchObject({ spec: 'tcp://127.0.0.1:4000' });
});
