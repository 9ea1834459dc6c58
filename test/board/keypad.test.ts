// The reference board's pin map (board/pinmap.json) and the emulated 4x4 keypad
// (board/emulator/keypad.ts): scanning drivers written as the firmware writes them run in
// a vm context against the pin model and must see every key, combinations, releases, the
// ghost a diode-less matrix shows, and bouncing contacts settled by setWatch's debounce.

import vm from 'node:vm';
import { KEY_NAMES, Keypad, PINMAP, keypadWiring, pinRoles } from '../../board/emulator/keypad';
import { ManualClock, PICO_PINS, PinBank, pinGlobals } from '../../board/emulator/pins';

describe('board/pinmap.json', () => {
  const roles = pinRoles();

  test('has a version, the board, and comments', () => {
    expect(PINMAP.version).toBe(1);
    expect(PINMAP.board).toBe('PICO_R1_3');
    expect(PINMAP.jsVars).toBe(5100);
    expect(typeof PINMAP['//']).toBe('string');
  });

  test('every pin exists on the Pico and none is used twice', () => {
    for (const { pin, role } of roles) expect([role, PICO_PINS.includes(pin)]).toEqual([role, true]);
    const seen = new Map<string, string>();
    for (const { pin, role } of roles) {
      expect([pin, seen.get(pin)]).toEqual([pin, undefined]);
      seen.set(pin, role);
    }
    for (const pin of PINMAP.spare) {
      expect(PICO_PINS).toContain(pin);
      expect(seen.has(pin)).toBe(false);
    }
  });

  test('nothing is wired to the USB, SWD or crystal pins', () => {
    const used = new Set(roles.map((r) => r.pin));
    for (const pin of ['A9', 'A11', 'A12', 'A13', 'A14', 'A15', 'B0', 'C14', 'C15', 'H0', 'H1']) {
      expect(Object.keys(PINMAP.reserved)).toContain(pin);
      expect([pin, used.has(pin)]).toEqual([pin, false]);
    }
  });

  test('16 distinct keys: digits 0-9, OK, CANCEL, CLEAR, MENU, UP, DOWN, on 4 rows x 4 columns', () => {
    expect(PINMAP.keypad.rows).toHaveLength(4);
    expect(PINMAP.keypad.cols).toHaveLength(4);
    for (const row of PINMAP.keypad.layout) expect(row).toHaveLength(4);
    expect(new Set(KEY_NAMES).size).toBe(16);
    expect([...KEY_NAMES].sort()).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'CANCEL', 'CLEAR', 'DOWN', 'MENU', 'OK', 'UP'].sort());
  });

  test('watched pins (keypad columns, card detect) have distinct pin numbers, as the STM32 requires', () => {
    const bank = new PinBank();
    const watched = [...PINMAP.keypad.cols, PINMAP.card.detect.pin];
    const numbers = watched.map((p) => bank.number(p));
    expect(new Set(numbers).size).toBe(watched.length);
    expect(numbers).not.toContain(bank.number(PINMAP.button.pin)); // BTN1 may be watched too
    expect(numbers).not.toContain(9); // A9 (USB sense) is watched in deep sleep
  });

  test('the peripherals sit on pins that have them (STM32F401 alternate functions)', () => {
    // from Espruino's boards/pins/stm32f401_af.csv
    expect([PINMAP.display.bus, PINMAP.display.scl, PINMAP.display.sda]).toEqual(['I2C1', 'B6', 'B7']);
    expect(PINMAP.display.address).toBe(0x3c);
    expect([PINMAP.card.uart.serial, PINMAP.card.uart.tx, PINMAP.card.uart.rx]).toEqual(['Serial2', 'A2', 'A3']);
    expect([PINMAP.card.clk.pin, PINMAP.card.clk.timer]).toEqual(['B4', 'TIM3_CH1']);
  });

  test('the card clock and bit rate agree: 1 etu = 372 clocks', () => {
    const { clk, uart } = PINMAP.card;
    // Espruino's analogWrite: ARR = floor(timerHz / freq), period ARR+1 ticks, 84 MHz timer clock on APB1
    expect(84e6 / (Math.floor(84e6 / clk.requestHz) + 1)).toBe(clk.hz);
    expect(uart.baud).toBe(Math.round(clk.hz / uart.etu));
    expect(uart.nominalBaud).toBe(clk.nominalHz / uart.etu);
    expect([uart.bytesize, uart.parity, uart.stopbits]).toEqual([8, 'e', 2]);
  });
});

/** A scanning keypad driver in plain ES5, as the firmware has one; reads its pins from the injected pin map. */
const DRIVER = `
var KP = PINMAP.keypad;
var ROWS = KP.rows.map(function (n) { return Pin(n); });
var COLS = KP.cols.map(function (n) { return Pin(n); });
ROWS.forEach(function (p) { pinMode(p, KP.rowMode); });
COLS.forEach(function (p) { pinMode(p, KP.colMode); });
function idle() { digitalWrite(ROWS, 0); }
function scan() {
  var found = [];
  for (var r = 0; r < ROWS.length; r++) {
    for (var i = 0; i < ROWS.length; i++) digitalWrite(ROWS[i], i === r ? 0 : 1);
    var bits = digitalRead(COLS);
    for (var c = 0; c < COLS.length; c++) if (!(bits & (1 << (COLS.length - 1 - c)))) found.push(KP.layout[r][c]);
  }
  idle();
  return found;
}
idle();
`;

interface Board {
  bank: PinBank;
  clock: ManualClock;
  keypad: Keypad;
  ctx: vm.Context;
  run: (code: string) => unknown;
}

function board(extra = ''): Board {
  const clock = new ManualClock();
  const bank = new PinBank(PICO_PINS, () => clock.now());
  const keypad = new Keypad(bank, keypadWiring(), clock);
  const ctx = vm.createContext({ ...pinGlobals(bank, clock), PINMAP: JSON.parse(JSON.stringify(PINMAP)) });
  vm.runInContext(DRIVER + extra, ctx);
  return { bank, clock, keypad, ctx, run: (code) => vm.runInContext(code, ctx) };
}

const scan = (b: Board): string[] => JSON.parse(b.run('JSON.stringify(scan())') as string) as string[];

describe('Keypad', () => {
  test('a scanning driver sees every key by name, alone, and nothing once released', () => {
    const b = board();
    expect(scan(b)).toEqual([]);
    for (const key of KEY_NAMES) {
      b.keypad.press(key);
      expect(b.keypad.down()).toEqual([key]);
      expect(scan(b)).toEqual([key]);
      b.keypad.release(key);
      expect(scan(b)).toEqual([]);
    }
    expect(b.bank.contentions).toEqual([]);
  });

  test('two keys at once: same row, same column, neither', () => {
    const b = board();
    for (const pair of [['1', '3'], ['2', '0'], ['5', 'OK'], ['CANCEL', 'UP']]) {
      pair.forEach((k) => b.keypad.press(k));
      expect(scan(b).sort()).toEqual([...pair].sort());
      b.keypad.releaseAll();
    }
    expect(b.bank.contentions).toEqual([]); // open-drain rows: no short with two keys in a column
  });

  test('three keys on the corners of a rectangle show the fourth: the ghost of a matrix without diodes', () => {
    const b = board();
    ['1', '2', '4'].forEach((k) => b.keypad.press(k));
    expect(scan(b).sort()).toEqual(['1', '2', '4', '5']);
    expect(b.keypad.down()).toEqual(['1', '2', '4']);
  });

  test('with push-pull rows two keys in one column short a high row to a low one', () => {
    const b = board();
    b.run("ROWS.forEach(function (p) { pinMode(p, 'output'); });");
    b.keypad.press('2');
    b.keypad.press('5');
    scan(b);
    expect(b.bank.contentions.length).toBeGreaterThan(0);
  });

  test('press / release are idempotent; unknown keys are refused', () => {
    const b = board();
    b.keypad.press('OK');
    b.keypad.press('OK');
    expect(b.keypad.down()).toEqual(['OK']);
    b.keypad.release('OK');
    b.keypad.release('OK');
    expect(b.keypad.down()).toEqual([]);
    expect(() => b.keypad.press('ENTER')).toThrow(/No key "ENTER"/);
    expect(b.keypad.pinsOf('OK')).toEqual({ row: PINMAP.keypad.rows[3], col: PINMAP.keypad.cols[3] });
  });

  // the interrupt-driven driver: rows low, a debounced watch on every column, scan on a change
  const WATCHER = `
var events = [];
var held = [];
COLS.forEach(function (p) {
  setWatch(function () {
    var now = scan();
    now.forEach(function (k) { if (held.indexOf(k) < 0) events.push('+' + k); });
    held.forEach(function (k) { if (now.indexOf(k) < 0) events.push('-' + k); });
    held = now;
  }, p, { repeat: true, edge: 'both', debounce: KP.debounceMs });
});
`;
  const events = (b: Board): string[] => JSON.parse(b.run('JSON.stringify(events)') as string) as string[];

  test('a watch-driven driver gets one event per press and release, even from bouncing contacts', async () => {
    const b = board(WATCHER);
    b.keypad.press('7', { bounces: 3, bounceMs: 6 });
    b.clock.advance(100);
    expect(events(b)).toEqual(['+7']);
    b.keypad.release('7', { bounces: 2, bounceMs: 4 });
    b.clock.advance(100);
    expect(events(b)).toEqual(['+7', '-7']);
    const tapped = b.keypad.tap('MENU', 80);
    b.clock.advance(200);
    await tapped;
    expect(events(b)).toEqual(['+7', '-7', '+MENU', '-MENU']);
  });

  test('without debounce a column watch sees every bounce of the contacts', () => {
    const b = board(`var falls = 0;
setWatch(function () { falls++; }, COLS[0], { repeat: true, edge: 'falling' });`);
    b.keypad.press('7', { bounces: 3, bounceMs: 6 });
    b.clock.advance(100);
    expect(b.run('falls')).toBe(4);
    expect(b.keypad.down()).toEqual(['7']);
  });

  // (a scanning driver must debounce its column watches: without, every scan's own edges
  // would call it again, on Espruino as here)
  test('the scan itself does not trigger the column watches into a loop', () => {
    const b = board(WATCHER);
    b.keypad.press('9');
    b.clock.advance(1000);
    b.keypad.release('9');
    b.clock.advance(1000);
    expect(events(b)).toEqual(['+9', '-9']);
    expect(b.clock.pending).toBe(0);
  });
});
