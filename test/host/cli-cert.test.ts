// `semper cert register` as the holder runs it: the CA over HTTP (serveCa), the real firmware in
// the emulator reached over TCP like a device, the holder at the keypad. The certificate comes
// back for exactly the card's key, is kept in the archive, and `semper cert show` lists it; a
// refusal on the device sends nothing to the CA and leaves the code usable; bad options say what
// to do.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/p256';
import { EmulatedCard } from '../../board/card/card';
import { personalise } from '../../board/card/personalise';
import { RunningEmulator, startEmulator } from '../../board/emulator/run';
import { decodeCertificate } from '../../shared/src/certificate';
import { CertificationAuthority } from '../../host/src/ca/authority';
import { serveCa } from '../../host/src/ca/http';
import { HELP, run, trustFromArchive } from '../../host/src/cli/cert';
import { SqliteArchive } from '../../host/src/services/archive';
import { Listening } from '../../host/src/services/http-server';
import { firmwareText } from '../helpers/device-rig';
import { personAt } from '../helpers/device-rig';

jest.setTimeout(90_000);
let dir: string;
let authority: CertificationAuthority;
let caHttp: Listening;
let emulator: RunningEmulator;
const persona = personalise({ holder: 'Erika Mustermann', pin: '1234', puk: '12345678', balance: 0 });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cli-cert-'));
  authority = new CertificationAuthority({ name: 'SEMPER Test CA', privateKey: p256.utils.randomPrivateKey(), id: Uint8Array.of(0xca, 9), archive: SqliteArchive.open(join(dir, 'ca.db')) });
  caHttp = await serveCa(authority);
  emulator = await startEmulator({ firmware: firmwareText(), tcpPort: 0, webPort: null, makeCard: () => new EmulatedCard(persona.nv), cardInserted: true });
});
afterAll(async () => {
  await emulator.stop();
  await caHttp.close();
  rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[]): { done: Promise<number>; out: () => string } {
  let text = '';
  const done = run(args, { out: (s) => void (text += s), err: (s) => void (text += s), env: { SEMPER_HOME: dir } });
  return { done, out: () => text };
}

test('register: the holder signs on the device, the CA certifies that card\u2019s key, the archive keeps the certificate', async () => {
  const person = personAt(() => emulator.device());
  await person.waitFor(/Erika Mustermann/, 20_000);
  const code = await authority.registrationCode('Erika Mustermann');
  const db = join(dir, 'holder.db');
  const r = cli(['register', '--ca', caHttp.url, '--code', code.toLowerCase(), '--device', emulator.linkUrl as string, '--db', db]);
  await person.waitFor(/Registration/, 20_000);
  await person.scrollTo(/-- end --/);
  await person.press('OK');
  await person.waitFor(/Enter your PIN/);
  await person.type('1234');
  await person.press('OK');
  expect(await r.done).toBe(0);
  expect(r.out()).toMatch(/trusting the root the CA serves \(SEMPER Test CA, serial 1\)/);
  expect(r.out()).toMatch(/registered: certificate 2 for Erika Mustermann \(role buyer-card\)/);
  expect(r.out()).toContain('the certificate names no card (no --card)');
  const archive = SqliteArchive.open(db);
  const kept = await archive.list({ kind: 'certificate' });
  // the root it was checked under is kept too: the agent trusts it from the archive
  const trust = await trustFromArchive(archive);
  archive.close();
  expect(kept.map((k) => k.label)).toEqual(['ca root 1 SEMPER Test CA', 'card certificate 2 Erika Mustermann']);
  expect(kept[0].note).toMatch(/^trusted on first use from http/);
  expect(Buffer.from(decodeCertificate(kept[1].evidence as Uint8Array).publicKey)).toEqual(Buffer.from(persona.publicKey));
  expect(trust?.validate(kept[1].evidence as Uint8Array, Math.floor(Date.now() / 1000), { roles: ['buyer-card'] })[0].name).toBe('Erika Mustermann');
  const shown = cli(['show', '--db', db]);
  expect(await shown.done).toBe(0);
  expect(shown.out()).toMatch(/^certificate 2 {2}Erika Mustermann {2}role buyer-card {2}valid \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d {2}from SEMPER Test CA\n$/);
  // the device's result screen, then back to idle
  await person.waitFor(/Done/);
  await person.press('OK');
  await person.waitFor(/Erika Mustermann/, 20_000);
});

test('the holder says no on the device: nothing goes to the CA, the code stays good; a pinned root that is not the CA\u2019s is refused', async () => {
  const person = personAt(() => emulator.device());
  const code = await authority.registrationCode('Erika Mustermann');
  const r = cli(['register', '--ca', caHttp.url, '--code', code, '--device', emulator.linkUrl as string, '--db', join(dir, 'no.db')]);
  await person.waitFor(/Registration/, 20_000);
  await person.press('CANCEL');
  expect(await r.done).toBe(1);
  expect(r.out()).toMatch(/the device did not sign: USER_REFUSED.*\nnothing was sent to the CA; the code is still good/);
  await person.waitFor(/Refused/);
  await person.press('OK');
  expect((await authority.issued()).length).toBe(2); // root and the first test's card
  // a root from elsewhere: the CA's answer does not match it
  const other = new CertificationAuthority({ name: 'Other CA', privateKey: p256.utils.randomPrivateKey(), id: Uint8Array.of(0xcb, 1), archive: SqliteArchive.open(':memory:') });
  const rootFile = join(dir, 'other-root.cbor');
  writeFileSync(rootFile, await other.root());
  const pinned = cli(['register', '--ca', caHttp.url, '--code', code, '--root', rootFile, '--device', emulator.linkUrl as string, '--db', join(dir, 'no.db')]);
  expect(await pinned.done).toBe(3);
  expect(pinned.out()).toMatch(/does not answer properly/);
});

test('--help, and bad options say what to do', async () => {
  const h = cli(['--help']);
  expect(await h.done).toBe(0);
  expect(h.out()).toBe(`${HELP}\n`);
  const bad = cli(['register', '--code', 'nope']);
  expect(await bad.done).toBe(2);
  expect(bad.out()).toContain('four groups of four');
  const unknown = cli(['frobnicate']);
  expect(await unknown.done).toBe(2);
  expect(unknown.out()).toContain('use register or show');
  const noCa = cli(['register', '--code', 'ABCD-ABCD-ABCD-ABCD', '--ca', 'http://127.0.0.1:9', '--db', join(dir, 'x.db')]);
  expect(await noCa.done).toBe(3);
  expect(noCa.out()).toMatch(/the CA at http:\/\/127\.0\.0\.1:9 does not answer/);
});
