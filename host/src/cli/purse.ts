// `semper purse load`: value from the buyer's bank account onto the card in the device. The
// load request is signed with the buyer account's key (from the key store, as `semper bank`
// takes its issuer key); the bank debits the account and answers with an issuer-signed load
// instruction for the card; the device shows amount and issuer, the user presses OK, the card
// checks the issuer's signature and its load counter and credits the purse.

import { parseArgs } from 'node:util';
import { BankClient } from '../bank/client';
import { BankError } from '../bank/errors';
import { EMULATOR_TCP, Money, openDevice, OpenDevice, Progress } from '../device';
import { DeviceInUseError } from '../device/session-lock';
import { DeviceError } from '../link/device-link';
import { signLoadRequest } from '../payment/formats';
import { currencyExponent, formatMinorUnits, parseMinorUnits } from '../services/money';
import { keyFromStore } from './service';

export const HELP = `semper purse — the purse on the card in the device

usage:
  semper purse load --amount 20.00 --account ID --key LABEL [--bank URL] [--card HEX]
                    [--currency CUR] [--keystore FILE] [--device SPEC]
  semper purse load --instruction B64 [--device SPEC]

load: the bank debits the account and issues a load instruction for the card; the device shows
it, you press OK on the device, the card credits the purse. Prints the new balance.

options:
  --amount X         how much, in the currency's units (20.00, 5, 0.50)
  --currency CUR     ISO 4217 code (default EUR; must be the account's and the card's)
  --account ID       the buyer account at the bank to debit
  --key LABEL        the account's key in the key store (signs the load request); the
                     passphrase is read from $SEMPER_KEYSTORE_PASSPHRASE
  --keystore FILE    the key store (default $SEMPER_HOME/keys.semper, SEMPER_HOME defaults to ~/.semper)
  --bank URL         the bank (default $SEMPER_BANK_URL, else http://127.0.0.1:8480)
  --card HEX         the card id (16 hex digits); default: the one card the bank has
                     registered for the account
  --instruction B64  a load instruction the bank issued earlier that the device did not take
                     (printed when that happens): send it again, the bank is not asked
  --device SPEC      serial:/dev/ttyACM0, ${EMULATOR_TCP} (the emulator), spawn:<command>,
                     or auto (default: $SEMPER_DEVICE, else the one board found)
  --timeout S        seconds the device waits for you (10-600, default 120)
  --help             this text

Exit status: 0 loaded, 1 the bank or the device refused (the reason is printed), 2 bad options,
3 no device, bank or key store reachable.`;

export interface PurseCliIo {
  out?: (s: string) => void;
  err?: (s: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Clock, seconds (default: system time). */
  now?: () => number;
}

const OPTIONS = {
  amount: { type: 'string' },
  currency: { type: 'string' },
  account: { type: 'string' },
  key: { type: 'string' },
  keystore: { type: 'string' },
  bank: { type: 'string' },
  card: { type: 'string' },
  instruction: { type: 'string' },
  device: { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** "20.00" in EUR → 2000: exact decimal text to minor units, never through a float. Undefined if not an amount > 0. */
export function parseAmount(text: string, currency: string): number | undefined {
  const n = parseMinorUnits(text, currency);
  return n !== undefined && n > 0 ? n : undefined;
}

const money = (m: Money): string => `${formatMinorUnits(m.amount, m.currency) ?? `${m.amount} minor units of`} ${m.currency}`;

export async function run(argv: string[], io: PurseCliIo = {}): Promise<number> {
  const out = io.out ?? ((s: string) => void process.stdout.write(s));
  const err = io.err ?? ((s: string) => void process.stderr.write(s));
  const env = io.env ?? process.env;
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    out(`${HELP}\n`);
    return 0;
  }
  if (sub !== 'load') {
    err(sub ? `semper purse: unknown command ${sub}: use load (semper purse --help)\n` : `${HELP}\n`);
    return 2;
  }
  let v;
  try {
    v = parseArgs({ args: rest, options: OPTIONS, allowPositionals: false, strict: true }).values;
  } catch (e) {
    err(`semper purse load: ${(e as Error).message}\n`);
    return 2;
  }
  if (v.help) {
    out(`${HELP}\n`);
    return 0;
  }
  const timeout = v.timeout === undefined ? undefined : Number(v.timeout);
  if (timeout !== undefined && !(Number.isInteger(timeout) && timeout >= 10 && timeout <= 600)) {
    err('semper purse load: --timeout needs whole seconds from 10 to 600\n');
    return 2;
  }
  let instruction: Uint8Array;
  if (v.instruction !== undefined) {
    if (!/^[A-Za-z0-9_-]{16,1024}$/.test(v.instruction)) {
      err('semper purse load: --instruction is the base64url text printed before\n');
      return 2;
    }
    instruction = new Uint8Array(Buffer.from(v.instruction, 'base64url'));
  } else {
    const got = await instructionFromBank(v, env, io.now, out, err);
    if (typeof got === 'number') return got;
    instruction = got;
  }
  return loadOnDevice(instruction, v.device, timeout, out, err);
}

type Values = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

/** Asks the bank for the load instruction; an exit status if it cannot. */
async function instructionFromBank(v: Values, env: NodeJS.ProcessEnv, now: (() => number) | undefined, out: (s: string) => void, err: (s: string) => void): Promise<Uint8Array | number> {
  const currency = v.currency ?? 'EUR';
  if (!/^[A-Z]{3}$/.test(currency) || currencyExponent(currency) === undefined) {
    err(`semper purse load: --currency ${currency} is not a currency semper knows\n`);
    return 2;
  }
  const amount = v.amount === undefined ? undefined : parseAmount(v.amount, currency);
  if (amount === undefined) {
    err(`semper purse load: --amount needs an amount above 0 in ${currency}, like 20.00\n`);
    return 2;
  }
  if (!v.account || !v.key) {
    err('semper purse load: give --account ID and --key LABEL (the account key in the key store)\n');
    return 2;
  }
  if (v.card !== undefined && !/^[0-9a-fA-F]{16}$/.test(v.card)) {
    err('semper purse load: --card needs the card id as 16 hex digits\n');
    return 2;
  }
  let key: Uint8Array;
  try {
    const k = await keyFromStore(v.key, { env, file: v.keystore, err, command: 'semper purse load' });
    if (!k) return 2;
    key = k;
  } catch (e) {
    err(`semper purse load: key store: ${(e as { code?: string }).code ?? ''} ${(e as Error).message}\n`);
    return 3;
  }
  const url = v.bank ?? env.SEMPER_BANK_URL ?? 'http://127.0.0.1:8480';
  const clock = now ?? (() => Math.floor(Date.now() / 1000));
  const bank = new BankClient(url, { now: clock });
  try {
    let cardHex = v.card?.toLowerCase();
    if (!cardHex) {
      // the account's own signed read: which card the bank has registered for it
      const cards = (await bank.account(v.account, key)).cards ?? [];
      if (cards.length !== 1) {
        err(`semper purse load: the bank has ${cards.length} cards registered for ${v.account}: say which with --card HEX\n`);
        return 2;
      }
      cardHex = cards[0];
    }
    out(`asking ${url} to load ${money({ amount, currency })} from account ${v.account} onto card ${cardHex}\n`);
    const request = signLoadRequest({ account: v.account, cardId: new Uint8Array(Buffer.from(cardHex, 'hex')), amount, currency, time: clock() }, key);
    const requestId = BankClient.requestId();
    let answer;
    try {
      answer = await bank.load({ requestId, request });
    } catch (e) {
      // no answer: the outcome is unknown; the same request id gets the bank's first answer
      if (!(e instanceof BankError && e.code === 'UNREACHABLE')) throw e;
      out('no answer from the bank; asking again (it will not load twice)\n');
      answer = await bank.load({ requestId, request });
    }
    out(`the bank debited ${v.account} (balance now ${money({ amount: answer.balance, currency })}); load counter ${answer.loadCounter}\n`);
    return answer.instruction;
  } catch (e) {
    if (e instanceof BankError) {
      err(`semper purse load: the bank refused: ${e.code}: ${e.message}\n`);
      return e.code === 'UNREACHABLE' ? 3 : 1;
    }
    throw e;
  }
}

async function loadOnDevice(instruction: Uint8Array, device: string | undefined, timeout: number | undefined, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const keep = `to try again: semper purse load --instruction ${Buffer.from(instruction).toString('base64url')}\n`;
  let dev: OpenDevice;
  try {
    dev = await openDevice({ device, app: 'semper purse' });
  } catch (e) {
    if (e instanceof DeviceInUseError) err(`semper purse load: ${e.message}; close that application first\n`);
    else err(`semper purse load: no device reachable: ${(e as Error).message}\nrun "semper doctor" to find out why\n`);
    err(keep);
    return 3;
  }
  try {
    out('sending the load instruction to the device\n');
    // the device's own steps ("step 1 of 2: Check"), each once, and what the user has to do
    let shown = '';
    let asked = false;
    const onProgress = (p: Progress): void => {
      const line = p.step !== undefined && p.steps !== undefined ? `device: step ${p.step} of ${p.steps}${p.label ? `: ${p.label}` : ''}\n` : shown;
      if (line !== shown) out((shown = line));
      if (p.waitingForUser && !asked) {
        asked = true;
        out('check the amount on the device and press OK there\n');
      }
    };
    const balance = await dev.client.purseLoad(instruction, { onProgress, ...(timeout === undefined ? {} : { timeout }) });
    out(`loaded: purse balance ${money(balance)}\n`);
    return 0;
  } catch (e) {
    const d = e as DeviceError;
    err(`semper purse load: the device did not load: ${d.code ?? 'ERROR'}: ${d.message}\n`);
    // an instruction the card refused as replayed or forged is worthless; any other may be sent again
    if (d.code !== 'REPLAYED' && d.code !== 'VERIFY_FAILED') err(keep);
    return 1;
  } finally {
    dev.close();
  }
}
