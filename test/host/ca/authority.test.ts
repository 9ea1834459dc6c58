// The CA and its RA: certificates issued and revoked in a tamper-evident archive, a revocation
// list the trust store honours, and registration as in the trials — a one-time code from the RA,
// the card's signature on the device (OK + PIN) proving possession, the card's key recovered
// from that signature and certified. Run with the real firmware in the emulator.

import { p256 } from '@noble/curves/p256';
import { sha256 } from '@noble/hashes/sha256';
import { TrustStore, verifyRevocationList, decodeCertificate } from '../../../shared/src/certificate';
import { signSign1 } from '../../../shared/src/cose';
import { SqliteArchive } from '../../../host/src/services/archive';
import { CertificationAuthority, recoverKey, registrationStatement } from '../../../host/src/ca/authority';
import { closeAll, deviceRig } from '../../helpers/device-rig';
import { signRegistrationOnDevice } from './sign-on-device';

jest.setTimeout(60000);
afterAll(() => closeAll());

function ca(now = () => 1_800_000_000) {
  const privateKey = p256.utils.randomPrivateKey();
  const archive = SqliteArchive.open(':memory:');
  return { authority: new CertificationAuthority({ name: 'SEMPER Test CA', privateKey, id: Uint8Array.of(0xca, 7), archive, now }), archive };
}

test('issue, list, revoke: serials in order, the revocation list makes the trust store refuse the revoked certificate', async () => {
  const { authority, archive } = ca();
  const root = await authority.root();
  expect(decodeCertificate(root)).toMatchObject({ role: 'ca', serial: 1, name: 'SEMPER Test CA' });
  expect(Buffer.from(await authority.root()).equals(Buffer.from(root))).toBe(true); // made once
  const merchant = p256.getPublicKey(p256.utils.randomPrivateKey(), false);
  const c2 = await authority.issue({ name: 'cd-rom.example', publicKey: merchant, role: 'merchant' });
  const c3 = await authority.issue({ name: 'SEMPER TTP', publicKey: merchant, role: 'ttp', validDays: 30 });
  expect([decodeCertificate(c2).serial, decodeCertificate(c3).serial]).toEqual([2, 3]);
  const trust = new TrustStore();
  trust.addRoot(root);
  expect(() => trust.validate(c2, 1_800_000_100, { roles: ['merchant'] })).not.toThrow();
  await authority.revoke(2, 'key compromised');
  await expect(authority.revoke(2, 'again')).rejects.toMatchObject({ code: 'REVOKED' });
  await expect(authority.revoke(99, 'none')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  await expect(authority.revoke(1, 'root')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  const crl = await authority.revocationList();
  expect(verifyRevocationList(crl, authority.publicKey).serials).toEqual([2]);
  trust.addRevocationList(crl);
  expect(() => trust.validate(c2, 1_800_000_100, { roles: ['merchant'] })).toThrow();
  expect(() => trust.validate(c3, 1_800_000_100, { roles: ['ttp'] })).not.toThrow();
  // bad requests change nothing
  await expect(authority.issue({ name: 'x', publicKey: new Uint8Array(65), role: 'merchant' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  await expect(authority.issue({ name: 'evil\nname', publicKey: merchant, role: 'merchant' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  await expect(authority.issue({ name: 'sub-ca', publicKey: merchant, role: 'ca' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  expect((await authority.issued()).map((c) => c.serial)).toEqual([1, 2, 3]);
  // the archive holding them verifies
  await expect(archive.verify()).resolves.toBeDefined();
});

test('key recovery picks the signer among the two candidates, and nothing else', () => {
  const priv = p256.utils.randomPrivateKey();
  const pub = p256.getPublicKey(priv, false);
  const kid = sha256(pub).slice(0, 8);
  const statement = registrationStatement('ABCD-EF01-2345-6789');
  for (let i = 0; i < 20; i++) {
    const sign1 = signSign1(statement, priv);
    const sig = sign1.slice(sign1.length - 64);
    expect(recoverKey(statement, sig, kid)).toEqual(pub);
    expect(recoverKey(statement, sig, new Uint8Array(8))).toBeUndefined();
    expect(recoverKey(registrationStatement('OTHER'), sig, kid)).toBeUndefined();
  }
});

test('registration: the RA\u2019s code, the card signs on the device (OK, PIN), the CA certifies the card\u2019s own key; the code works once', async () => {
  const { authority } = ca(() => Math.floor(Date.now() / 1000));
  const code = await authority.registrationCode('Erika Mustermann');
  expect(code).toMatch(/^[0-9A-F]{4}(-[0-9A-F]{4}){3}$/);
  const rig = await deviceRig();
  const signed = await signRegistrationOnDevice(rig, code);
  expect(Buffer.from(signed.statement)).toEqual(Buffer.from(registrationStatement(code)));
  const cert = await authority.register({ code, statement: signed.statement, signature: signed.signature, kid: signed.kid, cardId: rig.persona.cardId });
  expect(decodeCertificate(cert)).toMatchObject({ role: 'buyer-card', name: 'Erika Mustermann' });
  expect(Buffer.from(decodeCertificate(cert).publicKey)).toEqual(Buffer.from(rig.persona.publicKey));
  await expect(authority.register({ code, statement: signed.statement, signature: signed.signature, kid: signed.kid })).rejects.toMatchObject({ code: 'ALREADY_USED' });
  await expect(authority.register({ code: 'FFFF-FFFF-FFFF-FFFF', statement: signed.statement, signature: signed.signature, kid: signed.kid })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  // a signature over another code's statement is no proof for this one
  const other = await authority.registrationCode('Someone Else');
  await expect(authority.register({ code: other, statement: signed.statement, signature: signed.signature, kid: signed.kid })).rejects.toMatchObject({ code: 'BAD_PROOF' });
});

test('an expired registration code is refused', async () => {
  let t = 1_800_000_000;
  const { authority } = ca(() => t);
  const code = await authority.registrationCode('Late Larry', 1);
  t += 2 * 86400;
  await expect(authority.register({ code, statement: registrationStatement(code), signature: new Uint8Array(64), kid: new Uint8Array(8) })).rejects.toMatchObject({ code: 'EXPIRED' });
});
