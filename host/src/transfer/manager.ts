// The transfer manager (SEMPER §3.3): sends a package to a peer over a channel with the
// security attributes the caller asks for, receives packages and enforces the attributes
// the receiver requires, and archives every item and receipt before acknowledging.
// README.md in this folder is the specification (envelope, keys, receipts, what each
// attribute guarantees and what it does not).

import { p256 } from '@noble/curves/p256';
import { sha256 } from '@noble/hashes/sha256';
import { randomBytes as nobleRandom } from '@noble/hashes/utils';
import { encodeCanonical, HostCbor, HostCborMap } from '../../../shared/src/cbor';
import { CertificateError, Role, TrustStore } from '../../../shared/src/certificate';
import { COSE_LIMITS, CoseError, decodeEncrypt0, decodeMapStrict, decodeSign1, decryptEncrypt0, deriveA256GcmKey, encryptEncrypt0, signSign1, verifyDecodedSign1 } from '../../../shared/src/cose';
import { ArchiveEntry, ArchiveStore, RecordKind } from '../services/archive';
import { Channel, TransferHandler } from './channel';
import { TransferError, TransferErrorCode } from './errors';
import { decodeElement, encodeElement, Element, hashElement, Item, leaves } from './items';

export const ATTRIBUTES = ['integrity', 'origin', 'confidentiality', 'receipt', 'anonymity'] as const;
export type SecurityAttribute = (typeof ATTRIBUTES)[number];
const BIT: Record<SecurityAttribute, number> = { integrity: 1, origin: 2, confidentiality: 4, receipt: 8, anonymity: 16 };

/** This party: a name and a P-256 key pair (software key, e.g. from the key store), optionally certified. */
export interface Identity {
  name: string;
  privateKey: Uint8Array;
  /** SEC1 uncompressed. */
  publicKey: Uint8Array;
  /** A CA-issued certificate of publicKey (shared/src/certificate.ts), sent along when origin is asked for. */
  certificate?: Uint8Array;
}

/** A peer as this party knows it: its name and static public key (from its certificate or configuration). */
export interface Peer {
  name: string;
  publicKey: Uint8Array;
}

export interface TransferManagerOptions {
  identity: Identity;
  archive: ArchiveStore;
  /** Public keys of known senders by name (checked before a certificate). */
  peers?: (name: string) => Uint8Array | undefined;
  /** Validates a sender's certificate carried in the envelope (roles merchant, bank, ttp, buyer-card). */
  trustStore?: TrustStore;
  /** Attributes every incoming transfer must have (ATTRIBUTE_MISSING otherwise). */
  require?: SecurityAttribute[];
  /** The application's look at a package before it is acknowledged; throw to refuse it. */
  accept?: (r: Received) => void | Promise<void>;
  /** Clock in ms (default Date.now). */
  now?: () => number;
  /** Random bytes (default @noble/hashes randomBytes). */
  random?: (n: number) => Uint8Array;
}

export interface SendOptions {
  attributes: SecurityAttribute[];
  /** Deal id, for the archive. */
  deal?: string;
  signal?: AbortSignal;
}

export interface SendResult {
  transferId: string;
  /** The root content hash of the package sent. */
  root: Uint8Array;
  /** The recipient's signed receipt (when asked for), verified. */
  receipt?: Uint8Array;
}

export interface Received {
  transferId: string;
  attributes: SecurityAttribute[];
  element: Element;
  root: Uint8Array;
  /** The sender's name; absent for an anonymous transfer. */
  sender?: string;
  /** The key that signed it (the sender's, or the per-transfer pseudonym key when anonymous). */
  signerKey?: Uint8Array;
  /** The sender's COSE_Sign1 over the package: the evidence of origin. */
  signed?: Uint8Array;
}

export interface Receipt {
  transferId: string;
  root: Uint8Array;
  recipient: string;
  /** ms since 1970. */
  time: number;
  items: number;
}

const MAGIC = 'semper-transfer';
const REPLY = 'semper-transfer-reply';
const RECEIPT = 'semper-receipt';
const VERSION = 1;
const KDF_PURPOSE = new TextEncoder().encode('semper-transfer/1');
const E = { magic: 1, version: 2, id: 3, attrs: 4, recipient: 5, sender: 6, ephemeral: 7, pseudonym: 8, content: 9 } as const;

export function attributeBits(a: readonly SecurityAttribute[]): number {
  let bits = 0;
  for (const x of a) {
    if (BIT[x] === undefined) throw new TransferError('MALFORMED', `unknown security attribute ${String(x)}`);
    bits |= BIT[x];
  }
  return bits;
}

export function attributesOf(bits: number): SecurityAttribute[] {
  return ATTRIBUTES.filter((a) => bits & BIT[a]);
}

/** origin needs integrity and a named sender; anonymity excludes origin. Returns the closed set. */
function normalise(attrs: readonly SecurityAttribute[]): number {
  let bits = attributeBits(attrs);
  if (bits & BIT.origin) bits |= BIT.integrity;
  if (bits & BIT.origin && bits & BIT.anonymity) throw new TransferError('ATTRIBUTE_CONFLICT', 'non-repudiation of origin and anonymity exclude each other');
  return bits;
}

const kidOf = (publicKey: Uint8Array): Uint8Array => sha256(publicKey).slice(0, 8);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const utf8 = new TextEncoder();

function eq(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return needle.length > 0 && Buffer.from(hay.buffer, hay.byteOffset, hay.length).indexOf(Buffer.from(needle)) >= 0;
}

/** The A256GCM key of one transfer: HKDF over ECDH(ephemeral, recipient), bound to the transfer id, both keys and the recipient's name. */
function transferKey(shared: Uint8Array, id: Uint8Array, ephemeral: Uint8Array, recipient: string, recipientKey: Uint8Array): Uint8Array {
  return deriveA256GcmKey(shared.slice(1, 33), { salt: id, partyU: { nonce: ephemeral }, partyV: { identity: utf8.encode(recipient), other: recipientKey }, purpose: KDF_PURPOSE });
}

/** What a signature over the package is bound to: this transfer, its attributes, its recipient, its sender. */
function signatureContext(id: Uint8Array, bits: number, recipient: string, sender: string | null): Uint8Array {
  return encodeCanonical(['semper-transfer-signature', id, bits, recipient, sender]);
}

function cose<T>(code: TransferErrorCode, what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof CoseError) throw new TransferError(code, `${what}: ${e.code}`);
    throw e;
  }
}

function field<T>(m: HostCborMap, k: number, ok: (v: unknown) => boolean, what: string): T {
  const v = m.get(k);
  if (!ok(v)) throw new TransferError('MALFORMED', `envelope field ${k} (${what})`, `/${k}`);
  return v as T;
}

const isBytes = (n?: number) => (v: unknown) => v instanceof Uint8Array && (n === undefined || v.length === n);
const isText = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= 256;

/** One archive record per item (kind by item type), the package, the receipt. */
function itemKind(i: Item): RecordKind {
  return i.kind === 'payment' ? 'payment-token' : i.kind === 'statement' ? 'signature' : i.kind === 'credential' ? 'certificate' : 'transfer';
}

export class TransferManager {
  private readonly seen = new Set<string>();
  private readonly now: () => number;
  private readonly random: (n: number) => Uint8Array;

  constructor(private readonly o: TransferManagerOptions) {
    this.now = o.now ?? Date.now;
    this.random = o.random ?? nobleRandom;
  }

  get identity(): Identity {
    return this.o.identity;
  }

  /** The receiving side as a channel handler (memoryChannel(m.handler), serveTransfers(m.handler)). */
  readonly handler: TransferHandler = (b) => this.receive(b);

  // ---------------------------------------------------------------- sending

  /**
   * Sends `element` to `peer` over `channel` with the requested attributes. Archives the
   * items before they leave and the receipt when it arrives. Throws TransferError: the
   * peer's refusal with its code, RECEIPT_MISSING / RECEIPT_INVALID, ANONYMITY_LEAK, CHANNEL.
   */
  async send(channel: Channel, peer: Peer, element: Element, opts: SendOptions): Promise<SendResult> {
    const bits = normalise(opts.attributes);
    const me = this.o.identity;
    const anonymous = (bits & BIT.anonymity) !== 0;
    const id = this.random(16);
    const transferId = hex(id);
    const body = encodeElement(element);
    const root = hashElement(element);

    const env: HostCborMap = new Map<number | string, HostCbor>([
      [E.magic, MAGIC],
      [E.version, VERSION],
      [E.id, id],
      [E.attrs, bits],
      [E.recipient, peer.name],
    ]);
    if (!anonymous) {
      const s: HostCborMap = new Map<number | string, HostCbor>([[1, me.name], [2, kidOf(me.publicKey)]]);
      if (bits & BIT.origin && me.certificate) s.set(3, me.certificate);
      env.set(E.sender, s);
    }
    let ephemeral: Uint8Array | undefined;
    if (bits & BIT.confidentiality) {
      ephemeral = p256.utils.randomPrivateKey();
      env.set(E.ephemeral, p256.getPublicKey(ephemeral, false));
    }
    // anonymous signatures are made with a fresh key per transfer: unlinkable to the sender and to each other
    const signer = bits & BIT.integrity && anonymous ? p256.utils.randomPrivateKey() : me.privateKey;
    if (bits & BIT.integrity && anonymous) env.set(E.pseudonym, p256.getPublicKey(signer, false));

    let content = body;
    let signed: Uint8Array | undefined;
    if (bits & BIT.integrity) {
      signed = signSign1(body, signer, { kid: anonymous ? undefined : kidOf(me.publicKey), externalAad: signatureContext(id, bits, peer.name, anonymous ? null : me.name) });
      content = signed;
    }
    if (ephemeral) {
      const key = transferKey(p256.getSharedSecret(ephemeral, peer.publicKey), id, env.get(E.ephemeral) as Uint8Array, peer.name, peer.publicKey);
      content = encryptEncrypt0(content, key, { externalAad: encodeCanonical(env) });
      ephemeral.fill(0);
    }
    env.set(E.content, content);
    const wire = encodeCanonical(env);
    if (anonymous) this.checkAnonymous(wire, body);

    await this.archiveElement(element, { deal: opts.deal, transfer: transferId, counterparty: peer.name }, -1);
    await this.o.archive.append({ kind: 'transfer', deal: opts.deal, transfer: transferId, counterparty: peer.name, label: `sent package ${hex(root).slice(0, 16)}`, evidence: signed ?? body, note: `attributes: ${attributesOf(bits).join(' ') || 'none'}` });

    const answer = await channel.request(wire, opts.signal);
    const reply = cose('MALFORMED', 'the answer', () => decodeMapStrict(answer, COSE_LIMITS));
    if (reply.get(1) !== REPLY || !(reply.get(2) instanceof Uint8Array) || !eq(reply.get(2) as Uint8Array, id)) throw new TransferError('MALFORMED', 'the answer is not a reply to this transfer');
    const err = reply.get(4);
    if (err !== undefined) {
      const [code, msg] = Array.isArray(err) ? err : [];
      throw new TransferError(typeof code === 'string' ? (code as TransferErrorCode) : 'REFUSED', `the peer refused the transfer: ${typeof msg === 'string' ? msg : ''}`, 'peer');
    }
    const out: SendResult = { transferId, root };
    if (bits & BIT.receipt) {
      const receipt = reply.get(3);
      if (!(receipt instanceof Uint8Array)) throw new TransferError('RECEIPT_MISSING', 'the peer acknowledged without the receipt that was asked for');
      const r = verifyReceipt(receipt, peer.publicKey);
      if (r.transferId !== transferId || !eq(r.root, root) || r.recipient !== peer.name) throw new TransferError('RECEIPT_INVALID', 'the receipt names another transfer, content or recipient');
      await this.o.archive.append({ kind: 'receipt', deal: opts.deal, transfer: transferId, counterparty: peer.name, label: `receipt for ${hex(root).slice(0, 16)}`, evidence: receipt });
      out.receipt = receipt;
    }
    return out;
  }

  /** Anonymity: neither the wire bytes nor the package may carry this party's name, key, key id or certificate. */
  private checkAnonymous(wire: Uint8Array, body: Uint8Array): void {
    const me = this.o.identity;
    const marks: [string, Uint8Array][] = [
      ['public key', me.publicKey],
      ['public key x', me.publicKey.slice(1, 33)],
      ['key id', kidOf(me.publicKey)],
    ];
    if (utf8.encode(me.name).length >= 4) marks.push(['name', utf8.encode(me.name)]);
    if (me.certificate) marks.push(['certificate', me.certificate]);
    for (const [what, m] of marks) {
      if (contains(wire, m) || contains(body, m)) throw new TransferError('ANONYMITY_LEAK', `an anonymous transfer would carry the sender's ${what}`);
    }
  }

  // ---------------------------------------------------------------- receiving

  /** Handles one envelope; always returns a reply (a receipt or an error with its code). */
  async receive(wire: Uint8Array): Promise<Uint8Array> {
    let id: Uint8Array = new Uint8Array(0);
    try {
      const env = cose('MALFORMED', 'envelope', () => decodeMapStrict(wire, COSE_LIMITS));
      id = field<Uint8Array>(env, E.id, isBytes(16), 'transfer id');
      const receipt = await this.open(env, id);
      const reply: HostCborMap = new Map<number | string, HostCbor>([[1, REPLY], [2, id]]);
      if (receipt) reply.set(3, receipt);
      return encodeCanonical(reply);
    } catch (e) {
      const code: TransferErrorCode = e instanceof TransferError ? e.code : 'REFUSED';
      const msg = e instanceof TransferError ? e.message : e instanceof Error ? `${e.name}${'code' in e ? ` ${String((e as { code: unknown }).code)}` : ''}` : 'refused';
      return encodeCanonical(new Map<number | string, HostCbor>([[1, REPLY], [2, id], [4, [code, msg.slice(0, 512)]]]));
    }
  }

  private async open(env: HostCborMap, id: Uint8Array): Promise<Uint8Array | undefined> {
    const me = this.o.identity;
    for (const k of env.keys()) if (typeof k !== 'number' || k < E.magic || k > E.content) throw new TransferError('MALFORMED', `unexpected envelope field ${String(k)}`);
    if (env.get(E.magic) !== MAGIC || env.get(E.version) !== VERSION) throw new TransferError('MALFORMED', 'not a semper-transfer envelope of version 1');
    const bits = field<number>(env, E.attrs, (v) => typeof v === 'number' && v >= 0 && v < 32, 'attributes');
    const attrs = attributesOf(bits);
    normalise(attrs);
    if (bits & BIT.origin && !(bits & BIT.integrity)) throw new TransferError('MALFORMED', 'origin without integrity');
    for (const r of this.o.require ?? []) if (!attrs.includes(r)) throw new TransferError('ATTRIBUTE_MISSING', `this party requires ${r}`);
    const recipient = field<string>(env, E.recipient, isText, 'recipient');
    if (recipient !== me.name) throw new TransferError('MALFORMED', 'the transfer is addressed to another party');
    const transferId = hex(id);
    if (this.seen.has(transferId)) throw new TransferError('REPLAY', 'this transfer was accepted already');
    const anonymous = (bits & BIT.anonymity) !== 0;

    let senderName: string | undefined;
    let senderKid: Uint8Array | undefined;
    let senderCert: Uint8Array | undefined;
    if (anonymous) {
      if (env.has(E.sender)) throw new TransferError('ANONYMITY_LEAK', 'an anonymous transfer names its sender');
    } else {
      const s = field<HostCborMap>(env, E.sender, (v) => v instanceof Map, 'sender');
      senderName = field<string>(s, 1, isText, 'sender name');
      senderKid = field<Uint8Array>(s, 2, isBytes(8), 'sender key id');
      if (s.has(3)) senderCert = field<Uint8Array>(s, 3, isBytes(), 'sender certificate');
    }
    if (env.has(E.pseudonym) !== (anonymous && (bits & BIT.integrity) !== 0)) throw new TransferError('MALFORMED', 'a pseudonym key goes with anonymous integrity, and only there');
    if (env.has(E.ephemeral) !== ((bits & BIT.confidentiality) !== 0)) throw new TransferError('MALFORMED', 'an ephemeral key goes with confidentiality, and only there');

    let content = field<Uint8Array>(env, E.content, isBytes(), 'content');
    if (bits & BIT.confidentiality) {
      const eph = field<Uint8Array>(env, E.ephemeral, isBytes(65), 'ephemeral key');
      const header = new Map(env);
      header.delete(E.content);
      cose('MALFORMED', 'encrypted content', () => decodeEncrypt0(content));
      const shared = cose('CONFIDENTIALITY', 'ephemeral key', () => {
        try {
          return p256.getSharedSecret(me.privateKey, eph);
        } catch (_e) {
          throw new CoseError('BAD_KEY', 'not a P-256 point');
        }
      });
      const key = transferKey(shared, id, eph, me.name, me.publicKey);
      content = cose('CONFIDENTIALITY', 'the content does not decrypt under the key agreed for this recipient', () => decryptEncrypt0(content, key, { externalAad: encodeCanonical(header) }));
    } else if (env.has(E.ephemeral)) throw new TransferError('MALFORMED', 'ephemeral key without confidentiality');

    const r: Partial<Received> = { transferId, attributes: attrs };
    let body = content;
    if (bits & BIT.integrity) {
      const s1 = cose('INTEGRITY', 'signed content', () => decodeSign1(content));
      let key: Uint8Array;
      if (anonymous) {
        key = field<Uint8Array>(env, E.pseudonym, isBytes(65), 'pseudonym key');
        if (s1.kid) throw new TransferError('ANONYMITY_LEAK', 'an anonymous signature carries a key id');
      } else {
        key = this.senderKey(senderName!, senderCert, (bits & BIT.origin) !== 0);
        if (!eq(kidOf(key), senderKid!) || !s1.kid || !eq(s1.kid, senderKid!)) throw new TransferError('ORIGIN', `not signed with the key of ${senderName}`);
      }
      cose('INTEGRITY', 'the package signature does not verify', () => verifyDecodedSign1(s1, key, signatureContext(id, bits, me.name, senderName ?? null)));
      body = s1.payload;
      r.signed = content;
      r.signerKey = key;
    } else if (env.has(E.pseudonym)) throw new TransferError('MALFORMED', 'pseudonym without integrity');
    const element = decodeElement(body);
    r.element = element;
    r.root = hashElement(element);
    if (senderName) r.sender = senderName;
    const received = r as Received;
    if (this.o.accept) {
      try {
        await this.o.accept(received);
      } catch (e) {
        if (e instanceof TransferError) throw e;
        throw new TransferError('REFUSED', e instanceof Error ? e.message : 'refused by the application');
      }
    }
    if (this.seen.has(transferId)) throw new TransferError('REPLAY', 'this transfer was accepted already');
    this.seen.add(transferId);
    // archive before acknowledging
    const counterparty = senderName ?? 'anonymous';
    await this.archiveElement(element, { transfer: transferId, counterparty }, 1);
    await this.o.archive.append({ kind: 'transfer', transfer: transferId, counterparty, label: `received package ${hex(received.root).slice(0, 16)}`, evidence: received.signed ?? body, note: `attributes: ${attrs.join(' ') || 'none'}` });
    if (!(bits & BIT.receipt)) return undefined;
    const receipt = makeReceipt({ transferId, root: received.root, recipient: me.name, time: Math.floor(this.now()), items: leaves(element).length }, me.privateKey, me.publicKey);
    await this.o.archive.append({ kind: 'receipt', transfer: transferId, counterparty, label: `receipt issued for ${hex(received.root).slice(0, 16)}`, evidence: receipt });
    return receipt;
  }

  /** The sender's key: from the configured peers, else from its certificate (when it sent one and a trust store is set). */
  private senderKey(name: string, certificate: Uint8Array | undefined, origin: boolean): Uint8Array {
    const known = this.o.peers?.(name);
    if (known) return known;
    if (certificate && this.o.trustStore) {
      try {
        const roles: Role[] = ['merchant', 'bank', 'ttp', 'buyer-card'];
        const [end] = this.o.trustStore.validate(certificate, Math.floor(this.now() / 1000), { roles });
        if (end.name !== name) throw new TransferError('ORIGIN', 'the certificate names another party');
        return end.publicKey;
      } catch (e) {
        if (e instanceof CertificateError) throw new TransferError('ORIGIN', `the sender's certificate is not valid: ${e.code}`);
        throw e;
      }
    }
    throw new TransferError('ORIGIN', `${origin ? 'non-repudiation of origin' : 'integrity'} needs the key of ${name}, which this party does not know`);
  }

  private async archiveElement(element: Element, ctx: Pick<ArchiveEntry, 'deal' | 'transfer' | 'counterparty'>, sign: 1 | -1): Promise<void> {
    for (const { path, item } of leaves(element)) {
      const e: ArchiveEntry = { ...ctx, kind: itemKind(item), label: `${item.kind} /${path.join('/')}`, evidence: encodeElement(item) };
      if (item.kind === 'payment') Object.assign(e, { amount: sign * item.amount, currency: item.currency });
      await this.o.archive.append(e);
    }
  }
}

// ------------------------------------------------------------------ receipts

/** A receipt: COSE_Sign1 by the recipient over {1: "semper-receipt", 2: transfer id, 3: root, 4: recipient, 5: time, 6: items}. */
export function makeReceipt(r: Receipt, privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  const m = new Map<number | string, HostCbor>([
    [1, RECEIPT],
    [2, Buffer.from(r.transferId, 'hex')],
    [3, r.root],
    [4, r.recipient],
    [5, r.time],
    [6, r.items],
  ]);
  return signSign1(encodeCanonical(m), privateKey, { kid: kidOf(publicKey) });
}

/** Verifies a receipt under the recipient's key and returns it. RECEIPT_INVALID otherwise. */
export function verifyReceipt(receipt: Uint8Array, recipientKey: Uint8Array): Receipt {
  const s = cose('RECEIPT_INVALID', 'receipt', () => decodeSign1(receipt));
  cose('RECEIPT_INVALID', 'the receipt is not signed by the recipient', () => verifyDecodedSign1(s, recipientKey));
  const m = cose('RECEIPT_INVALID', 'receipt payload', () => decodeMapStrict(s.payload));
  const [tag, id, root, recipient, time, items] = [1, 2, 3, 4, 5, 6].map((k) => m.get(k));
  if (m.size !== 6 || tag !== RECEIPT || !isBytes(16)(id) || !isBytes(32)(root) || !isText(recipient) || typeof time !== 'number' || typeof items !== 'number') throw new TransferError('RECEIPT_INVALID', 'not a semper-receipt');
  return { transferId: hex(id as Uint8Array), root: root as Uint8Array, recipient: recipient as string, time, items };
}
