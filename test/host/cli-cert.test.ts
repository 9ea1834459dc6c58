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
import { R } from '../../board/card/applet';
import { CardStore } from '../../board/card/store';
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
// the card trusts the test CA's root (written at personalisation), so it keeps what that CA issues
const caKey = p256.utils.randomPrivateKey();
const persona = personalise({ holder: 'Erika Mustermann', pin: '1234', puk: '12345678', balance: 0, ca: { publicKey: p256.getPublicKey(caKey, false) } });
/** What the card itself holds now (its non-volatile memory, as the emulated card keeps it). */
const onCard = (record: string): Uint8Array | undefined => CardStore.open(persona.nv).read(record);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cli-cert-'));
  authority = new CertificationAuthority({ name: 'SEMPER Test CA', privateKey: caKey, id: Uint8Array.of(0xca, 9), archive: SqliteArchive.open(join(dir, 'ca.db')) });
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

test('register: the device says a new key is made, the card makes it and signs, the CA certifies that key naming the card, the card and the archive keep the certificate', async () => {
  const person = personAt(() => emulator.device());
  await person.waitFor(/Erika Mustermann/, 20_000);
  const code = await authority.registrationCode('Erika Mustermann');
  const db = join(dir, 'holder.db');
  const r = cli(['register', '--ca', caHttp.url, '--code', code.toLowerCase(), '--device', emulator.linkUrl as string, '--db', db]);
  // the new key is said first, before the statement, on the screens OK must scroll through
  await person.waitFor(/NEW KEY/, 20_000);
  expect(person.screen()).toMatch(/old certificate/);
  const seen = (await person.approve('1234')).join('\n');
  expect(seen).toMatch(/Register this card\s+with the code/);
  expect(seen.indexOf('NEW KEY')).toBeLessThan(seen.indexOf('Register this card'));
  expect(await r.done).toBe(0);
  expect(r.out()).toMatch(/trusting the root the CA serves \(SEMPER Test CA, serial 1\)/);
  expect(r.out()).toMatch(/registered: certificate 2 for Erika Mustermann \(role buyer-card\), valid until [\d-]+; kept on the card and in /);
  const archive = SqliteArchive.open(db);
  const kept = await archive.list({ kind: 'certificate' });
  // the root it was checked under is kept too: the agent trusts it from the archive
  const trust = await trustFromArchive(archive);
  archive.close();
  expect(kept.map((k) => k.label)).toEqual(['ca root 1 SEMPER Test CA', 'card certificate 2 Erika Mustermann']);
  expect(kept[0].note).toMatch(/^trusted on first use from http/);
  const cert = decodeCertificate(kept[1].evidence as Uint8Array);
  // a fresh key, made on the card: not the one of personalisation, the one the card holds now
  expect(Buffer.from(cert.publicKey)).not.toEqual(Buffer.from(persona.publicKey));
  expect(Buffer.from(cert.publicKey)).toEqual(Buffer.from(onCard(R.pub) as Uint8Array));
  expect(Buffer.from(cert.subjectId as Uint8Array)).toEqual(Buffer.from(persona.cardId));
  // the card keeps exactly what the archive keeps
  expect(Buffer.from(onCard(R.cert) as Uint8Array)).toEqual(Buffer.from(kept[1].evidence as Uint8Array));
  expect(trust?.validate(kept[1].evidence as Uint8Array, Math.floor(Date.now() / 1000), { roles: ['buyer-card'] })[0].name).toBe('Erika Mustermann');
  const shown = cli(['show', '--db', db]);
  expect(await shown.done).toBe(0);
  expect(shown.out()).toMatch(/^certificate 2 {2}Erika Mustermann {2}role buyer-card {2}valid \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d {2}from SEMPER Test CA\n$/);
  // storing the certificate needs no one at the device: it is back at idle
  await person.waitFor(/Erika Mustermann/, 20_000);
});

test('--keep-key certifies the key the card has; without --card the certificate names no card and stays off the card', async () => {
  const person = personAt(() => emulator.device());
  const before = onCard(R.pub) as Uint8Array;
  const certBefore = onCard(R.cert) as Uint8Array;
  const code = await authority.registrationCode('Erika Mustermann');
  const r = cli(['register', '--keep-key', '--ca', caHttp.url, '--code', code, '--device', emulator.linkUrl as string, '--db', join(dir, 'keep.db')]);
  await person.waitFor(/Registration/, 20_000);
  expect((await person.approve('1234')).join('\n')).not.toMatch(/NEW KEY|old certificate/);
  expect(await r.done).toBe(0);
  expect(r.out()).toMatch(/registered: certificate 3 .*; kept in /);
  expect(r.out()).toContain('the certificate names no card (no --card)');
  expect(Buffer.from(onCard(R.pub) as Uint8Array)).toEqual(Buffer.from(before));
  expect(Buffer.from(onCard(R.cert) as Uint8Array)).toEqual(Buffer.from(certBefore));
  await person.waitFor(/Done/);
  await person.press('OK');
  await person.waitFor(/Erika Mustermann/, 20_000);
});

test('a CA the card does not trust: its certificate is checked and archived, but the card refuses it and the command says so', async () => {
  const person = personAt(() => emulator.device());
  const other = new CertificationAuthority({ name: 'Stranger CA', privateKey: p256.utils.randomPrivateKey(), id: Uint8Array.of(0xcc, 2), archive: SqliteArchive.open(':memory:') });
  const otherHttp = await serveCa(other);
  try {
    const code = await other.registrationCode('Erika Mustermann');
    const r = cli(['register', '--ca', otherHttp.url, '--code', code, '--device', emulator.linkUrl as string, '--db', join(dir, 'stranger.db')]);
    await person.waitFor(/NEW KEY/, 20_000);
    await person.approve('1234');
    expect(await r.done).toBe(1);
    expect(r.out()).toMatch(/the card did not take the certificate: VERIFY_FAILED/);
    expect(r.out()).toMatch(/kept in /);
    // the card has the new key, and no certificate of a CA it does not trust
    const cert = decodeCertificate((await other.issued())[1].certificate);
    expect(Buffer.from(onCard(R.pub) as Uint8Array)).toEqual(Buffer.from(cert.publicKey));
    expect(onCard(R.cert)?.length ?? 0).toBe(0);
    // the device says it too
    await person.waitFor(/Failed[\s\S]*signature did not/);
    await person.press('OK');
  } finally {
    await otherHttp.close();
  }
});

test('the holder says no on the device: nothing goes to the CA, the code stays good; a pinned root that is not the CA\u2019s is refused', async () => {
  const person = personAt(() => emulator.device());
  const code = await authority.registrationCode('Erika Mustermann');
  const r = cli(['register', '--ca', caHttp.url, '--code', code, '--device', emulator.linkUrl as string, '--db', join(dir, 'no.db')]);
  await person.waitFor(/NEW KEY/, 20_000);
  await person.press('CANCEL');
  expect(await r.done).toBe(1);
  expect(r.out()).toMatch(/the device did not sign: USER_REFUSED.*\nnothing was sent to the CA; the code is still good/);
  await person.waitFor(/Refused/);
  await person.press('OK');
  expect((await authority.issued()).length).toBe(3); // root and the first two tests' cards
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
