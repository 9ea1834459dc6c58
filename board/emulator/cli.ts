// npm run emulator — the emulated device with its USB link on TCP, a pty or stdio.

import { RunningEmulator, startEmulator } from './run';
import { EmulatedCard } from '../card/card';
import { personalise } from '../card/personalise';
import { readFileSync } from 'node:fs';
import { PRESS_MS, terminalActions } from './terminal-keys';

const HELP = `semper emulator — the device firmware running in the Espruino board emulator

usage: npm run emulator [-- options]

options:
  --tcp PORT       serve the USB link on tcp://127.0.0.1:PORT (default 37137; 0 = any free port)
  --pty PATH       also make a serial device at PATH with socat (e.g. /tmp/semper-device),
                   which a host opens like /dev/ttyACM0; it then holds the one host slot
  --stdio          use this process's stdin/stdout as the USB line instead of TCP
  --baud N         pace the line to N bit/s, like a real UART (e.g. 115200); default: unpaced
  --firmware FILE  run this bundle instead of dist/device/firmware.js
  --flash FILE     keep the device's Storage in FILE across runs (default: fresh each run)
  --view           draw the 128×64 display in this terminal (braille) whenever it changes, and
                   take keys from it: 0-9, Enter = OK, Esc = CANCEL, Backspace = CLEAR,
                   M = MENU, arrows = UP/DOWN, C = insert/remove the card, Q = quit
  --web PORT       the device in a web page on http://127.0.0.1:PORT (default 37138; --no-web: none):
                   live display, keypad (mouse and keyboard), card slot, link LED, power
  --card FILE      the card the slot's Insert button uses (npm run card -- new …); default: a
                   demo card for "Erika Mustermann", PIN 1234, 50.00 EUR, made with a TEST CA
  --help           this text

Ctrl-C powers the device off and stops.`;

interface Args {
  tcp: number | null;
  pty: string | null;
  stdio: boolean;
  baud: number;
  firmware: string | null;
  flash: string | null;
  view: boolean;
  web: number | null;
  card: string | null;
}

function fail(msg: string): never {
  process.stderr.write(`emulator: ${msg}\n`);
  process.exit(2);
}

function parse(argv: string[]): Args {
  const a: Args = { tcp: 37137, pty: null, stdio: false, baud: 0, firmware: null, flash: null, view: false, web: 37138, card: null };
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
    else if (k === '--flash') a.flash = val();
    else if (k === '--view') a.view = true;
    else if (k === '--web') a.web = int();
    else if (k === '--no-web') a.web = null;
    else if (k === '--card') a.card = val();
    else fail(`unknown option ${k} (see --help)`);
  }
  if (a.stdio && a.pty) fail('--stdio and --pty exclude each other');
  if (a.stdio && a.view) fail('--view draws on the terminal, which --stdio uses for the line');
  return a;
}

/** Runs the emulator with these options (`semper emulator …` calls it; so does `npm run emulator`). */
export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const a = parse(argv);
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
  // the flash outlives power cycles: one VirtualFlash, saved to --flash when given
  const makeCard = (): EmulatedCard =>
    a.card ? EmulatedCard.fromFile(a.card) : new EmulatedCard(personalise({ holder: 'Erika Mustermann', pin: '1234', puk: '12345678', balance: 5000 }).nv);
  let emulator: RunningEmulator;
  try {
    emulator = await startEmulator({ firmware, flashFile: a.flash ?? undefined, tcpPort: a.stdio ? null : a.tcp, ptyPath: a.pty, baud: a.baud, webPort: a.web, makeCard, log: say });
  } catch (e) {
    fail(/EADDRINUSE|listen/.test((e as Error).message) && a.web !== null ? `${(e as Error).message} (choose another --tcp or --web PORT, or --no-web)` : (e as Error).message);
  }
  const { server, web } = emulator;
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
  if (web) say(`  device in the browser: ${web.url}`);
  say('Ctrl-C to power off.');
  if (a.view) {
    // redraw in place when the panel changes (polled: the controller has no change events)
    let last = '';
    const draw = (): void => {
      const text = emulator.device().screenBraille();
      if (text === last) return;
      const up = last ? `\x1b[${last.split('\n').length}A` : '';
      last = text;
      process.stdout.write(up + text + '\n');
    };
    draw();
    setInterval(draw, 100).unref();
    if (process.stdin.isTTY) {
      process.stdin.setRawMode(true);
      process.stdin.setEncoding('latin1');
      process.stdin.on('data', (chunk: string) => {
        for (const act of terminalActions(chunk)) {
          if ('quit' in act) void shutdown();
          else if ('card' in act) {
            const d = emulator.device();
            if (d.card) d.removeCard();
            else d.insertCard(makeCard());
          } else {
            const d = emulator.device();
            d.keypad.press(act.key);
            setTimeout(() => d.keypad.release(act.key), PRESS_MS);
          }
        }
      });
    }
  }
  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    say('emulator: powering off');
    await emulator.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
}

if (require.main === module) void main();
