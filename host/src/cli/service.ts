// What the server commands (`semper agent`, `semper bank`, `semper ttp`) and the commands that
// sign (`semper purse`) share: the command line parsed (startCommand), the --port option, a
// private key from the key store, and waiting until they are stopped.

import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, ParseArgsConfig } from 'node:util';
import { KeyStore } from '../services/keystore';

/** Resolves when `signal` aborts, or on SIGINT / SIGTERM when there is no signal. */
export function untilStopped(signal?: AbortSignal): Promise<void> {
  return new Promise<void>((stop) => {
    if (signal) {
      if (signal.aborted) stop();
      signal.addEventListener('abort', () => stop(), { once: true });
    } else {
      process.once('SIGINT', () => stop());
      process.once('SIGTERM', () => stop());
    }
  });
}

/** The --port option: a whole number 0..65535 (0: any free port), or `fallback` when absent; undefined if invalid. */
export function portOption(value: string | undefined, fallback: number): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  return /^\d{1,5}$/.test(value) && n <= 65535 ? n : undefined;
}

/** $SEMPER_HOME, or ~/.semper. */
export function semperHome(env: NodeJS.ProcessEnv): string {
  return env.SEMPER_HOME ?? join(homedir(), '.semper');
}

/**
 * A private key from the key store ($SEMPER_KEYSTORE_PASSPHRASE opens it; `file` or
 * $SEMPER_HOME/keys.semper). Undefined — with the reason said on `err` — when no passphrase is
 * set; the key store's own errors (wrong passphrase, unknown label) are thrown.
 */
export async function keyFromStore(label: string, o: { env: NodeJS.ProcessEnv; file?: string; err: (s: string) => void; command: string }): Promise<Uint8Array | undefined> {
  const pass = o.env.SEMPER_KEYSTORE_PASSPHRASE;
  if (!pass) {
    o.err(`${o.command}: set SEMPER_KEYSTORE_PASSPHRASE to open the key store\n`);
    return undefined;
  }
  const ks = await KeyStore.open(o.file ?? join(semperHome(o.env), 'keys.semper'), pass);
  try {
    return ks.privateKey(label);
  } finally {
    ks.close();
  }
}

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends OptionsConfig> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>['values'];

/**
 * A server command's options: `--help` prints `help` (exit status 0), anything malformed says why
 * (2); an optional first word `start` reads as the command itself (`semper bank start …`). The
 * values, or the exit status to end with. Also gives the command's --port, checked.
 */
export function serviceOptions<O extends OptionsConfig & { help: { type: 'boolean' }; port: { type: 'string' } }>(
  argv: string[],
  options: O,
  o: { command: string; help: string; defaultPort: number; out: (s: string) => void; err: (s: string) => void },
): { values: Parsed<O>; port: number } | number {
  let values: Parsed<O>;
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    const extra = parsed.positionals[0] === 'start' ? parsed.positionals.slice(1) : parsed.positionals;
    if (extra.length) throw new Error(`unexpected argument ${JSON.stringify(extra[0])} (options start with --; see --help)`);
    values = parsed.values as Parsed<O>;
  } catch (e) {
    o.err(`${o.command}: ${(e as Error).message}\n`);
    return 2;
  }
  if ((values as { help?: boolean }).help) {
    o.out(`${o.help}\n`);
    return 0;
  }
  const port = portOption((values as { port?: string }).port, o.defaultPort);
  if (port === undefined) {
    o.err(`${o.command}: --port must be 0..65535\n`);
    return 2;
  }
  return { values, port };
}

/** Where a command writes and what environment it reads (tests pass their own). */
export interface CommandIo {
  out?: (s: string) => void;
  err?: (s: string) => void;
  env?: NodeJS.ProcessEnv;
}

/**
 * A command's streams, and its options and positionals parsed strictly; `parsed` is undefined
 * (after saying why and where help is) when they do not parse — the command then exits 2.
 */
export function startCommand<O extends NonNullable<ParseArgsConfig['options']>>(name: string, argv: string[], options: O, io: CommandIo) {
  const out = io.out ?? ((s: string) => void process.stdout.write(s));
  const err = io.err ?? ((s: string) => void process.stderr.write(s));
  const env = io.env ?? process.env;
  try {
    return { out, err, env, parsed: parseArgs({ args: argv, options, allowPositionals: true, strict: true }) };
  } catch (e) {
    err(`${name}: ${(e as Error).message} (see ${name} --help)\n`);
    return { out, err, env, parsed: undefined };
  }
}
