// Test rig for device/src/card: bundles the card stack with the firmware's esbuild settings
// (tools/espruino-esbuild.json, the file tools/build.mjs reads), runs the bundle
// in the board emulator (EmulatedDevice) and hands the stack's classes to the test through
// an injected global. Values cross the realm boundary: bytes go in with `inContext`.

import { buildSync } from 'esbuild';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EmulatedDevice } from '../../board/emulator/device';
import { EmulatedCard } from '../../board/card/card';
import { personalise, Personalised, testCa, testIssuer, KeyPair } from '../../board/card/personalise';

const ROOT = join(__dirname, '..', '..');

/** The firmware's esbuild options (tools/espruino-esbuild.json, as tools/build.mjs uses them; no languages: the card stack has no UI). */
export function espruinoOptions(): Record<string, unknown> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const pinmap = JSON.parse(readFileSync(join(ROOT, 'board', 'pinmap.json'), 'utf8'), (k, v) => (k.startsWith('//') ? undefined : v));
  const base = JSON.parse(readFileSync(join(ROOT, 'tools', 'espruino-esbuild.json'), 'utf8')) as Record<string, unknown>;
  delete base['//'];
  return {
    ...base,
    define: { __FIRMWARE_VERSION__: JSON.stringify(pkg.version), __PINMAP__: JSON.stringify(pinmap), __LANGUAGES__: '[]' },
  };
}

/** Bundles `entry` (TypeScript, resolved from device/src/card) as the firmware build would. */
export function bundleCardEntry(entry: string): string {
  const r = buildSync({
    ...(espruinoOptions() as object),
    stdin: { contents: entry, resolveDir: join(ROOT, 'device', 'src', 'card'), loader: 'ts', sourcefile: 'card-entry.ts' },
    write: false,
  } as Parameters<typeof buildSync>[0]);
  return r.outputFiles![0].text;
}

/** The whole card stack, as main.ts would import it, with the API the firmware does not call (FullCardApplet, FullCardReader). */
export const STACK_ENTRY = `
import { FullCardReader } from './reader';
import { FullCardApplet, putAmount, getAmount, commandApdu } from './applet';
import { parseAtr, t1Parameters } from './atr';
__harness({ CardReader: FullCardReader, CardApplet: FullCardApplet, putAmount: putAmount, getAmount: getAmount, commandApdu: commandApdu, parseAtr: parseAtr, t1Parameters: t1Parameters });
`;

let cached = '';
export function stackBundle(): string {
  if (!cached) cached = bundleCardEntry(STACK_ENTRY);
  return cached;
}

export interface CardErr {
  code: number;
  sw?: number;
  triesLeft?: number;
  reason?: string;
}
export interface Outcome<T> {
  err: CardErr | null;
  value: T;
}
type Cb = (err: CardErr | null, value?: unknown) => void;
/* eslint-disable @typescript-eslint/no-explicit-any */
export type Api = Record<string, any>;

export interface Rig {
  device: EmulatedDevice;
  api: Api;
  reader: any;
  applet: any;
  /** Every Serial2 write (reader → card line), in order. */
  wire: Uint8Array[];
  analog: { pin: string; value: number; freq?: number }[];
  presence: boolean[];
  u8(b: Uint8Array | number[]): Uint8Array;
  call<T>(f: (cb: Cb) => void, limitMs?: number): Promise<Outcome<T>>;
  insert(card: EmulatedCard): Promise<void>;
  remove(): Promise<void>;
  close(): void;
}

const rigs: Rig[] = [];
export function closeRigs(): void {
  for (const r of rigs.splice(0)) r.close();
}

export async function until(done: () => boolean, what: string, limitMs = 3000): Promise<void> {
  const t0 = Date.now();
  while (!done()) {
    if (Date.now() - t0 > limitMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Boots the card stack in an emulated device; `appletOpts` go to CardApplet. */
export function makeRig(appletOpts: Record<string, unknown> = {}, bundle = stackBundle()): Rig {
  let api: Api | null = null;
  const analog: Rig['analog'] = [];
  const uncaught: unknown[] = [];
  const device = new EmulatedDevice({
    firmware: bundle,
    onConsole: () => undefined,
    onUncaught: (e) => uncaught.push(e),
    globals: () => ({
      __harness: (a: Api) => {
        api = a;
      },
      analogWrite: (pin: unknown, value: number, o?: { freq?: number }) => analog.push({ pin: String(pin), value, freq: o?.freq }),
    }),
  });
  const wire: Uint8Array[] = [];
  const trace: string[] = [];
  const t0 = Date.now();
  const orig = device.sandbox.onSerialWrite;
  device.sandbox.onSerialWrite = (dev, bytes) => {
    if (dev === device.sandbox.Serial2) {
      lineClock.t = Date.now();
      wire.push(bytes);
      trace.push(`${Date.now() - t0} > ${Buffer.from(bytes).toString('hex')}`);
    }
    orig(dev, bytes);
  };
  const s2 = device.sandbox.Serial2;
  const inj = s2.inject.bind(s2);
  s2.inject = (b: Uint8Array) => {
    trace.push(`${Date.now() - t0} < ${Buffer.from(b).toString('hex')}`);
    inj(b);
  };
  device.powerOn();
  if (!api) throw new Error('the bundle did not call __harness');
  const a = api as Api;
  const reader = new a.CardReader();
  reader.start();
  const applet = new a.CardApplet(reader, appletOpts);
  const presence: boolean[] = [];
  reader.onPresence((p: boolean) => presence.push(p));
  const rig: Rig = {
    device,
    api: a,
    reader,
    applet,
    wire,
    analog,
    presence,
    u8: (b) => device.sandbox.inContext(Uint8Array.from(b)),
    call: <T>(f: (cb: Cb) => void, limitMs = 20000) =>
      new Promise<Outcome<T>>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('card operation did not call back')), limitMs);
        f((err, value) => {
          clearTimeout(t);
          const e = err ? ({ ...err } as CardErr & { debug?: string }) : null;
          if (e && process.env.CARD_DEBUG) e.debug = `trace ${trace.slice(-30).join(' | ')}; reader ${JSON.stringify(reader.stats)}; t1 ${JSON.stringify(applet.terminal()?.stats)}`;
          resolve({ err: e, value: value as T });
        });
      }),
    insert: async (card) => {
      device.insertCard(card);
      await until(() => reader.present(), 'card detect');
    },
    remove: async () => {
      device.removeCard();
      await until(() => !reader.present(), 'card removal detect');
    },
    close: () => {
      device.removeCard();
      device.powerOff();
      if (uncaught.length) throw uncaught[0];
    },
  };
  rigs.push(rig);
  return rig;
}

export interface CardSetup {
  ca: KeyPair;
  issuer: KeyPair;
  p: Personalised;
  card: EmulatedCard;
}

/**
 * The emulated card's clock (it ends a block cut short after CWT of silence): the time of the
 * reader's last write, so the bytes of one write are contiguous on the line as on a real UART.
 * With Date.now, a CPU-starved test process that stalls for more than CWT (4.5 ms) in the
 * middle of the card's byte loop makes the card see a partial block.
 */
export const lineClock = { t: 0 };

let keys: { ca: KeyPair; issuer: KeyPair } | null = null;
/** A freshly personalised card (PIN 1234, PUK 12345678, 50.00 EUR). */
export function newCard(balance = 5000): CardSetup {
  if (!keys) keys = { ca: testCa('card-stack'), issuer: testIssuer('card-stack') };
  const p = personalise({ holder: 'Zoë Bär', pin: '1234', puk: '12345678', balance, currency: 'EUR', ca: keys.ca, issuer: keys.issuer, issuerName: 'Test Bank' });
  return { ca: keys.ca, issuer: keys.issuer, p, card: new EmulatedCard(p.nv, { clock: () => lineClock.t }) };
}

export const hexs = (b: Uint8Array | number[]): string => Buffer.from(Uint8Array.from(b)).toString('hex').toUpperCase().replace(/(..)(?!$)/g, '$1 ');
export const bytes = (b: Uint8Array | number[]): Uint8Array => Uint8Array.from(b);
