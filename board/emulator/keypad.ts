// The reference board's 4x4 key matrix, wired to a PinBank as board/pinmap.json says.
//
// A key is a switch between its row pin and its column pin: press() closes it, release()
// opens it, and the pin model does the rest. The firmware's own keypad driver therefore
// runs unchanged: it drives rows and reads columns (or watches the columns with the rows
// low) and sees what the real matrix shows — including what a matrix without diodes shows
// with three keys down on the corners of a rectangle: the fourth corner reads as pressed
// too (ghosting), because the three closed switches join its row to its column. Two keys
// are always told apart; with push-pull rows two keys in one column short a high row to a
// low one (PinBank.contentions records it), which is why the board drives rows open-drain.

import pinmapJson from '../pinmap.json';
import type { PinBank, PinClock } from './pins';

/** board/pinmap.json, typed. */
export const PINMAP = pinmapJson;
export type Pinmap = typeof pinmapJson;

export interface KeypadWiring {
  /** Row pins, top to bottom. */
  rows: readonly string[];
  /** Column pins, left to right. */
  cols: readonly string[];
  /** layout[row][col] = key name. */
  layout: readonly (readonly string[])[];
}

/** The names of the 16 keys, in layout order. */
export const KEY_NAMES: readonly string[] = pinmapJson.keypad.layout.flat();

/** The keypad section of a pin map. */
export function keypadWiring(map: { keypad: KeypadWiring } = pinmapJson): KeypadWiring {
  return { rows: map.keypad.rows, cols: map.keypad.cols, layout: map.keypad.layout };
}

/** Every pin the pin map assigns, with what it is for (used to check that none is used twice). */
export function pinRoles(map: Pinmap = pinmapJson): { pin: string; role: string }[] {
  const roles: { pin: string; role: string }[] = [
    { pin: map.display.scl, role: 'display SCL' },
    { pin: map.display.sda, role: 'display SDA' },
    ...map.keypad.rows.map((pin, i) => ({ pin, role: `keypad row ${i + 1}` })),
    ...map.keypad.cols.map((pin, i) => ({ pin, role: `keypad column ${i + 1}` })),
    { pin: map.card.uart.tx, role: 'card I/O (TX)' },
    { pin: map.card.uart.rx, role: 'card I/O (RX)' },
    { pin: map.card.rst.pin, role: 'card RST' },
    { pin: map.card.vcc.pin, role: 'card VCC enable' },
    { pin: map.card.clk.pin, role: 'card CLK' },
    { pin: map.card.detect.pin, role: 'card detect' },
    { pin: map.leds.red, role: 'red LED' },
    { pin: map.leds.green, role: 'green LED' },
    { pin: map.button.pin, role: 'button' },
  ];
  return roles;
}

export interface PressOptions {
  /** Contact bounce: the switch opens and closes this many extra times before it settles (needs a clock). */
  bounces?: number;
  /** Over how long the bounces happen, in ms (default 5). */
  bounceMs?: number;
}

/** The key matrix. Keys are named as in the pin map's layout: '0'-'9', OK, CANCEL, CLEAR, MENU, UP, DOWN. */
export class Keypad {
  private readonly closed = new Map<string, number>();
  private readonly where = new Map<string, { row: string; col: string }>();
  private readonly order: string[] = [];

  constructor(
    private readonly bank: PinBank,
    wiring: KeypadWiring = keypadWiring(),
    private readonly clock?: PinClock,
  ) {
    wiring.layout.forEach((cols, r) =>
      cols.forEach((key, c) => {
        if (this.where.has(key)) throw new Error(`key ${key} appears twice in the layout`);
        const row = wiring.rows[r];
        const col = wiring.cols[c];
        if (!bank.has(row) || !bank.has(col)) throw new Error(`key ${key}: pin ${bank.has(row) ? col : row} is not on the board`);
        this.where.set(key, { row, col });
        this.order.push(key);
      }),
    );
  }

  /** All key names, row by row. */
  keys(): string[] {
    return this.order.slice();
  }

  /** The row and column pins of a key. */
  pinsOf(name: string): { row: string; col: string } {
    const w = this.where.get(name);
    if (!w) throw new Error(`No key ${JSON.stringify(name)} (keys: ${this.order.join(' ')})`);
    return { ...w };
  }

  /** Closes the key's switch (row joined to column). Pressing a key that is down does nothing. */
  press(name: string, opts: PressOptions = {}): void {
    this.pinsOf(name);
    if (this.closed.has(name)) return;
    this.contact(name, true);
    this.bounce(name, opts, true);
  }

  /** Opens the key's switch. Releasing a key that is up does nothing. */
  release(name: string, opts: PressOptions = {}): void {
    this.pinsOf(name);
    if (!this.closed.has(name)) return;
    this.contact(name, false);
    this.bounce(name, opts, false);
  }

  /** Presses, holds for `holdMs` on the clock, releases; resolves once released. */
  tap(name: string, holdMs = 80, opts: PressOptions = {}): Promise<void> {
    const clock = this.needClock('tap');
    this.press(name, opts);
    return new Promise((resolve) => {
      clock.setTimeout(() => {
        this.release(name, opts);
        resolve();
      }, holdMs);
    });
  }

  /** Keys whose switch is closed now, in layout order. */
  down(): string[] {
    return this.order.filter((k) => this.closed.has(k));
  }

  /** Releases every key. */
  releaseAll(): void {
    for (const k of this.down()) this.release(k);
  }

  private needClock(what: string): PinClock {
    if (!this.clock) throw new Error(`Keypad.${what} needs the clock passed to the constructor`);
    return this.clock;
  }

  private contact(name: string, on: boolean): void {
    const id = this.closed.get(name);
    if (on && id === undefined) {
      const { row, col } = this.pinsOf(name);
      this.closed.set(name, this.bank.connect(row, col));
    } else if (!on && id !== undefined) {
      this.closed.delete(name);
      this.bank.disconnect(id);
    }
  }

  // bouncing contacts: after the first make (or break) the switch toggles 2*bounces more
  // times within bounceMs, ending in its new state
  private bounce(name: string, opts: PressOptions, pressed: boolean): void {
    const n = opts.bounces ?? 0;
    if (n <= 0) return;
    const clock = this.needClock('press/release with bounces');
    const span = opts.bounceMs ?? 5;
    const steps = 2 * n;
    for (let i = 1; i <= steps; i++) {
      const on = i % 2 === 1 ? !pressed : pressed;
      clock.setTimeout(() => this.contact(name, on), (span * i) / steps);
    }
  }
}
