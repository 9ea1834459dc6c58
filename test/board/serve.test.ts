// The emulated device's USB link as a host reaches it: TCP, a socat pty opened through
// serialport (like /dev/ttyACM0), stdio; one host at a time; pacing keeps order.

import net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { SerialPort } from 'serialport';
import { EmulatedDevice } from '../../board/emulator/device';
import { EmulatorServer } from '../../board/emulator/serve';
import { DeviceLink } from '../../host/src/link/device-link';
import { MsgType } from '../../protocol/src/messages';
import { Line } from '../../shared/src/line';

const ROOT = join(__dirname, '..', '..');

function socketLine(sock: net.Socket): Line {
  return {
    write: (b) => void sock.write(b),
    onData: (cb) => sock.on('data', (d: Buffer) => cb(new Uint8Array(d))),
    close: () => sock.destroy(),
  };
}

function connectTcp(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

async function serve(opts: ConstructorParameters<typeof EmulatorServer>[1]): Promise<EmulatorServer> {
  const device = new EmulatedDevice({ root: ROOT, onConsole: () => {} });
  const server = new EmulatorServer(device, opts);
  await server.start();
  device.powerOn();
  return server;
}

test('TCP: a host connects on 127.0.0.1, shakes hands and gets HELLO; a second host is turned away', async () => {
  const log: string[] = [];
  const server = await serve({ tcpPort: 0, log: (s) => log.push(s) });
  const sock = await connectTcp(server.port);
  const host = new DeviceLink(socketLine(sock));
  const hello = await host.connect({ timeoutMs: 5000 });
  expect(hello).toMatchObject({ version: 1, board: 'PICO_R1_3', capabilities: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] });
  const second = await connectTcp(server.port);
  await new Promise<void>((r) => second.on('close', () => r()));
  expect(log.join('\n')).toMatch(/refused a second host connection .* the device is in use/);
  // the first host is unaffected
  await expect(host.request(MsgType.PING, { data: new Uint8Array([1, 2, 3]) })).resolves.toEqual({ data: new Uint8Array([1, 2, 3]) });
  host.close();
  await server.stop();
});

test('pty: socat makes a serial device that serialport opens like a USB CDC port', async () => {
  const path = join(tmpdir(), `semper-test-${process.pid}`);
  const server = await serve({ tcpPort: 0, ptyPath: path });
  const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
  const line: Line = {
    write: (b) => void port.write(Buffer.from(b)),
    onData: (cb) => port.on('data', (d: Buffer) => cb(new Uint8Array(d))),
    close: () => port.close(),
  };
  const host = new DeviceLink(line);
  await expect(host.connect({ timeoutMs: 10000 })).resolves.toMatchObject({ firmware: expect.any(String), maxMessage: 2048 });
  await expect(host.request(MsgType.PING, { data: new Uint8Array(300).fill(7) })).resolves.toEqual({ data: new Uint8Array(300).fill(7) });
  // the port is closed before socat goes: a serialport left open on a vanished pty polls its read end for ever
  const closed = new Promise<void>((r) => port.once('close', () => r()));
  host.close();
  await closed;
  await server.stop();
}, 30000);

test('paced line: 115,200 baud keeps every byte and its order', async () => {
  const server = await serve({ tcpPort: 0, baud: 115200 });
  const sock = await connectTcp(server.port);
  const host = new DeviceLink(socketLine(sock));
  await host.connect({ timeoutMs: 10000 });
  const data = Uint8Array.from({ length: 1024 }, (_, i) => (i * 31) & 0xff);
  await expect(host.request(MsgType.PING, { data })).resolves.toEqual({ data });
  host.close();
  await server.stop();
}, 30000);

test('npm run emulator --stdio: the line is stdin/stdout, the words go to stderr', async () => {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'board', 'emulator', 'cli.js'), '--stdio', '--no-web'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const line: Line = {
    write: (b) => void child.stdin.write(b),
    onData: (cb) => child.stdout.on('data', (d: Buffer) => cb(new Uint8Array(d))),
    close: () => child.stdin.end(),
  };
  const host = new DeviceLink(line);
  await expect(host.connect({ timeoutMs: 10000 })).resolves.toMatchObject({ version: 1 });
  host.close();
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  expect(code).toBe(0);
  expect(err).toContain("host link: this process's stdin/stdout");
  expect(err).toContain('powering off');
}, 30000);

test('--help and bad options', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'dist', 'board', 'emulator', 'cli.js'), ...args], { encoding: 'utf8' });
  expect(run(['--help']).stdout).toContain('usage: npm run emulator');
  const bad = run(['--tcp', 'x']);
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain('--tcp needs a whole number');
});
