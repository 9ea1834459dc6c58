// Exchange modules: what the exchange layer needs to know of an item type, and nothing more.
// A module checks that an item is the one its description promised in *this* exchange
// (external verifiability, used by the receiving party and by the third party alike), and
// says how the third party can stand in for it: generate a replacement (an affidavit), or
// revoke it (a refund authorisation the bank honours). The protocols (protocol.ts, manager.ts,
// ../ttp/) are written once against this interface: a new item type with the right
// properties needs a module, never new exchange code.

import { sha256 } from '@noble/hashes/sha256';
import { encodeCanonical, HostCbor, HostCborMap } from '../../../shared/src/cbor';
import { decodeCertificate } from '../../../shared/src/certificate';
import { decodeMapStrict, verifySign1 } from '../../../shared/src/cose';
import { Element, InformationItem, PaymentItem, StatementItem, statement } from '../transfer/items';
import type { ExchangeEnabling } from '../transfer/openness';
import { PaymentRequest, VerifiedPayment } from '../payment/manager';
import { ExchangeError } from './errors';
import { Agreement, AFFIDAVIT_FORMAT, descriptionOf, descriptionToCbor, Fields, hasProperty, PROPERTY, ItemDescription, openSigned, checkSignature, propertyBits, sameBytes, signAffidavit, signMap } from './formats';

/** What a module sees when it checks or replaces an item. */
export interface ExchangeContext {
  agreement: Agreement;
  /** SHA-256 of the signed agreement payload: what items bind to. */
  agreementHash: Uint8Array;
  /** ms. */
  now: number;
}

/** The third party's tools, given to generate/revoke. */
export interface ThirdPartyTools {
  privateKey: Uint8Array;
  /** Fresh random bytes. */
  random(n: number): Uint8Array;
}

export interface ExchangeItemModule {
  /** The description's `type`. */
  readonly type: string;
  /** Checks that `element` is the item `desc` promised in this exchange. ExchangeError MISMATCH / WRONG_EXCHANGE / MALFORMED. */
  verify(element: Element, desc: ItemDescription, ctx: ExchangeContext): void;
  /**
   * Third party, before it resolves on the strength of this item: that the transfer really took
   * effect outside the two parties (a payment: settled at the bank — deposited on the payee's
   * behalf if the payee never did). ExchangeError MISMATCH / REFUSED if not.
   */
  confirm?(element: Element, desc: ItemDescription, ctx: ExchangeContext): Promise<void>;
  /** Third party: an item that stands in for the withheld one (only for descriptions offering `generateable` without escrow). */
  generate?(desc: ItemDescription, evidence: Uint8Array, ctx: ExchangeContext, t: ThirdPartyTools): Element;
  /** Third party: what undoes the transfer of `element` (only for `revocable`): refund authorisations. */
  revoke?(element: Element, desc: ItemDescription, ctx: ExchangeContext, t: ThirdPartyTools): Uint8Array[];
  /**
   * Third party: what undoes the transfer of whatever item matches `desc` in this exchange,
   * without being shown it — so a party that aborts after it received the other's item cannot
   * keep it by not showing it. Preferred over `revoke` where the module can do it.
   */
  revokeDescribed?(desc: ItemDescription, ctx: ExchangeContext, t: ThirdPartyTools): Uint8Array[];
}

function mismatch(what: string): never {
  throw new ExchangeError('MISMATCH', what, what);
}

function only<K extends Element['kind']>(e: Element, kind: K): Extract<Element, { kind: K }> {
  if (e.kind !== kind) mismatch(`a ${kind} was promised, a ${e.kind} came`);
  return e as Extract<Element, { kind: K }>;
}

// ------------------------------------------------------------------ payment

/**
 * spec of a payment: {1: [amount, currency], 2: payee, ? 3: transaction digest}. Without 3 the
 * payment's transaction digest must be the agreement hash. With 3 it must be that digest — the
 * SHA-256 of the order statement the user confirmed on the device (the card signs the digest of
 * what it showed, and the device cannot show an agreement hash to a person); the agreement binds
 * the digest, and the statement's order reference makes it unique to the deal.
 */
export function paymentDescription(amount: number, currency: string, payee: string, opts: { enables?: readonly ExchangeEnabling[]; label?: string; txDigest?: Uint8Array } = {}): ItemDescription {
  const spec = new Map<number, HostCbor>([[1, [amount, currency]], [2, payee]]);
  if (opts.txDigest) spec.set(3, opts.txDigest);
  return {
    type: 'payment',
    // what the paying instrument declares (its ModuleInfo.enables); the bank-backed ones are both
    properties: propertyBits(opts.enables ?? ['externally-verifiable', 'revocable']),
    spec,
    label: opts.label ?? `${amount} ${currency} to ${payee}`,
  };
}

function paymentSpec(desc: ItemDescription): { amount: number; currency: string; payee: string; txDigest?: Uint8Array } {
  const f = new Fields(desc.spec, 'payment').only([1, 2, 3]);
  const m = f.m.get(1);
  const [amount, currency] = Array.isArray(m) && m.length === 2 ? m : [];
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0 || typeof currency !== 'string') return f.fail(1, '[amount, currency] expected');
  return { amount, currency, payee: f.text(2), ...(f.has(3) ? { txDigest: f.bytes(3, 32) } : {}) };
}

/** The refund authorisation of a revoked payment (payment/README.md, "semper-refund"): the reference and the amount. */
export interface RefundSigner {
  (r: { reference: HostCbor; amount: number; currency: string; refundId: Uint8Array; reason: string; time: number }, privateKey: Uint8Array): Uint8Array;
}

/**
 * Payments: externally verifiable (the card's token, or the signed order, checked as the payee's
 * instrument checks it, bound to the agreement by its transaction digest) and revocable (the third
 * party signs a refund authorisation for the bank).
 */
export class PaymentExchangeModule implements ExchangeItemModule {
  readonly type = 'payment';
  constructor(
    private readonly o: {
      /** The payee's check of a payment item (PaymentManager.verify). */
      verify(item: PaymentItem, expect: PaymentRequest): VerifiedPayment;
      /** Makes refund authorisations (payment/formats.ts); without it payments are not revocable here. */
      signRefund?: RefundSigner;
      /**
       * The third party's check that the payment took effect — at the bank (bank/client.ts behind
       * it) — or its refusal (ExchangeError) to resolve on a payment it cannot check; without it
       * the local verification alone is trusted.
       */
      settle?(item: PaymentItem, verified: VerifiedPayment, requestId: string): Promise<void>;
    },
  ) {}

  async confirm(element: Element, desc: ItemDescription, ctx: ExchangeContext): Promise<void> {
    const v = this.check(element, desc, ctx);
    if (!this.o.settle) return;
    try {
      await this.o.settle(only(element, 'payment'), v, `ttp-${Buffer.from(ctx.agreement.id).toString('hex')}`);
    } catch (e) {
      if (e instanceof ExchangeError) throw e; // the check's own refusal (e.g. nothing to check the payment with)
      throw new ExchangeError('MISMATCH', `the payment does not stand at the bank: ${(e as Error).message}`, (e as { detail?: string; code?: string }).detail ?? (e as { code?: string }).code);
    }
  }

  private check(element: Element, desc: ItemDescription, ctx: ExchangeContext): VerifiedPayment {
    const item = only(element, 'payment');
    const want = paymentSpec(desc);
    try {
      return this.o.verify(item, { ...want, txDigest: want.txDigest ?? ctx.agreementHash, time: Math.floor(ctx.now / 1000) });
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === 'MISMATCH' && (e as { detail?: unknown }).detail === 'txDigest') throw new ExchangeError('WRONG_EXCHANGE', 'the payment is bound to another exchange', 'txDigest');
      throw new ExchangeError('MISMATCH', `the payment does not verify: ${(e as Error).message}`, typeof code === 'string' ? code : undefined);
    }
  }

  verify(element: Element, desc: ItemDescription, ctx: ExchangeContext): void {
    this.check(element, desc, ctx);
  }

  /** The payment bound to this exchange as described: refunded by its binding (transaction digest and payee) at the bank. */
  revokeDescribed(desc: ItemDescription, ctx: ExchangeContext, t: ThirdPartyTools): Uint8Array[] {
    if (!this.o.signRefund) throw new ExchangeError('REFUSED', 'this third party cannot revoke payments (no refund signer)');
    const want = paymentSpec(desc);
    const binding = want.txDigest ?? ctx.agreementHash;
    // one refund id per exchange and payment, whoever asks and however often
    const refundId = sha256(Uint8Array.from([...ctx.agreementHash, ...binding, ...new TextEncoder().encode(want.payee)])).slice(0, 16);
    return [this.o.signRefund({ reference: [binding, want.payee], amount: want.amount, currency: want.currency, refundId, reason: `fair exchange ${Buffer.from(ctx.agreement.id).toString('hex')} aborted`, time: Math.floor(ctx.now / 1000) }, t.privateKey)];
  }

  revoke(element: Element, desc: ItemDescription, ctx: ExchangeContext, t: ThirdPartyTools): Uint8Array[] {
    if (!this.o.signRefund) throw new ExchangeError('REFUSED', 'this third party cannot revoke payments (no refund signer)');
    const v = this.check(element, desc, ctx);
    const reference: HostCbor = v.token ? [v.token.cardId, v.token.counter] : Buffer.from(v.orderId ?? '', 'hex');
    return [this.o.signRefund({ reference, amount: v.amount, currency: v.currency, refundId: t.random(16), reason: `fair exchange ${Buffer.from(ctx.agreement.id).toString('hex')} aborted`, time: Math.floor(ctx.now / 1000) }, t.privateKey)];
  }
}

// ------------------------------------------------------------------ statement (a signature: receipt, contract signature)

export const SIGNATURE_FORMAT = 'semper-exchange-signature/1';
const SIGNATURE = 'semper-exchange-signature';

/** spec of a signature: {1: signer name, 2: signer public key, ? 3: SHA-256 of the content signed} */
export function signatureDescription(signer: { name: string; publicKey: Uint8Array }, opts: { contentHash?: Uint8Array; label?: string } = {}): ItemDescription {
  const spec = new Map<number, HostCbor>([[1, signer.name], [2, signer.publicKey]]);
  if (opts.contentHash) spec.set(3, opts.contentHash);
  return { type: 'statement', properties: propertyBits(['externally-verifiable', 'generateable']), spec, label: opts.label ?? `signature of ${signer.name}` };
}

/**
 * A signature bound to the exchange: over {1: magic, ? 2: agreement hash, ? 3: content hash, 4: text, 5: time}.
 * It binds through the agreement hash (2), or — when it signs named content (3: an order digest,
 * a contract hash) — through that content; an item made before the agreement exists (an escrowed
 * receipt) can only do the latter.
 */
export function makeSignature(agreementHash: Uint8Array | undefined, text: string, privateKey: Uint8Array, opts: { contentHash?: Uint8Array; time?: number } = {}): StatementItem {
  if (!agreementHash && !opts.contentHash) throw new ExchangeError('MALFORMED', 'a signature binds to the agreement or to named content');
  const m = new Map<number, HostCbor>([[1, SIGNATURE], [4, text], [5, opts.time ?? Date.now()]]);
  if (agreementHash) m.set(2, agreementHash);
  if (opts.contentHash) m.set(3, opts.contentHash);
  return statement(SIGNATURE_FORMAT, signMap(m, privateKey));
}

export const CARD_STATEMENT_FORMAT = 'semper-card-statement/1';

/**
 * spec of a statement the card signed on the device (a registration, a contract — the device's
 * SIGN): {1: holder name, 2: the card's public key, 3: SHA-256 of the statement, 4: the format}.
 * Externally verifiable only: no third party can make the holder's signature.
 */
export function cardStatementDescription(holder: { name: string; publicKey: Uint8Array }, statementDigest: Uint8Array, label?: string): ItemDescription {
  const spec = new Map<number, HostCbor>([[1, holder.name], [2, holder.publicKey], [3, statementDigest], [4, CARD_STATEMENT_FORMAT]]);
  return { type: 'statement', properties: propertyBits(['externally-verifiable']), spec, label: label ?? `statement signed by ${holder.name}'s card` };
}

/** The item: {1: the COSE_Sign1 the device's SIGN made (payload: the statement shown), 2: the card's certificate}. */
export function cardStatement(signedStatement: Uint8Array, certificate: Uint8Array): StatementItem {
  return statement(CARD_STATEMENT_FORMAT, encodeCanonical(new Map<number, HostCbor>([[1, signedStatement], [2, certificate]])));
}

/** A card statement's parts: the statement the holder saw, the certificate; its signature checked against the key the description names. */
export function openCardStatement(document: Uint8Array, cardKey: Uint8Array): { statement: Uint8Array; certificate: Uint8Array } {
  const f = new Fields(exchangeCbor(() => decodeMapStrict(document), 'card statement'), 'card statement').only([1, 2]);
  const certificate = f.bytes(2, undefined, 4096);
  if (!sameBytes(exchangeCbor(() => decodeCertificate(certificate), 'card certificate').publicKey, cardKey)) mismatch('the card statement comes with another card\u2019s certificate');
  const sign1 = exchangeCbor(() => verifySign1(f.bytes(1, undefined, 8192), cardKey), 'card signature');
  return { statement: sign1.payload, certificate };
}

function exchangeCbor<T>(f: () => T, what: string): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ExchangeError) throw e;
    throw new ExchangeError('MISMATCH', `${what}: ${(e as Error).message}`, what);
  }
}

/**
 * Signatures (receipts, contract signatures): externally verifiable under the signer key the
 * agreement names, bound to the agreement; generateable — the third party's affidavit stands in.
 * Card statements (spec 4): the card's signature over the statement the agreement names by digest.
 */
export class SignatureExchangeModule implements ExchangeItemModule {
  readonly type = 'statement';

  verify(element: Element, desc: ItemDescription, ctx: ExchangeContext): void {
    const s = only(element, 'statement');
    if (desc.spec.get(4) === CARD_STATEMENT_FORMAT) {
      if (s.format !== CARD_STATEMENT_FORMAT) mismatch(`a ${CARD_STATEMENT_FORMAT} statement was promised, a ${s.format} came`);
      const spec = new Fields(desc.spec, 'statement').only([1, 2, 3, 4]);
      const { statement: shown } = openCardStatement(s.document, spec.bytes(2, 65));
      if (!sameBytes(sha256(shown), spec.bytes(3, 32))) mismatch('the card signed another statement than the one agreed');
      return;
    }
    if (s.format !== SIGNATURE_FORMAT) mismatch(`a ${SIGNATURE_FORMAT} statement was promised, a ${s.format} came`);
    const spec = new Fields(desc.spec, 'statement').only([1, 2, 3]);
    const { sign1, f } = openSigned(s.document, SIGNATURE);
    f.only([1, 2, 3, 4, 5]);
    checkSignature(sign1, spec.bytes(2, 65), 'signature');
    if (f.has(2) && !sameBytes(f.bytes(2, 32), ctx.agreementHash)) throw new ExchangeError('WRONG_EXCHANGE', 'the signature is for another exchange');
    if (spec.has(3) && (!f.has(3) || !sameBytes(f.bytes(3, 32), spec.bytes(3, 32)))) mismatch('the signature is over other content');
    if (!f.has(2) && !spec.has(3)) throw new ExchangeError('WRONG_EXCHANGE', 'the signature names neither this exchange nor the content agreed');
  }

  generate(desc: ItemDescription, evidence: Uint8Array, ctx: ExchangeContext, t: ThirdPartyTools): Element {
    return statement(AFFIDAVIT_FORMAT, signAffidavit({ exchangeId: ctx.agreement.id, agreementHash: ctx.agreementHash, replaces: desc, evidenceHash: sha256(evidence), time: ctx.now }, t.privateKey));
  }
}

// ------------------------------------------------------------------ information (goods: documents, query results)

/** spec of information: {1: media type, 2: SHA-256 of the data} */
export function informationDescription(mediaType: string, data: Uint8Array, label?: string): ItemDescription {
  return {
    type: 'information',
    properties: propertyBits(['externally-verifiable', 'generateable']),
    spec: new Map<number, HostCbor>([[1, mediaType], [2, sha256(data)]]),
    label: label ?? `${mediaType}, ${data.length} bytes`,
  };
}

/**
 * Information: externally verifiable by its hash; generateable only by escrow (the originator
 * encrypts it to the third party in the first message; the agreement commits to the escrow).
 */
export class InformationExchangeModule implements ExchangeItemModule {
  readonly type = 'information';

  verify(element: Element, desc: ItemDescription): void {
    const i: InformationItem = only(element, 'information');
    const spec = new Fields(desc.spec, 'information').only([1, 2]);
    if (i.encrypted) mismatch('the information came encrypted');
    if (i.mediaType !== spec.text(1)) mismatch(`${spec.text(1)} was promised, ${i.mediaType} came`);
    if (!sameBytes(sha256(i.data), spec.bytes(2, 32))) mismatch('the information is not what was described (hash)');
  }
}

// ------------------------------------------------------------------ package (several items as one: goods and their receipt)

/** spec of a package: {1: name, 2: [child descriptions]} — the package's children, in order. */
export function packageDescription(name: string, children: ItemDescription[], label?: string): ItemDescription {
  const all = (p: number) => children.every((c) => (c.properties & p) !== 0);
  // externally verifiable when every child is; generateable by escrow always; revocable when every child is
  const bits = (all(PROPERTY['externally-verifiable']) ? PROPERTY['externally-verifiable'] : 0) | PROPERTY.generateable | (all(PROPERTY.revocable) ? PROPERTY.revocable : 0);
  return { type: 'package', properties: bits, spec: new Map<number, HostCbor>([[1, name], [2, children.map(descriptionToCbor)]]), label: label ?? children.map((c) => c.label).join(' + ') };
}

/**
 * Packages (SEMPER's tree-like packages of business items): a package matches when each child
 * matches its description, checked by the child's own module. Generated by escrow (a package has
 * no affidavit of its own); revoked child by child.
 */
export class PackageExchangeModule implements ExchangeItemModule {
  readonly type = 'package';
  constructor(private readonly registry: () => ExchangeModules) {}

  private children(element: Element, desc: ItemDescription): [Element, ItemDescription][] {
    const p = only(element, 'package');
    const f = new Fields(desc.spec, 'package').only([1, 2]);
    if (p.name !== f.text(1)) mismatch(`the package ${f.text(1)} was promised, ${p.name} came`);
    const list = f.m.get(2);
    if (!Array.isArray(list) || !list.every((x) => x instanceof Map)) return f.fail(2, 'child descriptions expected');
    const descs = list.map((m, i) => descriptionOf(new Fields(m as HostCborMap, `package/2/${i}`)));
    if (descs.length !== p.children.length) mismatch(`${descs.length} items were promised, ${p.children.length} came`);
    return p.children.map((c, i) => [c, descs[i]]);
  }

  verify(element: Element, desc: ItemDescription, ctx: ExchangeContext): void {
    for (const [c, d] of this.children(element, desc)) this.registry().get(d.type).verify(c, d, ctx);
  }

  revoke(element: Element, desc: ItemDescription, ctx: ExchangeContext, t: ThirdPartyTools): Uint8Array[] {
    return this.children(element, desc).flatMap(([c, d]) => {
      const m = this.registry().get(d.type);
      if (!m.revoke) throw new ExchangeError('REFUSED', `a ${d.type} in the package cannot be revoked`);
      return m.revoke(c, d, ctx, t);
    });
  }
}

/** The registry of exchange modules by type. */
export class ExchangeModules {
  private readonly byType = new Map<string, ExchangeItemModule>();

  constructor(modules: ExchangeItemModule[] = []) {
    for (const m of modules) this.register(m);
  }

  /** These modules and packages of their items (the package module checks children with this registry). */
  static withPackages(modules: ExchangeItemModule[]): ExchangeModules {
    const r: ExchangeModules = new ExchangeModules(modules);
    return r.register(new PackageExchangeModule(() => r));
  }

  register(m: ExchangeItemModule): this {
    if (this.byType.has(m.type)) throw new ExchangeError('UNKNOWN_ITEM', `a module for ${m.type} is registered already`);
    this.byType.set(m.type, m);
    return this;
  }

  get(type: string): ExchangeItemModule {
    const m = this.byType.get(type);
    if (!m) throw new ExchangeError('UNKNOWN_ITEM', `no exchange module for items of type ${type}`, type);
    return m;
  }

  /**
   * The properties a description claims, as far as its module can deliver them: revocable needs
   * the module's revoke. Generateable is always deliverable — by the module's affidavit, else by
   * escrow (the third party opens the originator's encrypted item).
   */
  effectiveProperties(desc: ItemDescription): number {
    const m = this.get(desc.type);
    return hasProperty(desc.properties, 'revocable') && !m.revoke ? desc.properties & ~PROPERTY.revocable : desc.properties;
  }

  /** How the third party generates the originator's item: the module's affidavit, else escrow. */
  generation(desc: ItemDescription): 'affidavit' | 'escrow' {
    return this.get(desc.type).generate ? 'affidavit' : 'escrow';
  }
}

