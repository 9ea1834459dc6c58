// Faults at every step: for each layout of a conversation, every request lost, every answer
// lost, and the server crashing after archiving each answer — with the third party out of
// reach meanwhile, so that each party really stops with only its archive. Then both restart
// from their archives (`recover`), and again after the deadline. Whatever happened, the end is
// fair: either each party holds the other's item (or the third party's replacement), or
// every transfer that happened is revoked, or nothing changed hands — and an honest party
// always ends in a final state, and the arbiter, judging each party's archive, says so. With a real bank behind the payments, money moves exactly as
// the final state says, and the customers' total never changes.

import { join } from 'node:path';
import { BankClient } from '../../../host/src/bank/client';
import { AccountInstrument, PaymentManager } from '../../../host/src/payment/manager';
import { SqliteArchive } from '../../../host/src/services/archive';
import { Element, PaymentItem } from '../../../host/src/transfer/items';
import { ThirdParty } from '../../../host/src/ttp/third-party';
import { standardModules } from '../../../host/src/ttp/modules';
import { startBank, tempDir } from '../bank/rig';
import { StepName, verifyDecision } from '../../../host/src/exchange/formats';
import { judge } from '../../../host/src/exchange/arbiter';
import { Offering } from '../../../host/src/exchange/manager';
import { infoOffering, line, payOffering, receiptOffering, rig, Rig } from './rig';

const pdf = new TextEncoder().encode('%PDF the delivered document');

interface Layout {
  name: string;
  offers: (r: Rig) => [Offering, Offering];
  /** Requests the client sends, in order, and the server's answers. */
  requests: StepName[];
  answers: StepName[];
  clientIsOriginator: boolean;
  protocol: string;
  /** What the client's and the server's items pay (0: not a payment). */
  amounts: [number, number];
}

const layouts: Layout[] = [
  { name: 'payment for a receipt (server originates)', offers: (r) => [payOffering(r.buyer, 'acct-buyer', 990, 'acct-merchant'), receiptOffering(r.merchant)], requests: ['propose', 'responderItem'], answers: ['agreement', 'originatorItem'], clientIsOriginator: false, protocol: 'gen-ev/1', amounts: [990, 0] },
  { name: 'certified mail (client originates)', offers: (r) => [infoOffering(pdf), receiptOffering(r.merchant)], requests: ['propose', 'agreement', 'originatorItem'], answers: ['terms', 'responderItem', 'done'], clientIsOriginator: true, protocol: 'gen-ev/1', amounts: [0, 0] },
  { name: 'payment for payment (rev-rev, client originates)', offers: (r) => [payOffering(r.buyer, 'acct-buyer', 990, 'acct-merchant'), payOffering(r.merchant, 'acct-merchant', 700, 'acct-buyer')], requests: ['propose', 'agreement', 'originatorItem'], answers: ['terms', 'responderItem', 'done'], clientIsOriginator: true, protocol: 'rev-rev/1', amounts: [990, 700] },
];

type Fault = { kind: 'request lost' | 'answer lost'; step: StepName } | { kind: 'server crash'; step: StepName };

const cases: [string, string, Layout, Fault][] = [];
for (const l of layouts) {
  for (const s of l.requests) cases.push([l.name, `${s} lost`, l, { kind: 'request lost', step: s }], [l.name, `answer to ${s} lost`, l, { kind: 'answer lost', step: s }]);
  for (const s of l.answers) cases.push([l.name, `server crashes after archiving its ${s}`, l, { kind: 'server crash', step: s }]);
}

async function labels(a: SqliteArchive, deal: string): Promise<string[]> {
  return (await a.list({ deal })).map((x) => x.label ?? '');
}

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => (tmp = tempDir('exchange-faults-')));
afterAll(() => tmp.cleanup());
let banks = 0;
/** Every money movement the cases ended with: the checks above must not hold only because nothing ever moved. */
const moves = new Set<number>();
afterAll(() => expect([...moves].sort((a, b) => a - b)).toEqual([0, 290, 990]));
/** Every verdict the arbiter gave: it judged runs of each kind, not only one. */
const verdicts = new Set<string>();
afterAll(() => expect([...verdicts].sort()).toEqual(['aborted', 'completed', 'expired', 'open', 'resolved']));

/** A bank for one case: both parties' accounts funded, the rig's third party trusted for refunds. */
async function bankFor(r: Rig) {
  const bank = await startBank(join(tmp.dir, `bank-${++banks}.db`), { now: () => Date.now(), ttpKeys: [r.ttpId.publicKey] });
  await bank.client.openAccount({ id: 'acct-buyer', kind: 'buyer', name: 'Buyer', currency: 'EUR', publicKey: r.buyer.publicKey });
  await bank.client.openAccount({ id: 'acct-merchant', kind: 'buyer', name: 'Merchant', currency: 'EUR', publicKey: r.merchant.publicKey });
  await bank.client.fund('acct-buyer', 100_00);
  await bank.client.fund('acct-merchant', 100_00);
  const client = new BankClient(bank.url);
  const payments = new PaymentManager([new AccountInstrument({ payerKey: (a) => r.payers.get(a) })]);
  // each payee takes what it receives to the bank before it gives its own item
  const accept = (who: string) => async (item: Element, ctx: { exchangeId: string }) => {
    if (item.kind === 'payment') await payments.settle(item as PaymentItem, client, `settle-${ctx.exchangeId}-${who}`);
  };
  // the third party confirms payments at this bank before it resolves on them
  r.ttp = new ThirdParty({ identity: r.ttpId, archive: r.ttpArchive, modules: standardModules({ payerKey: (a) => r.payers.get(a), bank: client }), now: r.clock.now });
  const balances = async () => ({ buyer: (await bank.client.account('acct-buyer')).balance, merchant: (await bank.client.account('acct-merchant')).balance });
  const redeem = async (refunds: Uint8Array[]) => {
    for (const [i, refund] of refunds.entries()) await client.refund({ requestId: `refund-${i}-${Buffer.from(refund.slice(-8)).toString('hex')}`, refund }).catch(() => undefined);
  };
  return { bank, accept, balances, redeem };
}

test.each(cases)('%s: %s', async (_n, _f, layout, fault) => {
  const r = rig();
  const money = await bankFor(r);
  const start = await money.balances();
  const [give, get] = layout.offers(r);
  const serverArchive = SqliteArchive.open(':memory:', { now: r.clock.now });
  const clientArchive = SqliteArchive.open(':memory:', { now: r.clock.now });
  const serverOpts = { respond: () => get, stepTimeoutMs: 60_000, accept: money.accept('merchant'), ...(fault.kind === 'server crash' ? { crashAfter: fault.step } : {}) };
  const server1 = r.manager(r.merchant, serverOpts, serverArchive);
  const client1 = r.manager(r.buyer, { accept: money.accept('buyer') }, clientArchive);
  r.port.down = true; // while the fault happens nobody reaches the third party: each side is left with its archive
  const hooks = fault.kind === 'request lost' ? { dropRequestOf: fault.step } : fault.kind === 'answer lost' ? { dropAnswerOf: fault.step } : {};
  const first = await client1.m.exchange(line(server1.m, hooks), { peer: r.merchant, give, want: get.description, fair: true });
  const deal = first.exchangeId;

  // both restart from their archives with the third party back
  r.port.down = false;
  const server2 = r.manager(r.merchant, { respond: () => get, accept: money.accept('merchant') }, serverArchive);
  const client2 = r.manager(r.buyer, { accept: money.accept('buyer') }, clientArchive);
  await client2.m.recover();
  await server2.m.recover();
  // and once more after the deadline: whatever was pending becomes final
  r.clock.t = (first.deadline || r.clock.t) + 1;
  await client2.m.recover();
  await server2.m.recover();

  const cl = await labels(clientArchive, deal);
  const sl = await labels(serverArchive, deal);
  const agreed = [...cl, ...sl].some((x) => x.startsWith('exchange agreement'));
  // every honest party ends in a final state (or nothing was ever agreed)
  if (agreed) {
    if (cl.some((x) => x.startsWith('exchange agreement'))) expect(cl.some((x) => x.startsWith('exchange final'))).toBe(true);
    if (sl.some((x) => x.startsWith('exchange agreement'))) expect(sl.some((x) => x.startsWith('exchange final'))).toBe(true);
  }

  // what each holds of the other, by its own evidence
  const decisions = (await r.ttpArchive.list({ deal, kind: 'ttp-decision' })).map((x) => verifyDecision(x.evidence!, r.ttpId.publicKey));
  const last = decisions[decisions.length - 1];
  const [oLabels, rLabels] = layout.clientIsOriginator ? [cl, sl] : [sl, cl];
  const oHas = oLabels.includes('exchange responderItem received') || last?.outcome === 'resolved';
  const rHas = rLabels.includes('exchange originatorItem received') || last?.outcome === 'resolved';
  if (last?.outcome === 'aborted') {
    // every payment of the exchange is revoked, shown or not (both are described in the agreement)
    expect(layout.protocol).toBe('rev-rev/1');
    expect(last.refunds.length).toBe(2);
  } else {
    expect({ originatorHas: oHas, responderHas: rHas }).toEqual({ originatorHas: oHas, responderHas: oHas });
  }
  // the third party never both resolved and expired (or aborted and completed) this exchange
  expect(new Set(decisions.map((d) => d.outcome)).size).toBeLessThanOrEqual(1);

  // the arbiter, from each party's own archive: every signature checks, and it says what the parties hold
  for (const [archive, own] of [[clientArchive, cl], [serverArchive, sl]] as const) {
    if (!own.some((x) => x.startsWith('exchange agreement'))) continue;
    const verdict = judge(await archive.list({ deal }), r.modules);
    const decided = (await archive.list({ deal, kind: 'ttp-decision' })).map((x) => verifyDecision(x.evidence!, r.ttpId.publicKey)).filter((d) => d.outcome !== 'open');
    if (decided.length) expect(verdict.outcome).toBe(decided[decided.length - 1].outcome);
    else if (own.includes('exchange final completed')) expect(verdict.outcome).toBe('completed');
    else expect(verdict.owed.join(' ')).toMatch(/no item of value/);
    expect(verdict.findings.join('\n')).not.toMatch(/NOT as agreed|INVALID|does NOT verify/);
    verdicts.add(verdict.outcome);
  }

  // the money: refunds presented (by anyone holding them), then exactly the moves the end state says
  if (last?.outcome === 'aborted') await money.redeem(last.refunds);
  const end = await money.balances();
  expect(end.buyer + end.merchant).toBe(start.buyer + start.merchant);
  const [clientPays, serverPays] = layout.amounts;
  const clientHasServers = layout.clientIsOriginator ? oHas : rHas;
  const serverHasClients = layout.clientIsOriginator ? rHas : oHas;
  const moved = last?.outcome === 'aborted' ? 0 : (serverHasClients ? clientPays : 0) - (clientHasServers ? serverPays : 0);
  expect(end).toEqual({ buyer: start.buyer - moved, merchant: start.merchant + moved });
  moves.add(moved);
  await money.bank.stop();
});
