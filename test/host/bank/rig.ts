// Test rig for the payment and bank suites: a TEST CA with a full root certificate, a TEST
// issuer, cards personalised with board/card and driven with real APDUs (VERIFY + PURSE
// DEBIT → a card-signed token; PURSE LOAD ← the bank's load instruction), and a bank on an
// ephemeral port over a temp SQLite file.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/p256';
import { sha256 } from '@noble/hashes/sha256';
import { encodeCommand, parseResponse, SW } from '../../../board/card/apdu';
import { AID, encodeDebit, INS, pinBlock, PurseApplet } from '../../../board/card/applet';
import { personalise } from '../../../board/card/personalise';
import { CardStore, MemoryNv } from '../../../board/card/store';
import { issueCertificate, TrustStore } from '../../../shared/src/certificate';
import { Bank, BankOptions } from '../../../host/src/bank/bank';
import { BankError } from '../../../host/src/bank/errors';
import { BankClient } from '../../../host/src/bank/client';
import { serveBank } from '../../../host/src/bank/http';

export const NOW_S = Date.UTC(2026, 5, 1) / 1000;
export const ADMIN = 'test-admin-token';
export const ISSUER_NAME = 'SEMPER Test Issuer';

export function key(seed: string): { privateKey: Uint8Array; publicKey: Uint8Array } {
  const privateKey = sha256(new TextEncoder().encode(seed));
  return { privateKey, publicKey: p256.getPublicKey(privateKey, false) };
}

export const ca = key('rig CA');
export const issuer = key('rig issuer');
const CA_ID = Uint8Array.of(0xca, 1);
export const rootCertificate = issueCertificate({ name: 'SEMPER Test CA', publicKey: ca.publicKey, role: 'ca', subjectId: CA_ID, issuerId: CA_ID, notBefore: 0, notAfter: 4102444800, serial: 1 }, ca.privateKey);

export function trustStore(): TrustStore {
  const t = new TrustStore();
  t.addRoot(rootCertificate);
  return t;
}

/** The rig CA's certificate (role buyer-card) for a card personalised in the emulator, as a bank would issue it. */
export function cardCertificateOf(persona: { publicKey: Uint8Array; cardId: Uint8Array }, holder = 'Erika Mustermann', certSerial = 900): Uint8Array {
  return issueCertificate({ name: holder, publicKey: persona.publicKey, role: 'buyer-card', subjectId: persona.cardId, issuerId: CA_ID, notBefore: 0, notAfter: 4102444800, serial: certSerial }, ca.privateKey);
}

let serial = 100;

/** A card on the emulated applet, spoken to with APDUs. */
export class TestCard {
  readonly applet: PurseApplet;
  readonly certificate: Uint8Array;
  readonly cardId: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly nv: MemoryNv;

  constructor(opts: { holder?: string; balance?: number; currency?: string; cardId?: Uint8Array; issuerKey?: Uint8Array } = {}, twin?: TestCard) {
    if (twin) {
      // a clone: the same NV contents (key, counters, balance) in a second card
      this.cardId = twin.cardId;
      this.publicKey = twin.publicKey;
      this.certificate = twin.certificate;
      this.nv = twin.nv.clone();
      this.applet = new PurseApplet(CardStore.open(this.nv));
      this.apdu({ cla: 0, ins: INS.SELECT, p1: 4, p2: 0x0c, data: AID });
      return;
    }
    const p = personalise({
      holder: opts.holder ?? 'Alice Buyer',
      pin: '1234',
      puk: '12345678',
      balance: opts.balance ?? 0,
      currency: opts.currency ?? 'EUR',
      cardId: opts.cardId,
      ca: { publicKey: ca.publicKey },
      issuer: { publicKey: opts.issuerKey ?? issuer.publicKey },
      issuerName: ISSUER_NAME,
    });
    this.cardId = p.cardId;
    this.publicKey = p.publicKey;
    this.certificate = issueCertificate({ name: opts.holder ?? 'Alice Buyer', publicKey: p.publicKey, role: 'buyer-card', subjectId: p.cardId, issuerId: CA_ID, notBefore: 0, notAfter: 4102444800, serial: serial++ }, ca.privateKey);
    this.nv = p.nv as MemoryNv;
    this.applet = new PurseApplet(CardStore.open(p.nv));
    this.apdu({ cla: 0, ins: INS.SELECT, p1: 4, p2: 0x0c, data: AID });
  }

  /** A clone of this card as it is now (a broken card whose NV was copied). */
  clone(): TestCard {
    return new TestCard({}, this);
  }

  apdu(c: Parameters<typeof encodeCommand>[0]): { data: Uint8Array; sw: number } {
    return parseResponse(this.applet.process(encodeCommand(c)));
  }

  /** VERIFY PIN + PURSE DEBIT: the card-signed payment token. */
  debit(d: { payee: string; amount: number; currency?: string; txDigest?: Uint8Array; time?: number }): Uint8Array {
    expect(this.apdu({ cla: 0, ins: INS.VERIFY, p1: 0, p2: 0x81, data: pinBlock('1234') }).sw).toBe(SW.OK);
    const r = this.apdu({ cla: 0x80, ins: INS.DEBIT, p1: 0, p2: 0, data: encodeDebit({ amount: d.amount, currency: d.currency ?? 'EUR', time: d.time ?? NOW_S, txDigest: d.txDigest ?? new Uint8Array(32).fill(7), payee: d.payee }), ne: 256 });
    if (r.sw !== SW.OK) throw new Error(`PURSE DEBIT ${r.sw.toString(16)}`);
    return r.data;
  }

  /** PURSE LOAD; returns the status word. */
  load(instruction: Uint8Array): number {
    return this.apdu({ cla: 0x80, ins: INS.LOAD, p1: 0, p2: 0, data: instruction, ne: 256 }).sw;
  }

  balance(): number {
    const r = this.apdu({ cla: 0x80, ins: INS.BALANCE, p1: 0, p2: 0, ne: 256 });
    return Number(Buffer.from(r.data.slice(0, 8)).readBigUInt64BE());
  }
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface RunningBank {
  bank: Bank;
  client: BankClient;
  url: string;
  stop: () => Promise<void>;
}

/** A bank over `file` on an ephemeral port, with the rig's issuer and CA (and any further bank options: TTP keys, a bank key). */
export async function startBank(file: string, opts: Partial<Pick<BankOptions, 'now' | 'ttpKeys' | 'bankKey'>> = {}): Promise<RunningBank> {
  const bank = Bank.open(file, { issuerKey: issuer.privateKey, issuerName: ISSUER_NAME, trust: trustStore(), ...opts, now: opts.now ?? (() => NOW_S * 1000) });
  const svc = await serveBank(bank, { adminToken: ADMIN });
  return {
    bank,
    url: svc.url,
    client: new BankClient(svc.url, { adminToken: ADMIN }),
    stop: async () => {
      await svc.close();
      bank.close();
    },
  };
}

/** The BankError a promise rejects with (anything else fails the test). */
export async function rejects(p: Promise<unknown>): Promise<BankError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof BankError) return e;
    throw e;
  }
  throw new Error('expected a BankError');
}
