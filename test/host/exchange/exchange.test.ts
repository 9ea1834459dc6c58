// The exchange layer end to end in one process: every fair cell of the seed's Figure 2 with
// honest parties (the third party is never called), and the faults — a party that stops,
// lost answers, forged and replayed items, a third party that is down or restarts, deadlines.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha256';
import { SqliteArchive } from '../../../host/src/services/archive';
import { credential, Element, information, InformationItem, PaymentItem, StatementItem } from '../../../host/src/transfer/items';
import { memoryChannel } from '../../../host/src/transfer/channel';
import { TransferManager } from '../../../host/src/transfer/manager';
import { AccountInstrument, PaymentManager } from '../../../host/src/payment/manager';
import { verifySign1 } from '../../../shared/src/cose';
import { ExchangeManagerOptions, ExchangeOutcome, Offering } from '../../../host/src/exchange/manager';
import { AFFIDAVIT_FORMAT, ItemDescription, openAgreement, openTtpRequest, propertyBits, signTtpRequest, verifyAffidavit, verifyDecision } from '../../../host/src/exchange/formats';
import { ExchangeItemModule, ExchangeModules, InformationExchangeModule, informationDescription, makeSignature } from '../../../host/src/exchange/modules';
import { ThirdParty } from '../../../host/src/ttp/third-party';
import { ExchangeError, isExchangeError } from '../../../host/src/exchange/errors';
import { contractOffering, infoOffering, keyed, line, modulesFor, payOffering, receiptOffering, rig, Rig, until } from './rig';

/** Bytes compared as bytes (decoders may decorate the arrays they read). */
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const pdf = new TextEncoder().encode('%PDF-1.4 the SEMPER trial report');
const song = new TextEncoder().encode('ID3 a song of the trials');

function buyerPays(r: Rig, amount = 1999): Offering {
  return payOffering(r.buyer, 'acct-buyer', amount, 'acct-merchant');
}

async function run(r: Rig, give: Offering, serverGives: Offering, fair = true, hooks: Parameters<typeof line>[1] = {}, serverExtra: Partial<ExchangeManagerOptions> = {}, clientExtra: Partial<ExchangeManagerOptions> = {}) {
  const server = r.manager(r.merchant, { respond: () => serverGives, ...serverExtra });
  const client = r.manager(r.buyer, clientExtra);
  const out = await client.m.exchange(line(server.m, hooks), { peer: { name: r.merchant.name, publicKey: r.merchant.publicKey }, give, want: serverGives.description, fair });
  return { out, server, client, serverOut: server.m.outcomeOf(out.exchangeId) };
}

function received<K extends Element['kind']>(o: ExchangeOutcome, kind: K): Extract<Element, { kind: K }> {
  expect(o.received?.kind).toBe(kind);
  return o.received as Extract<Element, { kind: K }>;
}

describe('honest runs: every fair cell of Figure 2, the third party never called', () => {
  const cells: [string, (r: Rig) => [Offering, Offering], string, Element['kind'], Element['kind'], string][] = [
    ['fair money exchange (payment for payment)', (r) => [buyerPays(r), payOffering(r.merchant, 'acct-merchant', 1500, 'acct-buyer')], 'rev-rev/1', 'payment', 'payment', 'originator'],
    ['payment with receipt', (r) => [buyerPays(r), receiptOffering(r.merchant)], 'gen-ev/1', 'statement', 'payment', 'responder'],
    ['fair purchase (payment for information)', (r) => [buyerPays(r), infoOffering(pdf)], 'gen-ev/1', 'information', 'payment', 'responder'],
    ['fair contract signing', (r) => [contractOffering(r.buyer, pdf), contractOffering(r.merchant, pdf)], 'gen-ev/1', 'statement', 'statement', 'originator'],
    ['certified mail (information for a receipt)', (r) => [infoOffering(pdf), receiptOffering(r.merchant)], 'gen-ev/1', 'statement', 'information', 'originator'],
    ['fair information exchange', () => [infoOffering(song, 'audio/mpeg'), infoOffering(pdf)], 'gen-ev/1', 'information', 'information', 'originator'],
  ];
  test.each(cells)('%s', async (_name, make, protocol, clientGets, serverGets, clientRole) => {
    const r = rig();
    const [give, get] = make(r);
    const { out, serverOut } = await run(r, give, get);
    expect(out).toMatchObject({ outcome: 'completed', protocol, role: clientRole });
    expect(serverOut).toMatchObject({ outcome: 'completed', protocol });
    // each side holds the other's item, of the kind promised (and verified against its description on the way in)
    expect(out.received?.kind).toBe(clientGets);
    expect(serverOut?.received?.kind).toBe(serverGets);
    if (clientGets === 'information') expect((out.received as InformationItem).data).toEqual(pdf);
    expect(r.port.calls).toBe(0);
    expect(r.ttp.calls).toEqual({ resolve: 0, abort: 0, status: 0 });
  });

  test('plain exchange (no fairness asked) runs without a third party in the agreement being used', async () => {
    const r = rig();
    const { out, serverOut } = await run(r, buyerPays(r), infoOffering(pdf), false);
    expect(out.protocol).toBe('plain/1');
    expect(serverOut?.outcome).toBe('completed');
    expect((received(out, 'information') as InformationItem).data).toEqual(pdf);
    expect(r.port.calls).toBe(0);
  });

  test('items without the properties fairness needs: NO_PROTOCOL before anything is given', async () => {
    const r = rig();
    const noFair = { ...buyerPays(r), description: { ...buyerPays(r).description, properties: 0 } };
    const { out } = await run(r, noFair, infoOffering(pdf));
    expect(out.outcome).toBe('failed');
    expect(out.reason).toMatch(/no fair exchange/);
    expect(r.port.calls).toBe(0);
  });
});

describe('the one-item cells of Figure 2: a transfer, no exchange protocol', () => {
  // payment, signature transfer and information transfer give one item and ask for nothing back:
  // the transfer layer carries them (origin, integrity, the receiver's signed receipt), and the
  // receiver checks the item as the exchange modules would (the payee's payment check, the signer's key, the hash)
  test('payment, signature transfer, information transfer: delivered, receipted, checked; no third party', async () => {
    const r = rig();
    const order = sha256(new TextEncoder().encode('order 7: one report'));
    const inst = new AccountInstrument({ account: 'acct-buyer', privateKey: r.buyer.privateKey, publicKey: r.buyer.publicKey });
    const pay = await inst.pay({ payee: 'acct-merchant', amount: 2_50, currency: 'EUR', txDigest: order, time: Math.floor(r.clock.t / 1000) });
    const signature = makeSignature(undefined, 'I, the buyer, accept the terms', r.buyer.privateKey, { contentHash: order, time: r.clock.t });
    const got: Element[] = [];
    const merchant = new TransferManager({ identity: r.merchant, archive: SqliteArchive.open(':memory:'), peers: (n) => (n === r.buyer.name ? r.buyer.publicKey : undefined), require: ['origin', 'receipt'], accept: (x) => void got.push(x.element) });
    const buyer = new TransferManager({ identity: r.buyer, archive: SqliteArchive.open(':memory:') });
    for (const item of [pay, signature, information('application/pdf', pdf)]) {
      const sent = await buyer.send(memoryChannel(merchant.handler), { name: r.merchant.name, publicKey: r.merchant.publicKey }, item, { attributes: ['origin', 'receipt'], deal: 'one-way' });
      expect(sent.receipt).toBeDefined();
    }
    expect(got.map((e) => e.kind)).toEqual(['payment', 'statement', 'information']);
    const payee = new PaymentManager([new AccountInstrument({ payerKey: (a) => r.payers.get(a) })]);
    expect(payee.verify(got[0] as PaymentItem, { payee: 'acct-merchant', amount: 2_50, currency: 'EUR', txDigest: order, time: Math.floor(r.clock.t / 1000) })).toMatchObject({ payer: 'acct-buyer', amount: 2_50 });
    expect(() => verifySign1((got[1] as StatementItem).document, r.buyer.publicKey)).not.toThrow();
    expect(() => verifySign1((got[1] as StatementItem).document, r.merchant.publicKey)).toThrow();
    expect(() => new InformationExchangeModule().verify(got[2], informationDescription('application/pdf', pdf))).not.toThrow();
    expect(() => new InformationExchangeModule().verify(got[2], informationDescription('application/pdf', song))).toThrow(/not what was described/);
    expect(r.port.calls).toBe(0);
  });
});

describe('generic: a new item type needs a module, and no exchange code', () => {
  /** A made-up item type: a credential, described by its hash — externally verifiable, generateable by escrow (no affidavit). */
  const credentialModule: ExchangeItemModule = {
    type: 'credential',
    verify(element: Element, desc: ItemDescription) {
      if (element.kind !== 'credential') throw new ExchangeError('MISMATCH', `a credential was promised, a ${element.kind} came`);
      const want = desc.spec.get(1);
      if (!(want instanceof Uint8Array) || hex(sha256(element.certificate)) !== hex(want)) throw new ExchangeError('MISMATCH', 'another credential than described');
    },
  };
  const cert = new TextEncoder().encode('a member card of the trial club');
  const credentialOffering = (bytes = cert): Offering => ({
    description: { type: 'credential', properties: propertyBits(['externally-verifiable', 'generateable']), spec: new Map([[1, sha256(cert)]]), label: 'a club credential' },
    make: async () => credential(bytes),
  });
  function withCredentials(r: Rig): ExchangeModules {
    const modules = modulesFor(r.payers).register(credentialModule);
    r.ttp = new ThirdParty({ identity: r.ttpId, archive: r.ttpArchive, modules, now: r.clock.now });
    return modules;
  }

  test('payment for the credential: gen-ev/1 chosen by its properties, completed without the third party', async () => {
    const r = rig();
    const modules = withCredentials(r);
    const { out, serverOut } = await run(r, buyerPays(r), credentialOffering(), true, {}, { modules }, { modules });
    expect(out).toMatchObject({ outcome: 'completed', protocol: 'gen-ev/1', role: 'responder' });
    expect(serverOut?.outcome).toBe('completed');
    expect(received(out, 'credential').certificate).toEqual(cert);
    expect(r.port.calls).toBe(0);
  });

  test('the merchant stops after the payment: the third party opens the credential from its escrow; a wrong one is refused and the payment revoked', async () => {
    const r = rig();
    const modules = withCredentials(r);
    const { out } = await run(r, buyerPays(r), credentialOffering(), true, { dropAnswerOf: 'responderItem' }, { modules }, { modules });
    expect(out.outcome).toBe('resolved');
    expect(received(out, 'credential').certificate).toEqual(cert);
    const cheated = await run(r, buyerPays(r), credentialOffering(new TextEncoder().encode('a forged card')), true, {}, { modules }, { modules });
    expect(cheated.out).toMatchObject({ outcome: 'aborted' });
    expect(cheated.out.refunds).toHaveLength(1);
  });
});

describe('the merchant stops after the payment', () => {
  test('payment with receipt: the buyer gets the third party\u2019s affidavit in place of the receipt', async () => {
    const r = rig();
    const { out, serverOut } = await run(r, buyerPays(r), receiptOffering(r.merchant), true, { dropAnswerOf: 'responderItem' });
    expect(out.outcome).toBe('resolved');
    const st = received(out, 'statement');
    expect(st.format).toBe(AFFIDAVIT_FORMAT);
    const aff = verifyAffidavit(st.document, r.ttpId.publicKey);
    expect(aff.replaces.label).toMatch(/receipt of merchant-shop/);
    // the merchant, for its part, completed: it holds the payment
    expect(serverOut?.outcome).toBe('completed');
    expect(r.ttp.calls.resolve).toBe(1);
    // the decision forwards the buyer's payment: the merchant could fetch it from the third party too
    const d = verifyDecision(out.decision!, r.ttpId.publicKey);
    expect(d.outcome).toBe('resolved');
    expect(d.forwarded).toHaveLength(1);
  });

  test('fair purchase: the buyer gets the goods out of the escrow', async () => {
    const r = rig();
    const { out } = await run(r, buyerPays(r), infoOffering(pdf), true, { dropAnswerOf: 'responderItem' });
    expect(out.outcome).toBe('resolved');
    expect(received(out, 'information').data).toEqual(pdf);
  });

  test('the merchant escrowed something else: the third party revokes the payment (refund authorisation)', async () => {
    const r = rig();
    const cheat: Offering = { description: infoOffering(pdf).description, make: async () => ({ kind: 'information', mediaType: 'application/pdf', data: new TextEncoder().encode('not the report') }) };
    const { out } = await run(r, buyerPays(r), cheat);
    // the buyer checks the goods itself, finds them wrong, and resolves
    expect(out.outcome).toBe('aborted');
    expect(out.refunds).toHaveLength(1);
    expect(out.reason).toMatch(/escrow is not the item/);
  });

  test('a receipt signed with another key is no receipt: the buyer resolves', async () => {
    const r = rig();
    const forger = keyed('forger');
    const forged: Offering = { description: receiptOffering(r.merchant).description, make: receiptOffering(forger).make };
    const { out } = await run(r, buyerPays(r), forged);
    expect(out.outcome).toBe('resolved');
    expect(received(out, 'statement').format).toBe(AFFIDAVIT_FORMAT);
  });
});

describe('the buyer stops after the goods', () => {
  test('the merchant keeps the payment and the buyer\u2019s countersigned agreement as proof of the deal', async () => {
    const r = rig();
    const { out, server } = await run(r, buyerPays(r), infoOffering(pdf));
    expect(out.outcome).toBe('completed');
    const recs = await server.archive.list({ deal: out.exchangeId });
    const labels = recs.map((x) => x.label);
    expect(labels).toEqual(expect.arrayContaining(['exchange propose received', 'exchange agreement sent', 'exchange responderItem received', 'exchange originatorItem sent', 'exchange final completed']));
    expect(r.port.calls).toBe(0);
  });
});

describe('replays and forgeries at the third party', () => {
  test('a payment of another exchange does not resolve this one (the ASW replay): WRONG_EXCHANGE, nothing stored', async () => {
    const r = rig();
    // exchange 1 completes; the buyer keeps its payment
    const first = await run(r, buyerPays(r), receiptOffering(r.merchant));
    expect(first.out.outcome).toBe('completed');
    const recs = await first.client.archive.list({ deal: first.out.exchangeId });
    const { openMessage } = await import('../../../host/src/exchange/formats');
    const m2 = openMessage(recs.find((x) => x.label === 'exchange responderItem sent')!.evidence!).msg;
    const oldPayment = m2.body.get(2) as Uint8Array;
    // exchange 2: the merchant stops after the agreement; the buyer tries the old payment at the third party
    const server = r.manager(r.merchant, { respond: () => receiptOffering(r.merchant) });
    const client = r.manager(r.buyer);
    r.port.down = true; // the buyer's own resolve does not get through: exchange 2 stays undecided
    const out2 = await client.m.exchange(line(server.m, { dropRequestOf: 'responderItem' }), { peer: r.merchant, give: buyerPays(r), want: receiptOffering(r.merchant).description, fair: true });
    const recs2 = await client.archive.list({ deal: out2.exchangeId });
    const agreement = openMessage(recs2.find((x) => x.label === 'exchange agreement received')!.evidence!).msg.body.get(1) as Uint8Array;
    const { signAcceptance } = await import('../../../host/src/exchange/formats');
    const opened = openAgreement(agreement);
    const req = signTtpRequest({ op: 'resolve', agreement, acceptance: signAcceptance(opened.hash, r.buyer.privateKey), items: [oldPayment], time: r.clock.t }, r.buyer.privateKey);
    r.port.down = false;
    const before = (await r.ttpArchive.list()).length;
    await expect(r.ttp.handle(req)).rejects.toMatchObject({ code: 'WRONG_EXCHANGE' });
    expect((await r.ttpArchive.list()).length).toBe(before);
  });

  test('a request signed by a stranger, or naming another third party, is refused', async () => {
    const r = rig();
    const { out, client } = await run(r, buyerPays(r), receiptOffering(r.merchant), true, { dropAnswerOf: 'responderItem' });
    const req = (await client.archive.list({ deal: out.exchangeId })).find((x) => x.label === 'exchange ttp resolve')!.evidence!;
    const { request } = openTtpRequest(req);
    const stranger = keyed('stranger');
    await expect(r.ttp.handle(signTtpRequest(request, stranger.privateKey))).rejects.toMatchObject({ code: 'BAD_SIGNATURE' });
    const other = new ThirdParty({ identity: keyed('other-ttp'), archive: SqliteArchive.open(':memory:'), modules: r.modules });
    await expect(other.handle(req)).rejects.toMatchObject({ code: 'REFUSED' });
  });
});

describe('the third party: final, idempotent, durable', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'semper-ttp-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('the same request gets the same answer, also after a restart', async () => {
    const path = join(dir, 'ttp.sqlite');
    const r = rig({ ttpArchivePath: path });
    const { out, client } = await run(r, buyerPays(r), receiptOffering(r.merchant), true, { dropAnswerOf: 'responderItem' });
    expect(out.outcome).toBe('resolved');
    const req = (await client.archive.list({ deal: out.exchangeId })).find((x) => x.label === 'exchange ttp resolve')!.evidence!;
    expect(hex(await r.ttp.handle(req))).toBe(hex(out.decision!));
    r.ttpArchive.close();
    const again = new ThirdParty({ identity: r.ttpId, archive: SqliteArchive.open(path), modules: r.modules, now: r.clock.now });
    r.clock.t += 3_600_000; // even past the deadline: the decision stands
    expect(hex(await again.handle(req))).toBe(hex(out.decision!));
  });

  test('a resolve after the deadline: expired, and then expired for everyone (never both)', async () => {
    const r = rig();
    const server = r.manager(r.merchant, { respond: () => receiptOffering(r.merchant) });
    const client = r.manager(r.buyer, { deadlineMs: 60_000 });
    r.port.down = true; // the buyer cannot reach the third party in time
    const out = await client.m.exchange(line(server.m, { dropAnswerOf: 'responderItem' }), { peer: r.merchant, give: buyerPays(r), want: receiptOffering(r.merchant).description, fair: true });
    expect(out.outcome).toBe('pending');
    r.port.down = false;
    r.clock.t += 120_000;
    const late = await client.m.settle(out.exchangeId);
    expect(late.outcome).toBe('expired');
    expect(verifyDecision(late.decision!, r.ttpId.publicKey).outcome).toBe('expired');
  });

  test('third party down during the resolve: pending, then settled when it is back', async () => {
    const r = rig();
    r.port.down = true;
    const { out, client } = await run(r, buyerPays(r), infoOffering(pdf), true, { dropAnswerOf: 'responderItem' });
    expect(out.outcome).toBe('pending');
    r.port.down = false;
    const later = await client.m.settle(out.exchangeId);
    expect(later.outcome).toBe('resolved');
    expect(received(later, 'information').data).toEqual(pdf);
  });
});

describe('rev-rev/1: undo on failure', () => {
  test('the buyer\u2019s payment is lost on the way: the merchant aborts and both end with nothing', async () => {
    const r = rig();
    const { out, server, client } = await run(r, buyerPays(r), payOffering(r.merchant, 'acct-merchant', 1500, 'acct-buyer'), true, { dropRequestOf: 'originatorItem' }, { stepTimeoutMs: 50 });
    expect(out).toMatchObject({ protocol: 'rev-rev/1', role: 'originator', outcome: 'pending' });
    // the merchant (responder) waited for the buyer's payment, then aborted: its own payment is revoked
    await until(() => server.m.outcomeOf(out.exchangeId)?.outcome === 'aborted', 'the merchant\u2019s abort');
    const m = server.m.outcomeOf(out.exchangeId)!;
    expect(m.outcome).toBe('aborted');
    // both payments revoked by their bindings: the merchant's, and the buyer's (lost, but signed)
    expect(m.refunds).toHaveLength(2);
    // at the deadline the buyer learns it: the same final decision
    r.clock.t = out.deadline + 1;
    const b = await client.m.settle(out.exchangeId);
    expect(b.outcome).toBe('aborted');
    expect(b.refunds).toHaveLength(2);
    expect(r.ttp.calls).toEqual({ resolve: 0, abort: 2, status: 1 });
  });

  test('a cheating party aborts after a complete run: both payments are undone once each is shown', async () => {
    const r = rig();
    const { out, client, server } = await run(r, buyerPays(r), payOffering(r.merchant, 'acct-merchant', 1500, 'acct-buyer'));
    expect(out.outcome).toBe('completed');
    const msgs = await server.archive.list({ deal: out.exchangeId });
    const { openMessage, signAcceptance } = await import('../../../host/src/exchange/formats');
    void signAcceptance;
    const body = (label: string) => openMessage(msgs.find((x) => x.label === label)!.evidence!).msg.body;
    const agreement = body('exchange agreement received').get(1) as Uint8Array;
    const merchantPayment = body('exchange responderItem sent').get(2) as Uint8Array;
    const buyerPayment = body('exchange originatorItem received').get(1) as Uint8Array;
    // an abort showing a forged item is refused, and decides nothing
    const forged = merchantPayment.slice();
    forged[forged.length - 5] ^= 1;
    await expect(r.ttp.handle(signTtpRequest({ op: 'abort', agreement, items: [forged], time: r.clock.t }, r.merchant.privateKey))).rejects.toMatchObject({ name: 'ExchangeError' });
    expect(await r.ttp.decisionOf(openAgreement(agreement).agreement.id)).toBeUndefined();
    // the merchant aborts showing only its own payment: both payments are revoked all the same
    // (by their bindings in the agreement), or it would keep the buyer's
    const d1 = verifyDecision(await r.ttp.handle(signTtpRequest({ op: 'abort', agreement, items: [merchantPayment], time: r.clock.t }, r.merchant.privateKey)), r.ttpId.publicKey);
    expect(d1.outcome).toBe('aborted');
    expect(d1.refunds).toHaveLength(2);
    const { decodeRefund } = await import('../../../host/src/payment/formats');
    expect(d1.refunds.map((b) => decodeRefund(b).refund.amount).sort()).toEqual([15_00, 19_99]);
    // the buyer asking later changes nothing: the decision is final
    const d2 = verifyDecision(await r.ttp.handle(signTtpRequest({ op: 'abort', agreement, items: [buyerPayment], time: r.clock.t }, r.buyer.privateKey)), r.ttpId.publicKey);
    expect(d2.refunds.map(hex)).toEqual(d1.refunds.map(hex));

    void client;
    // after the deadline, an exchange nobody aborted is completed, and then cannot be aborted
    const second = await run(r, buyerPays(r), payOffering(r.merchant, 'acct-merchant', 1500, 'acct-buyer'));
    const m2 = await second.server.archive.list({ deal: second.out.exchangeId });
    const ag2 = openMessage(m2.find((x) => x.label === 'exchange agreement received')!.evidence!).msg.body.get(1) as Uint8Array;
    r.clock.t += 3_600_000;
    const late = verifyDecision(await r.ttp.handle(signTtpRequest({ op: 'abort', agreement: ag2, items: [], time: r.clock.t }, r.merchant.privateKey)), r.ttpId.publicKey);
    expect(late.outcome).toBe('completed');
    expect(late.refunds).toHaveLength(0);
  });
});

describe('crash and restart of a party', () => {
  test('the buyer crashes after sending its payment; restarted from its archive, it resolves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'semper-exch-'));
    try {
      const r = rig();
      const path = join(dir, 'buyer.sqlite');
      const server = r.manager(r.merchant, { respond: () => infoOffering(pdf) });
      const client = r.manager(r.buyer, {}, SqliteArchive.open(path, { now: r.clock.now }));
      // the answer to the payment never comes, and the buyer "crashes" before it reaches the third party
      r.port.down = true;
      const first = await client.m.exchange(line(server.m, { dropAnswerOf: 'responderItem' }), { peer: r.merchant, give: buyerPays(r), want: infoOffering(pdf).description, fair: true });
      expect(first.outcome).toBe('pending');
      client.archive.close();
      r.port.down = false;
      const restarted = r.manager(r.buyer, {}, SqliteArchive.open(path, { now: r.clock.now }));
      const recovered = await restarted.m.recover();
      expect(recovered).toHaveLength(1);
      expect(recovered[0]).toMatchObject({ exchangeId: first.exchangeId, outcome: 'resolved', role: 'responder' });
      expect(received(recovered[0], 'information').data).toEqual(pdf);
      // and once final, a second restart finds nothing open
      expect(await restarted.m.recover()).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

void sha256;
void isExchangeError;
