// The gate, exhaustively: every combination of Host × Origin × method × endpoint × credentials
// (generated, thousands of requests over real HTTP) against an agent with one paired origin
// and the real firmware in the emulator. The state — allow-list and limits, purchases,
// audit, the archive's head — is read before and after each request: only the combinations
// that are inside the allow-list (the agent's own Host, the paired origin with its token and
// a JSON body, or a local client with the local token) may change it. Pairing requests from
// other origins do reach the device; the person at it refuses them, and they change nothing.

import { AgentRig, agentRig, eventProtocols, pressUntil, request, wsConnect } from './rig';

jest.setTimeout(240000);
const SHOP = 'https://shop.example';
let a: AgentRig;
let port: number;
let shopToken = '';
let purchaseId = '';

async function snapshot(): Promise<string> {
  const db = a.archive.db;
  return JSON.stringify({
    rules: await a.agent.prefs.rules(),
    limits: db.prepare('SELECT * FROM limits ORDER BY subject, currency').all(),
    audit: db.prepare('SELECT COUNT(*) FROM audit').pluck().get(),
    spending: db.prepare('SELECT COUNT(*) FROM spending').pluck().get(),
    head: (await a.archive.head()).seq,
    purchases: a.agent.purchases.size,
  });
}

beforeAll(async () => {
  a = await agentRig();
  port = a.agent.port;
  await a.agent.prefs.setRule({ kind: 'origin', origin: SHOP }, 'pay', 'allowed');
  await a.agent.prefs.setLimit({ kind: 'origin', origin: SHOP }, { currency: 'EUR', perTransaction: 50_00 });
  shopToken = a.agent.secrets.originToken(SHOP);
  // one purchase to read back (its id is used by the GET endpoints of the matrix)
  const r = await request(port, 'POST', '/v1/purchases', { Host: `127.0.0.1:${port}`, Origin: SHOP, 'Content-Type': 'application/json', 'X-Semper-Token': shopToken }, JSON.stringify({ offer: 'm-0', amount: { amount: 100, currency: 'EUR' } }));
  purchaseId = (r.json.purchase as { id: string }).id;
  await a.rig.waitFor(/PAYMENT/);
  await pressUntil(a.rig, 'CANCEL', async () => (await a.agent.purchases.settled(purchaseId, SHOP, 1000))?.state !== 'pending');
});
afterAll(() => a.close());

test('nothing outside the allow-list changes state', async () => {
  const hosts = [`127.0.0.1:${port}`, `localhost:${port}`, `attacker.test:${port}`, `127.0.0.1:${port + 1}`, `[::1]:${port}`];
  const GOOD_HOSTS = hosts.slice(0, 2);
  const origins: (string | null)[] = [SHOP, null, 'https://evil.example', 'null', `http://127.0.0.1:${port}`, 'https://shop.example:443', 'http://shop.example', 'https://shop.example.evil.example'];
  const methods = ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'];
  const paths = ['/v1/status', '/v1/pair', `/v1/pair/x${purchaseId}`, '/v1/purchases', `/v1/purchases/${purchaseId}`, '/v1/events', '/v1/purchases/../pair'];
  const creds: { name: string; headers: Record<string, string> }[] = [
    { name: 'form + shop token', headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Semper-Token': shopToken } },
    { name: 'json, no token', headers: { 'Content-Type': 'application/json' } },
    { name: 'json + shop token', headers: { 'Content-Type': 'application/json', 'X-Semper-Token': shopToken } },
    { name: 'text + shop token', headers: { 'Content-Type': 'text/plain', 'X-Semper-Token': shopToken } },
    { name: 'json + local token', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${a.agent.secrets.localToken}` } },
  ];
  const problems: string[] = [];
  let n = 0;
  let changed = 0;
  let prompts = 0;
  for (const host of hosts)
    for (const origin of origins)
      for (const method of methods)
        for (const path of paths)
          for (const cred of creds) {
            const headers: Record<string, string> = { Host: host, ...cred.headers };
            if (origin !== null) headers.Origin = origin;
            const body = path.startsWith('/v1/purchases') ? JSON.stringify({ offer: `m-${n}`, amount: { amount: 100, currency: 'EUR' } }) : '{}';
            const before = await snapshot();
            let r;
            try {
              r = await request(port, method, path, headers, method === 'GET' || method === 'OPTIONS' ? undefined : body);
            } catch (e) {
              problems.push(`${String(e)}: ${method} ${path} Host=${host} Origin=${origin} ${cred.name}`);
              continue;
            }
            n++;
            const what = `${method} ${path} Host=${host} Origin=${origin} ${cred.name} → ${r.status} ${r.json.error?.code ?? ''}`;
            const goodHost = GOOD_HOSTS.includes(host);
            const inside =
              goodHost && method === 'POST' && path === '/v1/purchases' && ((origin === SHOP && cred.name === 'json + shop token') || (origin === null && cred.name === 'json + local token'));
            // Host is checked before anything else
            if (!goodHost && (r.status !== 403 || r.json.error?.code !== 'BAD_HOST') && r.status !== 400) problems.push(`not refused by Host: ${what}`);
            if (r.status === 202 && path === '/v1/purchases') {
              // a purchase started: the person at the device refuses it
              prompts++;
              const id = (r.json.purchase as { id: string }).id;
              await a.rig.waitFor(/PAYMENT/);
              await pressUntil(a.rig, 'CANCEL', async () => (await a.agent.purchases.settled(id, origin ?? 'local', 1000))?.state !== 'pending');
              const p = a.agent.purchases.get(id, origin ?? 'local')?.state;
              if (p !== 'refused') problems.push(`purchase not refused (${p}): ${what}`);
            } else if (r.status === 202 && path === '/v1/pair') {
              prompts++;
              const id = (r.json.pairing as { id: string }).id;
              await a.rig.waitFor(/PAIRING/);
              await pressUntil(a.rig, 'CANCEL', async () => (await a.agent.pairings.settled(id, origin!, 1000))?.state !== 'pending');
              const p = a.agent.pairings.get(id, origin!)?.state;
              if (p !== 'refused') problems.push(`pairing not refused (${p}): ${what}`);
            }
            const after = await snapshot();
            if (after !== before) changed++;
            if (!inside && after !== before) problems.push(`STATE CHANGED: ${what}\n  before ${before}\n  after  ${after}`);
            if (inside && (r.status !== 202 || after === before)) problems.push(`allowed request did not start a purchase: ${what}`);
            if (r.text.includes('    at ') || r.text.includes('.ts:')) problems.push(`stack trace in answer: ${what}`);
            if (r.text.includes(a.agent.secrets.localToken)) problems.push(`local token leaked: ${what}`);
            if (origin !== SHOP && r.text.includes(shopToken)) problems.push(`shop token leaked to another origin: ${what}`);
          }
  expect(problems.slice(0, 20)).toEqual([]);
  expect(n).toBe(hosts.length * origins.length * methods.length * paths.length * creds.length);
  // the positive control: the allowed combinations did change state (2 Hosts × 2 clients)
  expect(changed).toBe(4);
  // the device was asked only by: pairings of the 4 well-formed foreign origins through the 2 good
  // Hosts with a JSON body (3 such credentials) = 24, and the 4 allowed purchases
  expect(prompts).toBe(28);
});

test('the events socket opens for the paired origin with its token through the agent\u2019s Host, for nothing else', async () => {
  const hosts = [`127.0.0.1:${port}`, `localhost:${port}`, `attacker.test:${port}`, `127.0.0.1:${port + 1}`];
  const origins: (string | null)[] = [SHOP, null, 'https://evil.example', 'null', 'http://shop.example'];
  const protocols = [undefined, 'semper-events.v1', eventProtocols(shopToken), eventProtocols(a.agent.secrets.originToken('https://evil.example'))];
  const auth = [undefined, `Bearer ${a.agent.secrets.localToken}`];
  const opened: string[] = [];
  for (const host of hosts)
    for (const origin of origins)
      for (const protocol of protocols)
        for (const authorization of auth) {
          const headers: Record<string, string> = { Host: host };
          if (origin !== null) headers.Origin = origin;
          if (protocol) headers['Sec-WebSocket-Protocol'] = protocol;
          if (authorization) headers.Authorization = authorization;
          const c = await wsConnect(port, headers);
          if (c.status === 101) {
            opened.push([host, origin, protocol === eventProtocols(shopToken) ? 'shop-token' : protocol, authorization ? 'local' : ''].filter(Boolean).join(' '));
            c.close();
            await c.closed;
          }
        }
  const good = [`127.0.0.1:${port}`, `localhost:${port}`];
  const expected = good.flatMap((h) => [`${h} ${SHOP} shop-token`, `${h} ${SHOP} shop-token local`, `${h} local`, `${h} semper-events.v1 local`, `${h} shop-token local`, `${h} semper-events.v1, semper-token.${a.agent.secrets.originToken('https://evil.example')} local`]);
  expect(opened.sort()).toEqual(expected.sort());
});
