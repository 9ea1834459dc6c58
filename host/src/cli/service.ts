// What the server commands (`semper agent`, `semper bank`, `semper ttp`) and the commands that
// sign (`semper purse`) share: the --port option, a private key from the key store, and waiting
// until they are stopped.

import { homedir } from 'node:os';
import { join } from 'node:path';
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
