// What `semper agent start --ttp URL --evaluator NAME=KEY` adds: the commerce layer behind the
// local API, so a merchant page's purchase is a real one — the offer verified (here and on the
// device), the order confirmed with OK and PIN, the card's payment against the merchant's signed
// receipt in a fair exchange. Everything it trusts comes from the holder's own archive (the CA
// root and the card's certificate that `semper cert register` kept) or from the command line (the
// evaluators whose workflows it runs); the third party's key is checked against a certificate
// from that CA when one is given, and said aloud when it is not.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { p256 } from '@noble/curves/p256';
import { decodeCertificate, TrustStore } from '../../../shared/src/certificate';
import { PurchaseHandler } from '../agent/purchases';
import { commercePurchaseHandler } from '../commerce/agent-handler';
import { Buyer } from '../commerce/buyer';
import { Evaluator } from '../commerce/workflow';
import { DeviceClient } from '../device';
import { ExchangeManager } from '../exchange/manager';
import { SqliteArchive } from '../services/archive';
import { writeFileAtomic } from '../services/atomic-file';
import { httpThirdParty } from '../ttp/http';
import { standardModules } from '../ttp/modules';
import { CARD_CERTIFICATE_LABEL, trustFromArchive } from './cert';

export interface CommerceSetup {
  handler: PurchaseHandler;
  buyer: Buyer;
  trust: TrustStore;
  /** Lines for the operator: what is trusted and why. */
  notes: string[];
}

/** `NAME=KEY` (KEY: the evaluator's P-256 public key, base64url or hex) → an evaluator; a reason when it is not one. */
export function parseEvaluator(text: string): Evaluator | string {
  const eq = text.lastIndexOf('=');
  if (eq < 1) return `--evaluator ${text}: NAME=KEY expected`;
  const name = text.slice(0, eq);
  const raw = text.slice(eq + 1);
  const key = /^[0-9a-fA-F]{130}$/.test(raw) ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64url');
  try {
    p256.ProjectivePoint.fromHex(key).assertValidity();
    if (key.length !== 65) throw new Error('not uncompressed');
  } catch (_e) {
    return `--evaluator ${name}: the key is not an uncompressed P-256 public key (65 bytes, hex or base64url)`;
  }
  return { name, publicKey: new Uint8Array(key) };
}

/** The buyer's exchange key: made once, kept 0600 in $SEMPER_HOME (exchanges resumed after a restart need it). */
async function exchangeKey(home: string): Promise<Uint8Array> {
  const file = join(home, 'agent-exchange.key');
  try {
    const k = new Uint8Array(readFileSync(file));
    if (k.length === 32) return k;
  } catch (_e) {
    // first start: made below
  }
  const k = p256.utils.randomPrivateKey();
  await writeFileAtomic(file, k, { mode: 0o600 });
  return k;
}

export async function commerceSetup(o: { archive: SqliteArchive; device: DeviceClient; home: string; ttpUrl: string; ttpCertificate?: string; evaluators: Evaluator[]; account?: string; purseMax?: number }): Promise<CommerceSetup | string> {
  const notes: string[] = [];
  const trust = await trustFromArchive(o.archive);
  if (!trust) return 'no CA root in the archive: register your card first (semper cert register --ca URL --code CODE)';
  const now = Math.floor(Date.now() / 1000);
  const cards = (await o.archive.list({ kind: 'certificate' })).filter((r) => CARD_CERTIFICATE_LABEL.test(r.label ?? '') && r.evidence);
  // the newest that validates and names the card (the bank matches the card id of every payment token)
  const card = cards.reverse().find((r) => {
    try {
      return trust.validate(r.evidence as Uint8Array, now, { roles: ['buyer-card'] })[0].subjectId !== undefined;
    } catch (_e) {
      return false;
    }
  });
  if (!card) return 'no valid card certificate that names the card in the archive: register your card (semper cert register --ca URL --code CODE --card HEX)';
  if (!o.evaluators.length) return 'no workflow evaluator to trust: give --evaluator NAME=KEY (the lab that certifies the merchants\u2019 terms of business)';
  let ttp: { name: string; publicKey: Uint8Array };
  try {
    const res = await fetch(new URL('/v1/ttp', o.ttpUrl));
    const j = (await res.json()) as { name?: unknown; publicKey?: unknown };
    if (typeof j.name !== 'string' || typeof j.publicKey !== 'string') throw new Error('no {name, publicKey} at /v1/ttp');
    ttp = { name: j.name, publicKey: new Uint8Array(Buffer.from(j.publicKey, 'base64url')) };
  } catch (e) {
    return `the third party at ${o.ttpUrl} does not answer properly: ${(e as Error).message}`;
  }
  if (o.ttpCertificate) {
    let cert;
    try {
      [cert] = trust.validate(new Uint8Array(readFileSync(o.ttpCertificate)), now, { roles: ['ttp'] });
    } catch (e) {
      return `--ttp-cert ${o.ttpCertificate}: not a third-party certificate from your CA: ${(e as Error).message}`;
    }
    if (cert.name !== ttp.name || !Buffer.from(cert.publicKey).equals(Buffer.from(ttp.publicKey))) return `the third party at ${o.ttpUrl} is not the one its certificate names (${cert.name})`;
    notes.push(`third party ${ttp.name}: certified by your CA`);
  } else notes.push(`third party ${ttp.name} at ${o.ttpUrl}: its key is trusted as served (give --ttp-cert FILE to check it against your CA)`);
  const privateKey = await exchangeKey(o.home);
  const modules = standardModules({ trust });
  const exchange = new ExchangeManager({ identity: { name: 'buyer', privateKey, publicKey: p256.getPublicKey(privateKey, false) }, archive: o.archive, modules, ttp: { party: ttp, port: httpThirdParty(o.ttpUrl) } });
  const buyer = new Buyer({
    exchange,
    archive: o.archive,
    trust,
    evaluators: o.evaluators,
    device: { verifyOffer: (c, off) => o.device.verifyOffer(c, off), purseDebit: (s) => o.device.purseDebit(s), sign: (s) => o.device.sign(s) },
    cardCertificate: card.evidence as Uint8Array,
    // with an account: the purse first (up to its limit), then the account the card is registered for
    ...(o.account !== undefined ? { payment: { prefer: ['device-purse/1', 'account-card/1'], account: o.account, ...(o.purseMax !== undefined ? { purseMax: o.purseMax } : {}) } } : {}),
  });
  if (o.account !== undefined) notes.push(`payment: the purse${o.purseMax !== undefined ? ` up to ${(o.purseMax / 100).toFixed(2)}` : ''}, then account ${o.account} (account-card/1, card-signed on the device) where the merchant takes it`);
  notes.push(`card certificate of ${decodeCertificate(card.evidence as Uint8Array).name}; workflows certified by ${o.evaluators.map((e) => e.name).join(', ')}`);
  return { handler: commercePurchaseHandler(buyer, trust), buyer, trust, notes };
}
