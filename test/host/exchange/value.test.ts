// Value conservation with a real bank (SQLite, over HTTP): across honest runs and faults of the
// exchange layer — a lost payment in a fair money exchange undone by the third party's refunds,
// a merchant that never deposits and vanishes (the third party settles the payment on its behalf
// before it resolves), a payment the bank will not settle (no resolve on its strength), a third
// party without the payers' keys that has the bank check account orders (`semper ttp --bank`) —
// the customers' money only moves as the outcome says, and the total never changes.

import { join } from 'node:path';
import { BankClient } from '../../../host/src/bank/client';
import { AccountInstrument, PaymentManager } from '../../../host/src/payment/manager';
import { PaymentItem } from '../../../host/src/transfer/items';
import { SqliteArchive } from '../../../host/src/services/archive';
import { ThirdParty } from '../../../host/src/ttp/third-party';
import { httpThirdParty } from '../../../host/src/ttp/http';
import { run as ttpCli } from '../../../host/src/cli/ttp';
import { standardModules } from '../../../host/src/ttp/modules';
import { ExchangeManagerOptions, Offering } from '../../../host/src/exchange/manager';
import { openMessage, signTtpRequest, verifyDecision } from '../../../host/src/exchange/formats';
import { RunningBank, startBank, tempDir } from '../bank/rig';
import { randomBytes } from '@noble/hashes/utils';
import { keyed, line, payOffering, paymentDesc, receiptOffering, rig, until } from './rig';

jest.setTimeout(60000);
let tmp: ReturnType<typeof tempDir>;
let bank: RunningBank;
const r = rig();
const ttpId = r.ttpId;

beforeAll(async () => {
  tmp = tempDir('exchange-value-');
  bank = await startBank(join(tmp.dir, 'bank.db'), { now: () => Date.now(), ttpKeys: [ttpId.publicKey] });
  await bank.client.openAccount({ id: 'acct-buyer', kind: 'buyer', name: 'Buyer', currency: 'EUR', publicKey: r.buyer.publicKey });
  await bank.client.openAccount({ id: 'acct-merchant', kind: 'buyer', name: 'Merchant', currency: 'EUR', publicKey: r.merchant.publicKey });
  await bank.client.fund('acct-buyer', 100_00);
  await bank.client.fund('acct-merchant', 100_00);
});
afterAll(async () => {
  await bank.stop();
  tmp.cleanup();
});

const balances = async () => ({ buyer: (await bank.client.account('acct-buyer')).balance, merchant: (await bank.client.account('acct-merchant')).balance });
const total = (b: { buyer: number; merchant: number }) => b.buyer + b.merchant;

function parties(o: { serverExtra?: Partial<ExchangeManagerOptions>; modulesWithBank?: boolean; ttpKnowsPayers?: boolean } = {}) {
  const client = new BankClient(bank.url);
  const payments = new PaymentManager([new AccountInstrument({ payerKey: (a) => r.payers.get(a) })]);
  // each payee settles what it receives at the bank before it gives its own item
  const accept = (who: string) => async (item: { kind: string }, ctx: { exchangeId: string }) => {
    if (item.kind === 'payment') await payments.settle(item as PaymentItem, client, `settle-${ctx.exchangeId}-${who}`);
  };
  const modules = standardModules({ payerKey: (a) => r.payers.get(a), ...(o.modulesWithBank ? { bank: client } : {}) });
  // the third party of `semper ttp --bank`: no payer keys of its own, the bank checks account orders
  const ttpModules = o.ttpKnowsPayers === false ? standardModules({ bank: client }) : modules;
  const ttp = new ThirdParty({ identity: ttpId, archive: SqliteArchive.open(':memory:'), modules: ttpModules, now: r.clock.now });
  const port = { request: (b: Uint8Array) => ttp.handle(b) };
  const ttpRef = { party: { name: ttpId.name, publicKey: ttpId.publicKey }, port };
  const server = r.manager(r.merchant, { modules, ttp: ttpRef, accept: accept('merchant'), ...o.serverExtra });
  const buyer = r.manager(r.buyer, { modules, ttp: ttpRef, accept: accept('buyer') });
  const redeem = async (refunds: Uint8Array[]) => {
    for (const [i, refund] of refunds.entries()) await client.refund({ requestId: `refund-${Date.now()}-${i}-${Math.random()}`, refund }).catch(() => undefined);
  };
  return { server, buyer, redeem, ttp, client };
}

test('fair money exchange, honest: each pays the other, the total unchanged, no third party', async () => {
  const before = await balances();
  const p = parties({ serverExtra: { respond: () => payOffering(r.merchant, 'acct-merchant', 7_00, 'acct-buyer') } });
  const out = await p.buyer.m.exchange(line(p.server.m), { peer: r.merchant, give: payOffering(r.buyer, 'acct-buyer', 9_90, 'acct-merchant'), want: payOffering(r.merchant, 'acct-merchant', 7_00, 'acct-buyer').description, fair: true });
  expect(out.outcome).toBe('completed');
  const after = await balances();
  expect(after).toEqual({ buyer: before.buyer - 9_90 + 7_00, merchant: before.merchant + 9_90 - 7_00 });
  expect(total(after)).toBe(total(before));
  expect(p.ttp.calls).toEqual({ resolve: 0, abort: 0, status: 0 });
});

test('fair money exchange, the buyer\u2019s payment lost: the merchant aborts, every settled payment is refunded, everyone is back where they started', async () => {
  const before = await balances();
  const p = parties({ serverExtra: { respond: () => payOffering(r.merchant, 'acct-merchant', 7_00, 'acct-buyer'), stepTimeoutMs: 30 } });
  const out = await p.buyer.m.exchange(line(p.server.m, { dropRequestOf: 'originatorItem' }), { peer: r.merchant, give: payOffering(r.buyer, 'acct-buyer', 9_90, 'acct-merchant'), want: payOffering(r.merchant, 'acct-merchant', 7_00, 'acct-buyer').description, fair: true });
  expect(out.outcome).toBe('pending');
  // the buyer settled the merchant's payment when it came; in flight now: 7.00 from merchant to buyer
  const mid = await balances();
  expect(total(mid)).toBe(total(before));
  await until(() => p.server.m.outcomeOf(out.exchangeId)?.outcome === 'aborted', `the merchant's abort (now ${p.server.m.outcomeOf(out.exchangeId)?.outcome})`);
  const m = p.server.m.outcomeOf(out.exchangeId)!;
  expect(m.outcome).toBe('aborted');
  await p.redeem(m.refunds);
  r.clock.t = out.deadline + 1;
  const b = await p.buyer.m.settle(out.exchangeId);
  expect(b.outcome).toBe('aborted');
  await p.redeem(b.refunds); // the lost payment was never settled: its refund is refused by the bank, harmlessly
  const after = await balances();
  expect(after).toEqual(before);
});

test('the merchant never deposits and vanishes: the third party settles the payment for it, then resolves; the money moved exactly once', async () => {
  const before = await balances();
  const p = parties({ modulesWithBank: true, serverExtra: { respond: () => receiptOffering(r.merchant), accept: async () => undefined } });
  const out = await p.buyer.m.exchange(line(p.server.m, { dropAnswerOf: 'responderItem' }), { peer: r.merchant, give: payOffering(r.buyer, 'acct-buyer', 4_20, 'acct-merchant'), want: receiptOffering(r.merchant).description, fair: true });
  expect(out.outcome).toBe('resolved');
  const after = await balances();
  expect(after).toEqual({ buyer: before.buyer - 4_20, merchant: before.merchant + 4_20 });
  expect(total(after)).toBe(total(before));
});

test('a payment the bank will not settle (more than the account holds): the third party does not resolve on it; nothing moves', async () => {
  const before = await balances();
  const p = parties({ modulesWithBank: true, serverExtra: { respond: () => receiptOffering(r.merchant), accept: async () => undefined } });
  const out = await p.buyer.m.exchange(line(p.server.m, { dropAnswerOf: 'responderItem' }), { peer: r.merchant, give: payOffering(r.buyer, 'acct-buyer', 500_00, 'acct-merchant'), want: receiptOffering(r.merchant).description, fair: true });
  expect(out.outcome).toBe('pending');
  expect(out.reason).toMatch(/does not stand at the bank/);
  expect(await balances()).toEqual(before);
  void keyed;
});

test('a party aborts after a complete money exchange, showing only its own payment: the bank refunds both by their bindings; everyone is back where they started', async () => {
  const before = await balances();
  const p = parties({ serverExtra: { respond: () => payOffering(r.merchant, 'acct-merchant', 7_00, 'acct-buyer') } });
  const out = await p.buyer.m.exchange(line(p.server.m), { peer: r.merchant, give: payOffering(r.buyer, 'acct-buyer', 9_90, 'acct-merchant'), want: payOffering(r.merchant, 'acct-merchant', 7_00, 'acct-buyer').description, fair: true });
  expect(out.outcome).toBe('completed');
  const recs = await p.server.archive.list({ deal: out.exchangeId });
  const body = (label: string) => openMessage(recs.find((x) => x.label === label)!.evidence!).msg.body;
  const agreement = body('exchange agreement received').get(1) as Uint8Array;
  const own = body('exchange responderItem sent').get(2) as Uint8Array;
  const decision = verifyDecision(await p.ttp.handle(signTtpRequest({ op: 'abort', agreement, items: [own], time: r.clock.t }, r.merchant.privateKey)), ttpId.publicKey);
  expect(decision.outcome).toBe('aborted');
  // whoever presents the refunds (here: the cheater, who wants its money back) — the bank refunds both
  await p.redeem(decision.refunds);
  expect(await balances()).toEqual(before);
  // presented again: each refund id is refunded once
  await p.redeem(decision.refunds);
  expect(await balances()).toEqual(before);
});

describe('a third party that knows no payer keys asks the bank (semper ttp --bank)', () => {
  /** An account order of `amount` to the merchant with a chosen order id, signed by `signer` in the name of acct-buyer. */
  const order = (signer: { privateKey: Uint8Array; publicKey: Uint8Array }, amount: number, orderId: Uint8Array): Offering => {
    const inst = new AccountInstrument({ account: 'acct-buyer', privateKey: signer.privateKey, publicKey: signer.publicKey, random: () => orderId });
    return { description: paymentDesc(amount, 'acct-merchant'), make: (ctx) => inst.pay({ payee: 'acct-merchant', amount, currency: 'EUR', txDigest: ctx.agreementHash, time: Math.floor(ctx.now / 1000) }) };
  };
  const receiptFor = (p: ReturnType<typeof parties>, give: Offering) =>
    p.buyer.m.exchange(line(p.server.m, { dropAnswerOf: 'responderItem' }), { peer: r.merchant, give, want: receiptOffering(r.merchant).description, fair: true });

  test('the merchant never deposited: the bank settles the order (checking its signature) and the third party resolves', async () => {
    const before = await balances();
    const p = parties({ ttpKnowsPayers: false, serverExtra: { respond: () => receiptOffering(r.merchant), accept: async () => undefined } });
    const out = await receiptFor(p, order(r.buyer, 2_10, randomBytes(16)));
    expect(out.outcome).toBe('resolved');
    expect(await balances()).toEqual({ buyer: before.buyer - 2_10, merchant: before.merchant + 2_10 });
  });

  test('the merchant deposited, then vanished: the bank answers DUPLICATE_ORDER for the signed order, the third party resolves; the money moved once', async () => {
    const before = await balances();
    const p = parties({ ttpKnowsPayers: false, serverExtra: { respond: () => receiptOffering(r.merchant) } });
    const out = await receiptFor(p, order(r.buyer, 3_20, randomBytes(16)));
    expect(out.outcome).toBe('resolved');
    expect(p.ttp.calls.resolve).toBe(1);
    expect(await balances()).toEqual({ buyer: before.buyer - 3_20, merchant: before.merchant + 3_20 });
  });

  test('a forged order that reuses a settled order\u2019s id, payee and amount: the bank refuses its signature, nothing is resolved, nothing moves', async () => {
    const id = randomBytes(16);
    // an honest payment first, deposited by the merchant: its order id is settled at the bank
    const honest = parties({ ttpKnowsPayers: false, serverExtra: { respond: () => receiptOffering(r.merchant) } });
    expect((await honest.buyer.m.exchange(line(honest.server.m), { peer: r.merchant, give: order(r.buyer, 5_55, id), want: receiptOffering(r.merchant).description, fair: true })).outcome).toBe('completed');
    const before = await balances();
    // then an order in acct-buyer's name, bound to a new exchange, signed with a key the bank does not know
    const p = parties({ ttpKnowsPayers: false, serverExtra: { respond: () => receiptOffering(r.merchant) } });
    const status = await p.client.paymentStatus({ orderId: Buffer.from(id).toString('hex') });
    expect(status.status).toMatchObject({ settled: true, payee: 'acct-merchant', amount: 5_55, payer: 'acct-buyer' });
    const out = await receiptFor(p, order(keyed('mallory'), 5_55, id));
    expect(out.outcome).toBe('pending');
    expect(out.reason).toMatch(/does not stand at the bank/);
    expect(p.ttp.calls.resolve).toBeGreaterThan(0);
    expect(await p.ttp.decisionOf(Buffer.from(out.exchangeId, 'hex'))).toBeUndefined();
    expect(await balances()).toEqual(before);
  });

  test('without a bank and without the payer\u2019s key, the third party does not resolve on an account order', async () => {
    const ttp = new ThirdParty({ identity: ttpId, archive: SqliteArchive.open(':memory:'), modules: standardModules(), now: r.clock.now });
    const port = { request: (b: Uint8Array) => ttp.handle(b) };
    const server = r.manager(r.merchant, { ttp: { party: ttp.party, port }, respond: () => receiptOffering(r.merchant), accept: async () => undefined });
    const buyer = r.manager(r.buyer, { ttp: { party: ttp.party, port } });
    const out = await buyer.m.exchange(line(server.m, { dropAnswerOf: 'responderItem' }), { peer: r.merchant, give: order(r.buyer, 1_00, randomBytes(16)), want: receiptOffering(r.merchant).description, fair: true });
    expect(out.outcome).toBe('pending');
    expect(out.reason).toMatch(/can check neither the order's signature/);
    expect(ttp.calls.resolve).toBe(1);
    expect(await ttp.decisionOf(Buffer.from(out.exchangeId, 'hex'))).toBeUndefined();
  });
});

test('semper ttp --bank: the service resolves on an order its payer\u2019s key is unknown to it, after the bank settled it; bad --bank options exit 2', async () => {
  const err: string[] = [];
  const io = { out: () => undefined, err: (s: string) => void err.push(s) };
  expect(await ttpCli(['--key', 'test', '--bank', 'not a url'], io)).toBe(2);
  expect(await ttpCli(['--key', 'test', '--bank-key', 'BAAA'], io)).toBe(2);
  expect(await ttpCli(['--key', 'test', '--bank', bank.url, '--bank-key', 'BAAA'], io)).toBe(2);
  expect(err.join('')).toMatch(/is not a URL[\s\S]*needs --bank URL[\s\S]*not an uncompressed P-256 public key/);

  const before = await balances();
  const ac = new AbortController();
  let url = '';
  let publicKey: Uint8Array = new Uint8Array(0);
  const bankKey = Buffer.from(bank.bank.bankPublicKey).toString('base64url');
  const done = ttpCli(['--key', 'test', '--port', '0', '--db', join(tmp.dir, 'ttp-cli.db'), '--bank', bank.url, '--bank-key', bankKey], { ...io, signal: ac.signal, onListening: (u, k) => ((url = u), (publicKey = k)) });
  try {
    while (!url) await new Promise((ok) => setTimeout(ok, 10));
    const ttp = { party: { name: 'SEMPER Test TTP', publicKey }, port: httpThirdParty(url) };
    // the real clock: the service decides with its own
    const server = r.manager(r.merchant, { ttp, now: Date.now, respond: () => receiptOffering(r.merchant), accept: async () => undefined });
    const buyer = r.manager(r.buyer, { ttp, now: Date.now });
    const out = await buyer.m.exchange(line(server.m, { dropAnswerOf: 'responderItem' }), { peer: r.merchant, give: payOffering(r.buyer, 'acct-buyer', 1_23, 'acct-merchant'), want: receiptOffering(r.merchant).description, fair: true, deadlineMs: 3_600_000 });
    expect(out.outcome).toBe('resolved');
    expect(await balances()).toEqual({ buyer: before.buyer - 1_23, merchant: before.merchant + 1_23 });
  } finally {
    ac.abort();
  }
  expect(await done).toBe(0);
});
