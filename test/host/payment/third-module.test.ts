// Openness (SEMPER §3.6): a third payment module — here a prepaid voucher scheme defined
// only in this test — is registered at run time on both sides and is negotiated, paid,
// verified and settled through the same PaymentManager, which knows nothing about it.

import { sha256 } from '@noble/hashes/sha256';
import { p256 } from '@noble/curves/p256';
import { PaymentError } from '../../../host/src/payment/formats';
import { PaymentInstrument, PaymentManager, PaymentRequest, SettlementPort, VerifiedPayment } from '../../../host/src/payment/manager';
import { moduleRef, ModuleInfo } from '../../../host/src/transfer/openness';
import { chooseProtocol } from '../../../host/src/exchange/protocol';
import { paymentDescription, signatureDescription } from '../../../host/src/exchange/modules';
import { payment, PaymentItem } from '../../../host/src/transfer/items';

/** A voucher: the issuer's signature over (payee, amount, currency, order digest). */
class Voucher implements PaymentInstrument {
  // a voucher verifies for anyone with the issuer's key, but nothing undoes it once spent
  readonly info: ModuleInfo = { name: 'voucher', version: 1, type: 'cash-like', vendor: 'test', enables: ['externally-verifiable'] };
  readonly maxAmount = 5000;
  constructor(private readonly issuer: { privateKey: Uint8Array; publicKey: Uint8Array }) {}
  private digest(r: { payee: string; amount: number; currency: string; txDigest: Uint8Array }): Uint8Array {
    return sha256(Buffer.concat([Buffer.from(`${r.payee}|${r.amount}|${r.currency}|`), Buffer.from(r.txDigest)]));
  }
  async pay(req: PaymentRequest): Promise<PaymentItem> {
    const sig = p256.sign(this.digest(req), this.issuer.privateKey).toCompactRawBytes();
    return payment({ instrument: moduleRef(this.info), amount: req.amount, currency: req.currency, payee: req.payee, evidence: sig });
  }
  verify(item: PaymentItem, expect: PaymentRequest): VerifiedPayment {
    if (item.amount !== expect.amount || item.payee !== expect.payee || item.currency !== expect.currency) throw new PaymentError('MISMATCH', 'not what was asked');
    if (!p256.verify(item.evidence, this.digest(expect), this.issuer.publicKey, { prehash: false })) throw new PaymentError('BAD_SIGNATURE', 'voucher not signed by its issuer');
    return { instrument: moduleRef(this.info), amount: item.amount, currency: item.currency, payee: item.payee } as VerifiedPayment;
  }
  async settle(item: PaymentItem, _bank: SettlementPort, requestId: string): Promise<never> {
    throw new PaymentError('NOT_SETTLED', `vouchers settle with their issuer, not the bank (${item.instrument}, ${requestId})`);
  }
}

const issuer = (() => {
  const privateKey = sha256(Buffer.from('voucher issuer'));
  return { privateKey, publicKey: p256.getPublicKey(privateKey, false) };
})();
const request: PaymentRequest = { payee: 'shop-42', amount: 1200, currency: 'EUR', txDigest: sha256(Buffer.from('order 42')), time: 0 } as PaymentRequest;

test('a module registered at run time is negotiated and used with no change to the manager', async () => {
  const payer = new PaymentManager();
  const payee = new PaymentManager();
  expect(() => payer.negotiate(payee.offerFor(request.amount), 'initiator')).toThrow();
  const v = new Voucher(issuer);
  payer.register(v);
  payee.register(new Voucher(issuer));
  expect(payee.offerFor(request.amount)).toEqual(['voucher/1']);
  expect(payee.offerFor(9999)).toEqual([]); // above the module's limit it is not offered
  const item = await payer.pay(payee.offerFor(request.amount), request);
  expect(item.instrument).toBe('voucher/1');
  expect(payee.verify(item, request)).toMatchObject({ instrument: 'voucher/1', amount: 1200 });
  expect(() => payee.verify({ ...item, amount: 1 }, request)).toThrow(PaymentError);
  const forged = { ...item, evidence: new Uint8Array(64) };
  expect(() => payee.verify(forged, request)).toThrow(/not signed by its issuer/);
  // settlement goes to the module the item names, whatever it does
  await expect(payee.settle(item, {} as SettlementPort, 'r1')).rejects.toThrow(/settle with their issuer/);
});

test('the module declares its exchange-enabling properties, and the exchange layer goes by them', () => {
  const payer = new PaymentManager([new Voucher(issuer)]);
  expect(payer.enables('voucher/1')).toEqual(['externally-verifiable']);
  const voucher = paymentDescription(1200, 'EUR', 'shop-42', { enables: payer.enables('voucher/1') });
  const refundable = paymentDescription(1200, 'EUR', 'shop-42'); // the bank-backed instruments: verifiable and revocable
  const receipt = signatureDescription({ name: 'shop-42', publicKey: issuer.publicKey });
  // against a generateable receipt both go by Figure 4 (the receipt's signer withholds, the third party stands in)
  expect(chooseProtocol(voucher.properties, receipt.properties, true).protocol).toBe('gen-ev/1');
  // against another payment (fair money exchange): only revocable items can be undone, and a voucher cannot
  expect(chooseProtocol(refundable.properties, refundable.properties, true).protocol).toBe('rev-rev/1');
  expect(() => chooseProtocol(voucher.properties, refundable.properties, true)).toThrow(/no fair exchange/);
});
