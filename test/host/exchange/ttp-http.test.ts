// The exchange over real HTTP: the merchant's exchange handler and the third party as HTTP
// services on 127.0.0.1, the merchant "crashing" after the buyer paid; then the buyer's
// evidence exported as a pack and judged by `semper arbiter verify`, and a tampered pack refused.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportEvidencePack } from '../../../host/src/services/archive-export';
import { SqliteArchive, softwareCheckpointSigner } from '../../../host/src/services/archive';
import { httpChannel, serveTransfers } from '../../../host/src/transfer/channel';
import { httpThirdParty, serveThirdParty } from '../../../host/src/ttp/http';
import { run as arbiter } from '../../../host/src/cli/arbiter';
import { run as ttpCli } from '../../../host/src/cli/ttp';
import { signTtpRequest } from '../../../host/src/exchange/formats';
import { keyed, payOffering, receiptOffering, rig } from './rig';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'semper-arb-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('over HTTP: the merchant crashes after the payment; the buyer resolves at the third party; the arbiter says who is owed what', async () => {
  const r = rig();
  const ttpSvc = await serveThirdParty(r.ttp);
  const server = r.manager(r.merchant, { respond: () => receiptOffering(r.merchant), crashAfter: 'originatorItem' });
  const shop = await serveTransfers(server.m.handler);
  try {
    const archiveKey = keyed('buyer-archive');
    const buyerArchive = SqliteArchive.open(':memory:', { now: r.clock.now, signer: softwareCheckpointSigner(archiveKey.privateKey, archiveKey.publicKey) });
    const client = r.manager(r.buyer, { ttp: { party: r.ttp.party, port: httpThirdParty(ttpSvc.url) } }, buyerArchive);
    const out = await client.m.exchange(httpChannel(shop.url), { peer: r.merchant, give: payOffering(r.buyer, 'acct-buyer', 4200, 'acct-merchant'), want: receiptOffering(r.merchant).description, fair: true });
    expect(out.outcome).toBe('resolved');
    expect(r.ttp.calls.resolve).toBe(1);

    // the third party's HTTP face refuses what is not a signed request, with the ExchangeError code
    const bad = await fetch(`${ttpSvc.url}/v1/decisions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('MALFORMED');
    const recs = await client.archive.list({ deal: out.exchangeId });
    const req = recs.find((x) => x.label === 'exchange ttp resolve')!.evidence!;
    const { openTtpRequest } = await import('../../../host/src/exchange/formats');
    await expect(httpThirdParty(ttpSvc.url).request(signTtpRequest(openTtpRequest(req).request, keyed('x').privateKey))).rejects.toMatchObject({ code: 'BAD_SIGNATURE' });
    const info = (await (await fetch(`${ttpSvc.url}/v1/ttp`)).json()) as { name: string; publicKey: string };
    expect(Buffer.from(info.publicKey, 'base64url')).toEqual(Buffer.from(r.ttpId.publicKey));

    // the arbiter, from the buyer's evidence pack
    const packFile = join(dir, 'pack.cbor');
    await buyerArchive.checkpoint();
    writeFileSync(packFile, await exportEvidencePack(client.archive, { deal: out.exchangeId }));
    const trusted = Buffer.from(archiveKey.publicKey).toString('hex');
    const said: string[] = [];
    expect(await arbiter(['verify', packFile, '--trusted-key', trusted], { out: (s) => said.push(s), err: (s) => said.push(s) })).toBe(0);
    const text = said.join('');
    expect(text).toMatch(/anchored by a trusted checkpoint/);
    expect(text).toMatch(/outcome: resolved/);
    expect(text).toMatch(/buyer is owed receipt of merchant-shop/);
    expect(text).toMatch(/decision of the third party ttp: resolved, signed/);
    expect(text).toMatch(/countersignature of the responder buyer: valid/);

    // one flipped byte anywhere in the pack: the evidence does not hold
    const bytes = readFileSync(packFile);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    writeFileSync(packFile, bytes);
    const err: string[] = [];
    expect(await arbiter(['verify', packFile, '--trusted-key', trusted], { out: (s) => err.push(s), err: (s) => err.push(s) })).toBe(1);
    expect(err.join('')).toMatch(/does not hold/);
  } finally {
    await shop.close();
    await ttpSvc.close();
  }
});

test('semper ttp: --help, bad options, and a running service that answers /v1/ttp', async () => {
  const out: string[] = [];
  expect(await ttpCli(['--help'], { out: (s) => out.push(s) })).toBe(0);
  expect(out.join('')).toMatch(/POST \/v1\/decisions/);
  const err: string[] = [];
  expect(await ttpCli([], { err: (s) => err.push(s) })).toBe(2);
  expect(err.join('')).toMatch(/--key/);
  const ac = new AbortController();
  let url = '';
  expect(await ttpCli(['stop', '--key', 'test'], { err: (s) => err.push(s) })).toBe(2);
  expect(err.join('')).toMatch(/unexpected argument "stop"/);
  const done = ttpCli(['start', '--key', 'test', '--port', '0', '--db', join(dir, 'ttp.db')], { out: () => undefined, err: () => undefined, signal: ac.signal, onListening: (u) => (url = u) });
  while (!url) await new Promise((ok) => setTimeout(ok, 10));
  const info = (await (await fetch(`${url}/v1/ttp`)).json()) as { name: string };
  expect(info.name).toBe('SEMPER Test TTP');
  ac.abort();
  expect(await done).toBe(0);
});

test('semper arbiter: usage errors', async () => {
  const err: string[] = [];
  expect(await arbiter([], { err: (s) => err.push(s) })).toBe(2);
  expect(await arbiter(['judge', 'x'], { err: (s) => err.push(s) })).toBe(2);
  expect(await arbiter(['verify', join(dir, 'missing')], { err: (s) => err.push(s) })).toBe(1);
});
