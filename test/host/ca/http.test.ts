// The CA/RA over HTTP on 127.0.0.1 with a real SQLite archive: the root, a card registering with
// the RA's one-time code and a real P-256 signature over the registration statement, the
// certificate verifying under the root, the code working once, expired codes, bad proofs,
// bodies that are not registrations (a property test: always a typed 4xx, nothing issued), the
// revocation list after a revocation, the per-address failure limit, and a client that believes
// nothing the server says without checking it.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { p256 } from '@noble/curves/p256';
import { sha256 } from '@noble/hashes/sha256';
import { decodeCertificate, issueCertificate, issueRevocationList, TrustStore } from '../../../shared/src/certificate';
import { signSign1 } from '../../../shared/src/cose';
import { SqliteArchive } from '../../../host/src/services/archive';
import { listen, Listening } from '../../../host/src/services/http-server';
import { CertificationAuthority, registrationStatement } from '../../../host/src/ca/authority';
import { CA_STATUS, MAX_REGISTRATION_BODY, serveCa } from '../../../host/src/ca/http';
import { CaClient } from '../../../host/src/ca/client';
import { closeAll, deviceRig } from '../../helpers/device-rig';
import { signRegistrationOnDevice } from './sign-on-device';

jest.setTimeout(60000);
afterAll(() => closeAll());

let dir: string;
const open: { close(): unknown }[] = [];
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'semper-ca-http-'))));
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A CA on a SQLite file, served on an ephemeral port; `clock.t` is its time (seconds). */
async function caService(o: { maxFailures?: number; privateKey?: Uint8Array; db?: string } = {}) {
  const clock = { t: 1_800_000_000 };
  const archive = SqliteArchive.open(o.db ?? join(dir, 'ca.db'));
  open.push(archive);
  const authority = new CertificationAuthority({ name: 'SEMPER Test CA', privateKey: o.privateKey ?? p256.utils.randomPrivateKey(), id: Uint8Array.of(0xca, 1), archive, now: () => clock.t });
  const svc = await serveCa(authority, { port: 0, maxFailures: o.maxFailures ?? 1000, failureWindow: 3600, now: () => clock.t });
  open.push(svc);
  return { authority, archive, svc, clock, client: new CaClient(svc.url) };
}

/** A card: its key, its key id, and what SIGN on the device gives for a statement (r‖s of the COSE_Sign1). */
function card() {
  const priv = p256.utils.randomPrivateKey();
  const publicKey = p256.getPublicKey(priv, false);
  const kid = sha256(publicKey).slice(0, 8);
  const sign = (code: string): Uint8Array => {
    const sign1 = signSign1(registrationStatement(code), priv);
    return sign1.slice(sign1.length - 64);
  };
  return { publicKey, kid, sign, cardId: Uint8Array.of(0x53, 0x45, 0x4d, 0x50, 0, 0, 0, 7) };
}

/** A raw POST (node:http, so the body can be anything, chunked or not). */
function post(url: string, body: Uint8Array, headers: Record<string, string> = { 'content-type': 'application/json' }, path = '/v1/registrations'): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((ok, fail) => {
    const req = request(new URL(path, url), { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', body: Buffer.concat(chunks) }));
    });
    req.on('error', fail);
    req.end(Buffer.from(body));
  });
}

const json = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const errorCode = (r: { body: Buffer }): unknown => (JSON.parse(r.body.toString('utf8')) as { error: { code: string } }).error.code;

test('a card registers on line: the certificate verifies under the root, names the card, and the code works once', async () => {
  const { authority, client, svc, clock } = await caService();
  const root = await client.root();
  expect(root).toMatchObject({ role: 'ca', serial: 1, name: 'SEMPER Test CA' });
  const code = await authority.registrationCode('Erika Mustermann');
  const c = card();
  const cert = await client.register({ code, signature: c.sign(code), kid: c.kid, cardId: c.cardId });
  expect(cert).toMatchObject({ role: 'buyer-card', name: 'Erika Mustermann', serial: 2 });
  expect(Buffer.from(cert.publicKey)).toEqual(Buffer.from(c.publicKey));
  expect(Buffer.from(cert.subjectId!)).toEqual(Buffer.from(c.cardId));
  const trust = new TrustStore();
  trust.addRoot(root.bytes);
  expect(trust.validate(cert.bytes, clock.t + 60, { roles: ['buyer-card'] })).toHaveLength(2);
  // the public directory has it, byte for byte
  expect(Buffer.from((await client.certificate(2)).bytes)).toEqual(Buffer.from(cert.bytes));
  // the code works once
  await expect(client.register({ code, signature: c.sign(code), kid: c.kid })).rejects.toMatchObject({ code: 'ALREADY_USED' });
  const again = await post(svc.url, json({ code, signature: b64(c.sign(code)), kid: b64(c.kid) }));
  expect([again.status, errorCode(again)]).toEqual([409, 'ALREADY_USED']);
  expect((await authority.issued()).map((i) => i.serial)).toEqual([1, 2]);
});

test('with the real firmware on the emulated device: the holder reads the statement, OK, PIN; the agent registers the card over HTTP', async () => {
  const { authority, client, clock } = await caService();
  clock.t = Math.floor(Date.now() / 1000);
  const code = await authority.registrationCode('Erika Mustermann');
  const rig = await deviceRig();
  const signed = await signRegistrationOnDevice(rig, code);
  const cert = await client.register({ code, signature: signed.signature, kid: signed.kid, cardId: rig.persona.cardId });
  expect(cert).toMatchObject({ role: 'buyer-card', name: 'Erika Mustermann' });
  expect(Buffer.from(cert.publicKey)).toEqual(Buffer.from(rig.persona.publicKey));
  expect(Buffer.from(cert.subjectId!)).toEqual(Buffer.from(rig.persona.cardId));
});

test('an expired code, an unknown code, and proofs that are not the card\u2019s are refused, and the code still works after', async () => {
  const { authority, client, clock } = await caService();
  const late = await authority.registrationCode('Late Larry', 1);
  const code = await authority.registrationCode('Erika Mustermann');
  clock.t += 2 * 86400;
  const c = card();
  await expect(client.register({ code: late, signature: c.sign(late), kid: c.kid })).rejects.toMatchObject({ code: 'EXPIRED' });
  await expect(client.register({ code: 'ABCD-ABCD-ABCD-ABCD', signature: c.sign('ABCD-ABCD-ABCD-ABCD'), kid: c.kid })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  // signed over another code's statement; signed by another card than the key id names; noise
  await expect(client.register({ code, signature: c.sign(late), kid: c.kid })).rejects.toMatchObject({ code: 'BAD_PROOF' });
  await expect(client.register({ code, signature: card().sign(code), kid: c.kid })).rejects.toMatchObject({ code: 'BAD_PROOF' });
  await expect(client.register({ code, signature: new Uint8Array(64).fill(7), kid: c.kid })).rejects.toMatchObject({ code: 'BAD_PROOF' });
  expect((await authority.issued()).map((i) => i.serial)).toEqual([1]);
  // none of that used the code up
  expect((await client.register({ code, signature: c.sign(code), kid: c.kid })).serial).toBe(2);
});

test('the same code twice at once: one certificate, one ALREADY_USED; concurrent issues get distinct serials', async () => {
  const { authority, client } = await caService();
  const code = await authority.registrationCode('Erika Mustermann');
  const c = card();
  const both = await Promise.allSettled([client.register({ code, signature: c.sign(code), kid: c.kid }), client.register({ code, signature: c.sign(code), kid: c.kid })]);
  expect(both.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  expect(both.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'ALREADY_USED' } });
  const merchants = await Promise.all([0, 1, 2].map((i) => authority.issue({ name: `shop ${i}`, publicKey: card().publicKey, role: 'merchant' })));
  expect(merchants.map((m) => decodeCertificate(m).serial).sort()).toEqual([3, 4, 5]);
});

test('after a revocation the fetched revocation list verifies under the root and the trust store refuses the card', async () => {
  const { authority, client, clock } = await caService();
  const code = await authority.registrationCode('Erika Mustermann');
  const c = card();
  const cert = await client.register({ code, signature: c.sign(code), kid: c.kid, cardId: c.cardId });
  expect((await client.crl()).serials).toEqual([]);
  await authority.revoke(cert.serial!, 'card reported stolen'); // the operator's CLI, not HTTP
  const crl = await client.crl();
  expect(crl).toMatchObject({ serials: [2], issuedAt: clock.t, nextUpdate: clock.t + 7 * 86400 });
  expect((await client.certificate(2)).revoked).toBe(true);
  expect((await client.certificate(1)).revoked).toBe(false);
  const trust = new TrustStore();
  trust.addRoot((await client.root()).bytes);
  trust.addRevocationList(crl.bytes);
  expect(() => trust.validate(cert.bytes, clock.t, { roles: ['buyer-card'] })).toThrow(expect.objectContaining({ code: 'REVOKED' }));
});

test('routes: unknown paths and methods, bad and unknown serials, issuing and revoking are not on HTTP', async () => {
  const { svc, client } = await caService();
  const get = async (p: string) => {
    const r = await fetch(new URL(p, svc.url));
    return [r.status, ((await r.json()) as { error: { code: string } }).error.code];
  };
  expect(await get('/v1/certificates/0')).toEqual([400, 'BAD_REQUEST']);
  expect(await get('/v1/certificates/2x')).toEqual([400, 'BAD_REQUEST']);
  expect(await get('/v1/certificates/99')).toEqual([404, 'NOT_FOUND']);
  expect(await get('/v1/registrations')).toEqual([404, 'NOT_FOUND']);
  for (const p of ['/v1/certificates', '/v1/revocations', '/v1/root']) expect((await post(svc.url, json({ role: 'merchant' }), undefined, p)).status).toBe(404);
  await expect(client.certificate(99)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  const health = await fetch(new URL('/v1/health', svc.url));
  expect(await health.json()).toEqual({ ok: true });
  // a request target that is no path at all (fetch would not send it): raw HTTP
  const raw = await new Promise<string>((ok) => {
    const s = connect(Number(new URL(svc.url).port), '127.0.0.1', () => s.write('GET http://[ HTTP/1.1\r\nHost: ca\r\nConnection: close\r\n\r\n'));
    let b = '';
    s.on('data', (d: Buffer) => (b += d.toString('latin1')));
    s.on('end', () => ok(b));
  });
  expect(raw).toMatch(/^HTTP\/1\.1 400 [^]*"code":"BAD_REQUEST"/);
});

test('bodies that are not registrations: typed 400 or 413, JSON, nothing issued', async () => {
  const { authority, svc } = await caService();
  const code = await authority.registrationCode('Erika Mustermann');
  const c = card();
  const good = { code, signature: b64(c.sign(code)), kid: b64(c.kid) };
  const cases: [Uint8Array, Record<string, string> | undefined, number][] = [
    [json(good), { 'content-type': 'text/plain' }, 400],
    [new TextEncoder().encode('{"code":'), undefined, 400],
    [Uint8Array.of(0xff, 0xfe, 0x7b, 0x7d), undefined, 400],
    [json([good]), undefined, 400],
    [json({ ...good, role: 'merchant' }), undefined, 400],
    [json({ ...good, code: code.toLowerCase() }), undefined, 400],
    [json({ ...good, signature: `${good.signature}=` }), undefined, 400],
    [json({ ...good, signature: good.signature.slice(2) }), undefined, 400],
    [json({ ...good, kid: b64(new Uint8Array(0)) }), undefined, 400],
    [json({ ...good, cardId: 'ZZ' }), undefined, 400],
    [json({ ...good, cardId: '00'.repeat(33) }), undefined, 400],
    [json({ ...good, padding: 'x'.repeat(MAX_REGISTRATION_BODY) }), undefined, 413],
    // declared length passes, the body does not stop: chunked, no content-length
    [new Uint8Array(MAX_REGISTRATION_BODY * 64).fill(0x20), { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, 413],
  ];
  for (const [body, headers, status] of cases) {
    const r = await post(svc.url, body, headers);
    expect([r.status, r.type]).toEqual([status, 'application/json; charset=utf-8']);
    expect(Object.keys(CA_STATUS)).toContain(errorCode(r));
  }
  expect((await authority.issued()).map((i) => i.serial)).toEqual([1]);
  // and the well-formed one goes through
  expect((await post(svc.url, json(good))).status).toBe(201);
});

test('property: any body is a typed 4xx (never 500), and nothing is issued or archived', async () => {
  const { authority, archive, svc } = await caService();
  const code = await authority.registrationCode('Erika Mustermann');
  const c = card();
  const records = (await archive.list()).length;
  const seen = new Set<string>();
  const b64of = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map(b64);
  const field = fc.oneof(fc.string(), fc.constant(code), fc.constant(code.toLowerCase()), b64of(64), b64of(8), fc.uint8Array({ maxLength: 35 }).map((b) => Buffer.from(b).toString('hex')), fc.integer(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }));
  const registration = fc.record({ code: field, signature: fc.oneof(field, fc.constant(b64(c.sign('ABCD-ABCD-ABCD-ABCD')))), kid: fc.oneof(field, fc.constant(b64(c.kid))), cardId: field }, { requiredKeys: [] });
  // well formed, but never the card's signature over this code: a code that exists or not, a proof that fails
  const hexDigits = fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b).toString('hex').toUpperCase().replace(/(.{4})(?!$)/g, '$1-'));
  const wellFormed = fc
    .record({ code: fc.oneof(fc.constant(code), hexDigits), signature: fc.oneof(b64of(64), fc.constant(b64(c.sign('ABCD-ABCD-ABCD-ABCD')))), kid: fc.oneof(b64of(8), fc.constant(b64(c.kid))), cardId: fc.option(fc.uint8Array({ minLength: 1, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex')), { nil: undefined }) })
    .map(json);
  const body = fc.oneof(
    wellFormed,
    fc.uint8Array({ maxLength: 600 }),
    fc.json().map((s) => new TextEncoder().encode(s)),
    registration.map(json),
    fc.tuple(registration, fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 })).map(([r, extra]) => json({ ...extra, ...r })),
  );
  await fc.assert(
    fc.asyncProperty(body, fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/cbor'), async (b, type) => {
      const r = await post(svc.url, b, { 'content-type': type });
      seen.add(String(errorCode(r)));
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(CA_STATUS[errorCode(r) as keyof typeof CA_STATUS]).toBe(r.status);
      expect(r.body.toString('utf8')).not.toMatch(/\bat .*\.ts:\d+/); // no stack trace
    }),
    { numRuns: 200 },
  );
  // the bodies reached past the parser too: to the code's lookup and the proof's check
  expect([...seen]).toEqual(expect.arrayContaining(['BAD_PROOF', 'BAD_REQUEST', 'NOT_FOUND']));
  expect((await authority.issued()).map((i) => i.serial)).toEqual([1]);
  expect((await archive.list()).length).toBe(records);
});

test('an address that keeps failing is refused for the window, even with a good registration, then let in again', async () => {
  const { authority, client, clock } = await caService({ maxFailures: 3 });
  const code = await authority.registrationCode('Erika Mustermann');
  const c = card();
  for (let i = 0; i < 3; i++) await expect(client.register({ code: `ABCD-ABCD-ABCD-000${i}`, signature: c.sign(code), kid: c.kid })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  await expect(client.register({ code, signature: c.sign(code), kid: c.kid })).rejects.toMatchObject({ code: 'TOO_MANY_FAILURES' });
  expect((await authority.issued()).length).toBe(1);
  // the directory is not registration: still served
  expect((await client.crl()).serials).toEqual([]);
  clock.t += 3600;
  expect((await client.register({ code, signature: c.sign(code), kid: c.kid })).serial).toBe(2);
});

test('a CA whose archive holds another key\u2019s root does not start', async () => {
  await caService();
  const archive = SqliteArchive.open(join(dir, 'ca.db'));
  open.push(archive);
  const impostor = new CertificationAuthority({ name: 'SEMPER Test CA', privateKey: p256.utils.randomPrivateKey(), id: Uint8Array.of(0xca, 1), archive });
  await expect(serveCa(impostor, { port: 0 })).rejects.toMatchObject({ code: 'WRONG_KEY' });
  await expect(impostor.issue({ name: 'shop', publicKey: card().publicKey, role: 'merchant' })).rejects.toMatchObject({ code: 'WRONG_KEY' });
});

test('the client believes nothing unchecked: another root than the pinned one, a list or certificates not signed by the root', async () => {
  const { client: honest, authority } = await caService();
  const root = (await honest.root()).bytes;
  const other = await caService({ db: join(dir, 'other.db') });
  await expect(new CaClient(other.svc.url, { root }).root()).rejects.toMatchObject({ code: 'BAD_ANSWER' });
  // a server that answers with the right root but signs the rest with another key
  const forger = p256.utils.randomPrivateKey();
  const c = card();
  const code = await authority.registrationCode('Erika Mustermann');
  const now = Math.floor(Date.now() / 1000);
  const forged = issueCertificate({ name: 'Erika Mustermann', publicKey: c.publicKey, role: 'buyer-card', subjectId: c.cardId, issuerId: Uint8Array.of(0xca, 1), notBefore: now, notAfter: now + 86400, serial: 2 }, forger);
  const wrongKey = await authority.issue({ name: 'Erika Mustermann', publicKey: card().publicKey, role: 'buyer-card', subjectId: c.cardId });
  let register = forged;
  const liar: Listening = await listen(
    createServer((req, res) => {
      const bytes = req.url === '/v1/root' ? root : req.url === '/v1/crl' ? issueRevocationList({ issuerId: Uint8Array.of(0xca, 1), issuedAt: now, serials: [] }, forger) : req.url === '/v1/certificates/2' ? forged : register;
      req.resume();
      res.writeHead(200, { 'content-type': 'application/cbor' }).end(Buffer.from(bytes));
    }),
  );
  open.push(liar);
  const client = new CaClient(liar.url, { root });
  expect((await client.root()).serial).toBe(1);
  await expect(client.crl()).rejects.toMatchObject({ code: 'BAD_ANSWER' });
  await expect(client.certificate(2)).rejects.toMatchObject({ code: 'BAD_ANSWER' });
  await expect(client.register({ code, signature: c.sign(code), kid: c.kid, cardId: c.cardId })).rejects.toMatchObject({ code: 'BAD_ANSWER' });
  // signed by the real CA, but for another key than the card's
  register = wrongKey;
  await expect(client.register({ code, signature: c.sign(code), kid: c.kid, cardId: c.cardId })).rejects.toMatchObject({ code: 'BAD_ANSWER' });
  // and a CA that is not there
  await liar.close();
  await expect(new CaClient(liar.url).root()).rejects.toMatchObject({ code: 'UNREACHABLE' });
});
