// npm run emulator — the emulated device with its USB link on TCP, a pty or stdio.

import { EmulatedDevice } from './device';
import { EmulatorServer } from './serve';
import { readFileSync } from 'node:fs';

const HELP = `semper emulator — the device firmware running in the Espruino board emulator

usage: npm run emulator [-- options]

options:
  --tcp PORT       serve the USB link on tcp://127.0.0.1:PORT (default 37137; 0 = any free port)
  --pty PATH       also make a serial device at PATH with socat (e.g. /tmp/semper-device),
                   which a host opens like /dev/ttyACM0; it then holds the one host slot
  --stdio          use this process's stdin/stdout as the USB line instead of TCP
  --baud N         pace the line to N bit/s, like a real UART (e.g. 115200); default: unpaced
  --firmware FILE  run this bundle instead of dist/device/firmware.js
  --help           this text

Ctrl-C powers the device off and stops.`;

interface Args {
  tcp: number | null;
  pty: string | null;
  stdio: boolean;
  baud: number;
  firmware: string | null;
}

function fail(msg: string): never {
  process.stderr.write(`emulator: ${msg}\n`);
  process.exit(2);
}

function parse(argv: string[]): Args {
  const a: Args = { tcp: 37137, pty: null, stdio: false, baud: 0, firmware: null };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) fail(`${k} needs a value (see --help)`);
      return v;
    };
    const int = (): number => {
      const v = Number(val());
      if (!Number.isInteger(v) || v < 0) fail(`${k} needs a whole number`);
      return v;
    };
    if (k === '--help' || k === '-h') {
      process.stdout.write(HELP + '\n');
      process.exit(0);
    } else if (k === '--tcp') a.tcp = int();
    else if (k === '--pty') a.pty = val();
    else if (k === '--stdio') a.stdio = true;
    else if (k === '--baud') a.baud = int();
    else if (k === '--firmware') a.firmware = val();
    else fail(`unknown option ${k} (see --help)`);
  }
  if (a.stdio && a.pty) fail('--stdio and --pty exclude each other');
  return a;
}

async function main(): Promise<void> {
  const a = parse(process.argv.slice(2));
  // with --stdio, stdout is the line: everything a person reads goes to stderr
  const say = (s: string): void => void process.stderr.write(s + '\n');
  let firmware: string | undefined;
  if (a.firmware) {
    try {
      firmware = readFileSync(a.firmware, 'utf8');
    } catch {
      fail(`cannot read ${a.firmware}`);
    }
  }
  const device = new EmulatedDevice({ firmware, onConsole: () => {}, onUncaught: (e) => say(`firmware: uncaught ${String(e)}`) });
  const server = new EmulatorServer(device, { tcpPort: a.stdio ? null : a.tcp, ptyPath: a.pty, baud: a.baud, log: (s) => say(`emulator: ${s}`) });
  try {
    await server.start();
  } catch (e) {
    fail((e as Error).message);
  }
  device.powerOn();
  if (a.stdio) {
    server.attach({
      write: (b) => void process.stdout.write(b),
      onData: (cb) => process.stdin.on('data', (d: Buffer) => cb(new Uint8Array(d))),
      close: () => {},
    });
    process.stdin.on('end', () => void shutdown());
  }
  say('SEMPER device emulator: firmware running (board PICO_R1_3)');
  if (!a.stdio) say(`  host link: tcp://127.0.0.1:${server.port}`);
  if (a.pty) say(`  serial device: ${a.pty}   (e.g. the host agent's --port ${a.pty})`);
  if (a.stdio) say('  host link: this process\'s stdin/stdout');
  if (a.baud) say(`  line paced to ${a.baud} bit/s`);
  say('Ctrl-C to power off.');
  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    say('emulator: powering off');
    await server.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
}

void main();
