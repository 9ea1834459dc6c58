// Byte transports to a device: a serial port (the real board over USB CDC-ACM), TCP (the
// emulator's `tcp://127.0.0.1:37137`) and a spawned process's stdin/stdout (the emulator's
// `--stdio`). Each is a `Line` (shared/src/line.ts) that can be opened, closed and opened
// again, and reports its state: the link layer above never learns which one it runs on.

import { EventEmitter } from 'node:events';
import net from 'node:net';
import { spawn, ChildProcess } from 'node:child_process';
import { SerialPort } from 'serialport';
import { Line } from '../../../shared/src/line';

/** The reference board's USB identity (Espruino Pico, STM32 USB CDC-ACM), lower-case hex as serialport lists it. */
export const PICO_USB = { vendorId: '0483', productId: '5740' } as const;

/** Line settings of SPEC §2.1: 115200 bit/s, 8N1, no flow control. */
export const SERIAL_SETTINGS = { baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1, rtscts: false, xon: false, xoff: false } as const;

/** Where the emulator serves its USB link by default (board/emulator/cli.ts). */
export const EMULATOR_TCP = 'tcp://127.0.0.1:37137';

export type TransportState = 'closed' | 'opening' | 'open';

/** Why a transport closed without being asked to: the cable, the peer or the OS. */
export class TransportClosedError extends Error {
  constructor(
    message: string,
    /** True when the device went away (unplug, socket reset, process exit). */
    readonly disconnected: boolean,
  ) {
    super(message);
    this.name = 'TransportClosedError';
  }
}

/**
 * A Line that can be opened and closed. Events: `state` (TransportState), `close`
 * (TransportClosedError | undefined — undefined when close() was called), `error`-free:
 * failures to open reject open(), failures later end in `close`.
 */
export abstract class Transport extends EventEmitter implements Line {
  private receiver: (b: Uint8Array) => void = () => {};
  private current: TransportState = 'closed';

  /** A spec string that opens this transport again (`serial:/dev/ttyACM0`, `tcp://…`, `spawn:…`). */
  abstract readonly spec: string;

  get state(): TransportState {
    return this.current;
  }

  /** Opens the line; rejects with an Error that says what to check. */
  async open(): Promise<void> {
    if (this.current !== 'closed') throw new Error(`${this.spec} is already ${this.current}`);
    this.setState('opening');
    try {
      await this.doOpen();
    } catch (e) {
      this.setState('closed');
      throw e;
    }
    this.setState('open');
  }

  write(bytes: Uint8Array): void {
    if (this.current === 'open') this.doWrite(bytes);
  }

  onData(cb: (bytes: Uint8Array) => void): void {
    this.receiver = cb;
  }

  /** Closes the line (idempotent); `close` is emitted with no error. */
  close(): void {
    if (this.current === 'closed') return;
    this.doClose();
    this.closed(undefined);
  }

  protected deliver(b: Uint8Array): void {
    this.receiver(b);
  }

  /** Subclasses call this when the line ends on its own. */
  protected closed(err: TransportClosedError | undefined): void {
    if (this.current === 'closed') return;
    this.setState('closed');
    this.emit('close', err);
  }

  private setState(s: TransportState): void {
    this.current = s;
    this.emit('state', s);
  }

  protected abstract doOpen(): Promise<void>;
  protected abstract doWrite(bytes: Uint8Array): void;
  protected abstract doClose(): void;
}

const bytesOf = (d: Buffer): Uint8Array => new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

/** A serial port through `serialport` (115200 8N1), opened exclusively (TIOCEXCL/flock on Unix). */
export class SerialTransport extends Transport {
  private port: SerialPort | null = null;
  readonly spec: string;

  constructor(
    readonly path: string,
    private readonly baudRate: number = SERIAL_SETTINGS.baudRate,
  ) {
    super();
    this.spec = `serial:${path}`;
  }

  protected doOpen(): Promise<void> {
    const port = new SerialPort({ ...SERIAL_SETTINGS, path: this.path, baudRate: this.baudRate, autoOpen: false, lock: true });
    return new Promise((resolve, reject) =>
      port.open((e) => {
        if (e) return reject(new Error(serialOpenAdvice(this.path, e)));
        this.port = port;
        port.on('data', (d: Buffer) => this.deliver(bytesOf(d)));
        port.on('error', () => {});
        port.on('close', (err?: Error & { disconnected?: boolean }) => {
          if (this.port !== port) return;
          this.port = null;
          // serialport flags an unplug on the error, not in its text
          this.closed(new TransportClosedError(`${this.path} closed${err ? `: ${err.message}` : ''}`, err?.disconnected ?? true));
        });
        resolve();
      }),
    );
  }

  protected doWrite(bytes: Uint8Array): void {
    this.port?.write(Buffer.from(bytes));
  }

  protected doClose(): void {
    const port = this.port;
    this.port = null;
    if (port?.isOpen) port.close(() => {});
  }
}

/** What an open() failure on a serial port means, in words a user can act on. */
export function serialOpenAdvice(path: string, e: Error): string {
  const m = e.message;
  if (/EACCES|permission denied/i.test(m)) return `cannot open ${path}: permission denied — run \`semper doctor\` (on Linux: join the dialout group or install the udev rule)`;
  if (/EBUSY|lock|Resource temporarily unavailable/i.test(m)) return `cannot open ${path}: another program has it open (another SEMPER agent, a serial monitor, or ModemManager probing it) — run \`semper doctor\``;
  if (/ENOENT|No such file/i.test(m)) return `cannot open ${path}: no such port (unplugged?)`;
  return `cannot open ${path}: ${m}`;
}

/** A TCP connection, e.g. to the emulator (`tcp://127.0.0.1:37137`). */
export class TcpTransport extends Transport {
  private sock: net.Socket | null = null;
  readonly spec: string;

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly connectTimeoutMs = 3000,
  ) {
    super();
    this.spec = `tcp://${host}:${port}`;
  }

  protected doOpen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: this.host, port: this.port });
      const t = setTimeout(() => {
        sock.destroy();
        reject(new Error(`cannot connect to ${this.spec}: no answer within ${this.connectTimeoutMs} ms`));
      }, this.connectTimeoutMs);
      sock.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(t);
        reject(new Error(e.code === 'ECONNREFUSED' ? `cannot connect to ${this.spec}: nothing listens there — is the emulator running (npm run emulator)?` : `cannot connect to ${this.spec}: ${e.message}`));
      });
      sock.once('connect', () => {
        clearTimeout(t);
        sock.removeAllListeners('error');
        sock.setNoDelay(true);
        this.sock = sock;
        sock.on('data', (d: Buffer) => this.deliver(bytesOf(d)));
        sock.on('error', () => {});
        sock.on('close', () => {
          if (this.sock !== sock) return;
          this.sock = null;
          this.closed(new TransportClosedError(`${this.spec}: the connection was closed by the other end`, true));
        });
        resolve();
      });
    });
  }

  protected doWrite(bytes: Uint8Array): void {
    if (this.sock && !this.sock.destroyed) this.sock.write(bytes);
  }

  protected doClose(): void {
    const s = this.sock;
    this.sock = null;
    s?.destroy();
  }
}

/**
 * A command run through the shell whose stdin/stdout is the line, e.g.
 * `npm run --silent emulator -- --stdio --no-web`. Its stderr is kept (the last 4 kB) for
 * error messages. Closing ends stdin (the emulator then powers off) and kills the process
 * if it has not exited 2 s later.
 */
export class SpawnTransport extends Transport {
  private child: ChildProcess | null = null;
  private stderrTail = '';
  readonly spec: string;

  constructor(
    readonly command: string,
    private readonly opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
  ) {
    super();
    this.spec = `spawn:${command}`;
  }

  /** The end of what the process wrote to stderr. */
  get stderr(): string {
    return this.stderrTail;
  }

  protected doOpen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.command, { shell: true, cwd: this.opts.cwd, env: this.opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
      child.once('error', (e) => reject(new Error(`cannot run \`${this.command}\`: ${e.message}`)));
      child.once('spawn', () => {
        this.child = child;
        child.stdout!.on('data', (d: Buffer) => this.deliver(bytesOf(d)));
        child.stderr!.on('data', (d: Buffer) => (this.stderrTail = (this.stderrTail + d.toString()).slice(-4096)));
        child.stdin!.on('error', () => {});
        child.once('exit', (code, signal) => {
          if (this.child !== child) return;
          this.child = null;
          this.closed(new TransportClosedError(`\`${this.command}\` exited (${signal ?? `code ${code}`})${this.stderrTail ? `: ${lastLine(this.stderrTail)}` : ''}`, true));
        });
        resolve();
      });
    });
  }

  protected doWrite(bytes: Uint8Array): void {
    const stdin = this.child?.stdin;
    if (stdin && !stdin.destroyed) stdin.write(bytes);
  }

  protected doClose(): void {
    const child = this.child;
    this.child = null;
    if (!child) return;
    child.stdin?.end();
    const kill = setTimeout(() => child.kill('SIGTERM'), 2000);
    kill.unref();
    child.once('exit', () => clearTimeout(kill));
  }
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  return lines[lines.length - 1];
}

/** A parsed `--device` value. */
export type DeviceSpec = { kind: 'serial'; path: string } | { kind: 'tcp'; host: string; port: number } | { kind: 'spawn'; command: string } | { kind: 'auto' };

/**
 * Parses a `--device` value: `serial:/dev/ttyACM0` (or a bare path such as `/dev/ttyACM0`
 * or `COM3`), `tcp://127.0.0.1:37137` (`tcp://HOST` defaults to port 37137),
 * `spawn:<command>`, or `auto` (find the board by USB id, SEMPER_DEVICE if set).
 */
export function parseDeviceSpec(spec: string): DeviceSpec {
  const s = spec.trim();
  if (s === '' || s === 'auto') return { kind: 'auto' };
  if (s.startsWith('serial:')) {
    const path = s.slice('serial:'.length);
    if (!path) throw new Error('serial: needs a port, e.g. serial:/dev/ttyACM0');
    return { kind: 'serial', path };
  }
  if (s.startsWith('tcp://') || s.startsWith('tcp:')) {
    const rest = s.replace(/^tcp:(\/\/)?/, '');
    const m = /^(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(rest);
    if (!m) throw new Error(`bad tcp device "${spec}": use tcp://HOST:PORT, e.g. ${EMULATOR_TCP}`);
    const port = m[2] === undefined ? 37137 : Number(m[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`bad tcp port in "${spec}"`);
    return { kind: 'tcp', host: m[1].replace(/^\[|\]$/g, ''), port };
  }
  if (s.startsWith('spawn:')) {
    const command = s.slice('spawn:'.length).trim();
    if (!command) throw new Error('spawn: needs a command, e.g. spawn:npm run --silent emulator -- --stdio --no-web');
    return { kind: 'spawn', command };
  }
  if (s.startsWith('/') || /^COM\d+$/i.test(s)) return { kind: 'serial', path: s };
  throw new Error(`unknown device "${spec}": use serial:/dev/ttyACM0, ${EMULATOR_TCP}, spawn:<command> or auto`);
}

/** A transport for a concrete spec (not `auto`: see discovery.ts resolveDevice). */
export function transportFor(spec: DeviceSpec | string): Transport {
  const d = typeof spec === 'string' ? parseDeviceSpec(spec) : spec;
  switch (d.kind) {
    case 'serial':
      return new SerialTransport(d.path);
    case 'tcp':
      return new TcpTransport(d.host, d.port);
    case 'spawn':
      return new SpawnTransport(d.command);
    case 'auto':
      throw new Error('"auto" names no transport by itself: resolve it with resolveDevice() first');
  }
}
