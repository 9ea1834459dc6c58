// An emulated device: the firmware bundle running in the Espruino sandbox, wired to the
// board's peripherals — USB (a Line the host talks to), Storage on a virtual flash
// (optionally kept in a file), and the SSD1306 display on I2C — as the reference board has
// them.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import vm from 'node:vm';
import { Line } from '../../shared/src/line';
import { Sandbox, SandboxOptions } from './sandbox';
import { EspruinoStorage, storageModule, VirtualFlash } from './storage';
import { I2CBus, i2cGlobals } from './i2c';
import { Ssd1306 } from './ssd1306';
import { encodePng, OLED_PALETTE } from './png';
import { toBraille } from './screen-text';
import { PICO_PINS, PinBank, pinGlobals } from './pins';
import { Keypad, keypadWiring, PINMAP } from './keypad';
import { EmulatedCard } from '../card/card';
import { CustomFont, graphicsGlobal } from './graphics';
import { readLines, readText, ScreenLine } from './text-reader';

/** Where `npm run build` writes the firmware (relative to the repository root). */
export const FIRMWARE_PATH = join('dist', 'device', 'firmware.js');

/** The display's I2C address on the reference board (board/pinmap.json). */
export const DISPLAY_ADDRESS = 0x3c;

export interface EmulatedDeviceOptions extends SandboxOptions {
  /** Firmware source text; default: read from FIRMWARE_PATH under `root`. */
  firmware?: string;
  root?: string;
  /** Keep the Storage flash in this file (loaded at start, saved after every change). */
  flashFile?: string;
  /** Start from this flash instead (tests: shared between "reboots"). */
  flash?: VirtualFlash;
}

/** Storage calls that change the flash, after which a flash file is saved. */
const STORAGE_WRITES = ['write', 'writeJSON', 'erase', 'eraseAll', 'compact'];

export class EmulatedDevice {
  readonly sandbox: Sandbox;
  readonly flash: VirtualFlash;
  readonly storage: EspruinoStorage;
  readonly i2c: I2CBus;
  readonly display: Ssd1306;
  /** The Pico's pins, electrically: what the firmware drives and what is wired to them. */
  pins!: PinBank;
  /** The 4×4 key matrix on the pins of board/pinmap.json: press keys by name. */
  keypad!: Keypad;
  private readonly firmware: string;
  private hostRx: (b: Uint8Array) => void = () => {};
  /** The card in the slot, if any. */
  card: EmulatedCard | null = null;
  private cardPowered = false;
  private rstLevel = 0;
  /** The fonts the firmware has installed (setFontCustom), each once: the screen is read with them. */
  readonly fonts: CustomFont[] = [];
  /** Everything written to the host link, for tests that inspect the raw traffic. */
  readonly usbTraffic: Uint8Array[] = [];

  constructor(private readonly opts: EmulatedDeviceOptions = {}) {
    this.firmware = opts.firmware ?? loadFirmware(opts.root ?? process.cwd());
    this.flash = opts.flash ?? (opts.flashFile ? VirtualFlash.load(opts.flashFile) : new VirtualFlash());
    this.i2c = new I2CBus();
    this.display = new Ssd1306(DISPLAY_ADDRESS);
    this.display.attachTo(this.i2c);
    let storage: EspruinoStorage | null = null;
    // require() looks modules up when called, so Storage can join once the sandbox exists
    const modules: Record<string, unknown> = { ...opts.modules };
    this.sandbox = new Sandbox({
      ...opts,
      globals: (sb) => {
        const realmError = vm.runInContext('(function (name, m) { var C = this[name] || Error; var e = new C(m); return e; })', sb.context) as (
          name: string,
          m: string,
        ) => Error;
        storage = new EspruinoStorage(this.flash, { makeError: (m) => realmError('Error', m) });
        const clock = sb.clock;
        this.pins = new PinBank(PICO_PINS, () => clock.now());
        this.keypad = new Keypad(this.pins, keypadWiring(), clock);
        return {
          ...i2cGlobals(this.i2c, (b) => sb.inContext(b), { makeError: (name, m) => realmError(name, m) }),
          ...graphicsGlobal(
            (n) => sb.inContext(new Uint8Array(n)),
            (f) => this.learnFont(f),
          ),
          ...pinGlobals(this.pins, clock, {
            run: (f) => sb.callback(f),
            makeError: (m, type) => realmError(type, m),
            warn: (m) => opts.onConsole?.(`WARNING: ${m}\r\n`),
          }),
          ...(opts.globals ? opts.globals(sb) : {}),
        };
      },
      modules,
    });
    this.storage = storage as unknown as EspruinoStorage;
    const mod = storageModule(this.storage, (b) => this.sandbox.inContext(b));
    if (opts.flashFile) {
      const file = opts.flashFile;
      for (const name of STORAGE_WRITES) {
        const f = mod[name] as (...a: unknown[]) => unknown;
        mod[name] = (...a: unknown[]) => {
          try {
            return f(...a);
          } finally {
            this.flash.save(file);
          }
        };
      }
    }
    modules.Storage = mod;
    this.wireCardSlot();
    this.sandbox.onSerialWrite = (dev, bytes) => {
      if (dev === this.sandbox.Serial2) return this.toCard(bytes);
      if (dev !== this.sandbox.USB) return;
      this.usbTraffic.push(bytes);
      const rx = this.hostRx;
      setImmediate(() => rx(bytes));
    };
  }

  // ---------------------------------------------------------------- card slot

  /**
   * The slot as wired on the reference board (board/pinmap.json, HARDWARE.md): the card's
   * I/O line on Serial2 with TX and RX tied through a diode (so the reader hears its own
   * bytes back), VCC switched by a low-active pin, RST on a pin (a rising edge with VCC on
   * resets the card, which answers with its ATR), and a detect switch pulling its pin low
   * while a card is in.
   */
  private wireCardSlot(): void {
    const c = PINMAP.card as { vcc: { pin: string; activeLow: boolean }; rst: { pin: string }; detect: { pin: string } };
    this.pins.pullExternal(c.detect.pin, 'up');
    this.pins.onChange((pin, level) => {
      if (pin === c.vcc.pin) {
        const on = c.vcc.activeLow ? level === 0 : level === 1;
        if (!on && this.cardPowered && this.card) this.card.powerOff();
        this.cardPowered = on;
      } else if (pin === c.rst.pin) {
        const rising = level === 1 && this.rstLevel === 0;
        this.rstLevel = level;
        if (rising && this.cardPowered && this.card) this.card.reset();
      }
    });
  }

  /** Puts a card in the slot (the detect switch closes). */
  insertCard(card: EmulatedCard): void {
    const c = PINMAP.card as { detect: { pin: string } };
    this.removeCard();
    this.card = card;
    card.onTransmit = (bytes) => this.fromCardLine(bytes);
    card.insert();
    this.pins.drive(c.detect.pin, 0);
  }

  /** Pulls the card out, whatever it is doing. */
  removeCard(): void {
    const c = PINMAP.card as { detect: { pin: string } };
    if (!this.card) return;
    this.card.remove();
    this.card.onTransmit = () => undefined;
    this.card = null;
    this.pins.drive(c.detect.pin, null);
  }

  private toCard(bytes: Uint8Array): void {
    // the I/O line is shared: what the reader sends comes back on its own RX
    this.fromCardLine(bytes);
    if (this.card && this.cardPowered) this.card.receive(bytes);
  }

  /** Bytes on the card line reach the firmware as UART data events do: later, in order. */
  private fromCardLine(bytes: Uint8Array): void {
    const copy = new Uint8Array(bytes);
    setImmediate(() => this.sandbox.Serial2.inject(copy));
  }

  /** Powers the device on: the bundle is evaluated as at boot. */
  powerOn(): this {
    this.sandbox.run(this.firmware);
    return this;
  }

  powerOff(): void {
    this.sandbox.stop();
    if (this.opts.flashFile) this.flash.save(this.opts.flashFile);
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

  /** The panel as a PNG (OLED colours), `scale` pixels per pixel. */
  screenshotPng(scale = 4): Buffer {
    return encodePng(this.display.image(), { scale, border: 2, palette: OLED_PALETTE });
  }

  /** The panel in Unicode braille, 64×16 characters, framed. */
  screenBraille(): string {
    return toBraille(this.display.image(), { frame: true });
  }

  /** The text on the panel as the user sees it, recognised with the firmware's fonts. */
  screenLines(): ScreenLine[] {
    return readLines(this.display.image(), this.fonts);
  }

  /** The text on the panel, a row per line of text, top to bottom. */
  screenText(): string {
    return readText(this.display.image(), this.fonts);
  }

  private learnFont(f: CustomFont): void {
    const known = this.fonts.find((k) => k.bitmap === f.bitmap && k.first === f.first && k.widths === f.widths && k.height === f.height);
    if (!known) this.fonts.push({ ...f, scale: 1 });
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
