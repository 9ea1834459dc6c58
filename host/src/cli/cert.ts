// `semper cert register`: the trials' registration, from the holder's side (seed §4: "the
// participant obtained a registration key …, checked the incoming certificate and stored it in
// his/her archive"). The device shows the registration statement for the RA's code and that the
// card will make a new key; the holder reads it, presses OK and types the PIN; the card makes a
// fresh key pair (on the card, never outside it) and signs the statement with it. The CA
// recovers the key from the signature, issues the buyer-card certificate naming the card, and
// this command checks it — under the CA's root, for exactly the key that signed — before the
// card keeps it (STORE_CERT: the card checks it again against its own CA root) and the archive
// keeps it. `--keep-key` certifies the card's current key instead. `semper cert show` lists the
// certificates kept.

import { readFileSync } from 'node:fs';
import { decodeCertificate, TrustStore } from '../../../shared/src/certificate';
import { registrationStatement, REGISTRATION_CODE } from '../ca/authority';
import { CaClient } from '../ca/client';
import { EMULATOR_TCP, openDevice, OpenDevice } from '../device';
import { DeviceInUseError } from '../device/session-lock';
import { DeviceError } from '../link/device-link';
import { SqliteArchive } from '../services/archive';
import { defaultDbPath } from './archive';
import { CommandIo, startCommand } from './service';

export const HELP = `semper cert — your card's certificate

usage:
  semper cert register --ca URL --code CODE [--keep-key [--card HEX]] [--root FILE] [--device SPEC] [--db FILE] [--timeout S]
  semper cert show [--db FILE]

register: the device shows "NEW KEY …" and "Register this card with the code …"; read it to
the end, press OK, type your PIN. The card makes a new key pair and signs with it; the CA (its
RA gave you the code) issues your card's certificate for that key, naming the card; it is
checked, written back to the card (which checks it too) and kept in your archive, where the
buyer's agent finds it. The card's old certificate stops working when the new key is made.

options:
  --ca URL        the CA's address (default $SEMPER_CA_URL, else http://127.0.0.1:8481)
  --code CODE     the registration code the RA gave you (XXXX-XXXX-XXXX-XXXX)
  --keep-key      certify the card's current key instead of making a new one
  --card HEX      with --keep-key: the card's id (16 hex digits, printed on the card; npm run
                  card -- show FILE for an emulated one), so that the certificate names the card
                  as the bank requires for purse payments, and the card keeps it; without it the
                  certificate can sign, not pay, and stays in the archive only. Without
                  --keep-key the device tells the card's id, and --card, if given, must match it
  --root FILE     the CA's root certificate as you got it out of band; the CA must answer with
                  exactly this root (default: the root it serves is trusted on first use — say so)
  --device SPEC   serial:/dev/ttyACM0, ${EMULATOR_TCP} (the emulator), spawn:<command>, or auto
                  (default: $SEMPER_DEVICE, else the one board found)
  --db FILE       the archive (default $SEMPER_HOME/archive.db; SEMPER_HOME defaults to ~/.semper)
  --timeout S     seconds the device waits for you (10-600, default 120)
  --help          this text

Exit status: 0 done, 1 the CA or the device refused (the reason is printed), 2 bad options,
3 no device, CA or archive reachable.`;

const OPTIONS = {
  ca: { type: 'string' },
  code: { type: 'string' },
  'keep-key': { type: 'boolean' },
  card: { type: 'string' },
  root: { type: 'string' },
  device: { type: 'string' },
  db: { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type CertCliIo = CommandIo;

/** A certificate's date (seconds) as YYYY-MM-DD; "open" where it sets none. */
const day = (s: number | undefined): string => (s === undefined ? 'open' : new Date(s * 1000).toISOString().slice(0, 10));

/** The archive labels of a card certificate the holder keeps, and of the CA root it was checked under. */
export const CARD_CERTIFICATE_LABEL = /^card certificate (\d+) (.+)$/;
export const CA_ROOT_LABEL = /^ca root (\d+) (.+)$/;

/** The CA roots the holder's archive keeps (registration put them there): a trust store, or undefined when there are none. */
export async function trustFromArchive(archive: SqliteArchive): Promise<TrustStore | undefined> {
  const roots = (await archive.list({ kind: 'certificate' })).filter((r) => CA_ROOT_LABEL.test(r.label ?? '') && r.evidence);
  if (!roots.length) return undefined;
  const trust = new TrustStore();
  for (const r of roots) trust.addRoot(r.evidence as Uint8Array);
  return trust;
}

export async function run(argv: string[], io: CertCliIo = {}): Promise<number> {
  const { out, err, env, parsed } = startCommand('semper cert', argv, OPTIONS, io);
  if (!parsed) return 2;
  const v = parsed.values;
  const [sub, ...extra] = parsed.positionals;
  if (v.help || sub === 'help') {
    out(`${HELP}\n`);
    return 0;
  }
  if ((sub !== 'register' && sub !== 'show') || extra.length) {
    err(sub ? `semper cert: unknown command ${[sub, ...extra].join(' ')}: use register or show (semper cert --help)\n` : `${HELP}\n`);
    return 2;
  }
  const dbPath = v.db ?? defaultDbPath(env);
  if (sub === 'show') return show(dbPath, out, err);
  const code = (v.code ?? '').trim().toUpperCase();
  if (!REGISTRATION_CODE.test(code)) {
    err('semper cert register: --code needs the RA\u2019s code, four groups of four: XXXX-XXXX-XXXX-XXXX\n');
    return 2;
  }
  if (v.card !== undefined && !/^[0-9a-fA-F]{16}$/.test(v.card)) {
    err('semper cert register: --card needs the card id as 16 hex digits\n');
    return 2;
  }
  const cardId = v.card === undefined ? undefined : new Uint8Array(Buffer.from(v.card, 'hex'));
  const timeout = v.timeout === undefined ? 120 : Number(v.timeout);
  if (!Number.isInteger(timeout) || timeout < 10 || timeout > 600) {
    err('semper cert register: --timeout needs whole seconds from 10 to 600\n');
    return 2;
  }
  let root: Uint8Array | undefined;
  if (v.root !== undefined) {
    try {
      root = new Uint8Array(readFileSync(v.root));
      decodeCertificate(root);
    } catch (e) {
      err(`semper cert register: --root ${v.root} is not a certificate file: ${(e as Error).message}\n`);
      return 2;
    }
  }
  const caUrl = v.ca ?? env.SEMPER_CA_URL ?? 'http://127.0.0.1:8481';
  const ca = new CaClient(caUrl, root ? { root } : {});
  let archive: SqliteArchive;
  try {
    archive = SqliteArchive.open(dbPath);
  } catch (e) {
    err(`semper cert register: cannot open the archive ${dbPath}: ${(e as Error).message}\n`);
    return 3;
  }
  let dev: OpenDevice | undefined;
  try {
    let caRoot;
    try {
      caRoot = await ca.root();
    } catch (e) {
      err(`semper cert register: the CA at ${caUrl} does not answer properly: ${(e as Error).message}\n`);
      return 3;
    }
    if (!root) out(`trusting the root the CA serves (${caRoot.name}, serial ${caRoot.serial}); pass --root FILE to pin the one your RA gave you\n`);
    try {
      dev = await openDevice({ device: v.device ?? env.SEMPER_DEVICE, app: 'semper cert' });
    } catch (e) {
      if (e instanceof DeviceInUseError) err(`semper cert register: ${e.message}; close that application first\n`);
      else err(`semper cert register: no device reachable: ${(e as Error).message}\nrun "semper doctor" to find out why\n`);
      return 3;
    }
    const newKey = !v['keep-key'];
    out(`look at the device: read the registration to its end, press OK, type your PIN${newKey ? ' (the card makes a new key: its old certificate stops working)' : ''}\n`);
    let signed;
    try {
      signed = await dev.client.sign(registrationStatement(code), { timeout, newKey });
    } catch (e) {
      const why = e instanceof DeviceError ? `${e.code}: ${e.message}` : (e as Error).message;
      // refused, timed out or a wrong PIN: the card was never asked to make the key
      const before = e instanceof DeviceError && ['USER_REFUSED', 'USER_TIMEOUT', 'PIN_FAILED', 'PIN_BLOCKED', 'CANCELLED', 'BUSY', 'SCHEMA', 'UNDISPLAYABLE'].includes(e.code);
      const maybe = newKey && !before ? '\nthe card may have made its new key already (its old certificate is then void): run semper cert register again' : '';
      err(`semper cert register: the device did not sign: ${why}\nnothing was sent to the CA; the code is still good${maybe}\n`);
      return 1;
    }
    const card = signed.card ?? cardId;
    const again = '; the code is still good: run semper cert register again';
    if (newKey && cardId && !Buffer.from(cardId).equals(Buffer.from(signed.card!))) {
      err(`semper cert register: the card in the device is ${Buffer.from(signed.card!).toString('hex')}, not --card ${v.card}${again}\n`);
      return 1;
    }
    let cert;
    try {
      cert = await ca.register({ code, signature: signed.signature, kid: signed.kid, ...(card ? { cardId: card } : {}) });
    } catch (e) {
      const c = (e as { code?: string }).code;
      err(`semper cert register: the CA refused: ${c ? `${c}: ` : ''}${(e as Error).message}${newKey ? '\nthe card has a new key without a certificate now; register again (a new code if this one is used up)' : ''}\n`);
      return c === 'UNREACHABLE' ? 3 : 1;
    }
    if (signed.key && !Buffer.from(signed.key).equals(Buffer.from(cert.publicKey))) {
      err(`semper cert register: the CA certified another key than the one the card made${again}\n`);
      return 1;
    }
    // the card keeps it when it names the card (else it could not pay with it: the old one stays)
    let onCard = false;
    if (card) {
      try {
        await dev.client.storeCertificate(cert.bytes);
        onCard = true;
      } catch (e) {
        const why = e instanceof DeviceError ? `${e.code}${e.path ? ` ${e.path}` : ''}: ${e.message}` : (e as Error).message;
        err(`semper cert register: the card did not take the certificate: ${why}\n(the card trusts the CA root written at personalisation; this CA's root must be that one); it is kept in the archive all the same\n`);
      }
    }
    // the root it was checked under, once: the agent's statement page (and later checks) trust it from the archive
    const roots = await archive.list({ kind: 'certificate' });
    if (!roots.some((r) => CA_ROOT_LABEL.test(r.label ?? '') && r.evidence && Buffer.from(r.evidence).equals(Buffer.from(caRoot.bytes)))) {
      await archive.append({ kind: 'certificate', counterparty: caRoot.name, label: `ca root ${caRoot.serial} ${caRoot.name}`.slice(0, 200), evidence: caRoot.bytes, note: `${root ? 'pinned' : 'trusted on first use'} from ${caUrl}` });
    }
    await archive.append({ kind: 'certificate', counterparty: caRoot.name, label: `card certificate ${cert.serial} ${cert.name}`.slice(0, 200), evidence: cert.bytes, note: `issued by ${caUrl}` });
    out(`registered: certificate ${cert.serial} for ${cert.name} (role ${cert.role}), valid until ${day(cert.notAfter)}; kept ${onCard ? 'on the card and ' : ''}in ${dbPath}\n`);
    if (!card) out('the certificate names no card (no --card): the card can sign with it, but purse payments need one that names the card\n');
    return card && !onCard ? 1 : 0;
  } finally {
    dev?.close();
    archive.close();
  }
}

async function show(dbPath: string, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  let archive: SqliteArchive;
  try {
    archive = SqliteArchive.open(dbPath);
  } catch (e) {
    err(`semper cert show: cannot open the archive ${dbPath}: ${(e as Error).message}\n`);
    return 3;
  }
  try {
    const certs = (await archive.list({ kind: 'certificate' })).filter((r) => CARD_CERTIFICATE_LABEL.test(r.label ?? '') && r.evidence);
    if (!certs.length) {
      out('no card certificate in the archive: semper cert register --ca URL --code CODE\n');
      return 0;
    }
    for (const r of certs) {
      const c = decodeCertificate(r.evidence as Uint8Array);
      out(`certificate ${c.serial}  ${c.name}  role ${c.role}  valid ${day(c.notBefore)} to ${day(c.notAfter)}  from ${r.counterparty ?? '?'}\n`);
    }
    return 0;
  } finally {
    archive.close();
  }
}
