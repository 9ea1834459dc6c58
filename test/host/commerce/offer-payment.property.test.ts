// The offer's field 12 (the payment instruments the merchant takes) is outside input to the
// buyer's agent: whatever a merchant signs there, verifyOffer either returns exactly the list
// (1..8 distinct "name/version" references) or refuses with CommerceError MALFORMED — and an
// offer without it takes the purse only.

import fc from 'fast-check';
import { decodeCanonical, encodeCanonical, HostCbor } from '../../../shared/src/cbor';
import { issueCertificate } from '../../../shared/src/certificate';
import { COSE_LIMITS, signSign1 } from '../../../shared/src/cose';
import { acceptedPayment, CommerceError, Offer, offerPayload, signOffer, verifyOffer } from '../../../host/src/commerce/offer';
import { ca, key, trustStore } from '../bank/rig';

const merchant = key('offer-payment merchant');
const certificate = issueCertificate({ name: 'shop.example', publicKey: merchant.publicKey, role: 'merchant', subjectId: Uint8Array.of(1), issuerId: Uint8Array.of(0xca, 1), notBefore: 0, notAfter: 4102444800, serial: 31 }, ca.privateKey);
const NOW = 1_800_000_000;
const base: Offer = { id: new Uint8Array(16).fill(3), merchant: 'shop.example', lines: [{ sku: 'A', title: 'A CD', quantity: 1, unitPrice: 12_00 }], total: 12_00, currency: 'EUR', delivery: 'physical', validUntil: NOW + 600, workflow: 'mail-order/1', created: NOW };

/** The offer signed with `field12` as it is (no check on the merchant's side). */
function signedWith(field12: HostCbor): Uint8Array {
  const m = decodeCanonical(offerPayload(base), COSE_LIMITS) as Map<number, HostCbor>;
  m.set(12, field12);
  return signSign1(encodeCanonical(m), merchant.privateKey);
}

const ref = fc.oneof(fc.constantFrom('device-purse/1', 'account-card/1', 'account/1', 'x/0', '/1', 'Purse/1', 'a/1/2', ''), fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,8}\/[0-9]{1,3}$/), fc.string({ maxLength: 12 }));
const field = fc.oneof(fc.array(ref, { maxLength: 10 }), fc.array(fc.oneof(ref, fc.integer(), fc.constant(null)), { maxLength: 4 }) as fc.Arbitrary<HostCbor>, fc.string(), fc.integer({ min: 0 }));

test('field 12: the exact list when valid, MALFORMED otherwise — nothing else', () => {
  const valid = (p: unknown): p is string[] => Array.isArray(p) && p.length >= 1 && p.length <= 8 && new Set(p).size === p.length && p.every((r) => typeof r === 'string' && /^[a-z0-9][a-z0-9.-]{0,63}\/[1-9][0-9]{0,5}$/.test(r));
  fc.assert(
    fc.property(field, (f) => {
      let got: Offer | CommerceError;
      try {
        got = verifyOffer(signedWith(f as HostCbor), certificate, trustStore(), NOW).offer;
      } catch (e) {
        if (!(e instanceof CommerceError)) throw e;
        got = e;
      }
      if (valid(f)) expect(got).toMatchObject({ payment: f });
      else expect(got).toMatchObject({ code: 'MALFORMED' });
    }),
    { numRuns: 300 },
  );
});

test('the merchant signs what it names; an offer without field 12 takes the purse only', () => {
  const signed = signOffer({ ...base, payment: ['account-card/1', 'device-purse/1'] }, merchant.privateKey);
  expect(acceptedPayment(verifyOffer(signed, certificate, trustStore(), NOW).offer)).toEqual(['account-card/1', 'device-purse/1']);
  expect(acceptedPayment(verifyOffer(signOffer(base, merchant.privateKey), certificate, trustStore(), NOW).offer)).toEqual(['device-purse/1']);
  expect(() => signOffer({ ...base, payment: ['device-purse/1', 'device-purse/1'] }, merchant.privateKey)).toThrow(CommerceError);
  expect(() => signOffer({ ...base, payment: [] }, merchant.privateKey)).toThrow(CommerceError);
});
