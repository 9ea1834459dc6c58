// The payment manager (SEMPER §3.6 "generic payment service") and its two instruments:
//
//   device-purse/1 (cash-like): the card in the device debits its purse and signs a payment
//     token (board/card/APPLET.md); the payee checks it with the card's CA-issued certificate
//     and deposits it at the bank, which catches double spending by (card id, counter).
//   account/1 (account-based): a payment order signed by the payer's software key; the bank
//     settles it from the payer's account into the payee's, once per order id.
//   account-card/1 (account-based, SET-like): the same settlement, but the order is a device
//     statement the user read on the device and the card signed (SIGN, OK + PIN); the bank
//     checks it against the card registered for the payer account.
//
// Payer and payee negotiate the instrument with ServiceManager.negotiate (the payer, as
// initiator, wins ties of preference); `offerFor` leaves out instruments whose limits do not
// fit the amount (stored value for small amounts, accounts for large ones — the 1998 trials'
// wish). The bank is reached through the SettlementPort, which bank/client.ts implements.

import { randomBytes } from '@noble/hashes/utils';
import { decodeCanonical, encodeCanonical, HostCbor } from '../../../shared/src/cbor';
import { TrustStore } from '../../../shared/src/certificate';
import { COSE_LIMITS } from '../../../shared/src/cose';
import { PaymentItem, payment } from '../transfer/items';
import { ExchangeEnabling, moduleRef, ModuleInfo, ModuleRef, ServiceManager, ServiceModule } from '../transfer/openness';
import { cardOrderStatement, decodePaymentOrder, encodeCardOrder, hex, PaymentError, PaymentToken, sign1FromDevice, signPaymentOrder, verifyCardOrder, verifyPaymentOrder, verifyPaymentToken } from './formats';

/** What the payee asks for: the amount, to whom, and the digest of the order being paid. */
export interface PaymentRequest {
  /** The payee's account id at the bank; also the payee the card shows and signs. */
  payee: string;
  amount: number;
  currency: string;
  /** SHA-256 of the statement (order) this payment is for: binds payment and order. */
  txDigest: Uint8Array;
  /** Seconds since 1970. */
  time: number;
}

export interface VerifiedPayment {
  instrument: ModuleRef;
  amount: number;
  currency: string;
  payee: string;
  /** Card payments: the token and the card; account payments: the order's payer and id. */
  token?: PaymentToken;
  payer?: string;
  orderId?: string;
}

export interface Settlement {
  instrument: ModuleRef;
  amount: number;
  currency: string;
  /** The payee's balance after the settlement. */
  balance: number;
  /** The bank's ledger entry. */
  entry: number;
}

/** The bank as the payee's instruments see it (implemented over HTTP by bank/client.ts). */
export interface SettlementPort {
  deposit(r: { requestId: string; merchant: string; token: Uint8Array; cardCertificate: Uint8Array; intermediates?: Uint8Array[] }): Promise<{ balance: number; entry: number }>;
  /** `order` (account/1) or `cardOrder` (account-card/1). */
  settleOrder(r: { requestId: string; order?: Uint8Array; cardOrder?: Uint8Array }): Promise<{ balance: number; entry: number }>;
}

/** The internal interface (SPI) of a payment module. */
export interface PaymentInstrument extends ServiceModule {
  /** Largest amount this instrument is offered for (minor units), if limited. */
  readonly maxAmount?: number;
  /** Payer side: makes the payment item (may involve the user on the device). */
  pay(req: PaymentRequest): Promise<PaymentItem>;
  /** Payee side: checks the item locally against what was asked for. PaymentError. */
  verify(item: PaymentItem, expect: PaymentRequest): VerifiedPayment;
  /** Payee side: has the bank settle it. PaymentError NOT_SETTLED with the bank's code. */
  settle(item: PaymentItem, bank: SettlementPort, requestId: string): Promise<Settlement>;
}

function expectMatches(got: { payee: string; amount: number; currency: string; txDigest: Uint8Array }, expect: PaymentRequest): void {
  if (got.payee !== expect.payee) throw new PaymentError('MISMATCH', 'paid to another payee', 'payee');
  if (got.amount !== expect.amount || got.currency !== expect.currency) throw new PaymentError('MISMATCH', 'another amount was paid', 'amount');
  if (hex(got.txDigest) !== hex(expect.txDigest)) throw new PaymentError('MISMATCH', 'the payment is for another order', 'txDigest');
}

async function settled(instrument: ModuleRef, item: PaymentItem, f: () => Promise<{ balance: number; entry: number }>): Promise<Settlement> {
  try {
    const r = await f();
    return { instrument, amount: item.amount, currency: item.currency, balance: r.balance, entry: r.entry };
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    throw new PaymentError('NOT_SETTLED', `the bank did not settle: ${(e as Error).message}`, typeof code === 'string' ? code : undefined);
  }
}

// ------------------------------------------------------------------ device-purse/1

/** Evidence of a purse payment: canonical CBOR {1: token (COSE_Sign1 by the card), 2: card certificate, ? 3: [intermediate CA certificates]}. */
export function encodePurseEvidence(token: Uint8Array, certificate: Uint8Array, intermediates: Uint8Array[] = []): Uint8Array {
  const m = new Map<number | string, HostCbor>([[1, token], [2, certificate]]);
  if (intermediates.length) m.set(3, intermediates);
  return encodeCanonical(m);
}

export function decodePurseEvidence(b: Uint8Array): { token: Uint8Array; certificate: Uint8Array; intermediates: Uint8Array[] } {
  let m: HostCbor;
  try {
    m = decodeCanonical(b, COSE_LIMITS);
  } catch (_e) {
    throw new PaymentError('MALFORMED', 'purse evidence is not canonical CBOR', 'evidence');
  }
  if (!(m instanceof Map) || !(m.get(1) instanceof Uint8Array) || !(m.get(2) instanceof Uint8Array) || [...m.keys()].some((k) => k !== 1 && k !== 2 && k !== 3)) throw new PaymentError('MALFORMED', 'purse evidence is {1: token, 2: certificate, ? 3: [certificates]}', 'evidence');
  const im = m.get(3) ?? [];
  if (!Array.isArray(im) || !im.every((c) => c instanceof Uint8Array)) throw new PaymentError('MALFORMED', 'intermediates', 'evidence/3');
  return { token: m.get(1) as Uint8Array, certificate: m.get(2) as Uint8Array, intermediates: im as Uint8Array[] };
}

export interface DevicePurseOptions {
  /** Payer side: the device's PURSE_DEBIT (DeviceClient.purseDebit behind an adapter), returning the card-signed token. */
  debit?: (req: PaymentRequest) => Promise<Uint8Array>;
  /** Payer side: the card's certificate (GET DATA 03, or from the issuer). */
  cardCertificate?: Uint8Array;
  intermediates?: Uint8Array[];
  /** Payee side: trust anchors for card certificates. */
  trust?: TrustStore;
  /** Seconds since 1970 (default: system time). */
  now?: () => number;
  maxAmount?: number;
}

export class DevicePurse implements PaymentInstrument {
  // the token verifies for anyone with the CA roots; the bank refunds a deposited one to the card's account
  readonly info: ModuleInfo = { name: 'device-purse', version: 1, type: 'cash-like', enables: ['externally-verifiable', 'revocable'] };
  readonly maxAmount?: number;

  constructor(private readonly o: DevicePurseOptions) {
    this.maxAmount = o.maxAmount;
  }

  async pay(req: PaymentRequest): Promise<PaymentItem> {
    if (!this.o.debit || !this.o.cardCertificate) throw new PaymentError('MALFORMED', 'this device-purse instrument has no device to pay with');
    const token = await this.o.debit(req);
    return payment({ instrument: moduleRef(this.info), amount: req.amount, currency: req.currency, payee: req.payee, evidence: encodePurseEvidence(token, this.o.cardCertificate, this.o.intermediates) });
  }

  verify(item: PaymentItem, expect: PaymentRequest): VerifiedPayment {
    if (!this.o.trust) throw new PaymentError('MALFORMED', 'this device-purse instrument has no trust anchors to check cards with');
    const ev = decodePurseEvidence(item.evidence);
    const now = this.o.now ? this.o.now() : Math.floor(Date.now() / 1000);
    const { token } = verifyPaymentToken(ev.token, ev.certificate, this.o.trust, now, ev.intermediates);
    expectMatches(token, expect);
    if (item.amount !== token.amount || item.currency !== token.currency || item.payee !== token.payee) throw new PaymentError('MISMATCH', 'the item says another amount or payee than the token');
    return { instrument: moduleRef(this.info), amount: token.amount, currency: token.currency, payee: token.payee, token };
  }

  settle(item: PaymentItem, bank: SettlementPort, requestId: string): Promise<Settlement> {
    const ev = decodePurseEvidence(item.evidence);
    return settled(moduleRef(this.info), item, () => bank.deposit({ requestId, merchant: item.payee, token: ev.token, cardCertificate: ev.certificate, intermediates: ev.intermediates }));
  }
}

// ------------------------------------------------------------------ account/1

export interface AccountOptions {
  /** Payer side: the payer's account id and its key (registered with the bank). */
  account?: string;
  privateKey?: Uint8Array;
  publicKey?: Uint8Array;
  /** Payee side: payers' keys, if known, to check the order's signature before the bank does. */
  payerKey?: (account: string) => Uint8Array | undefined;
  random?: (n: number) => Uint8Array;
}

export class AccountInstrument implements PaymentInstrument {
  // the signed order verifies with the payer's key, and the bank's signed status tells it settled; refundable
  readonly info: ModuleInfo = { name: 'account', version: 1, type: 'account-based', enables: ['externally-verifiable', 'revocable'] };

  constructor(private readonly o: AccountOptions) {}

  async pay(req: PaymentRequest): Promise<PaymentItem> {
    const { account, privateKey, publicKey } = this.o;
    if (!account || !privateKey || !publicKey) throw new PaymentError('MALFORMED', 'this account instrument has no payer account');
    const orderId = hex((this.o.random ?? randomBytes)(16));
    const order = signPaymentOrder({ payer: account, payee: req.payee, amount: req.amount, currency: req.currency, orderId, txDigest: req.txDigest, time: req.time }, privateKey, publicKey);
    return payment({ instrument: moduleRef(this.info), amount: req.amount, currency: req.currency, payee: req.payee, evidence: order });
  }

  verify(item: PaymentItem, expect: PaymentRequest): VerifiedPayment {
    const { order } = decodePaymentOrder(item.evidence);
    const key = this.o.payerKey?.(order.payer);
    if (key) verifyPaymentOrder(item.evidence, key);
    expectMatches(order, expect);
    if (item.amount !== order.amount || item.currency !== order.currency || item.payee !== order.payee) throw new PaymentError('MISMATCH', 'the item says another amount or payee than the order');
    return { instrument: moduleRef(this.info), amount: order.amount, currency: order.currency, payee: order.payee, payer: order.payer, orderId: order.orderId };
  }

  settle(item: PaymentItem, bank: SettlementPort, requestId: string): Promise<Settlement> {
    return settled(moduleRef(this.info), item, () => bank.settleOrder({ requestId, order: item.evidence }));
  }
}

// ------------------------------------------------------------------ account-card/1

/** What the device's SIGN answers (DeviceClient.sign): the parts of the card's COSE_Sign1. */
export interface DeviceSignature {
  protected: Uint8Array;
  signature: Uint8Array;
  kid: Uint8Array;
  statement: Uint8Array;
}

export interface AccountCardOptions {
  /** Payer side: the account the card is registered for at the bank. */
  account?: string;
  /** Payer side: the device's SIGN (DeviceClient.sign): shows the statement, the user confirms with OK and PIN, the card signs. */
  sign?: (statement: Uint8Array) => Promise<DeviceSignature>;
  cardCertificate?: Uint8Array;
  intermediates?: Uint8Array[];
  /** Payer side: the statement's headline (default "Account payment"). */
  title?: (req: PaymentRequest) => string;
  /** Payee side: trust anchors for card certificates. */
  trust?: TrustStore;
  /** Seconds since 1970 (default: system time). */
  now?: () => number;
  random?: (n: number) => Uint8Array;
}

export class AccountCardInstrument implements PaymentInstrument {
  // the card-signed order verifies with the CA roots, the bank says whether it settled; refundable
  readonly info: ModuleInfo = { name: 'account-card', version: 1, type: 'account-based', enables: ['externally-verifiable', 'revocable'] };

  constructor(private readonly o: AccountCardOptions) {}

  async pay(req: PaymentRequest): Promise<PaymentItem> {
    const { account, sign, cardCertificate } = this.o;
    if (!account || !sign || !cardCertificate) throw new PaymentError('MALFORMED', 'this account-card instrument has no payer account, device or card certificate');
    const orderId = hex((this.o.random ?? randomBytes)(16));
    const statement = cardOrderStatement({ payer: account, payee: req.payee, amount: req.amount, currency: req.currency, orderId, txDigest: req.txDigest, title: this.o.title?.(req) ?? 'Account payment' });
    const r = await sign(statement);
    // the device signs the bytes it was given and shows; anything else is not this order
    if (hex(r.statement) !== hex(statement)) throw new PaymentError('MISMATCH', 'the device signed another statement', 'statement');
    const evidence = encodeCardOrder(sign1FromDevice(r), cardCertificate, this.o.intermediates);
    return payment({ instrument: moduleRef(this.info), amount: req.amount, currency: req.currency, payee: req.payee, evidence });
  }

  /** The card's certificate and signature and the fields; whether the card belongs to the payer account only the bank knows. */
  verify(item: PaymentItem, expect: PaymentRequest): VerifiedPayment {
    if (!this.o.trust) throw new PaymentError('MALFORMED', 'this account-card instrument has no trust anchors to check cards with');
    const now = this.o.now ? this.o.now() : Math.floor(Date.now() / 1000);
    const { order } = verifyCardOrder(item.evidence, this.o.trust, now);
    expectMatches(order, expect);
    if (item.amount !== order.amount || item.currency !== order.currency || item.payee !== order.payee) throw new PaymentError('MISMATCH', 'the item says another amount or payee than the order');
    return { instrument: moduleRef(this.info), amount: order.amount, currency: order.currency, payee: order.payee, payer: order.payer, orderId: order.orderId };
  }

  settle(item: PaymentItem, bank: SettlementPort, requestId: string): Promise<Settlement> {
    return settled(moduleRef(this.info), item, () => bank.settleOrder({ requestId, cardOrder: item.evidence }));
  }
}

// ------------------------------------------------------------------ the manager

export class PaymentManager extends ServiceManager<PaymentInstrument> {
  constructor(instruments: PaymentInstrument[] = []) {
    super('payment');
    for (const i of instruments) this.register(i);
  }

  /** The offer for an amount: instruments in preference order whose limits admit it. */
  offerFor(amount: number): ModuleRef[] {
    return this.offer((m) => m.maxAmount === undefined || amount <= m.maxAmount);
  }

  /** Payer: pays `req` with the instrument negotiated against the payee's offer. */
  async pay(payeeOffer: readonly ModuleRef[], req: PaymentRequest): Promise<PaymentItem> {
    const m = this.negotiate(payeeOffer, 'initiator', (x) => x.maxAmount === undefined || req.amount <= x.maxAmount);
    return m.pay(req);
  }

  /** The exchange-enabling properties the instrument `ref` declares (none if it declares none). */
  enables(ref: ModuleRef): readonly ExchangeEnabling[] {
    return this.get(ref).info.enables ?? [];
  }

  /** Payee: checks an item with the instrument it names (which must be one this side offered). */
  verify(item: PaymentItem, expect: PaymentRequest): VerifiedPayment {
    return this.get(item.instrument).verify(item, expect);
  }

  settle(item: PaymentItem, bank: SettlementPort, requestId: string): Promise<Settlement> {
    return this.get(item.instrument).settle(item, bank, requestId);
  }
}
