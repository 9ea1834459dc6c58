// npm run card -- new|show …: the issuer's personalisation step for emulated cards.

import { existsSync, writeFileSync } from 'node:fs';
import { R } from './applet';
import { personalise, testCa, testIssuer } from './personalise';
import { FileNv, readUintBytes } from './store';

const HELP = `semper card — make and inspect emulated smart cards

usage:
  npm run card -- new --out FILE --holder NAME --pin DIGITS --puk DIGITS [--balance MINOR] [--currency EUR] [--force]
  npm run card -- show FILE

new   personalises a card: the card generates its own P-256 key pair; the certificate is
      issued by a throw-away TEST CA made here (no CA service is configured yet), whose keys,
      with a TEST issuer's, are written beside the card as FILE.test-keys.json
      --pin 4-8 digits, --puk 8 digits, --balance in minor units (e.g. 5000 = 50.00 EUR)
show  prints a card's identity and purse (never its PIN or keys)`;

function fail(msg: string): never {
  process.stderr.write(`card: ${msg}\n`);
  process.exit(2);
}

function options(argv: string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (!k.startsWith('--')) fail(`unexpected ${k} (see --help)`);
    if (k === '--force') o.force = '1';
    else {
      const v = argv[++i];
      if (v === undefined) fail(`${k} needs a value`);
      o[k.slice(2)] = v;
    }
  }
  return o;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function cmdNew(o: Record<string, string>): void {
  for (const k of ['out', 'holder', 'pin', 'puk']) if (!o[k]) fail(`new needs --${k} (see --help)`);
  if (!/^[0-9]{4,8}$/.test(o.pin)) fail('--pin must be 4 to 8 digits');
  if (!/^[0-9]{8}$/.test(o.puk)) fail('--puk must be 8 digits');
  const balance = o.balance === undefined ? 0 : Number(o.balance);
  if (!Number.isSafeInteger(balance) || balance < 0) fail('--balance is a whole number of minor units (5000 = 50.00)');
  const currency = o.currency ?? 'EUR';
  if (!/^[A-Z]{3}$/.test(currency)) fail('--currency is an ISO 4217 code such as EUR');
  if (existsSync(o.out) && !o.force) fail(`${o.out} exists: choose another --out or add --force`);
  const ca = testCa();
  const issuer = testIssuer();
  if (o.force && existsSync(o.out)) writeFileSync(o.out, JSON.stringify({ format: 'semper-card-nv/1', records: {} }));
  const card = personalise({ holder: o.holder, pin: o.pin, puk: o.puk, balance, currency, ca, issuer, nv: new FileNv(o.out) });
  const keys = `${o.out}.test-keys.json`;
  writeFileSync(keys, JSON.stringify({ warning: 'TEST ONLY: throw-away CA and issuer keys for the emulator', ca: { privateKey: hex(ca.privateKey), publicKey: hex(ca.publicKey) }, issuer: { privateKey: hex(issuer.privateKey), publicKey: hex(issuer.publicKey) } }, null, 1));
  process.stdout.write(
    `card ${hex(card.cardId)} for ${o.holder}: ${balance} minor units of ${currency}\n` +
      `  key pair generated on the card; public key ${hex(card.publicKey).slice(0, 20)}…\n` +
      `  certificate issued by a TEST CA made just now (no CA service configured): keys in ${keys}\n` +
      `  state: ${o.out}\n`,
  );
}

function cmdShow(file: string | undefined): void {
  if (!file) fail('show needs a card file');
  if (!existsSync(file)) fail(`${file} does not exist (make one with: npm run card -- new …)`);
  const nv = new FileNv(file);
  const get = (k: string): Uint8Array => nv.read(k) ?? fail(`${file} is not a personalised card (no ${k})`);
  const n = (k: string, len: number): number => readUintBytes(get(k), 0, len);
  process.stdout.write(
    `card ${hex(get(R.cardId))}\n  holder   ${Buffer.from(get(R.holder)).toString('utf8')}\n` +
      `  purse    ${n(R.balance, 8)} minor units of ${Buffer.from(get(R.currency)).toString('ascii')} (limit ${n(R.max, 8)})\n` +
      `  counters transactions ${n(R.tx, 4)}, loads ${n(R.load, 4)}\n  PIN tries left ${get(R.pinTries)[0]}, PUK tries left ${get(R.pukTries)[0]}\n`,
  );
}

/** Runs one card command (`semper card …` calls it; so does `npm run card`). */
export function main(argv: string[] = process.argv.slice(2)): void {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h') {
    process.stdout.write(HELP + '\n');
    process.exit(cmd ? 0 : 2);
  } else if (cmd === 'new') cmdNew(options(rest));
  else if (cmd === 'show') cmdShow(rest[0]);
  else fail(`unknown command ${cmd} (see --help)`);
}

if (require.main === module) main();
