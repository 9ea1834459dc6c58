// The agent from a real browser (Debian's Chromium driven by playwright-core): a shop page on
// its own origin bundles @semper/client, pairs (the code on the page is the code on the
// device) and purchases (OK on the device); a foreign origin is refused; a DNS-rebinding page
// (attacker.test resolving to 127.0.0.1, as Chromium's --host-resolver-rules makes it) is
// stopped by the Host check; cross-site form posts and token-less fetches change nothing.

import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { AgentRig, agentRig, pressUntil, readStatement } from '../host/agent/rig';
import { launchAgentChromium } from './agent-chromium';

jest.setTimeout(120000);
const CLIENT = join(__dirname, '..', '..', 'web', 'semper-client', 'index.mjs');

let a: AgentRig;
let shop: http.Server;
let shopPort = 0;
let browser: Browser;

/** The merchant's pages: its own copy of the client (bundled, never from a CDN), a shop page, an attacker page. */
function pages(req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/semper-client.mjs') return void res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(readFileSync(CLIENT));
  if (path === '/') {
    return void res.writeHead(200, { 'Content-Type': 'text/html' }).end(`<!doctype html><title>shop</title><p id="code"></p><ol id="progress"></ol>
<script type="module">
import { SemperClient } from '/semper-client.mjs';
const agent = new URLSearchParams(location.search).get('agent');
const client = new SemperClient({ agent });
window.semper = client;
window.progress = [];
client.onProgress((p) => window.progress.push(p));
window.doPair = () => client.pair({ onCode: (c) => { document.getElementById('code').textContent = c; } }).then((p) => ({ state: p.state }), (e) => ({ error: e.code }));
window.doStatus = () => client.status().then((s) => s, (e) => ({ error: e.code }));
window.doPurchase = (r) => client.purchase(r).then((p) => p, (e) => ({ error: e.code }));
window.ready = true;
</script>`);
  }
  res.writeHead(404).end();
}

beforeAll(async () => {
  a = await agentRig();
  shop = http.createServer(pages);
  await new Promise<void>((r) => shop.listen(0, '127.0.0.1', r));
  shopPort = (shop.address() as { port: number }).port;
  browser = await launchAgentChromium();
});
afterAll(async () => {
  await browser?.close();
  await new Promise((r) => shop?.close(r));
  await a?.close();
});

async function openPage(host: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`http://${host}:${shopPort}/?agent=${encodeURIComponent(a.agent.url)}`);
  await page.waitForFunction('window.ready === true');
  return page;
}

/** What the server side holds: allow-list, audit, archive head, purchases. */
async function state(): Promise<string> {
  return JSON.stringify({ rules: await a.agent.prefs.rules(), audit: (await a.agent.access.audit()).length, head: (await a.archive.head()).seq, purchases: a.agent.purchases.size });
}

test('a shop page pairs (the code it shows is the code on the device) and purchases with OK on the device', async () => {
  const page = await openPage('shop');
  const origin = `http://shop:${shopPort}`;
  expect(await page.evaluate('window.doStatus()')).toEqual({ error: 'NOT_PAIRED' });
  const paired = page.evaluate('window.doPair()');
  const shown = await readStatement(a.rig);
  const code = (await page.locator('#code').textContent()) ?? '';
  expect(code).toMatch(/^\d{6}$/);
  expect(shown).toContain(code);
  expect(shown).toContain(origin);
  await pressUntil(a.rig, 'OK', () => a.agent.isPaired(origin));
  expect(await paired).toEqual({ state: 'paired' });
  expect(await a.agent.isPaired(origin)).toBe(true);
  expect(await page.evaluate('window.doStatus()')).toMatchObject({ origin, paired: true, device: { state: 'connected' } });

  const bought = page.evaluate(`window.doPurchase(${JSON.stringify({ offer: 'http://shop/offers/7', amount: { amount: 4_99, currency: 'EUR' }, payee: 'Shop Test', reference: 'Order 7' })})`);
  const statement = await readStatement(a.rig);
  expect(statement).toContain('4.99');
  expect(statement).toContain('Shop Test');
  // the page's own progress events say when the purchase has ended
  await pressUntil(a.rig, 'OK', async () => (await page.evaluate(`window.progress.some((p) => p.state !== 'pending')`)) === true);
  expect(await bought).toMatchObject({ state: 'completed', origin, result: { state: 'completed' } });
  const progress = (await page.evaluate('window.progress')) as { state: string; progress?: { waitingForUser: boolean } }[];
  expect(progress.some((p) => p.progress?.waitingForUser)).toBe(true);
  expect(progress[progress.length - 1].state).toBe('completed');
  await page.close();
});

test('a foreign origin is refused: not paired, no token, nothing changes', async () => {
  const before = await state();
  const page = await openPage('evil');
  expect(await page.evaluate('window.doStatus()')).toEqual({ error: 'NOT_PAIRED' });
  // straight at the API, as a hostile page would, with any token it could make up
  const tries = await page.evaluate(`(async () => {
    const url = ${JSON.stringify(a.agent.url)};
    const body = JSON.stringify({ offer: 'x', amount: { amount: 100, currency: 'EUR' } });
    const out = [];
    for (const token of ['', 'made-up']) {
      const r = await fetch(url + '/v1/purchases', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Semper-Token': token }, body });
      out.push((await r.json()).error.code);
    }
    try { await fetch(url + '/v1/purchases', { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body }); out.push('sent'); } catch (e) { out.push('blocked'); }
    const ws = await new Promise((resolve) => {
      const w = new WebSocket(url.replace('http', 'ws') + '/v1/events', ['semper-events.v1', 'semper-token.made-up']);
      w.onopen = () => resolve('open');
      w.onerror = () => resolve('refused');
    });
    out.push(ws);
    return out;
  })()`);
  expect(tries).toEqual(['NOT_PAIRED', 'NOT_PAIRED', 'sent', 'refused']);
  expect(await state()).toBe(before);
  await page.close();
});

test('DNS rebinding: a page of attacker.test, re-resolved to 127.0.0.1, is refused by the Host check', async () => {
  const before = await state();
  const page = await browser.newPage();
  const target = `http://attacker.test:${a.agent.port}`;
  // first answer: the attacker's own server hands out the page (here: the route);
  // then the name resolves to 127.0.0.1 and the page's same-origin requests reach the agent
  await page.route(`${target}/`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>cute cats</title>' }));
  await page.goto(`${target}/`);
  const got = await page.evaluate(`(async () => {
    const out = [];
    for (const [method, path, body] of [['GET', '/v1/status'], ['POST', '/v1/pair', '{}'], ['POST', '/v1/purchases', JSON.stringify({ offer: 'x', amount: { amount: 100, currency: 'EUR' } })]]) {
      const r = await fetch(path, { method, headers: { 'Content-Type': 'application/json' }, body });
      out.push(r.status + ' ' + (await r.json()).error.code);
    }
    out.push(await new Promise((resolve) => {
      const w = new WebSocket('ws://' + location.host + '/v1/events', ['semper-events.v1']);
      w.onopen = () => resolve('open');
      w.onerror = () => resolve('refused');
    }));
    return out;
  })()`);
  expect(got).toEqual(['403 BAD_HOST', '403 BAD_HOST', '403 BAD_HOST', 'refused']);
  // and loading the agent under that name directly shows nothing but the refusal
  const direct = await page.goto(`${target}/v1/status`);
  expect(direct?.status()).toBe(403);
  expect(await direct?.json()).toMatchObject({ error: { code: 'BAD_HOST' } });
  expect(await state()).toBe(before);
  await page.close();
});

test('CSRF: a cross-site form post and a token-less fetch from the paired origin change nothing', async () => {
  const before = await state();
  // a foreign page auto-submits a form at the agent (text/plain, shaped like JSON)
  const evil = await browser.newPage();
  await evil.goto(`http://evil:${shopPort}/`);
  const nav = evil.waitForNavigation();
  await evil.evaluate(`(() => {
    const f = document.createElement('form');
    f.method = 'POST';
    f.enctype = 'text/plain';
    f.action = ${JSON.stringify(a.agent.url + '/v1/purchases')};
    const i = document.createElement('input');
    i.name = '{"offer":"x","amount":{"amount":100,"currency":"EUR"},"pad":"';
    i.value = '"}';
    f.appendChild(i);
    document.body.appendChild(f);
    f.submit();
  })()`);
  const res = await nav;
  expect(res?.status()).toBe(403);
  expect(JSON.parse((await res?.text()) ?? '{}').error.code).toBe('NOT_PAIRED');
  await evil.close();
  // the paired shop's page itself: a request without its token, or not JSON, is refused too
  const page = await openPage('shop');
  const got = await page.evaluate(`(async () => {
    const url = ${JSON.stringify(a.agent.url)} + '/v1/purchases';
    const body = JSON.stringify({ offer: 'x', amount: { amount: 100, currency: 'EUR' } });
    const a = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    const b = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body });
    return [(await a.json()).error.code, (await b.json()).error.code];
  })()`);
  expect(got).toEqual(['BAD_TOKEN', 'BAD_CONTENT_TYPE']);
  expect(await state()).toBe(before);
  await page.close();
});
