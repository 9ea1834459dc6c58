// `semper ca` as an operator uses it: a key store and a CA archive under SEMPER_HOME; root,
// issue, list, revoke, revocation list, registration code; `start`, the HTTP service on the same
// archive; bad options say what to do.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/p256';
import { sha256 } from '@noble/hashes/sha256';
import { decodeCertificate, TrustStore, verifyRevocationList } from '../../../shared/src/certificate';
import { signSign1 } from '../../../shared/src/cose';
import { run } from '../../../host/src/cli/ca';
import { registrationStatement } from '../../../host/src/ca/authority';
import { CaClient } from '../../../host/src/ca/client';

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

/** `semper ca start …` until `stop` is called: its exit status, output, and the URL it listens on. */
function start(argv: string[], env: NodeJS.ProcessEnv = { SEMPER_HOME: dir, SEMPER_KEYSTORE_PASSPHRASE: 'correct horse battery' }) {
  const stop = new AbortController();
  const o = { out: '', err: '' };
  let listening: (url: string) => void = () => undefined;
  const url = new Promise<string>((ok) => (listening = ok));
  const status = run(argv, { out: (s) => (o.out += s), err: (s) => (o.err += s), env, signal: stop.signal, onListening: (u) => listening(u) });
  return { status, url, o, stop: () => stop.abort() };
}

test('semper ca start --help says the endpoints and the default port', async () => {
  let out = '';
  expect(await run(['start', '--help'], { out: (s) => (out += s) })).toBe(0);
  expect(out).toMatch(/POST \/v1\/registrations/);
  expect(out).toMatch(/GET \/v1\/crl/);
  expect(out).toMatch(/default 8481/);
  out = '';
  expect(await run(['--help'], { out: (s) => (out += s) })).toBe(0);
  expect(out).toMatch(/semper ca start/);
});

test('semper ca start serves the CA\u2019s own root; a code made by `semper ca code` meanwhile registers a card on line; stops at the signal', async () => {
  expect((await ca('root', '--out', join(dir, 'root.cose'))).status).toBe(0);
  const root = new Uint8Array(readFileSync(join(dir, 'root.cose')));
  const svc = start(['--key', 'ca-key', 'start', '--port', '0', '--crl-days', '2']);
  const url = await svc.url;
  expect(svc.o.out).toMatch(new RegExp(`listening on ${url}`));
  const client = new CaClient(url, { root });
  expect((await client.root()).serial).toBe(1);
  // the operator's CLI on the same archive while the service runs
  const code = (await ca('code', 'Erika Mustermann')).out.trim();
  const priv = p256.utils.randomPrivateKey();
  const sign1 = signSign1(registrationStatement(code), priv);
  const kid = sha256(p256.getPublicKey(priv, false)).slice(0, 8);
  const cert = await client.register({ code, signature: sign1.slice(sign1.length - 64), kid });
  expect(cert).toMatchObject({ role: 'buyer-card', name: 'Erika Mustermann', serial: 2 });
  expect((await ca('revoke', '2', '--reason', 'lost')).status).toBe(0);
  const crl = await client.crl();
  expect(crl.serials).toEqual([2]);
  expect(crl.nextUpdate! - crl.issuedAt).toBe(2 * 86400);
  svc.stop();
  expect(await svc.status).toBe(0);
  await expect(new CaClient(url).root()).rejects.toMatchObject({ code: 'UNREACHABLE' });
});

test('semper ca start: bad options are 2; another CA key on the archive, or a port in use, are 3', async () => {
  const bad = async (...argv: string[]) => {
    const s = start(argv);
    return [await s.status, s.o.err];
  };
  expect(await bad('start', '--key', 'k', '--port', '70000')).toEqual([2, expect.stringMatching(/--port/)]);
  expect(await bad('start', '--key', 'k', '--crl-days', '0')).toEqual([2, expect.stringMatching(/--crl-days/)]);
  expect(await bad('start', '--key', 'k', '--max-failures', 'many')).toEqual([2, expect.stringMatching(/--max-failures/)]);
  expect(await bad('start', '--port', '0')).toEqual([2, expect.stringMatching(/--key/)]);
  expect(await bad('start', '--key', 'k', 'now')).toEqual([2, expect.stringMatching(/unexpected argument/)]);
  expect((await ca('root', '--out', join(dir, 'root.cose'))).status).toBe(0);
  expect(await bad('start', '--key', 'another-key', '--port', '0')).toEqual([3, expect.stringMatching(/WRONG_KEY/)]);
  const busy = createServer();
  await new Promise<void>((ok) => busy.listen(0, '127.0.0.1', ok));
  try {
    expect(await bad('start', '--key', 'ca-key', '--port', String((busy.address() as AddressInfo).port))).toEqual([3, expect.stringMatching(/cannot listen/)]);
  } finally {
    busy.close();
  }
});
