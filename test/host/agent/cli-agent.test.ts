// `semper agent start` against the real firmware in the emulator over TCP: it opens the device
// and the archive, listens on 127.0.0.1, leaves the local token in a 0600 file (never on the
// terminal), answers with it, and cleans up when stopped.

import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmulatedCard } from '../../../board/card/card';
import { personalise } from '../../../board/card/personalise';
import { EmulatorServer } from '../../../board/emulator/serve';
import type { AgentServer } from '../../../host/src/agent/server';
import { HELP, run } from '../../../host/src/cli/agent';
import { newDevice } from '../emulator-rig';
import { request } from './rig';

jest.setTimeout(60000);
let home = '';
let server: EmulatorServer;
const oldHome = process.env.SEMPER_HOME;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'semper-cli-agent-'));
  process.env.SEMPER_HOME = home; // the device session lock lives there too
  const device = newDevice();
  device.insertCard(new EmulatedCard(personalise({ holder: 'Erika Mustermann', pin: '1234', puk: '12345678', balance: 1000 }).nv));
  server = new EmulatorServer(device, { tcpPort: 0 });
  await server.start();
  device.powerOn();
});
afterAll(async () => {
  await server.stop();
  rmSync(home, { recursive: true, force: true });
  process.env.SEMPER_HOME = oldHome;
});

function io(extra: Record<string, unknown> = {}) {
  const o = { out: '', err: '' };
  return { o, io: { out: (s: string) => void (o.out += s), err: (s: string) => void (o.err += s), env: { ...process.env, SEMPER_HOME: home }, ...extra } };
}

test('--help and bad options', async () => {
  const h = io();
  expect(await run(['--help'], h.io)).toBe(0);
  expect(h.o.out).toBe(`${HELP}\n`);
  for (const bad of [[], ['stop'], ['start', '--port', '70000'], ['start', '--port', '-1'], ['start', '--pairing-timeout', '5'], ['start', '--colour']]) {
    const b = io();
    expect(await run(bad, b.io)).toBe(2);
    expect(b.o.err).not.toBe('');
  }
});

test('start: listens on 127.0.0.1 with the device, the token in a 0600 file, removed at exit', async () => {
  const stop = new AbortController();
  let listening: { agent: AgentServer; file: string } | null = null;
  const c = io({ signal: stop.signal, onListening: (agent: AgentServer, file: string) => (listening = { agent, file }) });
  const done = run(['start', '--port', '0', '--device', `tcp://127.0.0.1:${server.port}`], c.io);
  for (let i = 0; i < 400 && !listening; i++) await new Promise((r) => setTimeout(r, 25));
  const { agent, file } = listening!;
  expect(file).toBe(join(home, 'agent.json'));
  expect(statSync(file).mode & 0o777).toBe(0o600);
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { url: string; token: string };
  expect(saved.url).toBe(agent.url);
  expect(agent.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(c.o.out).toContain(agent.url);
  expect(c.o.out).not.toContain(saved.token);
  const port = agent.port;
  expect((await request(port, 'GET', '/v1/status', { Host: `127.0.0.1:${port}` })).json.error?.code).toBe('LOCAL_TOKEN_REQUIRED');
  const st = await request(port, 'GET', '/v1/status', { Host: `127.0.0.1:${port}`, Authorization: `Bearer ${saved.token}` });
  expect(st.status).toBe(200);
  expect(st.json.device).toMatchObject({ state: 'connected', card: true });
  expect((st.json.device as { firmware: string }).firmware).toMatch(/^\d+\.\d+/);
  stop.abort();
  expect(await done).toBe(0);
  expect(existsSync(file)).toBe(false);
});
