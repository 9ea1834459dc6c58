// `semper agent start --ttp URL --evaluator NAME=KEY` buys for real, in npm start's world with
// the demo's own agent taken off the device: the holder registers the card with the CA
// (`semper cert register`: the archive keeps the card's certificate and the CA's root), starts
// the agent with the third party and the evaluator, and a purchase through its local API is
// verified, confirmed on the device (OK, PIN) and paid against the merchant's signed receipt.
// Without a registration the agent says what to do first.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { personAt } from '../../../board/emulator/person';
import { DEMO_ACCOUNT, DEMO_MERCHANT, DEMO_PIN, DemoWorld, startDemoWorld } from '../../../demo/world';
import { SqliteArchive } from '../../../host/src/services/archive';
import { CARD_CERTIFICATE_LABEL } from '../../../host/src/cli/cert';
import { run as agentCli } from '../../../host/src/cli/agent';
import { run as certCli } from '../../../host/src/cli/cert';
import type { AgentServer } from '../../../host/src/agent/server';

jest.setTimeout(120_000);
let world: DemoWorld;
let home: string;
const oldHome = process.env.SEMPER_HOME;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'cli-agent-commerce-'));
  process.env.SEMPER_HOME = home; // the device session lock lives there
  world = await startDemoWorld({ shopPort: 0, agentPort: 0, devicePort: 0, removeOnStop: true });
  await world.releaseDevice();
});
afterAll(async () => {
  await world?.stop();
  rmSync(home, { recursive: true, force: true });
  process.env.SEMPER_HOME = oldHome;
});

function io(signal?: AbortSignal, onListening?: (a: AgentServer) => void) {
  const o = { text: '' };
  return { o, io: { out: (s: string) => void (o.text += s), err: (s: string) => void (o.text += s), env: { ...process.env, SEMPER_HOME: home }, ...(signal ? { signal } : {}), ...(onListening ? { onListening } : {}) } };
}

test('without a registered card the agent will not buy, and says how to register', async () => {
  const { o, io: cliIo } = io();
  const code = await agentCli(['start', '--port', '0', '--device', world.urls.link, '--db', join(home, 'empty.db'), '--ttp', world.urls.ttp, '--evaluator', `${world.evaluator.name}=${Buffer.from(world.evaluator.publicKey).toString('hex')}`], cliIo);
  expect(code).toBe(3);
  expect(o.text).toContain('cannot buy for real: no CA root in the archive: register your card first (semper cert register --ca URL --code CODE)');
  const bad = io();
  expect(await agentCli(['start', '--evaluator', 'lab=nonsense', '--ttp', world.urls.ttp], bad.io)).toBe(2);
  expect(bad.o.text).toContain('not an uncompressed P-256 public key');
  const orphan = io();
  expect(await agentCli(['start', '--evaluator', `lab=${Buffer.from(world.evaluator.publicKey).toString('hex')}`], orphan.io)).toBe(2);
  expect(orphan.o.text).toContain('go with --ttp URL');
  const limitAlone = io();
  expect(await agentCli(['start', '--ttp', world.urls.ttp, '--purse-limit', '50.00'], limitAlone.io)).toBe(2);
  expect(limitAlone.o.text).toContain('--purse-limit goes with --account ID');
  const badLimit = io();
  expect(await agentCli(['start', '--ttp', world.urls.ttp, '--account', DEMO_ACCOUNT, '--purse-limit', 'fifty'], badLimit.io)).toBe(2);
  expect(badLimit.o.text).toContain('--purse-limit: an amount such as 50.00');
  const help = io();
  expect(await agentCli(['--help'], help.io)).toBe(0);
  expect(help.o.text).toContain('--account ID');
});

test('register the card, start the agent with the third party and the evaluator, buy: paid against the receipt', async () => {
  const person = personAt(() => world.emulator.device(), { waitMs: 30_000 });
  const db = join(home, 'archive.db');
  // 1. registration with the RA's code: the card makes a new key and signs, card and archive keep the certificate (the archive the root too)
  const code = await world.ca.registrationCode('Erika Mustermann');
  const reg = io();
  const registering = certCli(['register', '--ca', world.urls.ca, '--code', code, '--card', world.cardId, '--device', world.urls.link, '--db', db], reg.io);
  await person.waitFor(/NEW KEY/);
  await person.approve(DEMO_PIN);
  expect(await registering).toBe(0);
  // the card made a new key; the CA's certificate for it is on the card (the purse payment below carries it)
  expect(reg.o.text).toMatch(/kept on the card and in /);
  // idle, and the link free again (one host at a time: the agent is next)
  await person.waitFor(/no PC[\s\S]*Erika Mustermann/);

  // 2. the agent, buying for real
  const stop = new AbortController();
  let agent: AgentServer | undefined;
  const a = io(stop.signal, (s) => (agent = s));
  const running = agentCli(['start', '--port', '0', '--device', world.urls.link, '--db', db, '--ttp', world.urls.ttp, '--evaluator', `${world.evaluator.name}=${Buffer.from(world.evaluator.publicKey).toString('base64url')}`, '--account', DEMO_ACCOUNT, '--purse-limit', '50.00'], a.io);
  for (const t0 = Date.now(); !agent && Date.now() - t0 < 30_000; ) await new Promise((r) => setTimeout(r, 50));
  expect(a.o.text).toContain('third party SEMPER Demo TTP at');
  expect(a.o.text).toContain('its key is trusted as served');
  expect(a.o.text).toContain('Purchases are paid with your card.');
  expect(a.o.text).toContain(`payment: the purse up to 50.00, then account ${DEMO_ACCOUNT} (account-card/1`);
  const local = agent as unknown as AgentServer;

  // 3. a purchase through its local API, confirmed on the device
  const made = await world.seller.makeOffer([{ sku: 'CD-CLI', title: 'Agent CLI test CD', quantity: 1, unitPrice: 7_50 }], { workflow: 'mail-order/1' });
  const shop0 = (await world.bankClient.account(DEMO_MERCHANT)).balance;
  const call = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> =>
    (await (await fetch(`${local.url}${path}`, { method, headers: { authorization: `Bearer ${local.secrets.localToken}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) })).json()) as Record<string, unknown>;
  const started = await call('POST', '/v1/purchases', { offer: world.sellerHttp.offerUrl(made.id), amount: { amount: 7_50, currency: 'EUR' } });
  const id = (started.purchase as { id: string }).id;
  await person.waitFor(/PAYMENT/);
  expect(person.screen()).toContain(DEMO_MERCHANT);
  await person.approve(DEMO_PIN);
  let p: { state: string; result?: { details?: { outcome?: string } } };
  do p = (await call('GET', `/v1/purchases/${id}?wait=20`)).purchase as typeof p;
  while (p.state === 'pending');
  if (p.state !== 'completed') throw new Error(`${JSON.stringify(p)}\n${a.o.text}`);
  expect(p).toMatchObject({ state: 'completed', result: { details: { outcome: 'completed' } } });
  expect((await world.bankClient.account(DEMO_MERCHANT)).balance).toBe(shop0 + 7_50);
  expect((await world.seller.sale(made.id))?.deal?.state).toBe('completed');
  expect((await world.seller.sale(made.id))?.deal?.modules.payment).toBe('device-purse/1');

  // 4. above the purse limit the account pays: the bank learns the card's new certificate first (the key changed at registration)
  const archive = SqliteArchive.open(db);
  const cardCert = (await archive.list({ kind: 'certificate' })).filter((r) => CARD_CERTIFICATE_LABEL.test(r.label ?? '')).pop()?.evidence as Uint8Array;
  archive.close();
  await world.bankClient.registerCard(DEMO_ACCOUNT, cardCert);
  const big = await world.seller.makeOffer([{ sku: 'CD-BOX', title: 'Agent CLI box set', quantity: 1, unitPrice: 60_00 }], { workflow: 'mail-order/1' });
  const [shop1, erika1] = [(await world.bankClient.account(DEMO_MERCHANT)).balance, (await world.bankClient.account(DEMO_ACCOUNT)).balance];
  const bigId = ((await call('POST', '/v1/purchases', { offer: world.sellerHttp.offerUrl(big.id), amount: { amount: 60_00, currency: 'EUR' } })).purchase as { id: string }).id;
  await person.waitFor(/PAYMENT/);
  const seen = (await person.approve(DEMO_PIN)).join('\n');
  expect(seen).toContain(`payer ${DEMO_ACCOUNT}`);
  do p = (await call('GET', `/v1/purchases/${bigId}?wait=20`)).purchase as typeof p;
  while (p.state === 'pending');
  if (p.state !== 'completed') throw new Error(`${JSON.stringify(p)}\n${a.o.text}`);
  expect((await world.bankClient.account(DEMO_MERCHANT)).balance).toBe(shop1 + 60_00);
  expect((await world.bankClient.account(DEMO_ACCOUNT)).balance).toBe(erika1 - 60_00);
  expect((await world.seller.sale(big.id))?.deal?.modules.payment).toBe('account-card/1');
  stop.abort();
  expect(await running).toBe(0);
});
