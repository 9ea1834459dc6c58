// `semper ttp`: runs the fair-exchange third party as an HTTP service (host/src/ttp).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { p256 } from '@noble/curves/p256';
import { TrustStore } from '../../../shared/src/certificate';
import { BankClient } from '../bank/client';
import { SqliteArchive } from '../services/archive';
import { ThirdParty } from '../ttp/third-party';
import { serveThirdParty } from '../ttp/http';
import { standardModules } from '../ttp/modules';
import { keyFromStore, semperHome, serviceOptions, untilStopped } from './service';

export const HELP = `semper ttp — the fair-exchange third party: resolves and aborts exchanges that went wrong

usage:
  semper ttp [start] --key LABEL|test [--port N] [--host ADDR] [--db FILE] [--keystore FILE]
             [--name NAME] [--trust-root FILE]... [--bank URL [--bank-key KEY]]

options:
  --port N          TCP port (default 8482; 0 = any free port)
  --host ADDR       address to listen on (default 127.0.0.1)
  --db FILE         its decisions: a SEMPER archive (default $SEMPER_HOME/ttp.db, SEMPER_HOME
                    defaults to ~/.semper); check it with \`semper archive verify --db FILE\`
  --key LABEL       the key in the key store that signs decisions, affidavits and refund
                    authorisations (role ttp); passphrase from $SEMPER_KEYSTORE_PASSPHRASE
  --key test        a freshly generated TEST key, forgotten when it stops: its decisions are
                    worthless outside tests (and to the parties after a restart)
  --keystore FILE   the key store (default $SEMPER_HOME/keys.semper)
  --name NAME       the name the agreements give it (default "SEMPER Test TTP")
  --trust-root FILE a CA root certificate (COSE, binary) that card certificates chain to;
                    repeatable (needed to check purse payments)
  --bank URL        the bank (semper bank): a payment is resolved on only when the bank's
                    signed payment status says it stands (one the payee never deposited is
                    settled on its behalf first), and the bank checks the signature of account
                    orders. Without it, account orders are not resolved on (their payers' keys
                    are the bank's)
  --bank-key KEY    the bank key (SEC1, base64url, as GET /v1/bank shows it) its status
                    statements must verify with; default: fetched from the bank once
  --help            this text

Endpoints: GET /v1/health, GET /v1/ttp (name and public key), POST /v1/decisions
(application/cbor: a signed request in, the signed decision out). Runs until SIGINT or SIGTERM.

exit status: 0 stopped; 2 bad options; 3 cannot open the database, key store or a trust root.`;

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  db: { type: 'string' },
  key: { type: 'string' },
  keystore: { type: 'string' },
  name: { type: 'string' },
  'trust-root': { type: 'string', multiple: true },
  bank: { type: 'string' },
  'bank-key': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** --bank URL and --bank-key KEY: the bank client, or Error with what is wrong. */
function bankOption(url: string | undefined, key: string | undefined): BankClient | undefined {
  if (url === undefined) {
    if (key !== undefined) throw new Error('--bank-key needs --bank URL');
    return undefined;
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch (_e) {
    throw new Error(`--bank ${url} is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`--bank ${url} is not an http(s) URL`);
  if (key === undefined) return new BankClient(url);
  const bankKey = new Uint8Array(Buffer.from(key, 'base64url'));
  if (bankKey.length !== 65 || bankKey[0] !== 4) throw new Error('--bank-key is not an uncompressed P-256 public key in base64url (65 bytes)');
  return new BankClient(url, { bankKey });
}

export interface TtpCliIo {
  out?: (s: string) => void;
  err?: (s: string) => void;
  env?: NodeJS.ProcessEnv;
  onListening?: (url: string, publicKey: Uint8Array) => void;
  signal?: AbortSignal;
}

export async function run(argv: string[], io: TtpCliIo = {}): Promise<number> {
  const out = io.out ?? ((s: string) => void process.stdout.write(s));
  const err = io.err ?? ((s: string) => void process.stderr.write(s));
  const env = io.env ?? process.env;
  const parsed = serviceOptions(argv, OPTIONS, { command: 'semper ttp', help: HELP, defaultPort: 8482, out, err });
  if (typeof parsed === 'number') return parsed;
  const { values: v, port } = parsed;
  if (!v.key) {
    err('semper ttp: give --key LABEL (from the key store) or --key test\n');
    return 2;
  }
  let bank: BankClient | undefined;
  try {
    bank = bankOption(v.bank, v['bank-key']);
  } catch (e) {
    err(`semper ttp: ${(e as Error).message}\n`);
    return 2;
  }
  const home = semperHome(env);
  const trust = new TrustStore();
  let privateKey: Uint8Array;
  try {
    for (const f of v['trust-root'] ?? []) trust.addRoot(new Uint8Array(readFileSync(f)));
    if (v.key === 'test') {
      privateKey = p256.utils.randomPrivateKey();
      err('WARNING: TEST third-party key, generated now and forgotten at exit: never use it for real exchanges\n');
    } else {
      const k = await keyFromStore(v.key, { env, file: v.keystore, err, command: 'semper ttp' });
      if (!k) return 2;
      privateKey = k;
    }
  } catch (e) {
    err(`semper ttp: ${(e as Error).name} ${(e as { code?: string }).code ?? ''}: ${(e as Error).message}\n`);
    return 3;
  }
  let archive: SqliteArchive;
  try {
    archive = SqliteArchive.open(v.db ?? join(home, 'ttp.db'));
  } catch (e) {
    err(`semper ttp: cannot open the database: ${(e as Error).message}\n`);
    return 3;
  }
  const identity = { name: v.name ?? 'SEMPER Test TTP', privateKey, publicKey: p256.getPublicKey(privateKey, false) };
  const ttp = new ThirdParty({ identity, archive, modules: standardModules({ trust, ...(bank ? { bank } : {}) }) });
  let svc;
  try {
    svc = await serveThirdParty(ttp, { port, host: v.host ?? '127.0.0.1' });
  } catch (e) {
    archive.close();
    err(`semper ttp: cannot listen: ${(e as Error).message}\n`);
    return 3;
  }
  out(`semper ttp "${identity.name}" listening on ${svc.url}\npublic key: ${Buffer.from(identity.publicKey).toString('base64url')}\n`);
  io.onListening?.(svc.url, identity.publicKey);
  await untilStopped(io.signal);
  await svc.close();
  archive.close();
  return 0;
}
