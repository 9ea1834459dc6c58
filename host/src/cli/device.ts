// `semper device info|balance|log`: the device as the host sees it — what it is, the purse
// balance and the card's transaction log — through the same device layer applications use
// (discovery, the exclusive session, the typed client). Nothing here needs the user at the
// device: none of these requests asks for a confirmation or the PIN.

import { msgTypeName } from '../../../protocol/src/messages';
import { DeviceError } from '../link/device-link';
import { EMULATOR_TCP, LogEntry, Money, openDevice, OpenDevice } from '../device';
import { DeviceInUseError } from '../device/session-lock';
import { formatMinorUnits } from '../services/money';

export const HELP = `semper device — the device: what it is, the purse balance, the card's log

usage: semper device <info|balance|log> [options]

commands:
  info        firmware, board, serial, protocol version, what it can do, whether a card is in
  balance     the purse balance on the card
  log         the card's last purse operations, newest first (--max N, at most 20)

options:
  --device SPEC    serial:/dev/ttyACM0, ${EMULATOR_TCP} (the emulator), spawn:<command>,
                   or auto (default: $SEMPER_DEVICE, else the one board found)
  --max N          log entries to show (1-20, default 20)
  --json           machine-readable output
  --help           this text

Exit status: 0 done, 1 the device refused or failed (the reason is printed), 2 bad options,
3 no device reachable (run semper doctor).`;

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const money = (m: Money): string => `${formatMinorUnits(m.amount, m.currency) ?? `${m.amount} minor units of`} ${m.currency}`;
const date = (s: number): string => (s ? new Date(s * 1000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : 'time unknown');

function logLine(e: LogEntry): string {
  const sign = e.kind === 1 ? '-' : '+';
  return `#${String(e.counter).padStart(4)}  ${date(e.time).padEnd(23)}  ${(sign + money({ amount: e.amount, currency: e.currency })).padStart(16)}  ${e.kind === 1 ? 'to' : 'from'} ${e.party}`;
}

export async function run(argv: string[], io: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }): Promise<number> {
  const args = argv.slice();
  const sub = args[0] && !args[0].startsWith('-') ? (args.shift() as string) : '';
  let device: string | undefined;
  let max = 20;
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--help' || a === '-h') {
      io.out(HELP + '\n');
      return 0;
    } else if (a === '--device') device = args[++i];
    else if (a === '--max') max = Number(args[++i]);
    else if (a === '--json') json = true;
    else {
      io.err(`semper device: unknown option ${a} (see semper device --help)\n`);
      return 2;
    }
  }
  if (!['info', 'balance', 'log'].includes(sub)) {
    io.err(sub ? `semper device: unknown command ${sub}: use info, balance or log\n` : HELP + '\n');
    return 2;
  }
  if (sub === 'log' && !(Number.isInteger(max) && max >= 1 && max <= 20)) {
    io.err('semper device: --max needs a whole number from 1 to 20\n');
    return 2;
  }
  let dev: OpenDevice;
  try {
    dev = await openDevice({ device, app: 'semper device' });
  } catch (e) {
    if (e instanceof DeviceInUseError) io.err(`semper device: ${e.message}; close that application first\n`);
    else io.err(`semper device: no device reachable: ${(e as Error).message}\nrun "semper doctor" to find out why\n`);
    return 3;
  }
  try {
    if (sub === 'info') {
      const h = await dev.client.hello();
      if (json) io.out(JSON.stringify({ ...h, serial: Buffer.from(h.serial).toString('hex') }) + '\n');
      else
        io.out(
          [
            `firmware ${h.firmware} on ${h.board}, protocol version ${h.version}`,
            `serial   ${Buffer.from(h.serial).toString('hex')}`,
            `can do   ${h.capabilities.map(msgTypeName).join(', ')}`,
            `card     ${h.card ? 'inserted' : 'none'}`,
          ].join('\n') + '\n',
        );
    } else if (sub === 'balance') {
      const b = await dev.client.purseBalance();
      io.out(json ? JSON.stringify(b) + '\n' : `balance ${money(b)}\n`);
    } else {
      const entries = await dev.client.readLog(max);
      if (json) io.out(JSON.stringify(entries) + '\n');
      else io.out(entries.length ? entries.map(logLine).join('\n') + '\n' : 'no purse operations on this card yet\n');
    }
    return 0;
  } catch (e) {
    const d = e as DeviceError;
    io.err(`semper device ${sub}: ${d.code ?? 'ERROR'}: ${d.message}\n`);
    return 1;
  } finally {
    dev.close();
  }
}
