// The signed objects of refunds, receipts, payment status, card orders and signed reads, as
// parsers of outside input: round trips, and any bytes — random or a valid object with one
// byte changed — give a PaymentError or the very object that was signed, nothing else.

import fc from 'fast-check';
import { p256 } from '@noble/curves/p256';
import { sha256 } from '@noble/hashes/sha256';
import { signSign1 } from '../../../shared/src/cose';
import {
  BankReceipt,
  cardOrderStatement,
  decodeCardOrder,
  decodeRead,
  decodeRefund,
  encodeCardOrder,
  PaymentError,
  PaymentStatus,
  RefundAuthorisation,
  signBankReceipt,
  signPaymentStatus,
  signRead,
  signRefund,
  verifyBankReceipt,
  verifyPaymentStatus,
} from '../../../host/src/payment/formats';

const k = sha256(new TextEncoder().encode('formats key'));
const pub = p256.getPublicKey(k, false);
const hexArb = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString('hex'));
const refArb = fc.oneof(hexArb(16).map((orderId) => ({ orderId })), fc.record({ cardId: fc.uint8Array({ minLength: 8, maxLength: 8 }), counter: fc.nat() }));
const moneyArb = fc.record({ amount: fc.integer({ min: 1, max: 2 ** 40 }), currency: fc.constantFrom('EUR', 'USD', 'CHF') });

/** A verified object read from changed bytes must be the signed one (only the unprotected kid is outside the signature). */
function refusedOrSame<T>(f: () => T, signed: T): void {
  let got: T;
  try {
    got = f();
  } catch (e) {
    if (e instanceof PaymentError) return;
    throw e;
  }
  expect(got).toEqual(signed);
}

/** Only PaymentErrors may escape a parser; returns whether it accepted. */
function onlyPaymentErrors(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch (e) {
    if (e instanceof PaymentError) return false;
    throw e;
  }
}

const refundArb: fc.Arbitrary<RefundAuthorisation> = fc.record({ reference: refArb, money: moneyArb, refundId: hexArb(16), reason: fc.string({ maxLength: 256 }), time: fc.nat() }).map(({ money, ...r }) => ({ ...r, ...money }));

test('refund authorisation: round trip; a changed byte is refused by the decoder or decodes without throwing anything but PaymentError', () => {
  fc.assert(
    fc.property(refundArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (r, at, x) => {
      const bytes = signRefund(r, k);
      const d = decodeRefund(bytes);
      expect(d.refund).toEqual(r);
      const bad = Uint8Array.from(bytes);
      bad[at % bad.length] ^= x;
      onlyPaymentErrors(() => decodeRefund(bad));
    }),
    { numRuns: 200 },
  );
});

test('receipt and status: round trip under the bank key; a changed byte fails verification or leaves the signed content as it was', () => {
  const receiptArb: fc.Arbitrary<BankReceipt> = fc
    .record({ op: fc.constantFrom('deposit' as const, 'payment' as const), reference: refArb, money: moneyArb, debit: fc.constantFrom('float:EUR', 'alice'), credit: fc.constantFrom('shop', 'bob'), entry: fc.nat(), time: fc.nat() })
    .map(({ money, ...r }) => ({ ...r, ...money }));
  fc.assert(
    fc.property(receiptArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (r, at, x) => {
      const bytes = signBankReceipt(r, k);
      expect(verifyBankReceipt(bytes, pub)).toEqual(r);
      const bad = Uint8Array.from(bytes);
      bad[at % bad.length] ^= x;
      refusedOrSame(() => verifyBankReceipt(bad, pub), r);
    }),
    { numRuns: 80 },
  );
  const statusArb: fc.Arbitrary<PaymentStatus> = fc.oneof(
    fc.record({ reference: refArb, settled: fc.constant(false), time: fc.nat() }),
    fc.record({ reference: refArb, settled: fc.constant(true), time: fc.nat(), amount: fc.integer({ min: 1, max: 10_000 }), currency: fc.constant('EUR'), payee: fc.constant('shop'), payer: fc.constant('alice'), refunded: fc.constant(0), settledAt: fc.nat(), nonce: fc.uint8Array({ minLength: 8, maxLength: 32 }) }),
  );
  fc.assert(
    fc.property(statusArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (s, at, x) => {
      const bytes = signPaymentStatus(s, k);
      expect(verifyPaymentStatus(bytes, pub)).toEqual(s);
      const bad = Uint8Array.from(bytes);
      bad[at % bad.length] ^= x;
      refusedOrSame(() => verifyPaymentStatus(bad, pub), s);
    }),
    { numRuns: 80 },
  );
});

test('card order and signed read: round trip; random bytes and foreign payloads are PaymentErrors', () => {
  const order = { payer: 'erika', payee: 'cd-rom.example', amount: 45_00, currency: 'EUR', orderId: 'ab'.repeat(16), txDigest: new Uint8Array(32).fill(5), title: 'Order 8' };
  const signed = signSign1(cardOrderStatement(order), k);
  expect(decodeCardOrder(encodeCardOrder(signed, Uint8Array.of(1))).order).toEqual(order);
  expect(decodeRead(signRead('/v1/accounts/erika', 5, k))).toMatchObject({ path: '/v1/accounts/erika', time: 5 });
  // an order paying to another payer than the text names cannot be built
  expect(() => cardOrderStatement({ ...order, payer: 'Not An Id' })).toThrow(PaymentError);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      expect(onlyPaymentErrors(() => decodeCardOrder(b))).toBe(false);
      onlyPaymentErrors(() => decodeRead(b));
      onlyPaymentErrors(() => decodeRefund(b));
    }),
    { numRuns: 300 },
  );
  // a refund authorisation is not a read, a read is not a status
  expect(onlyPaymentErrors(() => decodeRead(signRefund({ reference: { orderId: '00'.repeat(16) }, amount: 1, currency: 'EUR', refundId: '11'.repeat(16), reason: '', time: 1 }, k)))).toBe(false);
  expect(onlyPaymentErrors(() => verifyPaymentStatus(signRead('/x', 1, k), pub))).toBe(false);
});
