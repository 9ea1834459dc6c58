// Pairing: how a web origin gets onto the agent's allow-list. The page asks; the agent makes
// a short code that the page shows, and asks the person on the DEVICE — a PAIRING statement
// with the origin and the code (SPEC §5.4 kind 3), OK or Cancel on its own keypad. Only OK
// adds the origin; Cancel, the device's timeout or any failure adds nothing. The PC cannot
// press OK, so no page and no local process can pair itself.

import { randomBytes, randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Statement, UserCallOptions } from '../device/client';
import { DeviceError } from '../link/device-link';
import { AgentError } from './errors';

export type PairingState = 'pending' | 'paired' | 'refused' | 'timeout' | 'failed';

export interface Pairing {
  id: string;
  origin: string;
  /** Six digits, shown by the page and on the device: the user compares them. */
  code: string;
  state: PairingState;
  /** Why it failed (state `failed`): the device's error code and message. */
  error?: { code: string; message: string };
}

/** What pairing needs of the device: CONFIRM (DeviceClient fits). */
export interface Confirmer {
  confirm(statement: Statement, opts?: UserCallOptions): Promise<void>;
}

export interface PairingOptions {
  device: Confirmer;
  /** Puts the origin on the allow-list (persisted and archived) after the user's OK. */
  allow(origin: string): Promise<void>;
  /** Seconds the device waits for the user (10…600, default 120). */
  timeoutSeconds?: number;
}

/** How long a settled pairing can still be read by its page. */
const KEEP_SETTLED = 10 * 60_000;

/** The pairing statement: what the device shows (title, origin marked as the PC's claim, code). */
export function pairingStatement(origin: string, code: string): Statement {
  return { kind: 3, title: 'Pair this web site?', origin, code };
}

/**
 * The pairings of this run. One at a time waits on the device: a second origin asking meanwhile
 * gets DEVICE_BUSY (the device shows one thing at a time, and a page must not be able to queue
 * prompts behind another site's); the same origin asking again gets its pending pairing back.
 */
export class Pairings {
  private readonly all = new Map<string, Pairing>();
  private readonly events = new EventEmitter();
  private pending: Pairing | null = null;

  constructor(private readonly opts: PairingOptions) {
    this.events.setMaxListeners(0);
  }

  /** Starts a pairing for `origin` (not yet allowed) and asks the device; returns at once. */
  start(origin: string): Pairing {
    if (this.pending) {
      if (this.pending.origin === origin) return { ...this.pending };
      throw new AgentError('DEVICE_BUSY', 'another web site is being paired on the device: try again when that is done');
    }
    const p: Pairing = { id: randomBytes(12).toString('base64url'), origin, code: String(randomInt(0, 1_000_000)).padStart(6, '0'), state: 'pending' };
    this.all.set(p.id, p);
    this.pending = p;
    void this.ask(p);
    return { ...p };
  }

  /** A pairing as its own origin may see it; undefined for other origins and unknown ids. */
  get(id: string, origin: string): Pairing | undefined {
    const p = this.all.get(id);
    return p && p.origin === origin ? { ...p } : undefined;
  }

  /** Resolves when pairing `id` is no longer pending, or after `ms`, with its state then. */
  async settled(id: string, origin: string, ms: number, signal?: AbortSignal): Promise<Pairing | undefined> {
    const p = this.all.get(id);
    if (!p || p.origin !== origin || p.state !== 'pending') return this.get(id, origin);
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.events.off(id, done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.events.on(id, done);
      signal?.addEventListener('abort', done);
    });
    return this.get(id, origin);
  }

  private async ask(p: Pairing): Promise<void> {
    try {
      await this.opts.device.confirm(pairingStatement(p.origin, p.code), { timeout: this.opts.timeoutSeconds ?? 120 });
      await this.opts.allow(p.origin);
      p.state = 'paired';
    } catch (e) {
      const code = e instanceof DeviceError ? e.code : 'INTERNAL';
      if (code === 'USER_REFUSED') p.state = 'refused';
      else if (code === 'USER_TIMEOUT') p.state = 'timeout';
      else {
        p.state = 'failed';
        p.error = { code, message: e instanceof DeviceError ? e.message : 'the pairing could not be completed' };
      }
    } finally {
      this.pending = null;
      this.events.emit(p.id);
      setTimeout(() => this.all.delete(p.id), KEEP_SETTLED).unref();
    }
  }
}
