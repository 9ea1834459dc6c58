// Compact certificates, revocation lists and chain validation: one valid chain, then each
// way a chain can fail, each with its own CertificateError code.

import { p256 } from '@noble/curves/p256';
import {
  CertificateBody,
  CertificateError,
  CertificateErrorCode,
  decodeCertificate,
  issueCertificate,
  issueRevocationList,
  Role,
  TrustStore,
  verifyCertificateSignature,
} from '../../shared/src/certificate';
import { encodeCanonical, HostCbor } from '../../shared/src/cbor';
import { signSign1 } from '../../shared/src/cose';
import { issueCertificate as cardIssue, verifyCertificate as cardVerify } from '../../board/card/cose';

const T0 = 1_700_000_000;
const YEAR = 365 * 86400;
const id = (s: string) => new TextEncoder().encode(s);

interface Party {
  priv: Uint8Array;
  pub: Uint8Array;
  id: Uint8Array;
}
function party(name: string): Party {
  const priv = p256.utils.randomPrivateKey();
  return { priv, pub: p256.getPublicKey(priv, false), id: id(name) };
}

let serial = 100;
function cert(subject: Party, issuer: Party, role: Role, extra: Partial<CertificateBody> = {}): Uint8Array {
  return issueCertificate(
    { name: `name of ${Buffer.from(subject.id).toString()}`, publicKey: subject.pub, role, subjectId: subject.id, issuerId: issuer.id, notBefore: T0, notAfter: T0 + YEAR, serial: serial++, ...extra },
    issuer.priv,
  );
}

const root = party('root-ca');
const sub = party('sub-ca');
const shop = party('shop');
const rootCert = cert(root, root, 'ca', { pathLength: 1 });
const subCert = cert(sub, root, 'ca', { pathLength: 0 });
const shopCert = cert(shop, sub, 'merchant');

function store(): TrustStore {
  const s = new TrustStore();
  s.addRoot(rootCert);
  s.addIntermediate(subCert);
  return s;
}

function failure(f: () => unknown): { code: CertificateErrorCode; depth: number } {
  try {
    f();
  } catch (e) {
    if (e instanceof CertificateError) return { code: e.code, depth: e.depth };
    throw new Error(`untyped throw: ${String(e)}`);
  }
  throw new Error('did not throw');
}

describe('certificates', () => {
  test('issue, decode, verify: every field back, key as COSE_Key', () => {
    const c = verifyCertificateSignature(shopCert, sub.pub);
    expect(c).toMatchObject({ role: 'merchant', name: 'name of shop', notBefore: T0, notAfter: T0 + YEAR });
    expect(Buffer.from(c.subjectId!).toString()).toBe('shop');
    expect(Buffer.from(c.issuerId!).toString()).toBe('sub-ca');
    expect([...c.coseKey.x]).toEqual([...shop.pub.subarray(1, 33)]);
    expect(c.coseKey.d).toBeUndefined();
  });

  test('wire-compatible with the card: the card verifies host certificates and the host decodes card ones', () => {
    expect(cardVerify(shopCert, sub.pub)).toMatchObject({ subject: 'name of shop', role: 2 });
    const old = cardIssue({ subject: 'Alice', publicKey: shop.pub, role: 1, notAfter: T0 }, root.priv);
    expect(decodeCertificate(old)).toMatchObject({ name: 'Alice', role: 'buyer-card', notAfter: T0 });
    expect(failure(() => store().validate(old, T0)).code).toBe('MISSING_FIELD');
  });

  test('malformed certificates', () => {
    const payload = (entries: [number, HostCbor][]) => signSign1(encodeCanonical(new Map(entries)), root.priv);
    expect(failure(() => decodeCertificate(Uint8Array.of(1, 2))).code).toBe('MALFORMED');
    expect(failure(() => decodeCertificate(payload([[1, 'x'], [2, shop.pub], [3, 9]]))).code).toBe('MALFORMED'); // role
    expect(failure(() => decodeCertificate(payload([[1, 'x'], [2, shop.pub.subarray(1)], [3, 2]]))).code).toBe('MALFORMED'); // key
    expect(failure(() => decodeCertificate(payload([[1, 'x'], [2, shop.pub], [3, 2], [10, 0]]))).code).toBe('MALFORMED'); // unknown field
    expect(failure(() => decodeCertificate(payload([[1, 'x'], [2, shop.pub], [3, 2], [9, 1]]))).code).toBe('MALFORMED'); // path length, not a CA
    expect(failure(() => cert(shop, sub, 'merchant', { notBefore: T0 + 10, notAfter: T0 })).code).toBe('MALFORMED');
    expect(failure(() => cert(shop, sub, 'merchant', { name: 'x'.repeat(65) })).code).toBe('MALFORMED');
  });
});

describe('trust store: chain validation', () => {
  test('a valid chain: end certificate, intermediate, root', () => {
    const chain = store().validate(shopCert, T0 + 10, { roles: ['merchant'] });
    expect(chain.map((c) => Buffer.from(c.subjectId!).toString())).toEqual(['shop', 'sub-ca', 'root-ca']);
  });

  test('the intermediate may also come with the end certificate instead of from the store', () => {
    const s = new TrustStore();
    s.addRoot(rootCert);
    expect(s.validate(shopCert, T0, { intermediates: [subCert] })).toHaveLength(3);
    expect(failure(() => s.validate(shopCert, T0))).toEqual({ code: 'UNKNOWN_ISSUER', depth: 0 });
  });

  test('expired and not yet valid, at any depth', () => {
    expect(failure(() => store().validate(shopCert, T0 + YEAR + 1))).toEqual({ code: 'EXPIRED', depth: 0 });
    expect(failure(() => store().validate(shopCert, T0 - 1))).toEqual({ code: 'NOT_YET_VALID', depth: 0 });
    const s = new TrustStore();
    s.addRoot(rootCert);
    s.addIntermediate(cert(sub, root, 'ca', { notAfter: T0 + 100 }));
    expect(failure(() => s.validate(shopCert, T0 + 200))).toEqual({ code: 'EXPIRED', depth: 1 });
  });

  test('wrong issuer: signed by a key other than the named CA, or by a CA the store does not know', () => {
    const rogue = party('sub-ca'); // claims the same id
    expect(failure(() => store().validate(cert(shop, rogue, 'merchant'), T0))).toEqual({ code: 'BAD_SIGNATURE', depth: 0 });
    const stranger = party('other-ca');
    expect(failure(() => store().validate(cert(shop, stranger, 'merchant'), T0))).toEqual({ code: 'UNKNOWN_ISSUER', depth: 0 });
  });

  test('bad signature: one flipped bit in the signature', () => {
    const t = shopCert.slice();
    t[t.length - 5] ^= 1;
    expect(failure(() => store().validate(t, T0))).toEqual({ code: 'BAD_SIGNATURE', depth: 0 });
  });

  test('issuer not a CA: a merchant cannot issue certificates', () => {
    const s = store();
    s.addIntermediate(shopCert);
    const victim = party('victim');
    expect(failure(() => s.validate(cert(victim, shop, 'merchant'), T0))).toEqual({ code: 'ISSUER_NOT_CA', depth: 0 });
  });

  test('revoked, by a CA-signed revocation list; older lists are ignored; stale lists fail', () => {
    const s = store();
    const shopSerial = decodeCertificate(shopCert).serial!;
    expect(s.addRevocationList(issueRevocationList({ issuerId: sub.id, issuedAt: T0 + 5, serials: [shopSerial, 1] }, sub.priv))).toBe(true);
    expect(failure(() => s.validate(shopCert, T0 + 10))).toEqual({ code: 'REVOKED', depth: 0 });
    // an older list (without the serial) does not replace it
    expect(s.addRevocationList(issueRevocationList({ issuerId: sub.id, issuedAt: T0 + 1, serials: [] }, sub.priv))).toBe(false);
    expect(failure(() => s.validate(shopCert, T0 + 10)).code).toBe('REVOKED');
    // a list signed by someone else is refused
    expect(failure(() => s.addRevocationList(issueRevocationList({ issuerId: sub.id, issuedAt: T0 + 9, serials: [] }, shop.priv))).code).toBe('BAD_SIGNATURE');
    // revoking the intermediate at the root
    const s2 = store();
    s2.addRevocationList(issueRevocationList({ issuerId: root.id, issuedAt: T0, nextUpdate: T0 + 100, serials: [decodeCertificate(subCert).serial!] }, root.priv));
    expect(failure(() => s2.validate(shopCert, T0 + 10))).toEqual({ code: 'REVOKED', depth: 1 });
    const s3 = store();
    s3.addRevocationList(issueRevocationList({ issuerId: root.id, issuedAt: T0, nextUpdate: T0 + 100, serials: [] }, root.priv));
    expect(failure(() => s3.validate(shopCert, T0 + 101))).toEqual({ code: 'REVOCATION_STALE', depth: 1 });
    const strict = new TrustStore({ requireRevocationList: true });
    strict.addRoot(rootCert);
    strict.addIntermediate(subCert);
    expect(failure(() => strict.validate(shopCert, T0))).toEqual({ code: 'REVOCATION_UNKNOWN', depth: 0 });
  });

  test('loop: two CAs certifying each other, no root reached', () => {
    const a = party('ca-a');
    const b = party('ca-b');
    const s = new TrustStore({ maxIntermediates: 10 });
    s.addRoot(rootCert);
    s.addIntermediate(cert(a, b, 'ca'));
    s.addIntermediate(cert(b, a, 'ca'));
    expect(failure(() => s.validate(cert(shop, a, 'merchant'), T0)).code).toBe('LOOP');
  });

  test('path too long: by the store limit and by an issuer path length', () => {
    // root → sub (pathLength 0) → sub2 → leaf: sub allows no CA below it
    const sub2 = party('sub2');
    const s = store();
    s.addIntermediate(cert(sub2, sub, 'ca'));
    expect(failure(() => s.validate(cert(shop, sub2, 'merchant'), T0))).toEqual({ code: 'PATH_TOO_LONG', depth: 2 });
    // a root without path length, a chain of 3 intermediates, a store allowing 2
    const r = party('r2');
    const [i1, i2, i3] = [party('i1'), party('i2'), party('i3')];
    const s2 = new TrustStore({ maxIntermediates: 2 });
    s2.addRoot(cert(r, r, 'ca'));
    for (const [c, by] of [[i1, r], [i2, i1], [i3, i2]] as const) s2.addIntermediate(cert(c, by, 'ca'));
    expect(s2.validate(cert(shop, i2, 'merchant'), T0)).toHaveLength(4);
    expect(failure(() => s2.validate(cert(shop, i3, 'merchant'), T0))).toEqual({ code: 'PATH_TOO_LONG', depth: 3 });
  });

  test('roots must be self-signed CAs; the end certificate must have an accepted role', () => {
    const s = new TrustStore();
    expect(failure(() => s.addRoot(subCert)).code).toBe('NOT_SELF_SIGNED');
    expect(failure(() => s.addRoot(cert(shop, shop, 'merchant'))).code).toBe('NOT_SELF_SIGNED');
    expect(failure(() => store().validate(shopCert, T0, { roles: ['bank', 'ttp'] })).code).toBe('WRONG_ROLE');
  });

  test('a root alone validates; each error is a CertificateError with a code', () => {
    expect(store().validate(rootCert, T0)).toHaveLength(1);
    const e = (() => {
      try {
        store().validate(shopCert, 0);
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(CertificateError);
    expect(e).toBeInstanceOf(Error);
  });
});
