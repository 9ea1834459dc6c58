// The firmware AS BUNDLED in the emulator with a personalised card in the slot and the
// host's DeviceLink connected: tests press keys by name, read the screen as text, and see
// every byte of the link.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EmulatedDevice } from '../../board/emulator/device';
import { EmulatedCard } from '../../board/card/card';
import { personAt, PersonAtDevice } from '../../board/emulator/person';
import { KeyPair, personalise, Personalised, testCa, testIssuer } from '../../board/card/personalise';
import { DeviceLink, StatusEvent } from '../../host/src/link/device-link';

const FIRMWARE_FILE = join(__dirname, '..', '..', 'dist', 'device', 'firmware.js');
let firmware = '';
export function firmwareText(): string {
  if (!firmware) {
    if (!existsSync(FIRMWARE_FILE)) throw new Error(`firmware bundle ${FIRMWARE_FILE} is missing: run \`npm run build\` first`);
    firmware = readFileSync(FIRMWARE_FILE, 'utf8');
  }
  return firmware;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits (real time, as a hang guard only) until `done()` holds. */
export async function until(done: () => boolean, what: string | (() => string), limitMs = 8000): Promise<void> {
  const t0 = Date.now();
  while (!done()) {
    if (Date.now() - t0 > limitMs) throw new Error(`gave up waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(2);
  }
}

export interface RigOptions {
  card?: boolean;
  holder?: string;
  pin?: string;
  puk?: string;
  balance?: number;
  ca?: KeyPair;
  issuer?: KeyPair;
  connect?: boolean;
}

/** The device, its link and the person at it (press, type, waitFor, scrollTo, screen). */
export interface DeviceRig extends PersonAtDevice {
  device: EmulatedDevice;
  host: DeviceLink;
  card: EmulatedCard | null;
  persona: Personalised;
  ca: KeyPair;
  issuer: KeyPair;
  statuses: StatusEvent[];
  /** Everything the device wrote on USB, and everything the host wrote, as one buffer each. */
  traffic(): { fromDevice: Buffer; fromHost: Buffer };
  close(): void;
}

const open: DeviceRig[] = [];
export function closeAll(): void {
  for (const r of open.splice(0)) r.close();
}

export { personAt };
export type { PersonAtDevice };

export async function deviceRig(o: RigOptions = {}): Promise<DeviceRig> {
  const ca = o.ca ?? testCa('rig');
  const issuer = o.issuer ?? testIssuer('rig');
  const persona = personalise({ holder: o.holder ?? 'Erika Mustermann', pin: o.pin ?? '1234', puk: o.puk ?? '12345678', balance: o.balance ?? 5000, ca, issuer });
  const device = new EmulatedDevice({ firmware: firmwareText(), onConsole: () => {} });
  const fromHost: Buffer[] = [];
  const usb = device.usb;
  const host = new DeviceLink({
    write: (b) => {
      fromHost.push(Buffer.from(b));
      usb.write(b);
    },
    onData: (cb) => usb.onData(cb),
    close: () => usb.close(),
  });
  // a test that fails mid-flow leaves requests open; closing the link rejects them, and that
  // must not crash the run (the test that awaits one still sees the rejection)
  const request = host.request.bind(host);
  host.request = (...a: Parameters<DeviceLink['request']>) => {
    const p = request(...a);
    p.catch(() => {});
    return p;
  };
  const statuses: StatusEvent[] = [];
  host.on('status', (s: StatusEvent) => statuses.push(s));
  let card: EmulatedCard | null = null;
  if (o.card !== false) {
    card = new EmulatedCard(persona.nv);
    device.insertCard(card);
  }
  device.powerOn();
  const rig: DeviceRig = {
    device,
    host,
    card,
    persona,
    ca,
    issuer,
    statuses,
    traffic: () => ({ fromDevice: Buffer.concat(device.usbTraffic.map((b) => Buffer.from(b))), fromHost: Buffer.concat(fromHost) }),
    ...personAt(() => device),
    close() {
      host.close();
      device.powerOff();
    },
  };
  open.push(rig);
  if (o.connect !== false) await host.connect({ timeoutMs: 5000 });
  // the card has been read when its holder is on the idle screen
  if (card) await rig.waitFor(new RegExp(o.holder ?? 'Erika Mustermann'));
  return rig;
}
