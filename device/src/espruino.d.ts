// The part of the Espruino 2v29 API the firmware uses (https://www.espruino.com/Reference).
// Declared by hand: these are the only platform globals device/ code may touch.

interface EspruinoSerial {
  on(event: 'data', cb: (data: string) => void): void;
  write(data: string | Uint8Array | number[]): void;
  setConsole(force?: boolean): void;
}

declare const USB: EspruinoSerial;
declare const LoopbackA: EspruinoSerial;

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

declare const process: {
  env: { VERSION: string; BOARD: string };
  memory(): { free: number; usage: number; total: number };
};

/** Replaced at build time with board/pinmap.json (without its comments): the one pin map. */
declare const __PINMAP__: {
  version: number;
  display: { bus: string; scl: string; sda: string; address: number; bitrate: number };
  keypad: { rows: string[]; cols: string[]; layout: string[][]; debounceMs: number };
  [part: string]: unknown;
};

/** Replaced at build time with the package version. */
declare const __FIRMWARE_VERSION__: string;
