// `semper ca` as an operator uses it: a key store and a CA archive under SEMPER_HOME; root,
// issue, list, revoke, revocation list, registration code; bad options say what to do.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/p256';
import { decodeCertificate, TrustStore, verifyRevocationList } from '../../../shared/src/certificate';
import { run } from '../../../host/src/cli/ca';

jest.setTimeout(60000);
let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'semper-ca-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function ca(...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const status = await run(['--key', 'ca-key', ...argv], { out: (s) => (out += s), err: (s) => (err += s), env: { SEMPER_HOME: dir, SEMPER_KEYSTORE_PASSPHRASE: 'correct horse battery' } });
  return { status, out, err };
}

test('root, issue, list, revoke, crl, code', async () => {
  expect((await ca('root', '--out', join(dir, 'root.cose'))).status).toBe(0);
  const root = new Uint8Array(readFileSync(join(dir, 'root.cose')));
  expect(decodeCertificate(root).role).toBe('ca');
  const pub = p256.getPublicKey(p256.utils.randomPrivateKey(), false);
  writeFileSync(join(dir, 'shop.pub'), pub);
  expect((await ca('issue', '--name', 'cd-rom.example', '--role', 'merchant', '--public-key', join(dir, 'shop.pub'), '--out', join(dir, 'shop.cose'), '--days', '90')).status).toBe(0);
  const shop = new Uint8Array(readFileSync(join(dir, 'shop.cose')));
  const trust = new TrustStore();
  trust.addRoot(root);
  expect(trust.validate(shop, Math.floor(Date.now() / 1000), { roles: ['merchant'] })[0].name).toBe('cd-rom.example');
  expect((await ca('list')).out).toMatch(/^ +2 +merchant +cd-rom\.example$/m);
  expect((await ca('revoke', '2', '--reason', 'key lost')).status).toBe(0);
  expect((await ca('revoke', '2', '--reason', 'again')).status).toBe(1);
  expect((await ca('list')).out).toMatch(/cd-rom\.example {2}\(revoked\)/);
  expect((await ca('crl', '--out', join(dir, 'crl.cose'))).status).toBe(0);
  expect(verifyRevocationList(new Uint8Array(readFileSync(join(dir, 'crl.cose'))), decodeCertificate(root).publicKey).serials).toEqual([2]);
  const code = await ca('code', 'Erika Mustermann');
  expect(code.out.trim()).toMatch(/^[0-9A-F]{4}(-[0-9A-F]{4}){3}$/);
  // the same key store next time: the same CA key, the same root
  expect((await ca('root', '--out', join(dir, 'root2.cose'))).status).toBe(0);
  expect(readFileSync(join(dir, 'root2.cose')).equals(Buffer.from(root))).toBe(true);
});

test('bad options say what to do and change nothing', async () => {
  expect((await ca()).status).toBe(2);
  expect((await ca('issue', '--name', 'x')).err).toMatch(/give --name, --role, --public-key FILE and --out FILE/);
  writeFileSync(join(dir, 'k.pub'), new Uint8Array(65));
  expect((await ca('issue', '--name', 'x', '--role', 'ca', '--public-key', join(dir, 'k.pub'), '--out', join(dir, 'x'))).err).toMatch(/--role is merchant/);
  const bad = await ca('issue', '--name', 'x', '--role', 'merchant', '--public-key', join(dir, 'k.pub'), '--out', join(dir, 'x'));
  expect(bad).toMatchObject({ status: 1, err: expect.stringMatching(/BAD_REQUEST/) });
  expect((await ca('revoke', 'seven', '--reason', 'r')).status).toBe(2);
  expect((await ca('frobnicate')).status).toBe(2);
  let err = '';
  expect(await run(['list', '--key', 'k'], { err: (s) => (err += s), env: { SEMPER_HOME: dir } })).toBe(2);
  expect(err).toMatch(/SEMPER_KEYSTORE_PASSPHRASE/);
});
