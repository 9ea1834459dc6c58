// `semper bank`: runs the bank as an HTTP service (host/src/bank, API.md there).

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { p256 } from '@noble/curves/p256';
import { TrustStore } from '../../../shared/src/certificate';
import { assertPublicKey } from '../../../shared/src/cose';
import { Bank } from '../bank/bank';
import { serveBank } from '../bank/http';
import { keyFromStore, semperHome, serviceOptions, untilStopped } from './service';

export const HELP = `semper bank — the bank: accounts, deposits of card payment tokens, account payments, refunds, purse loads

usage:
  semper bank [start] --trust-root FILE [--port N] [--host ADDR] [--db FILE]
              [--issuer-key LABEL | --issuer-key test] [--keystore FILE] [--issuer-name NAME]
              [--bank-key LABEL] [--ttp-key FILE ...]

options:
  --port N           TCP port (default 8480; 0 = any free port)
  --host ADDR        address to listen on (default 127.0.0.1)
  --db FILE          the bank database (default $SEMPER_HOME/bank.db, SEMPER_HOME defaults to ~/.semper)
  --issuer-key LABEL the key in the key store that signs load instructions (role bank);
                     the passphrase is read from $SEMPER_KEYSTORE_PASSPHRASE
  --issuer-key test  a freshly generated TEST issuer key: loads it signs are worthless
                     outside tests, and a card personalised for another issuer refuses them
  --keystore FILE    the key store (default $SEMPER_HOME/keys.semper)
  --issuer-name NAME the issuer's name as the cards know it (default "SEMPER Test Issuer")
  --trust-root FILE  a CA root certificate (COSE, binary) that card certificates chain to; repeatable
                     (certificates of role ttp that chain to it may authorise refunds)
  --bank-key LABEL   the key in the key store that signs receipts and payment status statements;
                     default: a key made at the first start and kept in the database
  --ttp-key FILE     the public key (SEC1, 65 bytes binary) of a third party whose signed refund
                     decisions the bank carries out; repeatable
  --help             this text

The admin token (open accounts, fund them, audit) is $SEMPER_BANK_ADMIN_TOKEN, or a random one
printed at start. The service runs until SIGINT or SIGTERM.

exit status: 0 stopped; 2 bad options; 3 cannot open the database, key store or a trust root.`;

export interface BankCliIo {
  out?: (s: string) => void;
  err?: (s: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Called once the service listens (tests). */
  onListening?: (url: string, adminToken: string) => void;
  /** Stops the service (tests); SIGINT/SIGTERM otherwise. */
  signal?: AbortSignal;
}

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  db: { type: 'string' },
  'issuer-key': { type: 'string' },
  keystore: { type: 'string' },
  'issuer-name': { type: 'string' },
  'trust-root': { type: 'string', multiple: true },
  'bank-key': { type: 'string' },
  'ttp-key': { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function run(argv: string[], io: BankCliIo = {}): Promise<number> {
  const out = io.out ?? ((s: string) => void process.stdout.write(s));
  const err = io.err ?? ((s: string) => void process.stderr.write(s));
  const env = io.env ?? process.env;
  const parsed = serviceOptions(argv, OPTIONS, { command: 'semper bank', help: HELP, defaultPort: 8480, out, err });
  if (typeof parsed === 'number') return parsed;
  const { values: v, port } = parsed;
  if (!v['trust-root']?.length) {
    err('semper bank: give at least one --trust-root (the CA root that card certificates chain to)\n');
    return 2;
  }
  if (!v['issuer-key']) {
    err('semper bank: give --issuer-key LABEL (from the key store) or --issuer-key test\n');
    return 2;
  }
  const home = semperHome(env);
  let issuerKey: Uint8Array;
  let bankKey: Uint8Array | undefined;
  const ttpKeys: Uint8Array[] = [];
  const trust = new TrustStore();
  /** A private key from the key store; undefined when the passphrase is not set (said on stderr). */
  const fromKeyStore = (label: string): Promise<Uint8Array | undefined> => keyFromStore(label, { env, file: v.keystore, err, command: 'semper bank' });
  try {
    for (const f of v['trust-root']) trust.addRoot(new Uint8Array(readFileSync(f)));
    for (const f of v['ttp-key'] ?? []) {
      const k = new Uint8Array(readFileSync(f));
      assertPublicKey(k);
      ttpKeys.push(k);
    }
    if (v['bank-key']) {
      bankKey = await fromKeyStore(v['bank-key']);
      if (!bankKey) return 2;
    }
    if (v['issuer-key'] === 'test') {
      issuerKey = p256.utils.randomPrivateKey();
      err(
        [
          '',
          '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
          '!!  WARNING: TEST ISSUER KEY. This bank signs load instructions with a key    !!',
          '!!  generated just now and forgotten when it stops. Never use it with money.  !!',
          `!!  issuer public key: ${Buffer.from(p256.getPublicKey(issuerKey, false)).toString('hex').slice(0, 40)}…  !!`,
          '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
          '',
        ].join('\n') + '\n',
      );
    } else {
      const k = await fromKeyStore(v['issuer-key']);
      if (!k) return 2;
      issuerKey = k;
    }
  } catch (e) {
    err(`semper bank: ${(e as Error).name} ${(e as { code?: string }).code ?? ''}: ${(e as Error).message}\n`);
    return 3;
  }
  let bank: Bank;
  try {
    bank = Bank.open(v.db ?? join(home, 'bank.db'), { issuerKey, issuerName: v['issuer-name'] ?? 'SEMPER Test Issuer', trust, bankKey, ttpKeys });
  } catch (e) {
    err(`semper bank: cannot open the database: ${(e as Error).message}\n`);
    return 3;
  }
  const adminToken = env.SEMPER_BANK_ADMIN_TOKEN ?? randomBytes(18).toString('base64url');
  let svc;
  try {
    svc = await serveBank(bank, { port, host: v.host ?? '127.0.0.1', adminToken });
  } catch (e) {
    bank.close();
    err(`semper bank: cannot listen: ${(e as Error).message}\n`);
    return 3;
  }
  out(`semper bank listening on ${svc.url}\n`);
  if (!env.SEMPER_BANK_ADMIN_TOKEN) out(`admin token: ${adminToken}\n`);
  io.onListening?.(svc.url, adminToken);
  await untilStopped(io.signal);
  await svc.close();
  bank.close();
  return 0;
}
