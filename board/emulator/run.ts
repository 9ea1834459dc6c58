// The emulated board as one running thing: the firmware in an EmulatedDevice, its USB link
// served (TCP, pty), the web page with display, keypad and card slot, and the power button
// that boots a fresh device on the same flash. `npm run emulator` (cli.ts) and the shop demo
// (demo/shop-demo.ts) both start it here, so the two behave alike.

import { EmulatedDevice } from './device';
import { EmulatorServer } from './serve';
import { VirtualFlash } from './storage';
import { WebFrontEnd } from './web';
import { EmulatedCard } from '../card/card';

export interface EmulatorOptions {
  /** The firmware bundle's text (default: dist/device/firmware.js, as EmulatedDevice finds it). */
  firmware?: string;
  /** The device's Storage, kept in this file across runs when given (default: fresh). */
  flashFile?: string;
  /** USB link on tcp://127.0.0.1:PORT (0: any free port; null: none). */
  tcpPort: number | null;
  /** Also a serial device at this path, made with socat. */
  ptyPath?: string | null;
  /** Pace the line to this many bit/s (0: unpaced). */
  baud?: number;
  /** The web page's port (0: any free port; null: no page). */
  webPort: number | null;
  /** The card the slot's Insert button uses; inserted at power-on when `cardInserted`. */
  makeCard: () => EmulatedCard;
  cardInserted?: boolean;
  /** Progress lines (default: nothing). */
  log?: (line: string) => void;
}

export interface RunningEmulator {
  readonly server: EmulatorServer;
  readonly web: WebFrontEnd | null;
  /** The device now powered (the power button replaces it). */
  device(): EmulatedDevice;
  /** tcp://127.0.0.1:PORT of the USB link, when served over TCP. */
  readonly linkUrl: string | null;
  stop(): Promise<void>;
}

/** Boots the firmware and serves its link and web page; resolves once everything listens. */
export async function startEmulator(o: EmulatorOptions): Promise<RunningEmulator> {
  const log = o.log ?? (() => {});
  const flash = o.flashFile ? VirtualFlash.load(o.flashFile) : new VirtualFlash();
  const makeDevice = (): EmulatedDevice =>
    new EmulatedDevice({
      firmware: o.firmware,
      flash,
      flashFile: o.flashFile,
      onConsole: () => {},
      onUncaught: (e) => log(`firmware: uncaught ${String(e)}`),
    });
  let device = makeDevice();
  const server = new EmulatorServer(device, { tcpPort: o.tcpPort, ptyPath: o.ptyPath ?? null, baud: o.baud ?? 0, log: (s) => log(`emulator: ${s}`) });
  await server.start();
  if (o.cardInserted) device.insertCard(o.makeCard());
  device.powerOn();
  let web: WebFrontEnd | null = null;
  if (o.webPort !== null) {
    web = new WebFrontEnd(device, {
      port: o.webPort,
      makeCard: o.makeCard,
      log: (s) => log(`web: ${s}`),
      onPower: (on) => {
        if (!on) return device.powerOff();
        const card = device.card;
        device = makeDevice();
        if (card) device.insertCard(card);
        server.setDevice(device);
        device.powerOn();
        web?.setDevice(device);
      },
    });
    try {
      await web.start();
    } catch (e) {
      await server.stop();
      device.powerOff();
      throw e;
    }
  }
  return {
    server,
    web,
    device: () => device,
    linkUrl: o.tcpPort === null ? null : `tcp://127.0.0.1:${server.port}`,
    async stop() {
      if (web) await web.stop();
      await server.stop();
      device.powerOff();
    },
  };
}
