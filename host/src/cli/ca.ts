// `semper ca`: the certification authority and its registration authority (host/src/ca).

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROLE_CODE, Role } from '../../../shared/src/certificate';
import { SqliteArchive } from '../services/archive';
import { KeyStore } from '../services/keystore';
import { CaError, CertificationAuthority } from '../ca/authority';
import { serveCa } from '../ca/http';
import { semperHome, serviceOptions, untilStopped } from './service';

/** The CA/RA's HTTP port: the bank's 8480 and the third party's 8482 are its neighbours. */
export const DEFAULT_PORT = 8481;

export const HELP = `semper ca — the certification authority: certificates for merchants, banks, third parties and cards

usage:
  semper ca start [--port N] [--db FILE] ...         the CA/RA as an HTTP service: root, revocation list,
                                                    certificates, on-line card registration (semper ca start --help)
  semper ca root --out FILE                         write the root certificate (made at first use)
  semper ca issue --name NAME --role ROLE --public-key FILE --out FILE [--days N] [--subject-id HEX]
  semper ca list                                    every certificate issued, and which are revoked
  semper ca revoke SERIAL --reason TEXT
  semper ca crl --out FILE [--days N]               the signed revocation list (trust stores load it)
  semper ca code NAME [--days N]                    a one-time registration code for a card holder (the RA's letter)

options (every command):
  --key LABEL     the CA key in the key store (role ca; made there at first use);
                  passphrase from $SEMPER_KEYSTORE_PASSPHRASE
  --keystore FILE the key store (default $SEMPER_HOME/keys.semper)
  --db FILE       the CA's archive of issued and revoked certificates (default $SEMPER_HOME/ca.db)
  --name-ca NAME  the CA's name (default "SEMPER Test CA"); --id HEX its id (default ca01)
  --help          this text

ROLE is one of merchant, bank, issuer, ttp, buyer-card. A card registers with its code through
the device (the card signs the registration statement; see host/src/ca/README.md).

exit status: 0 done; 1 refused (unknown serial, revoked already, bad key); 2 bad options; 3 key store or database missing.`;

const OPTIONS = {
  key: { type: 'string' },
  keystore: { type: 'string' },
  db: { type: 'string' },
  'name-ca': { type: 'string' },
  id: { type: 'string' },
  name: { type: 'string' },
  role: { type: 'string' },
  'public-key': { type: 'string' },
  'subject-id': { type: 'string' },
  out: { type: 'string' },
  days: { type: 'string' },
  reason: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const START_HELP = `semper ca start — the CA/RA as an HTTP service

usage:
  semper ca start --key LABEL [--port N] [--host ADDR] [--db FILE] [--keystore FILE]
                  [--name-ca NAME] [--id HEX] [--crl-days N] [--max-failures N]

options:
  --port N          TCP port (default ${DEFAULT_PORT}; 0 = any free port)
  --host ADDR       address to listen on (default 127.0.0.1)
  --key LABEL       the CA key in the key store (role ca; made there at first use);
                    passphrase from $SEMPER_KEYSTORE_PASSPHRASE
  --keystore FILE   the key store (default $SEMPER_HOME/keys.semper)
  --db FILE         the CA's archive, shared with the other semper ca commands
                    (default $SEMPER_HOME/ca.db)
  --name-ca NAME    the CA's name (default "SEMPER Test CA"); --id HEX its id (default ca01)
  --crl-days N      days until a served revocation list's next update (default 7)
  --max-failures N  failed registrations one address may make per hour (default 10)
  --help            this text

Endpoints: GET /v1/health; GET /v1/root, GET /v1/crl, GET /v1/certificates/{serial}
(application/cbor, the COSE bytes); POST /v1/registrations (application/json
{code, signature, kid, cardId?}: the card's signature over the registration statement; answers
201 with the buyer-card certificate). Issuing other certificates and revoking stay with
\`semper ca issue\` and \`semper ca revoke\` on the CA's own machine. Runs until SIGINT or SIGTERM.

exit status: 0 stopped; 2 bad options; 3 key store or database cannot be opened (or holds another
CA's root), or the port cannot be had.`;

/** The CA's own options (key, archive, name, id) and the service's. */
const START_OPTIONS = {
  ...(({ key, keystore, db, 'name-ca': nameCa, id, help }) => ({ key, keystore, db, 'name-ca': nameCa, id, help }))(OPTIONS),
  port: { type: 'string' },
  host: { type: 'string' },
  'crl-days': { type: 'string' },
  'max-failures': { type: 'string' },
} as const;

export interface CaCliIo {
  out?: (s: string) => void;
  err?: (s: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Called once `start` listens (tests). */
  onListening?: (url: string) => void;
  /** Stops `start` (tests); SIGINT/SIGTERM otherwise. */
  signal?: AbortSignal;
}

interface CaSettings {
  key?: string;
  keystore?: string;
  db?: string;
  'name-ca'?: string;
  id?: string;
}

/**
 * The authority on its key (from the key store, made there at first use) and archive; or the exit
 * status, with the reason said on `err`.
 */
async function openAuthority(v: CaSettings, env: NodeJS.ProcessEnv, err: (s: string) => void, usage: (m: string) => number): Promise<{ ca: CertificationAuthority; archive: SqliteArchive } | number> {
  if (!v.key) return usage('give --key LABEL (the CA key in the key store)');
  const id = v.id ?? 'ca01';
  if (!/^([0-9a-fA-F]{2}){2,16}$/.test(id)) return usage('--id is 2..16 bytes in hex');
  const pass = env.SEMPER_KEYSTORE_PASSPHRASE;
  if (!pass) return usage('set SEMPER_KEYSTORE_PASSPHRASE to open the key store');
  const home = semperHome(env);
  let privateKey: Uint8Array;
  try {
    const file = v.keystore ?? join(home, 'keys.semper');
    const ks = await KeyStore.open(file, pass).catch(async (e: { code?: string }) => (e.code === 'NOT_FOUND' ? KeyStore.create(file, pass) : Promise.reject(e)));
    try {
      if (!ks.list().some((k) => k.label === v.key)) await ks.generate(v.key, 'ca');
      privateKey = ks.privateKey(v.key);
    } finally {
      ks.close();
    }
  } catch (e) {
    err(`semper ca: key store: ${(e as { code?: string }).code ?? ''} ${(e as Error).message}\n`);
    return 3;
  }
  let archive: SqliteArchive;
  try {
    archive = SqliteArchive.open(v.db ?? join(home, 'ca.db'));
  } catch (e) {
    err(`semper ca: cannot open the database: ${(e as Error).message}\n`);
    return 3;
  }
  return { ca: new CertificationAuthority({ name: v['name-ca'] ?? 'SEMPER Test CA', privateKey, id: new Uint8Array(Buffer.from(id, 'hex')), archive }), archive };
}

/** `semper ca start`: serves the CA/RA over HTTP until stopped. */
async function start(argv: string[], io: CaCliIo, out: (s: string) => void, err: (s: string) => void, env: NodeJS.ProcessEnv): Promise<number> {
  const parsed = serviceOptions(argv, START_OPTIONS, { command: 'semper ca start', help: START_HELP, defaultPort: DEFAULT_PORT, out, err });
  if (typeof parsed === 'number') return parsed;
  const { values: v, port } = parsed;
  const usage = (m: string): number => (err(`semper ca start: ${m} (see semper ca start --help)\n`), 2);
  const whole = (value: string | undefined, name: string, max: number): number | undefined | false => {
    if (value === undefined) return undefined;
    const n = Number(value);
    return /^\d{1,6}$/.test(value) && n >= 1 && n <= max ? n : (usage(`--${name} is a whole number 1..${max}`), false);
  };
  const crlDays = whole(v['crl-days'], 'crl-days', 366);
  const maxFailures = whole(v['max-failures'], 'max-failures', 100000);
  if (crlDays === false || maxFailures === false) return 2;
  const opened = await openAuthority(v, env, err, usage);
  if (typeof opened === 'number') return opened;
  const { ca, archive } = opened;
  let svc;
  try {
    svc = await serveCa(ca, { port, host: v.host ?? '127.0.0.1', ...(crlDays ? { crlDays } : {}), ...(maxFailures ? { maxFailures } : {}) });
  } catch (e) {
    archive.close();
    err(`semper ca start: ${e instanceof CaError ? `${e.code}: ${e.message}` : `cannot listen: ${(e as Error).message}`}\n`);
    return 3;
  }
  out(`semper ca listening on ${svc.url}\n`);
  io.onListening?.(svc.url);
  await untilStopped(io.signal);
  await svc.close();
  archive.close();
  return 0;
}

export async function run(argv: string[], io: CaCliIo = {}): Promise<number> {
  const out = io.out ?? ((s: string) => void process.stdout.write(s));
  const err = io.err ?? ((s: string) => void process.stderr.write(s));
  const env = io.env ?? process.env;
  // `start` has options of its own (--port, --host): look for it before the strict parse
  const words = parseArgs({ args: argv, options: { ...OPTIONS, ...START_OPTIONS }, allowPositionals: true, strict: false }).positionals;
  if (words[0] === 'start') return start(argv, io, out, err, env);
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    err(`semper ca: ${(e as Error).message}\n`);
    return 2;
  }
  const v = parsed.values;
  const [cmd, arg, ...rest] = parsed.positionals;
  if (v.help || !cmd) {
    (v.help ? out : err)(`${HELP}\n`);
    return v.help ? 0 : 2;
  }
  const usage = (m: string): number => (err(`semper ca ${cmd}: ${m} (see semper ca --help)\n`), 2);
  if (!['root', 'issue', 'list', 'revoke', 'crl', 'code'].includes(cmd) || rest.length) return usage('unknown command or extra arguments');
  const days = v.days === undefined ? undefined : Number(v.days);
  if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > 36500)) return usage('--days is a whole number of days, 1..36500');
  const opened = await openAuthority(v, env, err, usage);
  if (typeof opened === 'number') return opened;
  const { ca, archive } = opened;
  try {
    switch (cmd) {
      case 'root':
        if (!v.out) return usage('give --out FILE');
        writeFileSync(v.out, await ca.root());
        out(`root certificate written to ${v.out}\n`);
        return 0;
      case 'issue': {
        if (!v.name || !v.role || !v['public-key'] || !v.out) return usage('give --name, --role, --public-key FILE and --out FILE');
        if (!(v.role in ROLE_CODE) || v.role === 'ca') return usage('--role is merchant, bank, issuer, ttp or buyer-card');
        const subjectId = v['subject-id'];
        if (subjectId !== undefined && !/^([0-9a-fA-F]{2}){1,16}$/.test(subjectId)) return usage('--subject-id is 1..16 bytes in hex');
        const cert = await ca.issue({ name: v.name, role: v.role as Role, publicKey: new Uint8Array(readFileSync(v['public-key'])), ...(days ? { validDays: days } : {}), ...(subjectId ? { subjectId: new Uint8Array(Buffer.from(subjectId, 'hex')) } : {}) });
        writeFileSync(v.out, cert);
        out(`certificate for ${v.name} (${v.role}) written to ${v.out}\n`);
        return 0;
      }
      case 'list': {
        const revoked = new Set(await ca.revoked());
        for (const c of await ca.issued()) out(`${String(c.serial).padStart(5)}  ${c.role.padEnd(10)}  ${c.name}${revoked.has(c.serial) ? '  (revoked)' : ''}\n`);
        return 0;
      }
      case 'revoke': {
        const serial = Number(arg);
        if (!Number.isInteger(serial) || serial < 1) return usage('give the serial to revoke');
        if (!v.reason) return usage('give --reason TEXT');
        await ca.revoke(serial, v.reason);
        out(`serial ${serial} revoked; publish a new list: semper ca crl --out FILE\n`);
        return 0;
      }
      case 'crl':
        if (!v.out) return usage('give --out FILE');
        writeFileSync(v.out, await ca.revocationList(days));
        out(`revocation list written to ${v.out}\n`);
        return 0;
      default: {
        if (!arg) return usage('give the card holder\u2019s NAME');
        out(`${await ca.registrationCode(arg, days)}\n`);
        return 0;
      }
    }
  } catch (e) {
    if (e instanceof CaError) {
      err(`semper ca ${cmd}: ${e.code}: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    archive.close();
  }
}
