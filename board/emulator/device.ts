// An emulated device: the firmware bundle running in the Espruino sandbox, with its
// USB port exposed as a Line the host can talk to.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Line } from '../../shared/src/line';
import { Sandbox, SandboxOptions } from './sandbox';

/** Where `npm run build` writes the firmware (relative to the repository root). */
export const FIRMWARE_PATH = join('dist', 'device', 'firmware.js');

export interface EmulatedDeviceOptions extends SandboxOptions {
  /** Firmware source text; default: read from FIRMWARE_PATH under `root`. */
  firmware?: string;
  root?: string;
}

export class EmulatedDevice {
  readonly sandbox: Sandbox;
  private readonly firmware: string;
  private hostRx: (b: Uint8Array) => void = () => {};
  /** Everything written to the host link, for tests that inspect the raw traffic. */
  readonly usbTraffic: Uint8Array[] = [];

  constructor(opts: EmulatedDeviceOptions = {}) {
    this.firmware = opts.firmware ?? loadFirmware(opts.root ?? process.cwd());
    this.sandbox = new Sandbox(opts);
    this.sandbox.onSerialWrite = (dev, bytes) => {
      if (dev !== this.sandbox.USB) return;
      this.usbTraffic.push(bytes);
      const rx = this.hostRx;
      setImmediate(() => rx(bytes));
    };
  }

  /** Powers the device on: the bundle is evaluated as at boot. */
  powerOn(): this {
    this.sandbox.run(this.firmware);
    return this;
  }

  powerOff(): void {
    this.sandbox.stop();
  }

  /** The USB port as seen from the host. */
  get usb(): Line {
    return {
      write: (bytes) => setImmediate(() => this.sandbox.USB.inject(bytes)),
      onData: (cb) => {
        this.hostRx = cb;
      },
      close: () => {
        this.hostRx = () => {};
      },
    };
  }
}

export function loadFirmware(root: string): string {
  const p = join(root, FIRMWARE_PATH);
  try {
    return readFileSync(p, 'utf8');
  } catch {
    throw new Error(`firmware bundle not found at ${p}: run \`npm run build\` first`);
  }
}
