// The part of the Espruino 2v29 API the firmware uses (https://www.espruino.com/Reference).
// Declared by hand: these are the only platform globals device/ code may touch.

interface EspruinoSerial {
  on(event: 'data', cb: (data: string) => void): void;
  write(data: string | Uint8Array | number[]): void;
  setConsole(force?: boolean): void;
}

declare const USB: EspruinoSerial;

interface EspruinoI2C {
  setup(options: { scl: string; sda: string; bitrate?: number }): void;
  writeTo(address: number, ...data: (number | string | Uint8Array | number[] | ArrayBuffer)[]): void;
}
declare const I2C1: EspruinoI2C;

/** The Graphics subset the firmware uses: 1-bpp ArrayBuffer graphics and custom fonts. */
interface EspruinoGraphics {
  buffer: ArrayBuffer;
  getWidth(): number;
  getHeight(): number;
  clear(reset?: boolean): EspruinoGraphics;
  setColor(c: number): EspruinoGraphics;
  setBgColor(c: number): EspruinoGraphics;
  setPixel(x: number, y: number, c?: number): EspruinoGraphics;
  fillRect(x1: number, y1: number, x2: number, y2: number): EspruinoGraphics;
  clearRect(x1: number, y1: number, x2: number, y2: number): EspruinoGraphics;
  drawRect(x1: number, y1: number, x2: number, y2: number): EspruinoGraphics;
  drawLine(x1: number, y1: number, x2: number, y2: number): EspruinoGraphics;
  setFontCustom(bitmap: string, firstChar: number, widths: string | number, height: number): EspruinoGraphics;
  setFontAlign(x: number, y?: number, rotation?: number): EspruinoGraphics;
  drawString(s: string, x: number, y: number, solid?: boolean): EspruinoGraphics;
  stringWidth(s: string): number;
  getFontHeight(): number;
}
declare const Graphics: {
  createArrayBuffer(width: number, height: number, bpp: number, options?: { vertical_byte?: boolean; msb?: boolean }): EspruinoGraphics;
};

type PinMode = 'input' | 'input_pullup' | 'input_pulldown' | 'output' | 'opendrain' | 'opendrain_pullup';
declare function pinMode(pin: string, mode: PinMode, automatic?: boolean): void;
declare function digitalRead(pin: string): number;
declare function digitalWrite(pin: string, value: number | boolean): void;
interface WatchEvent {
  state: boolean;
  time: number;
  lastTime: number;
}
declare function setWatch(fn: (e: WatchEvent) => void, pin: string, options: { repeat?: boolean; edge?: 'rising' | 'falling' | 'both'; debounce?: number }): number;
declare function clearWatch(id?: number): void;
declare const LoopbackA: EspruinoSerial;

/** A UART (Serial1…): EspruinoSerial plus setup (the card reader's Serial2). */
interface EspruinoUart extends EspruinoSerial {
  setup(baud: number, options?: { rx?: string; tx?: string; bytesize?: number; parity?: 'o' | 'e' | 'none' | null; stopbits?: number; flow?: null | 'none' }): void;
}
declare const Serial2: EspruinoUart;
/** PWM (the card clock); the board emulator has none, so callers check `typeof analogWrite`. */
declare function analogWrite(pin: string, value: number, options?: { freq?: number; soft?: boolean; forceSoft?: boolean }): void;

declare const E: {
  CRC32(data: string | Uint8Array | number[]): number;
  toString(data: Uint8Array | number[]): string;
  toUint8Array(data: string | number[]): Uint8Array;
  hwRand(): number;
  on(event: 'init' | 'errorFlag', cb: () => void): void;
  setConsole(device: string | null, options?: { force?: boolean }): void;
};

declare function getTime(): number;
declare function getSerial(): string;
declare function setTimeout(fn: () => void, ms: number): number;
declare function clearTimeout(id: number): void;
declare function print(...args: unknown[]): void;
declare function setInterval(fn: () => void, ms: number): number;
declare function clearInterval(id: number): void;
declare function require(name: 'crypto'): { SHA256(data: string | Uint8Array | ArrayBuffer): ArrayBuffer };
declare function require(name: 'Storage'): {
  read(name: string): string | undefined;
  write(name: string, data: string): boolean;
  list(pattern?: RegExp): string[];
  erase(name: string): void;
  readJSON(name: string, noExceptions?: boolean): unknown;
  writeJSON(name: string, data: unknown): boolean;
};

declare const process: {
  env: { VERSION: string; BOARD: string };
  memory(): { free: number; usage: number; total: number };
  on(event: 'uncaughtException', fn: (e: unknown) => void): void;
};

/**
 * Replaced at build time with the fields of board/pinmap.json the firmware reads (exactly
 * these: tools/build.mjs firmwarePins). Not words of the platform: their names are renamed
 * short in the bundle like the firmware's own properties.
 */
declare const __PINMAP__: {
  display: { scl: string; sda: string; address: number; bitrate: number };
  keypad: { rows: string[]; cols: string[]; layout: string[][]; debounceMs: number };
  card: {
    uart: { tx: string; rx: string; baud: number; bytesize: number; parity: string; stopbits: number };
    rst: { pin: string; activeLow: boolean };
    vcc: { pin: string; activeLow: boolean };
    clk: { pin: string; requestHz: number; hz: number };
    detect: { pin: string; mode: string; inserted: number; debounceMs: number };
  };
};

/** Replaced at build time: [code, name in font bytes] of every device/lang/*.json, English first. */
declare const __LANGUAGE_LIST__: [string, string][];
/** Replaced at build time: the pair table of the language packs' coded texts (ui/lang.ts). */
declare const __LANG_PAIRS__: string;
/** Replaced at build time: a hash of the font and the language packs (names the Storage files). */
declare const __RESOURCES_VERSION__: string;

/** Replaced at build time with the package version. */
declare const __FIRMWARE_VERSION__: string;
