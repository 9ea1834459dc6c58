// npm start — the main job: the whole SEMPER world on this machine (demo/world.ts), with the
// shop and the payment device each in a browser tab. A newcomer buys something in the shop
// and confirms it on the emulated device.

import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { portOption, untilStopped } from '../host/src/cli/service';
import { DEMO_HOLDER, DEMO_PIN, startDemoWorld } from './world';

export const HELP = `semper shop demo — bank, CA, third party, a demo shop, the buyer's agent and the
emulated payment device, all on 127.0.0.1, with fresh keys and no configuration

usage: npm start [-- options]

options:
  --shop-port N     the shop's web site (default 37140; 0 = any free port)
  --agent-port N    the buyer's agent, which the shop's pages talk to (default 37139)
  --device-port N   the payment device's web page (default 37138)
  --baud N          pace the device's USB line like a real UART (e.g. 115200; default unpaced)
  --data DIR        put the world's databases in DIR (new or empty; default a new temporary folder)
  --verbose         also print what the services log while they run
  --help            this text

Open the shop and the device side by side. Put something in the cart (a CD, a document, a paid
database query), check out, and the device asks — once to let the shop reach it (compare the
code), then for the payment: check the merchant and the amount, press OK, type the PIN
${DEMO_PIN}, OK. The shop then shows your receipt, signed by the merchant.

Each run starts a new world in a temporary folder (printed; kept afterwards, so its archives
can be read with: semper archive list --db FOLDER/buyer.db). Ctrl-C stops everything.
The demo's link protocol walk-through is: npm run demo:link`;

const OPTIONS = {
  'shop-port': { type: 'string' },
  'agent-port': { type: 'string' },
  'device-port': { type: 'string' },
  baud: { type: 'string' },
  data: { type: 'string' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function main(argv: string[], signal?: AbortSignal): Promise<number> {
  const err = (s: string): void => void process.stderr.write(s);
  let v;
  try {
    v = parseArgs({ args: argv, options: OPTIONS, strict: true }).values;
  } catch (e) {
    err(`shop demo: ${(e as Error).message} (see npm start -- --help)\n`);
    return 2;
  }
  if (v.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const ports: Record<string, number> = {};
  for (const [name, fallback] of [['shop-port', 37140], ['agent-port', 37139], ['device-port', 37138]] as const) {
    const p = portOption(v[name], fallback);
    if (p === undefined) {
      err(`shop demo: --${name} must be 0..65535\n`);
      return 2;
    }
    ports[name] = p;
  }
  const baud = v.baud === undefined ? 0 : Number(v.baud);
  if (!Number.isInteger(baud) || baud < 0 || baud > 4_000_000) {
    err('shop demo: --baud is bits per second, e.g. 115200\n');
    return 2;
  }
  if (v.data !== undefined) {
    if (existsSync(v.data) && readdirSync(v.data).length) {
      err(`shop demo: --data ${v.data} is not empty: each run starts a new world (fresh keys), so give a new or empty folder\n`);
      return 2;
    }
    mkdirSync(v.data, { recursive: true });
  }
  const t0 = Date.now();
  let ready = false;
  const log = (line: string): void => {
    if (!ready || v.verbose) err(`  ${ready ? '' : '… '}${line}\n`);
  };
  err('Starting the SEMPER demo world (a few seconds)…\n');
  let world;
  try {
    world = await startDemoWorld({ dir: v.data, shopPort: ports['shop-port'], agentPort: ports['agent-port'], devicePort: ports['device-port'], baud, log });
  } catch (e) {
    const m = (e as Error).message;
    err(`shop demo: could not start: ${m}\n`);
    if (/EADDRINUSE|address already in use/i.test(m)) err('  a port is taken (another demo still running?): stop it, or choose ports with --shop-port, --agent-port, --device-port\n');
    if (/firmware/i.test(m)) err('  the firmware bundle is built by npm start itself (node tools/build.mjs); run npm run build and look at its errors\n');
    return 3;
  }
  ready = true;
  process.stdout.write(
    `
SEMPER demo ready in ${((Date.now() - t0) / 1000).toFixed(1)} s.

  1. Open the payment device:  ${world.urls.device}
  2. Open the shop:            ${world.urls.shop}
  3. Buy something; confirm on the device (card of ${DEMO_HOLDER}, PIN ${DEMO_PIN}).

  buyer's agent   ${world.urls.agent}   (archive: ${world.urls.agent}/statement)
  bank            ${world.urls.bank}
  CA / RA         ${world.urls.ca}   (root: ${world.urls.ca}/v1/root)
  third party     ${world.urls.ttp}
  merchant agent  ${world.urls.seller}
  data folder     ${world.dir}

Ctrl-C stops everything.
`,
  );
  await untilStopped(signal);
  err('Stopping…\n');
  await world.stop();
  return 0;
}

if (require.main === module) void main(process.argv.slice(2)).then((code) => process.exit(code));
