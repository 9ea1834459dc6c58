// The person at an emulated device, for tests and benches: keys pressed the way the firmware's
// keypad matrix scan reads them, the screen read as text. A key is held until the scan has read
// it — its column driven high, then low again while the key is down — not for a fixed time: a
// loaded machine runs the firmware's debounce timer late, and a fixed hold then loses keys.

import { EmulatedDevice } from './device';
import { keypadWiring } from './keypad';

export interface PersonAtDevice {
  press(key: string): Promise<void>;
  /** Presses the keys in turn (names: OK, CANCEL, DOWN, digits…). */
  keys(...names: string[]): Promise<void>;
  /** Presses the digits of a string. */
  type(digits: string): Promise<void>;
  screen(): string;
  /** Waits until the screen text matches (default 8 s); throws with what it shows. */
  waitFor(re: RegExp, limitMs?: number): Promise<string>;
  /** Presses DOWN until the screen shows `re` (or gives up after `max`). */
  scrollTo(re: RegExp, max?: number): Promise<void>;
  /**
   * What a person approving a statement does: reads every page to the end (each screen is
   * returned, in order), presses OK, types the PIN at the prompt, presses OK.
   */
  approve(pin: string): Promise<string[]>;
}

const HOLD_MS = 30;
const GAP_MS = 30;
/** A key the firmware does not scan (a chord, no watch) is let go after this long. */
const SCAN_LIMIT_MS = 2000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The column pin of a key (board/pinmap.json). */
function columnOf(key: string): string {
  const w = keypadWiring();
  for (let r = 0; r < w.layout.length; r++) {
    const c = w.layout[r].indexOf(key);
    if (c >= 0) return w.cols[c];
  }
  throw new Error(`no key ${key} on the keypad`);
}

/**
 * `current` is asked at each step, so a power-cycled device (a new EmulatedDevice) is followed.
 * `pollMs`: how often waitFor reads the panel as text (reading it costs CPU the firmware shares);
 * `waitMs`: waitFor's default limit.
 */
export function personAt(current: () => EmulatedDevice, o: { pollMs?: number; waitMs?: number } = {}): PersonAtDevice {
  const pollMs = o.pollMs ?? 2;
  const person: PersonAtDevice = {
    async press(key: string) {
      const device = current();
      const col = columnOf(key);
      let high = false;
      let scanned = false;
      const off = device.pins.onChange((pin, level) => {
        if (pin !== col) return;
        if (level) high = true;
        else if (high) scanned = true;
      });
      device.keypad.press(key);
      await sleep(HOLD_MS);
      for (const t0 = Date.now(); !scanned && Date.now() - t0 < SCAN_LIMIT_MS; ) await sleep(2);
      off();
      device.keypad.release(key);
      await sleep(GAP_MS);
    },
    async keys(...names: string[]) {
      for (const n of names) await person.press(n);
    },
    async type(digits: string) {
      for (const d of digits) await person.press(d);
    },
    screen: () => current().screenText(),
    async waitFor(re: RegExp, limitMs = o.waitMs ?? 8000) {
      for (const t0 = Date.now(); !re.test(current().screenText()); await sleep(pollMs)) {
        if (Date.now() - t0 > limitMs) throw new Error(`gave up waiting for ${re} on screen; it shows:\n${current().screenText()}`);
      }
      return current().screenText();
    },
    async approve(pin: string) {
      const seen = [current().screenText()];
      for (let i = 0; i < 40 && !/-- end --/.test(current().screenText()); i++) {
        await person.press('DOWN');
        seen.push(current().screenText());
      }
      await person.press('OK');
      await person.waitFor(/Enter your PIN/);
      await person.type(pin);
      await person.press('OK');
      return seen;
    },
    async scrollTo(re: RegExp, max = 40) {
      for (let i = 0; i < max && !re.test(current().screenText()); i++) await person.press('DOWN');
      if (!re.test(current().screenText())) throw new Error(`${re} never came on screen:\n${current().screenText()}`);
    },
  };
  return person;
}
