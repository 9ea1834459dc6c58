// The bank (`semper bank`): accounts, a double-entry ledger, deposits of card-signed payment
// tokens with double-spending detection, account-instrument payment orders, and issuer-
// signed load instructions — all durable in SQLite, every request idempotent by its
// client-chosen request id. API.md in this folder is the specification; this file is the
// logic, http.ts the wire.
//
// Money: integer minor units. Every balance change is one `ledger` row (debit account,
// credit account, amount) written in the same transaction as both balances, so the sum of
// all balances of a currency is always 0: customers' money is matched by the `cash:CUR`
// account (money that came in from outside) and the purse float `float:CUR` (value on cards:
// loads move money from a buyer into the float, deposits of tokens from the float to a
// merchant).

import { p256 } from '@noble/curves/p256';
import { sha256 } from '@noble/hashes/sha256';
import Database from 'better-sqlite3';
import { CertificateError, decodeCertificate, TrustStore } from '../../../shared/src/certificate';
import { assertPublicKey, CoseError, Sign1 } from '../../../shared/src/cose';
import {
  BankReceipt,
  CardOrder,
  decodeLoadRequest,
  decodePaymentOrder,
  decodePaymentToken,
  decodeRead,
  decodeRefund,
  hex,
  kidOf,
  makeLoadInstruction,
  PaymentError,
  PaymentOrder,
  PaymentReference,
  referenceJson,
  referenceKey,
  signBankReceipt,
  signPaymentStatus,
  verifyCardOrder,
  verifyPaymentToken,
  verifySignedBy,
  isBinding,
  RefundReference,
} from '../payment/formats';
import { appendOnly, immediate, mapSqliteError, openVersionedDatabase, SqliteDb, StoreError, VersionedSchema } from '../services/sqlite';
import { BankError, DoubleSpendingEvidence, HTTP_STATUS } from './errors';
import { ValidatedChains } from './trust-cache';

export type AccountKind = 'buyer' | 'merchant' | 'float' | 'cash';

export interface Account {
  id: string;
  kind: AccountKind;
  name: string;
  currency: string;
  balance: number;
  /** base64url SEC1 public key (buyers: signs orders and load requests). */
  publicKey?: string;
  /** Buyer accounts: the card ids (hex) registered for the account. */
  cards?: string[];
}

export interface BankOptions {
  /** The issuer's P-256 private key: signs load instructions. */
  issuerKey: Uint8Array;
  /** The name the card knows its issuer by (load instruction field 4). */
  issuerName: string;
  /** Trust anchors for card certificates (and certificates of role ttp). */
  trust: TrustStore;
  /**
   * The bank key that signs receipts and payment status statements. Absent: a key generated
   * at the first start and kept in the database (meta `bank-key`).
   */
  bankKey?: Uint8Array;
  /** Public keys (SEC1) of third parties whose refund decisions the bank carries out. */
  ttpKeys?: Uint8Array[];
  /** Clock, ms (default Date.now). */
  now?: () => number;
  busyTimeoutMs?: number;
}

/** A completed request: its HTTP status and JSON answer (stored for idempotency). */
export interface Answer {
  status: number;
  body: unknown;
  /** True when this is the stored answer of an earlier identical request. */
  replay?: boolean;
}

const BANK_KIND = 'semper-bank';

const SCHEMA_V1 = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) STRICT;
CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('buyer', 'merchant', 'float', 'cash')),
  name TEXT NOT NULL,
  currency TEXT NOT NULL,
  balance INTEGER NOT NULL,
  public_key BLOB,
  created INTEGER NOT NULL,
  CHECK (kind IN ('float', 'cash') OR balance >= 0)
) STRICT;
CREATE TABLE ledger (
  id INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  op TEXT NOT NULL,
  debit TEXT NOT NULL REFERENCES accounts (id),
  credit TEXT NOT NULL REFERENCES accounts (id),
  amount INTEGER NOT NULL CHECK (amount > 0),
  currency TEXT NOT NULL,
  ref TEXT NOT NULL
) STRICT;
CREATE TABLE deposits (
  card_id BLOB NOT NULL,
  counter INTEGER NOT NULL,
  token BLOB NOT NULL,
  payload BLOB NOT NULL,
  merchant TEXT NOT NULL,
  entry INTEGER NOT NULL REFERENCES ledger (id),
  time INTEGER NOT NULL,
  PRIMARY KEY (card_id, counter)
) STRICT;
CREATE TABLE orders (
  order_id TEXT PRIMARY KEY,
  payer TEXT NOT NULL,
  payee TEXT NOT NULL,
  body BLOB NOT NULL,
  entry INTEGER NOT NULL REFERENCES ledger (id),
  time INTEGER NOT NULL
) STRICT;
CREATE TABLE cards (card_id BLOB PRIMARY KEY, load_counter INTEGER NOT NULL) STRICT;
CREATE TABLE loads (
  card_id BLOB NOT NULL,
  load_counter INTEGER NOT NULL,
  account TEXT NOT NULL,
  request BLOB NOT NULL,
  instruction BLOB NOT NULL,
  entry INTEGER NOT NULL REFERENCES ledger (id),
  time INTEGER NOT NULL,
  PRIMARY KEY (card_id, load_counter)
) STRICT;
CREATE TABLE requests (
  request_id TEXT PRIMARY KEY,
  op TEXT NOT NULL,
  digest BLOB NOT NULL,
  status INTEGER NOT NULL,
  answer TEXT NOT NULL,
  time INTEGER NOT NULL
) STRICT;
CREATE TABLE refusals (
  id INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  code TEXT NOT NULL,
  request_id TEXT NOT NULL,
  evidence TEXT NOT NULL
) STRICT;
${['ledger', 'deposits', 'orders', 'loads', 'requests', 'refusals'].map(appendOnly).join('\n')}
INSERT INTO meta (key, value) VALUES ('kind', CAST('${BANK_KIND}' AS BLOB));
`;

// Version 2: refunds (append-only) and the cards registered for buyer accounts (card-signed
// account payments, and where a purse token's refund goes).
const SCHEMA_V2 = `
CREATE TABLE refunds (
  refund_id TEXT PRIMARY KEY,
  ref TEXT NOT NULL,
  amount INTEGER NOT NULL CHECK (amount > 0),
  currency TEXT NOT NULL,
  payer TEXT NOT NULL REFERENCES accounts (id),
  payee TEXT NOT NULL REFERENCES accounts (id),
  signer TEXT NOT NULL CHECK (signer IN ('payee', 'ttp')),
  authorisation BLOB NOT NULL,
  entry INTEGER NOT NULL REFERENCES ledger (id),
  time INTEGER NOT NULL
) STRICT;
CREATE INDEX refunds_ref ON refunds (ref);
CREATE TABLE card_accounts (
  card_id BLOB PRIMARY KEY,
  account TEXT NOT NULL REFERENCES accounts (id),
  certificate BLOB NOT NULL,
  intermediates TEXT NOT NULL,
  time INTEGER NOT NULL
) STRICT;
${appendOnly('refunds')}
`;

// Version 3: what each settled payment is bound to (its transaction digest and payee), so a
// refund can name a payment by its binding — how a fair-exchange third party refunds the
// payments of an aborted exchange without being shown their card counters or order ids.
const SCHEMA_V3 = `
CREATE TABLE bindings (
  tx_digest BLOB NOT NULL,
  payee TEXT NOT NULL,
  ref TEXT NOT NULL UNIQUE,
  time INTEGER NOT NULL
) STRICT;
CREATE INDEX bindings_digest ON bindings (tx_digest, payee);
${appendOnly('bindings')}
`;

/** After the SQL of migration to version 3: the bindings of the payments settled before it. */
function backfillBindings(db: SqliteDb): void {
  const add = db.prepare('INSERT OR IGNORE INTO bindings (tx_digest, payee, ref, time) VALUES (?, ?, ?, ?)');
  for (const d of db.prepare('SELECT card_id, counter, token, merchant, time FROM deposits').all() as { card_id: Buffer; counter: number; token: Buffer; merchant: string; time: number }[]) {
    try {
      const { token } = decodePaymentToken(new Uint8Array(d.token));
      add.run(token.txDigest, d.merchant, referenceKey({ cardId: new Uint8Array(d.card_id), counter: d.counter }), d.time);
    } catch (_e) {
      // a token this version cannot read has no binding: it can still be refunded by its reference
    }
  }
  for (const o of db.prepare('SELECT order_id, payee, body, time FROM orders').all() as { order_id: string; payee: string; body: Buffer; time: number }[]) {
    try {
      const { order } = decodePaymentOrder(new Uint8Array(o.body));
      add.run(order.txDigest, o.payee, referenceKey({ orderId: o.order_id }), o.time);
    } catch (_e) {
      // card-signed orders keep their digest inside the statement text: refundable by order id
    }
  }
}

/** The bank's schema: version 1 (with its kind row), refunds and card accounts, payment bindings. */
export const BANK_SCHEMA: VersionedSchema = {
  kind: BANK_KIND,
  steps: [
    SCHEMA_V1,
    SCHEMA_V2,
    (db) => {
      db.exec(SCHEMA_V3);
      backfillBindings(db);
    },
  ],
};

/** The bank's schema version (PRAGMA user_version). */
export const SCHEMA_VERSION = BANK_SCHEMA.steps.length;

/** Opens the bank database: WAL, synchronous=FULL, busy timeout, the schema (host/src/services/sqlite.ts). */
export function openBankDatabase(path: string, busyTimeoutMs = 5000): SqliteDb {
  return openVersionedDatabase(path, BANK_SCHEMA, { busyTimeoutMs });
}

// ------------------------------------------------------------------ request checks

export const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

function bad(field: string, msg: string): never {
  throw new BankError('BAD_REQUEST', `${field}: ${msg}`, field);
}

type Body = Record<string, unknown>;

function str(b: Body, k: string, re: RegExp, what: string): string {
  const v = b[k];
  if (typeof v !== 'string' || !re.test(v)) bad(k, what);
  return v;
}

function bytesOf(b: Body, k: string, optional = false): Uint8Array | undefined {
  const v = b[k];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string' || !/^[A-Za-z0-9_-]{1,1398102}$/.test(v)) bad(k, 'base64url bytes expected');
  return new Uint8Array(Buffer.from(v, 'base64url'));
}

function amountOf(b: Body, k: string): number {
  const v = b[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) bad(k, 'a positive integer of minor units');
  return v;
}

const ID = /^[a-z0-9][a-z0-9._:-]{0,63}$/;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const CURRENCY = /^[A-Z]{3}$/;
const NAME = /^\P{Cc}{1,64}$/u; // 1..64 characters, no control characters

/** Order-independent serialisation for the request digest. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stable((v as Body)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

function badToken(e: unknown): never {
  if (e instanceof PaymentError) throw new BankError('BAD_TOKEN', e.message, e.detail ?? e.code);
  if (e instanceof CoseError) throw new BankError('BAD_TOKEN', e.message, e.code);
  throw e;
}

interface AccountRow {
  id: string;
  kind: AccountKind;
  name: string;
  currency: string;
  balance: number;
  public_key: Buffer | null;
}

const toAccount = (r: AccountRow): Account => {
  const a: Account = { id: r.id, kind: r.kind, name: r.name, currency: r.currency, balance: r.balance };
  if (r.public_key) a.publicKey = b64(r.public_key);
  return a;
};

/** A settled payment as the bank knows it: what refunds and status statements are about. */
interface Settled {
  reference: PaymentReference;
  amount: number;
  currency: string;
  payee: string;
  /** The account a refund goes to: the order's payer, or the account registered for the card. */
  payer?: string;
  /** Milliseconds. */
  time: number;
}

/** How long a signed read stays valid around the bank's clock (s). */
export const READ_WINDOW_S = 300;

export class Bank {
  private readonly now: () => number;
  readonly issuerPublicKey: Uint8Array;
  /** The key that signs receipts and status statements (GET /v1/bank). */
  readonly bankPublicKey: Uint8Array;
  private readonly bankKey: Uint8Array;
  /** Prepared statements by their SQL: preparing is a visible part of a deposit's time. */
  private readonly statements = new Map<string, Database.Statement>();
  /** Card certificate chains validated recently (a card's deposits then cost one verification each). */
  private readonly chains: ValidatedChains;

  constructor(
    readonly db: SqliteDb,
    private readonly o: BankOptions,
  ) {
    this.now = o.now ?? Date.now;
    // the issuer's public key, for clients and cards (GET /v1/issuer)
    this.issuerPublicKey = p256.getPublicKey(o.issuerKey, false);
    this.bankKey = o.bankKey ?? this.storedBankKey();
    this.bankPublicKey = p256.getPublicKey(this.bankKey, false);
    this.chains = new ValidatedChains(o.trust, this.now);
  }

  /** The bank key kept in the database, made at the first start (receipts must stay verifiable after a restart). */
  private storedBankKey(): Uint8Array {
    const read = () => this.sql("SELECT value FROM meta WHERE key = 'bank-key'").pluck().get() as Buffer | undefined;
    let k = read();
    if (!k) {
      // INSERT OR IGNORE: two processes starting on one new file agree on the first key written
      immediate(this.db, () => this.sql("INSERT OR IGNORE INTO meta (key, value) VALUES ('bank-key', ?)").run(Buffer.from(p256.utils.randomPrivateKey())));
      k = read()!;
    }
    return new Uint8Array(k);
  }

  /** GET /v1/bank. */
  info(): { issuerName: string; publicKey: string; kid: string; issuerPublicKey: string } {
    return { issuerName: this.o.issuerName, publicKey: b64(this.bankPublicKey), kid: hex(kidOf(this.bankPublicKey)), issuerPublicKey: b64(this.issuerPublicKey) };
  }

  private receipt(r: Omit<BankReceipt, 'time'>): string {
    return b64(signBankReceipt({ ...r, time: Math.floor(this.now() / 1000) }, this.bankKey));
  }

  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  static open(path: string, o: BankOptions): Bank {
    return new Bank(openBankDatabase(path, o.busyTimeoutMs), o);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // ---------------------------------------------------------------- idempotent execution

  /**
   * Runs one state-changing request exactly once per request id: in one BEGIN IMMEDIATE
   * transaction, look the id up (same request → the stored answer; another request → 
   * IDEMPOTENCY_CONFLICT), run `fn` in a savepoint (its writes roll back if it refuses), store
   * refusal evidence and the answer, COMMIT. BUSY and internal failures commit nothing.
   */
  execute(op: string, body: Body, fn: () => unknown): Answer {
    const requestId = str(body, 'requestId', REQUEST_ID, '1..128 characters [A-Za-z0-9._:-]');
    const { requestId: _omit, ...rest } = body;
    const digest = sha256(new TextEncoder().encode(`${op}\n${stable(rest)}`));
    try {
      return immediate(this.db, () => {
        const prior = this.sql('SELECT op, digest, status, answer FROM requests WHERE request_id = ?').get(requestId) as { op: string; digest: Buffer; status: number; answer: string } | undefined;
        if (prior) {
          if (prior.op !== op || hex(prior.digest) !== hex(digest)) throw new BankError('IDEMPOTENCY_CONFLICT', 'this request id was used for a different request');
          return { status: prior.status, body: JSON.parse(prior.answer), replay: true };
        }
        let answer: Answer;
        try {
          answer = { status: 200, body: this.db.transaction(fn)() };
        } catch (e) {
          if (!(e instanceof BankError) || e.code === 'BUSY' || e.code === 'INTERNAL' || e.code === 'IDEMPOTENCY_CONFLICT') throw e;
          if (e.code === 'BAD_REQUEST' || e.code === 'UNAUTHORIZED') throw e; // not a decision on the request: not stored
          answer = errorAnswer(e);
          if (e.code === 'DOUBLE_SPENDING' || e.code === 'DUPLICATE_ORDER') {
            this.sql('INSERT INTO refusals (time, code, request_id, evidence) VALUES (?, ?, ?, ?)').run(this.now(), e.code, requestId, JSON.stringify(e.detail ?? null));
          }
        }
        this.sql('INSERT INTO requests (request_id, op, digest, status, answer, time) VALUES (?, ?, ?, ?, ?, ?)').run(requestId, op, digest, answer.status, JSON.stringify(answer.body), this.now());
        return answer;
      });
    } catch (e) {
      if (e instanceof BankError) throw e;
      if (e instanceof StoreError && e.code === 'BUSY') throw new BankError('BUSY', 'the bank database is busy; retry with the same request id');
      throw e;
    }
  }

  // ---------------------------------------------------------------- accounts

  private account(id: string): AccountRow {
    const r = this.sql('SELECT id, kind, name, currency, balance, public_key FROM accounts WHERE id = ?').get(id) as AccountRow | undefined;
    if (!r) throw new BankError('NOT_FOUND', `no account ${id}`);
    return r;
  }

  getAccount(id: string): Account {
    try {
      const a = toAccount(this.account(id));
      if (a.kind === 'buyer') a.cards = (this.sql('SELECT card_id FROM card_accounts WHERE account = ? ORDER BY time').pluck().all(id) as Buffer[]).map((c) => hex(c));
      return a;
    } catch (e) {
      if (e instanceof BankError) throw e;
      return mapSqliteError(e);
    }
  }

  /** The system accounts of a currency (created on first use). */
  private system(kind: 'float' | 'cash', currency: string): string {
    const id = `${kind}:${currency}`;
    this.sql('INSERT OR IGNORE INTO accounts (id, kind, name, currency, balance, created) VALUES (?, ?, ?, ?, 0, ?)').run(id, kind, kind === 'float' ? `purse float ${currency}` : `cash ${currency}`, currency, this.now());
    return id;
  }

  /** Moves `amount` from `debit` to `credit`: both balances and the ledger row, in the caller's transaction. */
  private move(op: string, debit: AccountRow, credit: AccountRow, amount: number, ref: string): number {
    if (debit.currency !== credit.currency) throw new BankError('CURRENCY', `${debit.id} holds ${debit.currency}, ${credit.id} ${credit.currency}`);
    if ((debit.kind === 'buyer' || debit.kind === 'merchant') && debit.balance < amount) throw new BankError('INSUFFICIENT_FUNDS', `${debit.id} holds less than ${amount}`);
    this.sql('UPDATE accounts SET balance = balance - ? WHERE id = ?').run(amount, debit.id);
    this.sql('UPDATE accounts SET balance = balance + ? WHERE id = ?').run(amount, credit.id);
    return Number(this.sql('INSERT INTO ledger (time, op, debit, credit, amount, currency, ref) VALUES (?, ?, ?, ?, ?, ?, ?)').run(this.now(), op, debit.id, credit.id, amount, debit.currency, ref).lastInsertRowid);
  }

  private balance(id: string): number {
    return this.account(id).balance;
  }

  /** POST /v1/accounts (admin). */
  openAccount(body: Body): Answer {
    return this.execute('open-account', body, () => {
      const id = str(body, 'id', ID, 'an account id [a-z0-9._:-], 1..64');
      const kind = str(body, 'kind', /^(buyer|merchant)$/, 'buyer or merchant') as AccountKind;
      const name = str(body, 'name', NAME, '1..64 characters');
      const currency = str(body, 'currency', CURRENCY, 'an ISO 4217 code');
      const pub = bytesOf(body, 'publicKey', kind === 'merchant');
      if (kind === 'buyer' && !pub) bad('publicKey', 'a buyer account needs the key that signs its orders');
      if (pub) {
        try {
          assertPublicKey(pub);
        } catch (_e) {
          bad('publicKey', 'not an uncompressed P-256 point');
        }
      }
      if (this.sql('SELECT 1 FROM accounts WHERE id = ?').get(id)) throw new BankError('ACCOUNT_EXISTS', `account ${id} exists`);
      this.sql('INSERT INTO accounts (id, kind, name, currency, balance, public_key, created) VALUES (?, ?, ?, ?, 0, ?, ?)').run(id, kind, name, currency, pub ?? null, this.now());
      return { account: toAccount(this.account(id)) };
    });
  }

  /** POST /v1/accounts/{id}/fund (admin): money paid in from outside (cash:CUR → account). */
  fund(id: string, body: Body): Answer {
    return this.execute(`fund:${id}`, body, () => {
      const amount = amountOf(body, 'amount');
      const acc = this.account(id);
      if (acc.kind !== 'buyer' && acc.kind !== 'merchant') throw new BankError('NOT_FOUND', `no customer account ${id}`);
      const entry = this.move('fund', this.account(this.system('cash', acc.currency)), acc, amount, 'funding');
      return { balance: this.balance(id), entry };
    });
  }

  // ---------------------------------------------------------------- deposits of card tokens

  /** POST /v1/deposits: a merchant deposits a card-signed payment token. */
  deposit(body: Body): Answer {
    return this.execute('deposit', body, () => {
      const merchantId = str(body, 'merchant', ID, 'an account id');
      const tokenBytes = bytesOf(body, 'token')!;
      const cert = bytesOf(body, 'cardCertificate')!;
      const intermediates = this.intermediatesOf(body);
      let token;
      let payload: Uint8Array;
      try {
        const v = verifyPaymentToken(tokenBytes, cert, this.chains, Math.floor(this.now() / 1000), intermediates);
        token = v.token;
        payload = decodePaymentToken(tokenBytes).sign1.payload;
      } catch (e) {
        return badToken(e);
      }
      const merchant = this.account(merchantId);
      if (merchant.kind !== 'merchant') throw new BankError('NOT_FOUND', `no merchant account ${merchantId}`);
      if (token.payee !== merchant.id) throw new BankError('WRONG_PAYEE', `the token pays ${token.payee}, not ${merchant.id}`);
      if (token.currency !== merchant.currency) throw new BankError('CURRENCY', `the token is in ${token.currency}, the account in ${merchant.currency}`);
      const first = this.sql('SELECT token, payload, merchant, time, entry FROM deposits WHERE card_id = ? AND counter = ?').get(token.cardId, token.counter) as { token: Buffer; payload: Buffer; merchant: string; time: number; entry: number } | undefined;
      if (first) {
        const evidence: DoubleSpendingEvidence = {
          cardId: hex(token.cardId),
          counter: token.counter,
          samePayment: hex(first.payload) === hex(payload),
          first: { token: b64(first.token), merchant: first.merchant, time: first.time, entry: first.entry },
          second: { token: b64(tokenBytes) },
        };
        throw new BankError('DOUBLE_SPENDING', `card ${evidence.cardId} counter ${token.counter} was deposited already`, evidence);
      }
      const entry = this.move('deposit', this.account(this.system('float', token.currency)), merchant, token.amount, `card ${hex(token.cardId)} #${token.counter}`);
      this.sql('INSERT INTO deposits (card_id, counter, token, payload, merchant, entry, time) VALUES (?, ?, ?, ?, ?, ?, ?)').run(token.cardId, token.counter, tokenBytes, payload, merchant.id, entry, this.now());
      this.bind(token.txDigest, merchant.id, { cardId: token.cardId, counter: token.counter });
      const receipt = this.receipt({ op: 'deposit', reference: { cardId: token.cardId, counter: token.counter }, amount: token.amount, currency: token.currency, debit: `float:${token.currency}`, credit: merchant.id, entry });
      return { deposit: { cardId: hex(token.cardId), counter: token.counter, amount: token.amount, currency: token.currency }, balance: this.balance(merchant.id), entry, receipt };
    });
  }

  /**
   * Decodes a request signed by a buyer's account key (a payment order, a load request) and
   * checks the signature with the key registered for that account. BAD_REQUEST (field), NOT_FOUND, BAD_SIGNATURE.
   */
  private signedByBuyer<T>(bytes: Uint8Array, field: string, decode: (b: Uint8Array) => { value: T; account: string; sign1: Sign1 }): { value: T; account: AccountRow } {
    let d;
    try {
      d = decode(bytes);
    } catch (e) {
      if (e instanceof PaymentError) bad(field, e.message);
      throw e;
    }
    const account = this.account(d.account);
    if (account.kind !== 'buyer' || !account.public_key) throw new BankError('NOT_FOUND', `no buyer account ${d.account}`);
    try {
      verifySignedBy(d.sign1, new Uint8Array(account.public_key), field);
    } catch (e) {
      if (e instanceof PaymentError) throw new BankError('BAD_SIGNATURE', `the ${field} is not signed by the key of account ${account.id}`);
      throw e;
    }
    return { value: d.value, account };
  }

  // ---------------------------------------------------------------- account-instrument payments

  /**
   * POST /v1/payments: settles a payment order signed by the payer's account key
   * (`order`, account/1) or by the card registered for the payer account (`cardOrder`,
   * account-card/1).
   */
  settleOrder(body: Body): Answer {
    return this.execute('payment', body, () => {
      if ((body.order === undefined) === (body.cardOrder === undefined)) bad('order', 'give either order (account/1) or cardOrder (account-card/1)');
      let order: PaymentOrder | CardOrder;
      let payer: AccountRow;
      let bytes: Uint8Array;
      if (body.order !== undefined) {
        bytes = bytesOf(body, 'order')!;
        ({ value: order, account: payer } = this.signedByBuyer(bytes, 'order', (b) => {
          const d = decodePaymentOrder(b);
          return { value: d.order, account: d.order.payer, sign1: d.sign1 };
        }));
      } else {
        bytes = bytesOf(body, 'cardOrder')!;
        ({ order, payer } = this.signedByCard(bytes));
      }
      const payee = this.account(order.payee);
      if (payee.kind !== 'merchant' && payee.kind !== 'buyer') throw new BankError('NOT_FOUND', `no account ${order.payee}`);
      if (order.currency !== payer.currency) throw new BankError('CURRENCY', `the order is in ${order.currency}`);
      const first = this.sql('SELECT payee, entry, time FROM orders WHERE order_id = ?').get(order.orderId) as { payee: string; entry: number; time: number } | undefined;
      if (first) throw new BankError('DUPLICATE_ORDER', `order ${order.orderId} was settled already`, { orderId: order.orderId, first: { entry: first.entry, time: first.time }, order: b64(bytes) });
      const entry = this.move('payment', payer, payee, order.amount, `order ${order.orderId}`);
      this.sql('INSERT INTO orders (order_id, payer, payee, body, entry, time) VALUES (?, ?, ?, ?, ?, ?)').run(order.orderId, payer.id, payee.id, bytes, entry, this.now());
      this.bind(order.txDigest, payee.id, { orderId: order.orderId });
      const receipt = this.receipt({ op: 'payment', reference: { orderId: order.orderId }, amount: order.amount, currency: order.currency, debit: payer.id, credit: payee.id, entry });
      return { payment: { orderId: order.orderId, payer: payer.id, payee: payee.id, amount: order.amount, currency: order.currency }, balance: this.balance(payee.id), entry, receipt };
    });
  }

  /**
   * A card order (account-card/1): the certificate validates now (role buyer-card), the card
   * signed the statement, and that card is the one registered for the payer account it names.
   */
  private signedByCard(bytes: Uint8Array): { order: CardOrder; payer: AccountRow } {
    let v;
    try {
      v = verifyCardOrder(bytes, this.chains, Math.floor(this.now() / 1000));
    } catch (e) {
      if (!(e instanceof PaymentError)) throw e;
      if (e.code === 'MALFORMED') bad('cardOrder', e.message);
      if (e.code === 'CERTIFICATE') throw new BankError('BAD_CERTIFICATE', e.message, e.detail);
      throw new BankError('BAD_SIGNATURE', e.message, e.code);
    }
    const payer = this.account(v.order.payer);
    if (payer.kind !== 'buyer') throw new BankError('NOT_FOUND', `no buyer account ${v.order.payer}`);
    const reg = this.sql('SELECT account, certificate FROM card_accounts WHERE card_id = ?').get(v.certificate.subjectId!) as { account: string; certificate: Buffer } | undefined;
    if (!reg || reg.account !== payer.id || hex(decodeCertificate(new Uint8Array(reg.certificate)).publicKey) !== hex(v.certificate.publicKey)) {
      throw new BankError('BAD_SIGNATURE', `the card ${hex(v.certificate.subjectId!)} is not registered for account ${payer.id}`, 'WRONG_CARD');
    }
    return { order: v.order, payer };
  }

  /** POST /v1/accounts/{id}/cards (admin): the buyer's card, for card-signed payments and purse refunds. */
  registerCard(id: string, body: Body): Answer {
    return this.execute(`register-card:${id}`, body, () => {
      const cert = bytesOf(body, 'cardCertificate')!;
      const intermediates = this.intermediatesOf(body);
      const acc = this.account(id);
      if (acc.kind !== 'buyer') throw new BankError('NOT_FOUND', `no buyer account ${id}`);
      let card;
      try {
        [card] = this.o.trust.validate(cert, Math.floor(this.now() / 1000), { roles: ['buyer-card'], intermediates });
      } catch (e) {
        if (e instanceof CertificateError) throw new BankError('BAD_CERTIFICATE', `card certificate: ${e.message}`, e.code);
        if (e instanceof CoseError) throw new BankError('BAD_CERTIFICATE', `card certificate: ${e.message}`, e.code);
        throw e;
      }
      if (!card.subjectId || card.subjectId.length !== 8) throw new BankError('BAD_CERTIFICATE', 'the certificate names no card id', 'subjectId');
      const prior = this.sql('SELECT account FROM card_accounts WHERE card_id = ?').pluck().get(card.subjectId) as string | undefined;
      if (prior !== undefined && prior !== id) throw new BankError('CARD_REGISTERED', `card ${hex(card.subjectId)} is registered for another account`);
      this.db
        .prepare('INSERT INTO card_accounts (card_id, account, certificate, intermediates, time) VALUES (?, ?, ?, ?, ?) ON CONFLICT (card_id) DO UPDATE SET certificate = excluded.certificate, intermediates = excluded.intermediates, time = excluded.time')
        .run(card.subjectId, id, cert, JSON.stringify(intermediates.map(b64)), this.now());
      return { card: { cardId: hex(card.subjectId), account: id } };
    });
  }

  private intermediatesOf(body: Body): Uint8Array[] {
    const im = body.intermediates;
    if (im !== undefined && (!Array.isArray(im) || im.length > 4)) bad('intermediates', 'at most 4 certificates');
    return ((im as unknown[] | undefined) ?? []).map((_, i) => bytesOf(im as unknown as Body, String(i))!);
  }

  // ---------------------------------------------------------------- refunds and status

  /** The settled payment a reference names, or undefined. */
  private settled(r: PaymentReference): Settled | undefined {
    if ('orderId' in r) {
      const o = this.sql('SELECT o.payer, o.payee, o.time, l.amount, l.currency FROM orders o JOIN ledger l ON l.id = o.entry WHERE o.order_id = ?').get(r.orderId) as { payer: string; payee: string; time: number; amount: number; currency: string } | undefined;
      return o && { reference: r, amount: o.amount, currency: o.currency, payee: o.payee, payer: o.payer, time: o.time };
    }
    const d = this.sql('SELECT d.merchant, d.time, l.amount, l.currency FROM deposits d JOIN ledger l ON l.id = d.entry WHERE d.card_id = ? AND d.counter = ?').get(r.cardId, r.counter) as { merchant: string; time: number; amount: number; currency: string } | undefined;
    if (!d) return undefined;
    const payer = this.sql('SELECT account FROM card_accounts WHERE card_id = ?').pluck().get(r.cardId) as string | undefined;
    const s: Settled = { reference: r, amount: d.amount, currency: d.currency, payee: d.merchant, time: d.time };
    if (payer !== undefined) s.payer = payer;
    return s;
  }

  /** Records what a settled payment is bound to (the first payment of a binding keeps it). */
  private bind(txDigest: Uint8Array, payee: string, r: PaymentReference): void {
    this.sql('INSERT OR IGNORE INTO bindings (tx_digest, payee, ref, time) VALUES (?, ?, ?, ?)').run(txDigest, payee, referenceKey(r), this.now());
  }

  /** The settled payment a refund names: by its reference, or by its binding (transaction digest and payee). */
  private referenceOf(r: RefundReference): PaymentReference | undefined {
    if (!isBinding(r)) return r;
    const ref = this.sql('SELECT ref FROM bindings WHERE tx_digest = ? AND payee = ? ORDER BY time LIMIT 1').pluck().get(r.txDigest, r.payee) as string | undefined;
    if (!ref) return undefined;
    const order = /^order:([0-9a-f]{32})$/.exec(ref);
    if (order) return { orderId: order[1] };
    const card = /^card:([0-9a-f]{16}):(\d+)$/.exec(ref);
    return card ? { cardId: new Uint8Array(Buffer.from(card[1], 'hex')), counter: Number(card[2]) } : undefined;
  }

  private refunded(r: PaymentReference): number {
    return (this.sql('SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE ref = ?').pluck().get(referenceKey(r)) as number) ?? 0;
  }

  /** Who signed a refund authorisation: the payee's registered key, or a TTP the bank trusts. BAD_SIGNATURE otherwise. */
  private refundSigner(sign1: Sign1, payee: AccountRow, ttpCertificate: Uint8Array | undefined, intermediates: Uint8Array[]): 'payee' | 'ttp' {
    const verifies = (key: Uint8Array): boolean => {
      try {
        verifySignedBy(sign1, key, 'refund');
        return true;
      } catch (e) {
        if (e instanceof PaymentError) return false;
        throw e;
      }
    };
    if (payee.public_key && verifies(new Uint8Array(payee.public_key))) return 'payee';
    if ((this.o.ttpKeys ?? []).some(verifies)) return 'ttp';
    if (ttpCertificate) {
      let ttp;
      try {
        [ttp] = this.o.trust.validate(ttpCertificate, Math.floor(this.now() / 1000), { roles: ['ttp'], intermediates });
      } catch (e) {
        if (e instanceof CertificateError || e instanceof CoseError) throw new BankError('BAD_SIGNATURE', `the TTP certificate does not validate: ${e.message}`, e.code);
        throw e;
      }
      if (verifies(ttp.publicKey)) return 'ttp';
    }
    throw new BankError('BAD_SIGNATURE', `the refund is signed neither by the key of ${payee.id} nor by a third party this bank trusts`);
  }

  /** POST /v1/refunds: pays (part of) a settled payment back to its payer, on the payee's or a TTP's signed decision. */
  refund(body: Body): Answer {
    return this.execute('refund', body, () => {
      const bytes = bytesOf(body, 'refund')!;
      const ttpCertificate = bytesOf(body, 'ttpCertificate', true);
      const intermediates = this.intermediatesOf(body);
      let d;
      try {
        d = decodeRefund(bytes);
      } catch (e) {
        if (e instanceof PaymentError) bad('refund', e.message);
        throw e;
      }
      const named = d.refund;
      const concrete = this.referenceOf(named.reference);
      if (!concrete) throw new BankError('NOT_FOUND', `no settled payment to ${isBinding(named.reference) ? named.reference.payee : '?'} bound to ${isBinding(named.reference) ? hex(named.reference.txDigest) : '?'}`);
      const refund = { ...named, reference: concrete };
      const paid = this.settled(refund.reference);
      if (!paid) throw new BankError('NOT_FOUND', `no settled payment ${referenceKey(refund.reference)}`);
      if (refund.currency !== paid.currency) throw new BankError('CURRENCY', `the payment was in ${paid.currency}`);
      const payee = this.account(paid.payee);
      const signer = this.refundSigner(d.sign1, payee, ttpCertificate, intermediates);
      const first = this.sql('SELECT entry, time FROM refunds WHERE refund_id = ?').get(refund.refundId) as { entry: number; time: number } | undefined;
      if (first) throw new BankError('DUPLICATE_REFUND', `refund ${refund.refundId} was made already`, { refundId: refund.refundId, first });
      const refunded = this.refunded(refund.reference);
      if (refunded + refund.amount > paid.amount) throw new BankError('REFUND_EXCEEDS', `${refunded} of ${paid.amount} were refunded already; ${refund.amount} more is too much`, { paid: paid.amount, refunded });
      if (paid.payer === undefined) throw new BankError('NO_REFUND_ACCOUNT', 'no account is registered for this card: register it (POST /v1/accounts/{id}/cards), then refund again');
      const payer = this.account(paid.payer);
      const entry = this.move('refund', payee, payer, refund.amount, `refund ${refund.refundId} of ${referenceKey(refund.reference)}`);
      this.db
        .prepare('INSERT INTO refunds (refund_id, ref, amount, currency, payer, payee, signer, authorisation, entry, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(refund.refundId, referenceKey(refund.reference), refund.amount, refund.currency, payer.id, payee.id, signer, bytes, entry, this.now());
      const receipt = this.receipt({ op: 'refund', reference: refund.reference, amount: refund.amount, currency: refund.currency, debit: payee.id, credit: payer.id, entry, refundId: refund.refundId });
      return {
        refund: { refundId: refund.refundId, reference: referenceJson(refund.reference), amount: refund.amount, currency: refund.currency, payer: payer.id, payee: payee.id, refunded: refunded + refund.amount, authorisedBy: signer },
        balance: this.balance(payer.id),
        entry,
        receipt,
      };
    });
  }

  /** GET /v1/payments/status: the bank-signed statement about one payment (settled or not, refunded how much). */
  paymentStatus(reference: PaymentReference, nonce?: Uint8Array): { status: string; settled: boolean; amount?: number; currency?: string; payee?: string; payer?: string; refunded?: number; settledAt?: number } {
    try {
      // one read transaction: the payment and its refunds as of one commit
      return this.db.transaction(() => {
        const time = Math.floor(this.now() / 1000);
        const p = this.settled(reference);
        if (!p) return { status: b64(signPaymentStatus({ reference, settled: false, time, nonce }, this.bankKey)), settled: false };
        const facts = { amount: p.amount, currency: p.currency, payee: p.payee, payer: p.payer, refunded: this.refunded(reference), settledAt: Math.floor(p.time / 1000) };
        if (facts.payer === undefined) delete facts.payer;
        return { status: b64(signPaymentStatus({ reference, settled: true, time, nonce, ...facts }, this.bankKey)), settled: true, ...facts };
      })();
    } catch (e) {
      return mapSqliteError(e);
    }
  }

  /**
   * A signed read of account `id` (Authorization: SEMPER-Signed): signed by the account's
   * registered key, for this path, within READ_WINDOW_S of the bank's clock. UNAUTHORIZED otherwise.
   */
  checkSignedRead(id: string, path: string, signed: Uint8Array): void {
    const no = (why: string): never => {
      throw new BankError('UNAUTHORIZED', `signed read refused: ${why}`);
    };
    let r;
    try {
      r = decodeRead(signed);
    } catch (e) {
      if (e instanceof PaymentError) return no(e.message);
      throw e;
    }
    if (r.path !== path) no('signed for another path');
    if (Math.abs(r.time - this.now() / 1000) > READ_WINDOW_S) no(`the time is more than ${READ_WINDOW_S} s away from the bank's clock`);
    const acc = this.sql('SELECT kind, public_key FROM accounts WHERE id = ?').get(id) as { kind: AccountKind; public_key: Buffer | null } | undefined;
    const key = acc && (acc.kind === 'buyer' || acc.kind === 'merchant') ? acc.public_key : null;
    if (!key) return no('no key is registered for this account');
    try {
      verifySignedBy(r.sign1, new Uint8Array(key), 'read');
    } catch (e) {
      if (e instanceof PaymentError) no('not signed by the account key');
      throw e;
    }
  }

  // ---------------------------------------------------------------- loads

  /** POST /v1/loads: debits the buyer's account and issues a load instruction for its card. */
  load(body: Body): Answer {
    return this.execute('load', body, () => {
      const bytes = bytesOf(body, 'request')!;
      const { value: r, account: buyer } = this.signedByBuyer(bytes, 'request', (b) => {
        const d = decodeLoadRequest(b);
        return { value: d.request, account: d.request.account, sign1: d.sign1 };
      });
      if (r.currency !== buyer.currency) throw new BankError('CURRENCY', `the load is in ${r.currency}`);
      const entry = this.move('load', buyer, this.account(this.system('float', r.currency)), r.amount, `load card ${hex(r.cardId)}`);
      const last = (this.sql('SELECT load_counter FROM cards WHERE card_id = ?').pluck().get(r.cardId) as number | undefined) ?? 0;
      const loadCounter = last + 1;
      this.sql('INSERT INTO cards (card_id, load_counter) VALUES (?, ?) ON CONFLICT (card_id) DO UPDATE SET load_counter = excluded.load_counter').run(r.cardId, loadCounter);
      const time = Math.floor(this.now() / 1000);
      const instruction = makeLoadInstruction({ cardId: r.cardId, loadCounter, amount: r.amount, currency: r.currency, issuerName: this.o.issuerName, time }, this.o.issuerKey);
      this.sql('INSERT INTO loads (card_id, load_counter, account, request, instruction, entry, time) VALUES (?, ?, ?, ?, ?, ?, ?)').run(r.cardId, loadCounter, buyer.id, bytes, instruction, entry, this.now());
      return { instruction: b64(instruction), loadCounter, balance: this.balance(buyer.id), entry };
    });
  }

  // ---------------------------------------------------------------- audit

  /**
   * Checks the books: per currency the balances sum to 0; every account's balance equals its
   * credits minus its debits in the ledger; no customer balance is negative.
   */
  audit(): { ok: boolean; totals: Record<string, number>; problems: string[] } {
    const problems: string[] = [];
    const totals: Record<string, number> = {};
    const rows = this.sql('SELECT id, kind, currency, balance FROM accounts').all() as { id: string; kind: AccountKind; currency: string; balance: number }[];
    const flows = new Map<string, number>();
    for (const l of this.sql('SELECT debit, credit, amount FROM ledger').all() as { debit: string; credit: string; amount: number }[]) {
      flows.set(l.debit, (flows.get(l.debit) ?? 0) - l.amount);
      flows.set(l.credit, (flows.get(l.credit) ?? 0) + l.amount);
    }
    for (const a of rows) {
      totals[a.currency] = (totals[a.currency] ?? 0) + a.balance;
      if ((flows.get(a.id) ?? 0) !== a.balance) problems.push(`${a.id}: balance ${a.balance} but ledger says ${flows.get(a.id) ?? 0}`);
      if ((a.kind === 'buyer' || a.kind === 'merchant') && a.balance < 0) problems.push(`${a.id}: negative balance`);
    }
    for (const [c, t] of Object.entries(totals)) if (t !== 0) problems.push(`${c}: balances sum to ${t}, not 0`);
    return { ok: problems.length === 0, totals, problems };
  }

  /** Refused double-spending and duplicate-order attempts, with their evidence (newest last). */
  refusals(): { time: number; code: string; requestId: string; evidence: unknown }[] {
    return (this.sql('SELECT time, code, request_id, evidence FROM refusals ORDER BY id').all() as { time: number; code: string; request_id: string; evidence: string }[]).map((r) => ({ time: r.time, code: r.code, requestId: r.request_id, evidence: JSON.parse(r.evidence) }));
  }
}

export function errorAnswer(e: BankError): Answer {
  const status = HTTP_STATUS[e.code];
  const error: Record<string, unknown> = { code: e.code, message: e.message };
  if (e.detail !== undefined) error.detail = e.detail;
  return { status, body: { error } };
}
