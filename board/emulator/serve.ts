// The emulated device's USB link, offered to the host the ways a real one can be reached:
// a TCP socket on 127.0.0.1 (EspruinoTools' `-p tcp://host:port` style), a pseudo-terminal
// made with socat (so the host opens it through `serialport` like a USB CDC device), and
// stdio. One host at a time, like a real serial port; optional pacing to the line rate.

import net from 'node:net';
import { spawn, ChildProcess, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Line, pacedLine } from '../../shared/src/line';
import { EmulatedDevice } from './device';

export interface ServeOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one; null: no TCP. */
  tcpPort?: number | null;
  /** Path for a socat-made serial device (e.g. /tmp/semper-device); requires TCP. */
  ptyPath?: string | null;
  /** Pace both directions to this line rate (bit/s), e.g. 115200; 0 or absent: no pacing. */
  baud?: number;
  /** Progress and connection messages (default: nothing). */
  log?: (line: string) => void;
}

/** A socket as a Line. */
function socketLine(sock: net.Socket): Line {
  return {
    write: (b) => {
      if (!sock.destroyed) sock.write(b);
    },
    onData: (cb) => sock.on('data', (d: Buffer) => cb(new Uint8Array(d.buffer, d.byteOffset, d.byteLength))),
    close: () => sock.destroy(),
  };
}

export class EmulatorServer {
  private server: net.Server | null = null;
  private client: net.Socket | null = null;
  private socat: ChildProcess | null = null;
  private stopping = false;
  /** The TCP port actually listened on (after start). */
  port = 0;
  private readonly log: (line: string) => void;
  private usb: Line;
  private toHost: Line | null = null;

  constructor(
    public device: EmulatedDevice,
    private readonly opts: ServeOptions = {},
  ) {
    this.log = opts.log ?? (() => {});
    this.usb = opts.baud ? pacedLine(device.usb, opts.baud) : device.usb;
  }

  /** A new device on the same port (power cycled): the connected host stays connected, as on USB it would re-enumerate. */
  setDevice(device: EmulatedDevice): void {
    this.device.usb.onData(() => {});
    this.device = device;
    this.usb = this.opts.baud ? pacedLine(device.usb, this.opts.baud) : device.usb;
    const toHost = this.toHost;
    if (toHost) this.usb.onData((b) => toHost.write(b));
  }

  /** Starts listening (and socat, if a pty is asked for). Resolves once the host can connect. */
  async start(): Promise<void> {
    if (this.opts.tcpPort !== null) await this.listen(this.opts.tcpPort ?? 0);
    if (this.opts.ptyPath) {
      if (this.opts.tcpPort === null) throw new Error('a pty is made by socat on top of the TCP port: do not disable TCP');
      await this.startSocat(this.opts.ptyPath);
    }
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((sock) => this.accept(sock));
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new Error(e.code === 'EADDRINUSE' ? `port ${port} on 127.0.0.1 is in use: choose another with --tcp PORT (0 picks a free one)` : e.message)),
      );
      server.listen(port, '127.0.0.1', () => {
        this.server = server;
        this.port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  /** Whether a host holds the link over TCP now (one at a time). */
  get hostConnected(): boolean {
    return this.client !== null;
  }

  private accept(sock: net.Socket): void {
    sock.setNoDelay(true);
    if (this.client) {
      // one host at a time, as a serial port allows; the newcomer learns why at once
      this.log(`refused a second host connection from ${sock.remoteAddress}:${sock.remotePort}: the device is in use`);
      sock.destroy();
      return;
    }
    this.client = sock;
    this.log(`host connected (${sock.remoteAddress}:${sock.remotePort})`);
    this.attach(socketLine(sock));
    sock.on('close', () => {
      if (this.client === sock) this.client = null;
      this.device.usb.onData(() => {});
      if (!this.stopping) this.log('host disconnected');
    });
    sock.on('error', () => {});
  }

  /** Connects a host-side line to the device's USB port. */
  attach(host: Line): void {
    const toHost = this.opts.baud ? pacedLine(host, this.opts.baud) : host;
    this.toHost = toHost;
    this.usb.onData((b) => toHost.write(b));
    host.onData((b) => this.usb.write(b));
  }

  private async startSocat(path: string): Promise<void> {
    if (spawnSync('socat', ['-V']).error) throw new Error('socat is not installed: `apt-get install socat` (needed for --pty), or connect over TCP');
    const run = (): void => {
      const p = spawn('socat', [`pty,raw,echo=0,link=${path}`, `tcp:127.0.0.1:${this.port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
      this.socat = p;
      p.on('exit', () => {
        this.socat = null;
        // socat ends when the TCP side closes; bring the serial device back for the next host
        if (!this.stopping) setTimeout(run, 200);
      });
    };
    run();
    // socat creates the link once it has connected to us
    for (let i = 0; i < 100 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 20));
    if (!existsSync(path)) throw new Error(`socat did not create ${path}`);
  }

  /** Stops serving and powers the device off. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.socat) this.socat.kill();
    if (this.client) this.client.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.device.powerOff();
  }
}
