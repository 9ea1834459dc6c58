// The buyer agent's statement page in a real browser (Debian's Chromium through playwright-core):
// typed into the address bar it shows the purchases under its strict CSP (no script at all, the
// one stylesheet allowed by its hash) — any CSP report or page error fails the test — and its
// links lead to a deal's evidence. A page of another site can neither fetch it, frame it nor
// link to it, and a DNS-rebinding name gets 403. UPDATE_SCREENSHOTS=1 writes
// docs/screens/agent-statement.png and agent-statement-deal.png.

import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { AgentServer } from '../../host/src/agent/server';
import { SqliteArchive } from '../../host/src/services/archive';
import { trustStore } from '../host/bank/rig';
import { fixtureArchive } from '../host/agent/statement-fixture';
import { launchAgentChromium } from './agent-chromium';

jest.setTimeout(120000);
const SCREENS = join(__dirname, '..', '..', 'docs', 'screens');

let dir: string;
let archive: SqliteArchive;
let deals: string[];
let agent: AgentServer;
let foreign: http.Server;
let foreignPort = 0;
let browser: Browser;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'agent-statement-'));
  ({ archive, deals } = await fixtureArchive(join(dir, 'archive.db')));
  agent = new AgentServer({ archive, device: { confirm: () => Promise.reject(new Error('the statement must not ask the device')) }, port: 0, trust: trustStore() });
  await agent.start();
  // another site the buyer visits: it tries to read, frame and link to the statement
  foreign = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' }).end(`<!doctype html><title>evil</title>
<a id="link" href="${agent.url}/statement">your purchases</a>
<script>
window.tryFetch = (mode) => fetch('${agent.url}/statement', { mode }).then((r) => r.type + ' ' + r.status + ' ' + r.headers.get('content-type'), (e) => 'error ' + e.name);
window.tryFrame = () => new Promise((ok) => { const f = document.createElement('iframe'); f.src = '${agent.url}/statement'; f.onload = () => { try { ok('read ' + f.contentDocument.body.innerHTML.length); } catch (e) { ok('blocked ' + e.name); } }; document.body.appendChild(f); });
</script>`);
  });
  await new Promise<void>((r) => foreign.listen(0, '127.0.0.1', r));
  foreignPort = (foreign.address() as { port: number }).port;
  browser = await launchAgentChromium();
});
afterAll(async () => {
  await browser?.close();
  await new Promise((r) => foreign?.close(r));
  await agent?.stop();
  archive?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A page whose CSP reports, console errors and page errors are collected. */
async function watched(): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('console', (m) => (m.type() === 'error' || /Content Security Policy|Refused to/.test(m.text())) && problems.push(m.text()));
  return { page, problems };
}

test('typed into the address bar: the statement, styled, with no CSP violation; its links open a deal', async () => {
  const { page, problems } = await watched();
  const res = await page.goto(`${agent.url}/statement`);
  expect(res?.status()).toBe(200);
  await page.getByRole('heading', { name: 'Your purchases' }).waitFor();
  expect(await page.locator('#chain').textContent()).toMatch(/^Archive intact: \d+ records, chain verified/);
  expect(await page.locator('#deals tbody tr').count()).toBe(deals.length);
  // the stylesheet applied (its hash is in the CSP): the table has its header colour
  expect(await page.evaluate("getComputedStyle(document.querySelector('#deals th')).backgroundColor")).toBe('rgb(243, 243, 243)');
  expect(await page.locator('#totals tr[data-currency="EUR"] td').last().textContent()).toBe('22.20 EUR');
  if (process.env.UPDATE_SCREENSHOTS === '1') await page.screenshot({ path: join(SCREENS, 'agent-statement.png'), fullPage: true });

  const [nav] = await Promise.all([page.waitForNavigation(), page.locator(`tr[data-deal="${deals[3]}"] a`).click()]);
  expect(nav?.status()).toBe(200);
  await page.getByRole('heading', { name: 'T-shirt, size M' }).waitFor();
  expect(await page.locator('#evidence tr[data-kind="receipt"] .valid').textContent()).toBe('signature verifies');
  if (process.env.UPDATE_SCREENSHOTS === '1') await page.screenshot({ path: join(SCREENS, 'agent-statement-deal.png'), fullPage: true });
  expect(problems).toEqual([]);
  await page.close();
});

test('another site can neither fetch, frame nor link to it; a rebinding name gets 403', async () => {
  const page = await browser.newPage();
  await page.goto(`http://evil:${foreignPort}/`);
  // cors: no CORS header, so the read fails; no-cors: not even an opaque answer (CORP same-origin), and a 403 anyway
  expect(await page.evaluate('window.tryFetch("cors")')).toBe('error TypeError');
  expect(await page.evaluate('window.tryFetch("no-cors")')).toBe('error TypeError');
  const statuses: number[] = [];
  page.on('response', (r) => r.url().startsWith(`${agent.url}/statement`) && statuses.push(r.status()));
  expect(await page.evaluate('window.tryFrame()')).toMatch(/^blocked /);
  // a link the user clicks on another site: Sec-Fetch-Site cross-site
  const [nav] = await Promise.all([page.waitForNavigation(), page.locator('#link').click()]);
  expect(nav?.status()).toBe(403);
  expect(await page.content()).not.toMatch(/music\.example|Trial recordings/);
  expect(statuses.length).toBeGreaterThanOrEqual(2); // the frame and the link
  expect(statuses.every((s) => s === 403)).toBe(true);
  // DNS rebinding: the attacker's name now resolves to 127.0.0.1
  const rebound = await page.goto(`http://attacker.test:${agent.port}/statement`);
  expect(rebound?.status()).toBe(403);
  expect(await page.content()).toContain('BAD_HOST');
  await page.close();
});
