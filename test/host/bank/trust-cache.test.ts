// The bank's cache of validated card chains: a hit still answers the role and the validity
// window of now; a revocation list added to the trust store applies once the entry is older
// than CACHE_MS; a deposit after that is refused.

import { join } from 'node:path';
import { decodeCertificate, issueCertificate, issueRevocationList } from '../../../shared/src/certificate';
import { CACHE_MS, ValidatedChains } from '../../../host/src/bank/trust-cache';
import { Bank, b64 } from '../../../host/src/bank/bank';
import { ca, issuer, ISSUER_NAME, key, NOW_S, tempDir, TestCard, trustStore } from './rig';

const CA_ID = Uint8Array.of(0xca, 1);

test('a cached chain: same answer, role and time re-checked on every hit, revocation after CACHE_MS', () => {
  let now = NOW_S * 1000;
  const trust = trustStore();
  const chains = new ValidatedChains(trust, () => now);
  const k = key('cache card');
  const cert = issueCertificate({ name: 'Card', publicKey: k.publicKey, role: 'buyer-card', subjectId: Uint8Array.of(1, 1, 1, 1, 1, 1, 1, 1), issuerId: CA_ID, notBefore: 0, notAfter: NOW_S + 100, serial: 555 }, ca.privateKey);
  expect(chains.validate(cert, NOW_S, { roles: ['buyer-card'] })[0].serial).toBe(555);
  expect(() => chains.validate(cert, NOW_S, { roles: ['ttp'] })).toThrow(expect.objectContaining({ code: 'WRONG_ROLE' }));
  expect(() => chains.validate(cert, NOW_S + 101, { roles: ['buyer-card'] })).toThrow(expect.objectContaining({ code: 'EXPIRED' }));
  trust.addRevocationList(issueRevocationList({ issuerId: CA_ID, issuedAt: NOW_S, serials: [555] }, ca.privateKey));
  now += 1000;
  expect(chains.validate(cert, NOW_S + 1, { roles: ['buyer-card'] })).toHaveLength(2); // cached: the list applies a little later
  now += CACHE_MS;
  expect(() => chains.validate(cert, NOW_S + 61, { roles: ['buyer-card'] })).toThrow(expect.objectContaining({ code: 'REVOKED' }));
  // another intermediate list is another chain, validated afresh
  expect(() => chains.validate(cert, NOW_S + 61, { roles: ['buyer-card'], intermediates: [cert] })).toThrow(expect.objectContaining({ code: 'REVOKED' }));
});

test('the bank: deposits of a card revoked meanwhile are refused once the cached chain is old', () => {
  const tmp = tempDir('bank-cache-');
  let now = NOW_S * 1000;
  const trust = trustStore();
  const bank = Bank.open(join(tmp.dir, 'bank.db'), { issuerKey: issuer.privateKey, issuerName: ISSUER_NAME, trust, now: () => now });
  try {
    bank.openAccount({ requestId: 'o', id: 'shop', kind: 'merchant', name: 'Shop', currency: 'EUR' });
    const card = new TestCard({ balance: 10_00 });
    const deposit = (id: string) => bank.deposit({ requestId: id, merchant: 'shop', token: b64(card.debit({ payee: 'shop', amount: 1_00 })), cardCertificate: b64(card.certificate) });
    expect(deposit('d1').status).toBe(200);
    trust.addRevocationList(issueRevocationList({ issuerId: CA_ID, issuedAt: NOW_S, serials: [decodeCertificate(card.certificate).serial!] }, ca.privateKey));
    now += CACHE_MS;
    expect(deposit('d2').body).toMatchObject({ error: { code: 'BAD_TOKEN', detail: 'REVOKED' } });
  } finally {
    bank.close();
    tmp.cleanup();
  }
});
