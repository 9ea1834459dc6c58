// `semper agent start`: the buyer's host agent with its local API for merchant pages
// (host/src/agent): opens the device as `semper device` does, the archive as `semper archive`
// does, writes the local token to a 0600 file and serves 127.0.0.1 until SIGINT or SIGTERM.

import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { AgentServer, DEFAULT_PORT, DeviceStatus } from '../agent/server';
import { EMULATOR_TCP, openDevice, OpenDevice } from '../device';
import { DeviceInUseError } from '../device/session-lock';
import { SqliteArchive } from '../services/archive';
import { writeFileAtomic } from '../services/atomic-file';
import { defaultDbPath } from './archive';
import { CommandIo, portOption, startCommand, untilStopped } from './service';
import { trustFromArchive } from './cert';
import { commerceSetup, CommerceSetup, parseEvaluator } from './agent-commerce';
import { Evaluator } from '../commerce/workflow';
import { parseMinorUnits } from '../services/money';

export const HELP = `semper agent — the buyer's agent: the local API merchant pages talk to

usage: semper agent start [--port N] [--device SPEC] [--db FILE] [--pairing-timeout S]
                          [--ttp URL --evaluator NAME=KEY … [--ttp-cert FILE]
                           [--account ID [--purse-limit AMOUNT]]]

options:
  --port N              127.0.0.1 port (default ${DEFAULT_PORT}; 0 = any free port). The agent never
                        listens on another address.
  --device SPEC         serial:/dev/ttyACM0, ${EMULATOR_TCP} (the emulator), spawn:<command>,
                        or auto (default: $SEMPER_DEVICE, else the one board found)
  --db FILE             the archive: allow-list, spending limits, audit, evidence
                        (default $SEMPER_HOME/archive.db; SEMPER_HOME defaults to ~/.semper)
  --pairing-timeout S   seconds the device waits for OK when a site asks to pair (10-600, default 120)
  --ttp URL             buy for real: the third party your exchanges may call on when something
                        goes wrong. Then the agent verifies each offer (and the device does), runs
                        the merchant's certified workflow, and pays with the card against the
                        merchant's signed receipt. Needs your card registered first (semper cert
                        register keeps its certificate and your CA's root in the archive).
                        Without --ttp a purchase is only confirmed on the device: nothing is paid.
  --evaluator NAME=KEY  an evaluator whose certified workflows you accept (P-256 public key,
                        hex or base64url); repeat for several
  --ttp-cert FILE       the third party's certificate from your CA: its key must match
  --account ID          your account at the bank, the one your card is registered for: the agent
                        may then pay from it (account-card/1: the device shows the account order,
                        OK and PIN, the card signs it) where the merchant's offer takes that.
                        Without it every purchase is paid from the card's purse
  --purse-limit AMOUNT  with --account: the purse pays up to AMOUNT (e.g. 50.00, in the offer's
                        currency), the account above it (default: the purse whenever the merchant
                        takes it, the account otherwise)
  --help                this text

Web pages reach it with @semper/client (web/semper-client). A site is paired only when you
press OK on the device, after comparing the code on the device with the one on the page.
Programs without a browser Origin need the local token: it is written, new at every start, to
$SEMPER_HOME/agent.json (mode 0600, removed at exit) as {"url", "token"}; send it as
Authorization: Bearer <token>. It is never printed, so it does not end up in logs.

Endpoints: GET /v1/status, POST /v1/pair, GET /v1/pair/{id}, POST /v1/purchases,
GET /v1/purchases/{id}, WebSocket /v1/events (host/src/agent/README.md).
Your purchases like a bank statement: open http://127.0.0.1:PORT/statement in your browser
(typed or bookmarked: links from other sites are refused).

exit status: 0 stopped; 2 bad options; 3 no device, or the archive or the port cannot be opened.`;

const OPTIONS = {
  port: { type: 'string' },
  device: { type: 'string' },
  db: { type: 'string' },
  'pairing-timeout': { type: 'string' },
  ttp: { type: 'string' },
  'ttp-cert': { type: 'string' },
  evaluator: { type: 'string', multiple: true },
  account: { type: 'string' },
  'purse-limit': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface AgentCliIo extends CommandIo {
  /** Called once it listens (tests). */
  onListening?: (agent: AgentServer, tokenFile: string) => void;
  /** Stops it (tests); default: SIGINT or SIGTERM. */
  signal?: AbortSignal;
}

/**
 * What /v1/status says about the device, kept current: connection state, firmware, card
 * (never its serial). Asks HELLO once, then follows the connection's events.
 */
export async function trackDeviceStatus(dev: OpenDevice): Promise<() => DeviceStatus> {
  const device: DeviceStatus = { state: 'connected' };
  try {
    const h = await dev.client.hello();
    Object.assign(device, { firmware: h.firmware, card: h.card });
  } catch (_e) {
    // the status then lacks the firmware; the connection's own state still tells
  }
  dev.connection.on('state', (s: { state: string }) => void (device.state = s.state));
  dev.connection.on('hello', (h: { firmware?: string; card?: boolean }) => Object.assign(device, { firmware: h.firmware, card: h.card }));
  return () => ({ ...device });
}

export async function run(argv: string[], io: AgentCliIo = {}): Promise<number> {
  const { out, err, env, parsed } = startCommand('semper agent', argv, OPTIONS, io);
  if (!parsed) return 2;
  const v = parsed.values;
  if (v.help) {
    out(`${HELP}\n`);
    return 0;
  }
  const [sub, ...extra] = parsed.positionals;
  if (sub !== 'start' || extra.length) {
    err(sub ? `semper agent: unknown command ${[sub, ...extra].join(' ')}: use semper agent start\n` : `${HELP}\n`);
    return 2;
  }
  const port = portOption(v.port, DEFAULT_PORT);
  if (port === undefined) {
    err('semper agent: --port must be 0..65535\n');
    return 2;
  }
  const pairingTimeout = v['pairing-timeout'] === undefined ? 120 : Number(v['pairing-timeout']);
  if (!Number.isInteger(pairingTimeout) || pairingTimeout < 10 || pairingTimeout > 600) {
    err('semper agent: --pairing-timeout must be a whole number of seconds from 10 to 600\n');
    return 2;
  }
  const evaluators: Evaluator[] = [];
  for (const e of v.evaluator ?? []) {
    const parsedEvaluator = parseEvaluator(e);
    if (typeof parsedEvaluator === 'string') {
      err(`semper agent: ${parsedEvaluator}\n`);
      return 2;
    }
    evaluators.push(parsedEvaluator);
  }
  if ((evaluators.length || v['ttp-cert']) && !v.ttp) {
    err('semper agent: --evaluator and --ttp-cert go with --ttp URL (buying for real)\n');
    return 2;
  }
  if ((v.account !== undefined || v['purse-limit'] !== undefined) && !v.ttp) {
    err('semper agent: --account and --purse-limit go with --ttp URL (buying for real)\n');
    return 2;
  }
  if (v['purse-limit'] !== undefined && v.account === undefined) {
    err('semper agent: --purse-limit goes with --account ID (above the limit the account pays)\n');
    return 2;
  }
  if (v.account !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$/.test(v.account)) {
    err('semper agent: --account: a bank account id (letters, digits, . _ : @ -; at most 64)\n');
    return 2;
  }
  const purseMax = v['purse-limit'] === undefined ? undefined : parseMinorUnits(v['purse-limit'], 'EUR');
  if (v['purse-limit'] !== undefined && purseMax === undefined) {
    err('semper agent: --purse-limit: an amount such as 50.00\n');
    return 2;
  }
  let archive: SqliteArchive;
  let dbPath: string;
  try {
    dbPath = v.db ?? defaultDbPath(env);
    archive = SqliteArchive.open(dbPath);
  } catch (e) {
    err(`semper agent: cannot open the archive: ${(e as Error).message}\n`);
    return 3;
  }
  let dev: OpenDevice;
  try {
    dev = await openDevice({ device: v.device ?? env.SEMPER_DEVICE, app: 'semper agent' });
  } catch (e) {
    archive.close();
    if (e instanceof DeviceInUseError) err(`semper agent: ${e.message}; close that application first\n`);
    else err(`semper agent: no device reachable: ${(e as Error).message}\nrun "semper doctor" to find out why\n`);
    return 3;
  }
  const deviceStatus = await trackDeviceStatus(dev);
  const home = env.SEMPER_HOME || join(homedir(), '.semper');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  let commerce: CommerceSetup | undefined;
  if (v.ttp) {
    const set = await commerceSetup({ archive, device: dev.client, home, ttpUrl: v.ttp, evaluators, ...(v['ttp-cert'] ? { ttpCertificate: v['ttp-cert'] } : {}), ...(v.account !== undefined ? { account: v.account } : {}), ...(purseMax !== undefined ? { purseMax } : {}) });
    if (typeof set === 'string') {
      dev.close();
      archive.close();
      err(`semper agent: cannot buy for real: ${set}\n`);
      return 3;
    }
    commerce = set;
    // exchanges a crash left open are finished first (through the third party where needed)
    const resumed = await commerce.buyer.resume().catch((e: unknown) => (err(`semper agent: open exchanges not resumed: ${(e as Error).message}\n`), []));
    for (const n of commerce.notes) out(`${n}\n`);
    if (resumed.length) out(`finished ${resumed.length} purchase(s) left open at the last stop\n`);
  }

  // merchants on the statement page are checked against the CA roots registration kept (semper cert register)
  const trust = commerce?.trust ?? (await trustFromArchive(archive).catch(() => undefined));
  const agent = new AgentServer({
    archive,
    device: dev.client,
    deviceStatus,
    ...(trust ? { trust } : {}),
    ...(commerce ? { handler: commerce.handler } : {}),
    port,
    pairingTimeoutSeconds: pairingTimeout,
    version: version(),
    log: (line) => err(`semper agent: ${line}\n`),
  });
  try {
    await agent.start();
  } catch (e) {
    dev.close();
    archive.close();
    err(`semper agent: cannot listen on 127.0.0.1:${port}: ${(e as Error).message}\n`);
    return 3;
  }
  const tokenFile = join(home, 'agent.json');
  await writeFileAtomic(tokenFile, Buffer.from(JSON.stringify({ url: agent.url, token: agent.secrets.localToken, pid: process.pid }) + '\n'), { mode: 0o600 });
  out(`semper agent listening on ${agent.url} (archive ${dbPath})\nyour purchases like a bank statement: ${agent.url}/statement\nlocal token for programs without a browser: ${tokenFile}\npair a site from its page; you confirm on the device. ${commerce ? 'Purchases are paid with your card.' : 'Purchases are only confirmed (no --ttp): nothing is paid.'} Ctrl-C stops.\n`);
  io.onListening?.(agent, tokenFile);
  await untilStopped(io.signal);
  await agent.stop();
  rmSync(tokenFile, { force: true });
  dev.close();
  archive.close();
  return 0;
}

/** The package's version, for the agent's status. */
export function version(): string {
  // host/src/cli (ts-node, jest) is three levels below the package, dist/host/src/cli four
  for (const up of [3, 4]) {
    try {
      return (JSON.parse(readFileSync(join(__dirname, ...Array<string>(up).fill('..'), 'package.json'), 'utf8')) as { version: string }).version;
    } catch (_e) {
      continue;
    }
  }
  return '0';
}
