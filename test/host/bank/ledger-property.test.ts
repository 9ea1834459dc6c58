// The ledger as a property: random sequences of funding, account payments, loads, token
// deposits, double spends and replayed requests. After every step the books balance (the sum
// of all accounts of a currency is 0, every balance equals its ledger rows, no customer is
// negative), and the money held by customers changes only by funding (from cash), loads (into
// the purse float) and deposits (out of it) — never by payments between customers or by
// anything refused. Refunds (by the payee or a TTP, partial, some too large, some of tokens
// whose card no account holds) move money between customers only, and never above what was paid.

import fc from 'fast-check';
import { Answer, Bank } from '../../../host/src/bank/bank';
import { b64 } from '../../../host/src/bank/bank';
import { PaymentReference, referenceKey, signLoadRequest, signPaymentOrder, signRefund } from '../../../host/src/payment/formats';
import { issuer, ISSUER_NAME, key, NOW_S, TestCard, trustStore } from './rig';

const BUYERS = ['ann', 'bob'];
const MERCHANTS = ['shop', 'cafe'];
const keys = Object.fromEntries([...BUYERS, ...MERCHANTS].map((b) => [b, key(`prop ${b}`)]));
const ttp = key('prop ttp');

type Op =
  | { op: 'fund'; who: number; amount: number }
  | { op: 'order'; payer: number; payee: number; amount: number }
  | { op: 'load'; who: number; card: number; amount: number }
  | { op: 'deposit'; card: number; merchant: number; amount: number }
  | { op: 'double'; n: number }
  | { op: 'replay'; n: number }
  | { op: 'refund'; n: number; amount: number; byTtp: boolean };

const amount = fc.integer({ min: 1, max: 5_000 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('fund' as const), who: fc.nat(3), amount }),
  fc.record({ op: fc.constant('order' as const), payer: fc.nat(1), payee: fc.nat(3), amount }),
  fc.record({ op: fc.constant('load' as const), who: fc.nat(1), card: fc.nat(1), amount }),
  fc.record({ op: fc.constant('deposit' as const), card: fc.nat(1), merchant: fc.nat(1), amount }),
  fc.record({ op: fc.constant('double' as const), n: fc.nat(20) }),
  fc.record({ op: fc.constant('replay' as const), n: fc.nat(50) }),
  fc.record({ op: fc.constant('refund' as const), n: fc.nat(20), amount, byTtp: fc.boolean() }),
);

const ACCOUNTS = [...BUYERS, ...MERCHANTS];

test('the books balance after every step of any sequence; customers’ money moves only against cash and the float', () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 25 }), (ops) => {
      const cards = [new TestCard({ balance: 1_000_00 }), new TestCard({ balance: 1_000_00 })];
      const bank = Bank.open(':memory:', { issuerKey: issuer.privateKey, issuerName: ISSUER_NAME, trust: trustStore(), now: () => NOW_S * 1000, ttpKeys: [ttp.publicKey] });
      let n = 0;
      const rid = () => `req-${n++}`;
      for (const b of BUYERS) bank.openAccount({ requestId: rid(), id: b, kind: 'buyer', name: b, currency: 'EUR', publicKey: b64(keys[b].publicKey) });
      for (const m of MERCHANTS) bank.openAccount({ requestId: rid(), id: m, kind: 'merchant', name: m, currency: 'EUR', publicKey: b64(keys[m].publicKey) });
      // card 0 belongs to ann's account; card 1 to nobody (its tokens cannot be refunded)
      expect(bank.registerCard('ann', { requestId: rid(), cardCertificate: b64(cards[0].certificate) }).status).toBe(200);
      const done: { method: 'fund' | 'deposit' | 'settleOrder' | 'load' | 'refund'; args: [string, Record<string, unknown>] | [Record<string, unknown>] }[] = [];
      // what was settled, to whom, and how much of it is refunded (the model the bank must agree with)
      const paid: { reference: PaymentReference; amount: number; payee: string; payer?: string; refunded: number }[] = [];
      const deposits: Record<string, unknown>[] = [];
      const customers = () => ACCOUNTS.reduce((s, a) => s + bank.getAccount(a).balance, 0);
      const call = (method: 'fund' | 'deposit' | 'settleOrder' | 'load' | 'refund', ...args: [string, Record<string, unknown>] | [Record<string, unknown>]): Answer => {
        done.push({ method, args });
        return (bank[method] as (...a: unknown[]) => Answer)(...args);
      };
      for (const o of ops) {
        const before = customers();
        let expected = 0;
        switch (o.op) {
          case 'fund':
            expect(call('fund', ACCOUNTS[o.who], { requestId: rid(), amount: o.amount }).status).toBe(200);
            expected = o.amount;
            break;
          case 'order': {
            const payer = BUYERS[o.payer];
            const orderId = n.toString(16).padStart(32, '0');
            const order = signPaymentOrder({ payer, payee: ACCOUNTS[o.payee], amount: o.amount, currency: 'EUR', orderId, txDigest: new Uint8Array(32), time: NOW_S }, keys[payer].privateKey, keys[payer].publicKey);
            const a = call('settleOrder', { requestId: rid(), order: b64(order) });
            expect([200, 422]).toContain(a.status);
            if (a.status === 200) paid.push({ reference: { orderId }, amount: o.amount, payee: ACCOUNTS[o.payee], payer, refunded: 0 });
            break;
          }
          case 'load': {
            const who = BUYERS[o.who];
            const req = signLoadRequest({ account: who, cardId: cards[o.card].cardId, amount: o.amount, currency: 'EUR', time: NOW_S + n }, keys[who].privateKey);
            const a = call('load', { requestId: rid(), request: b64(req) });
            if (a.status === 200) expected = -o.amount;
            else expect((a.body as { error: { code: string } }).error.code).toBe('INSUFFICIENT_FUNDS');
            break;
          }
          case 'deposit': {
            const card = cards[o.card];
            const token = card.debit({ payee: MERCHANTS[o.merchant], amount: o.amount });
            const body = { requestId: rid(), merchant: MERCHANTS[o.merchant], token: b64(token), cardCertificate: b64(card.certificate) };
            deposits.push(body);
            const a = call('deposit', body);
            expect(a.status).toBe(200);
            const d = (a.body as { deposit: { counter: number } }).deposit;
            paid.push({ reference: { cardId: card.cardId, counter: d.counter }, amount: o.amount, payee: MERCHANTS[o.merchant], payer: o.card === 0 ? 'ann' : undefined, refunded: 0 });
            expected = o.amount;
            break;
          }
          case 'refund': {
            if (!paid.length) break;
            const p = paid[o.n % paid.length];
            const signer = o.byTtp ? ttp : keys[p.payee];
            const refundId = n.toString(16).padStart(32, 'f');
            const refund = signRefund({ reference: p.reference, amount: o.amount, currency: 'EUR', refundId, reason: 'property', time: NOW_S }, signer.privateKey);
            const payeeBefore = bank.getAccount(p.payee).balance;
            const a = call('refund', { requestId: rid(), refund: b64(refund) });
            const code = a.status === 200 ? 'OK' : (a.body as { error: { code: string } }).error.code;
            // the model's decision, in the bank's order of checks
            const want = p.refunded + o.amount > p.amount ? 'REFUND_EXCEEDS' : p.payer === undefined ? 'NO_REFUND_ACCOUNT' : payeeBefore < o.amount ? 'INSUFFICIENT_FUNDS' : 'OK';
            expect({ code, ref: referenceKey(p.reference) }).toEqual({ code: want, ref: referenceKey(p.reference) });
            if (code === 'OK') {
              p.refunded += o.amount;
              expect((a.body as { refund: { refunded: number; authorisedBy: string } }).refund).toMatchObject({ refunded: p.refunded, authorisedBy: o.byTtp ? 'ttp' : 'payee' });
            }
            break;
          }
          case 'double':
            if (deposits.length) {
              const a = call('deposit', { ...deposits[o.n % deposits.length], requestId: rid() });
              expect((a.body as { error: { code: string } }).error.code).toBe('DOUBLE_SPENDING');
            }
            break;
          case 'replay':
            if (done.length) {
              const d = done[o.n % done.length];
              const first = d.method; // the stored answer comes back, nothing moves
              const again = (bank[first] as (...a: unknown[]) => Answer)(...d.args);
              expect(again.replay).toBe(true);
            }
            break;
        }
        expect(customers() - before).toBe(expected);
        const audit = bank.audit();
        expect(audit.problems).toEqual([]);
      }
      // the signed status agrees with the model: refunded never above paid
      for (const p of paid) expect(bank.paymentStatus(p.reference)).toMatchObject({ settled: true, amount: p.amount, refunded: p.refunded });
      bank.close();
    }),
    { numRuns: 40 },
  );
});
