// The pin model of the board emulator (board/emulator/pins.ts): electrical resolution
// (modes, pulls, open drain, wires, contention) and the Espruino 2v29 pin API on top of it
// (automatic modes, arrays of pins, setWatch edges / debounce / repeat / ids, Pin objects).

import vm from 'node:vm';
import { EspruinoPin, ManualClock, PICO_PINS, PinBank, pinApiOf, pinGlobals } from '../../board/emulator/pins';

interface Rig {
  bank: PinBank;
  clock: ManualClock;
  g: Record<string, unknown>;
  warnings: string[];
}

function rig(): Rig {
  const clock = new ManualClock(1000);
  const bank = new PinBank(PICO_PINS, () => clock.now());
  const warnings: string[] = [];
  const g = pinGlobals(bank, clock, { warn: (m) => warnings.push(m) });
  return { bank, clock, g, warnings };
}

/** The pin API, typed loosely as firmware sees it. */
type Fn = (...a: unknown[]) => unknown;
const fn = (r: Rig, name: string): Fn => r.g[name] as Fn;
const P = (r: Rig, name: string): EspruinoPin => r.g[name] as EspruinoPin;

describe('PinBank: electrical model', () => {
  test('the Pico pin list, Espruino pin-table order and numbers', () => {
    expect(PICO_PINS).toHaveLength(36);
    expect(PICO_PINS).not.toContain('B11');
    const bank = new PinBank();
    expect(bank.index('A0')).toBe(0);
    expect(bank.index('B3')).toBe(19);
    expect(bank.index('C13')).toBe(31);
    expect(bank.number('B10')).toBe(10);
  });

  test('reset state: analog everywhere except BTN1 (input_pulldown); analog pins read 0', () => {
    const bank = new PinBank();
    expect(bank.mode('B3')).toBe('analog');
    expect(bank.mode('C13')).toBe('input_pulldown');
    bank.drive('B3', 1);
    expect(bank.level('B3')).toBe(1);
    expect(bank.read('B3')).toBe(0);
    bank.setMode('B3', 'input');
    expect(bank.read('B3')).toBe(1);
  });

  test('pull-ups and pull-downs; a strong driver wins; a floating pin keeps its level', () => {
    const bank = new PinBank();
    bank.setMode('A0', 'input_pullup');
    expect(bank.read('A0')).toBe(1);
    bank.drive('A0', 0);
    expect(bank.read('A0')).toBe(0);
    bank.drive('A0', null);
    expect(bank.read('A0')).toBe(1);
    bank.setMode('A0', 'input_pulldown');
    expect(bank.read('A0')).toBe(0);
    bank.pullExternal('A0', 'up', 4700); // 4k7 beats the internal ~40k
    expect(bank.read('A0')).toBe(1);
    bank.pullExternal('A0', null);
    bank.setMode('A0', 'input');
    expect(bank.probe('A0')).toMatchObject({ floating: true, level: 0 });
    bank.drive('A0', 1);
    bank.drive('A0', null);
    expect(bank.probe('A0')).toMatchObject({ floating: true, level: 1 });
  });

  test('open drain: 0 pulls low, 1 lets go; wired-AND of two open-drain outputs with a pull-up', () => {
    const bank = new PinBank();
    bank.setMode('B6', 'opendrain');
    bank.setMode('B7', 'opendrain');
    bank.setOutput('B6', 1);
    bank.setOutput('B7', 1);
    bank.pullExternal('B6', 'up');
    bank.connect('B6', 'B7');
    expect([bank.read('B6'), bank.read('B7')]).toEqual([1, 1]);
    bank.setOutput('B7', 0);
    expect([bank.read('B6'), bank.read('B7')]).toEqual([0, 0]);
    bank.setOutput('B7', 1);
    bank.setOutput('B6', 0);
    expect(bank.read('B7')).toBe(0);
    expect(bank.contentions).toEqual([]);
    bank.setMode('B6', 'opendrain_pullup');
    bank.pullExternal('B6', null);
    bank.setOutput('B6', 1);
    expect(bank.read('B7')).toBe(1); // the internal pull-up of opendrain_pullup
  });

  test('two push-pull outputs at different levels on one net: a recorded contention', () => {
    const bank = new PinBank();
    bank.setMode('A1', 'output');
    bank.setMode('A4', 'output');
    bank.setOutput('A1', 1);
    bank.setOutput('A4', 1);
    const id = bank.connect('A1', 'A4');
    expect(bank.contentions).toEqual([]);
    bank.setOutput('A4', 0);
    expect(bank.contentions).toHaveLength(1);
    expect(bank.contentions[0].pins).toEqual(['A1', 'A4']);
    expect(bank.probe('A1').contention).toBe(true);
    bank.disconnect(id);
    expect(bank.read('A1')).toBe(1);
    expect(bank.connected('A1')).toEqual(['A1']);
  });

  test('wires join nets transitively', () => {
    const bank = new PinBank();
    bank.setMode('A0', 'output');
    bank.setMode('A10', 'input');
    bank.connect('A0', 'A1');
    bank.connect('A1', 'A10');
    bank.setOutput('A0', 1);
    expect(bank.read('A10')).toBe(1);
    expect(bank.connected('A10')).toEqual(['A0', 'A1', 'A10']);
  });

  test('a peripheral owns its pin in an AF mode and drives it', () => {
    const bank = new PinBank();
    bank.attachPeripheral('A2', 'Serial2 TX');
    expect(bank.mode('A2')).toBe('af_output');
    bank.setMode('A3', 'input');
    bank.connect('A2', 'A3');
    expect(bank.read('A3')).toBe(1);
    bank.setPeripheralLevel('A2', 0);
    expect(bank.read('A3')).toBe(0);
    expect(bank.peripheral('A2')).toBe('Serial2 TX');
  });

  test('unknown pins are refused', () => {
    const bank = new PinBank();
    expect(() => bank.mode('B11')).toThrow(/No pin B11/);
  });
});

describe('Espruino pin API: modes, reads and writes', () => {
  test('digitalRead / digitalWrite set the mode automatically until pinMode is called', () => {
    const r = rig();
    fn(r, 'digitalWrite')(P(r, 'A0'), 1);
    expect(fn(r, 'getPinMode')(P(r, 'A0'))).toBe('output');
    expect(r.bank.level('A0')).toBe(1);
    fn(r, 'digitalRead')(P(r, 'A0'));
    expect(r.bank.mode('A0')).toBe('input');
    fn(r, 'pinMode')(P(r, 'A0'), 'input_pullup');
    fn(r, 'digitalWrite')(P(r, 'A0'), 0); // latch only: the mode is manual
    expect(r.bank.mode('A0')).toBe('input_pullup');
    expect(r.bank.output('A0')).toBe(0);
    expect(fn(r, 'digitalRead')(P(r, 'A0'))).toBe(1);
    fn(r, 'pinMode')(P(r, 'A0')); // back to automatic
    fn(r, 'digitalWrite')(P(r, 'A0'), 1);
    expect(r.bank.mode('A0')).toBe('output');
    fn(r, 'pinMode')(P(r, 'A1'), 'output', true); // automatic from the start
    fn(r, 'digitalRead')(P(r, 'A1'));
    expect(r.bank.mode('A1')).toBe('input');
  });

  test('pinMode refuses unknown modes and pins; pins may be named or numbered', () => {
    const r = rig();
    expect(() => fn(r, 'pinMode')(P(r, 'A0'), 'pullup')).toThrow('Unknown pin mode');
    expect(() => fn(r, 'digitalRead')(undefined)).toThrow('Invalid pin');
    expect(() => fn(r, 'digitalWrite')('B11', 1)).toThrow('Invalid pin');
    fn(r, 'digitalWrite')('B3', 1);
    expect(r.bank.level('B3')).toBe(1);
    fn(r, 'digitalWrite')(19, 0);
    expect(r.bank.level('B3')).toBe(0);
    fn(r, 'digitalWrite')(r.g.LED2, 1);
    expect(r.bank.level('B12')).toBe(1);
  });

  test('arrays of pins: the last pin is the least significant bit; a boolean sets them all', () => {
    const r = rig();
    const pins = ['A0', 'A1', 'A4'].map((n) => P(r, n));
    fn(r, 'digitalWrite')(pins, 0b110);
    expect(pins.map((p) => r.bank.level(p.name))).toEqual([1, 1, 0]);
    expect(fn(r, 'digitalRead')(pins)).toBe(0b110);
    fn(r, 'digitalWrite')(pins, true);
    expect(fn(r, 'digitalRead')(pins)).toBe(0b111);
    fn(r, 'digitalWrite')(pins, false);
    expect(fn(r, 'digitalRead')(pins)).toBe(0);
    expect(fn(r, 'digitalRead')([])).toBe(0);
  });

  test('writes to an array happen from the last pin to the first', () => {
    const r = rig();
    const seen: string[] = [];
    r.bank.onChange((pin, level) => seen.push(`${pin}=${level}`));
    fn(r, 'digitalWrite')([P(r, 'A0'), P(r, 'A1')], 0b11);
    expect(seen).toEqual(['A1=1', 'A0=1']);
  });

  test('objects with read / write methods stand in for pins', () => {
    const r = rig();
    const box = { v: 0, write(v: number) { this.v = v; }, read() { return 7; } };
    fn(r, 'digitalWrite')(box, 5);
    expect(box.v).toBe(5);
    expect(fn(r, 'digitalRead')(box)).toBe(7);
  });

  test('Pin objects: read, write, set, reset, toggle, mode, getMode, getInfo, number and name', () => {
    const r = rig();
    const b3 = P(r, 'B3');
    b3.set();
    expect(r.bank.level('B3')).toBe(1);
    expect(b3.getMode()).toBe('output');
    b3.reset();
    expect(r.bank.level('B3')).toBe(0);
    b3.write(true);
    expect(b3.toggle()).toBe(false);
    expect(b3.toggle()).toBe(true);
    expect(b3.read()).toBe(true);
    expect(b3.getMode()).toBe('input');
    b3.mode('input_pulldown');
    expect(b3.read()).toBe(false);
    expect(b3.getInfo()).toMatchObject({ port: 'B', num: 3, mode: 'input_pulldown' });
    expect(Number(b3)).toBe(19);
    expect(String(b3)).toBe('B3');
    expect(`${b3}`).toBe('B3');
    const PinCtor = r.g.Pin as (v: unknown) => unknown;
    expect(PinCtor('B3')).toBe(b3);
    expect(PinCtor(19)).toBe(b3);
    expect(PinCtor('Z9')).toBeUndefined();
    expect(b3 instanceof (r.g.Pin as new () => unknown)).toBe(true);
    expect(r.g.LED1).toBe(P(r, 'B2'));
    expect(r.g.BTN).toBe(P(r, 'C13'));
  });

  test('digitalPulse: first edge at once, the rest on the clock; pulses queue behind each other', () => {
    const r = rig();
    const pulse = fn(r, 'digitalPulse');
    pulse(P(r, 'A4'), 1, 5);
    expect(r.bank.level('A4')).toBe(1);
    r.clock.advance(4);
    expect(r.bank.level('A4')).toBe(1);
    r.clock.advance(1);
    expect(r.bank.level('A4')).toBe(0);
    pulse(P(r, 'A4'), 1, [2, 3, 4]); // high 2, low 3, high 4
    const trace: number[] = [];
    for (let i = 0; i < 10; i++) {
      trace.push(r.bank.level('A4'));
      r.clock.advance(1);
    }
    expect(trace).toEqual([1, 1, 0, 0, 0, 1, 1, 1, 1, 0]);
    pulse(P(r, 'A4'), 1, 10);
    pulse(P(r, 'A4'), 1, 0); // wait for it to end
    expect(r.bank.level('A4')).toBe(0);
    expect(() => pulse(P(r, 'A4'), 1, -1)).toThrow('Pulse Time is less than 0');
  });
});

describe('Espruino pin API: setWatch / clearWatch', () => {
  function watched(r: Rig, pin: string, opts: unknown): { calls: Record<string, unknown>[]; id: unknown } {
    const calls: Record<string, unknown>[] = [];
    const id = fn(r, 'setWatch')((e: Record<string, unknown>) => calls.push(e), P(r, pin), opts);
    return { calls, id };
  }

  test('callbacks come from the event queue, not from inside the change, with state, time, lastTime and pin', () => {
    const r = rig();
    fn(r, 'pinMode')(P(r, 'A5'), 'input_pullup');
    const { calls } = watched(r, 'A5', { repeat: true, edge: 'both' });
    r.bank.drive('A5', 0);
    expect(calls).toHaveLength(0);
    r.clock.advance(0);
    expect(calls).toEqual([{ state: false, time: 1, lastTime: undefined, pin: P(r, 'A5') }]);
    r.clock.advance(250);
    r.bank.drive('A5', null);
    r.clock.advance(0);
    expect(calls[1]).toMatchObject({ state: true, time: 1.25, lastTime: 1 });
  });

  test('edges: rising, falling, both; lastTime follows every change whatever the edge', () => {
    const r = rig();
    fn(r, 'pinMode')(P(r, 'A6'), 'input_pulldown');
    const rising = watched(r, 'A6', { repeat: true, edge: 'rising' });
    const falling = watched(r, 'A6', { repeat: true, edge: -1 });
    const both = watched(r, 'A6', { repeat: true });
    for (let i = 0; i < 3; i++) {
      r.bank.drive('A6', 1);
      r.clock.advance(10);
      r.bank.drive('A6', null);
      r.clock.advance(10);
    }
    expect(rising.calls.map((c) => c.state)).toEqual([true, true, true]);
    expect(falling.calls.map((c) => c.state)).toEqual([false, false, false]);
    expect(both.calls).toHaveLength(6);
    expect(falling.calls[1]).toMatchObject({ time: 1.03, lastTime: 1.02 });
    expect(() => fn(r, 'setWatch')(() => {}, P(r, 'A6'), { edge: 'up' })).toThrow(TypeError);
  });

  test('without repeat a watch goes after its first call; ids count up from 1', () => {
    const r = rig();
    fn(r, 'pinMode')(P(r, 'A7'), 'input_pullup');
    const once = watched(r, 'A7', { edge: 'falling' });
    const again = watched(r, 'A7', true);
    expect([once.id, again.id]).toEqual([1, 2]);
    for (let i = 0; i < 2; i++) {
      r.bank.drive('A7', 0);
      r.clock.advance(5);
      r.bank.drive('A7', null);
      r.clock.advance(5);
    }
    expect(once.calls).toHaveLength(1);
    expect(again.calls).toHaveLength(4);
    expect(pinApiOf(r.g).watchList().map((w) => w.id)).toEqual([2]);
    expect(fn(r, 'setWatch')(() => {}, P(r, 'A7'), {})).toBe(3);
  });

  test('clearWatch(id), clearWatch() and the errors Espruino throws', () => {
    const r = rig();
    const a = watched(r, 'A0', { repeat: true });
    const b = watched(r, 'A1', { repeat: true });
    fn(r, 'clearWatch')(a.id);
    expect(pinApiOf(r.g).watchList().map((w) => w.id)).toEqual([b.id]);
    expect(() => fn(r, 'clearWatch')(a.id)).toThrow(`Unknown Watch ${String(a.id)}`);
    expect(() => fn(r, 'clearWatch')(undefined)).toThrow('clearWatch(undefined) not allowed');
    fn(r, 'clearWatch')();
    expect(pinApiOf(r.g).watchList()).toEqual([]);
    r.bank.drive('A1', 1);
    r.clock.advance(0);
    expect(b.calls).toHaveLength(0);
    expect(() => fn(r, 'setWatch')(42, P(r, 'A1'))).toThrow('Function or String not supplied!');
    expect(() => fn(r, 'setWatch')(() => {}, P(r, 'A1'), { irq: true })).toThrow(/not a native function/);
  });

  test('setWatch sets input mode unless manual; a change made and undone at once still gives two events', () => {
    const r = rig();
    fn(r, 'digitalWrite')(P(r, 'B5'), 1);
    const w = watched(r, 'B5', { repeat: true });
    expect(r.bank.mode('B5')).toBe('input');
    fn(r, 'pinMode')(P(r, 'B5'), 'output');
    fn(r, 'digitalWrite')(P(r, 'B5'), 0);
    fn(r, 'digitalWrite')(P(r, 'B5'), 1);
    r.clock.advance(0);
    expect(w.calls.map((c) => c.state)).toEqual([false, true]);
  });

  test('only one pin per pin number can be watched (STM32 EXTI lines)', () => {
    const r = rig();
    expect(watched(r, 'A5', true).id).toBe(1);
    expect(watched(r, 'B5', true).id).toBeUndefined();
    expect(r.warnings[0]).toMatch(/Unable to set watch/);
    expect(watched(r, 'A5', true).id).toBe(2); // the same pin again is fine
  });

  test('debounce: bounces inside the window give one call, timed at the last edge', () => {
    const r = rig();
    fn(r, 'pinMode')(P(r, 'A1'), 'input_pullup');
    const w = watched(r, 'A1', { repeat: true, edge: 'falling', debounce: 20 });
    const t0 = r.clock.now();
    for (const [at, level] of [[0, 0], [2, null], [3, 0], [5, null], [6, 0]] as const) {
      r.clock.advance(t0 + at - r.clock.now());
      r.bank.drive('A1', level);
    }
    r.clock.advance(19);
    expect(w.calls).toHaveLength(0);
    r.clock.advance(1);
    expect(w.calls).toEqual([{ state: false, time: (t0 + 6) / 1000, lastTime: undefined, pin: P(r, 'A1') }]);
    // a glitch shorter than the window and back to the same level: nothing
    r.bank.drive('A1', null);
    r.clock.advance(3);
    r.bank.drive('A1', 0);
    r.clock.advance(50);
    expect(w.calls).toHaveLength(1);
    // the release (rising) is not reported with edge 'falling' but moves lastTime
    r.bank.drive('A1', null);
    r.clock.advance(50);
    r.bank.drive('A1', 0);
    r.clock.advance(50);
    expect(w.calls).toHaveLength(2);
    expect(w.calls[1].lastTime).toBeCloseTo((t0 + 6 + 20 + 3 + 50) / 1000, 6);
  });

  test('the button defaults to edge rising and 25 ms debounce', () => {
    const r = rig();
    const w = watched(r, 'C13', { repeat: true });
    expect(pinApiOf(r.g).watchList()[0]).toMatchObject({ edge: 'rising', debounce: 25 });
    r.bank.drive('C13', 1);
    r.clock.advance(30);
    r.bank.drive('C13', null);
    r.clock.advance(30);
    expect(w.calls.map((c) => c.state)).toEqual([true]);
  });

  test('data: the data pin is read at the edge', () => {
    const r = rig();
    fn(r, 'pinMode')(P(r, 'A4'), 'input');
    r.bank.drive('A4', 1);
    const w = watched(r, 'A0', { repeat: true, edge: 'rising', data: P(r, 'A4') });
    r.bank.drive('A0', 1);
    r.bank.drive('A4', 0);
    r.clock.advance(0);
    expect(w.calls[0]).toMatchObject({ state: true, data: true });
  });

  test('callbacks run through the given runner (the sandbox catches their exceptions)', () => {
    const clock = new ManualClock();
    const bank = new PinBank(PICO_PINS, () => clock.now());
    const errors: unknown[] = [];
    const g = pinGlobals(bank, clock, {
      run: (f) => {
        try {
          f();
        } catch (e) {
          errors.push(e);
        }
      },
    });
    (g.setWatch as Fn)(() => {
      throw new Error('boom');
    }, g.A0, { repeat: true });
    bank.drive('A0', 1);
    bank.drive('A0', 0);
    clock.advance(0);
    expect(errors).toHaveLength(2);
  });

  test('a callback that re-arms itself forever makes ManualClock fail instead of hang', () => {
    const clock = new ManualClock();
    const again = (): void => {
      clock.setTimeout(again, 0);
    };
    clock.setTimeout(again, 0);
    expect(() => clock.advance(1)).toThrow(/more than 100000 timers/);
  });

  test('firmware code in a vm context uses the globals as on Espruino', () => {
    const r = rig();
    const ctx = vm.createContext({ ...r.g, log: [] as unknown[] });
    vm.runInContext(
      `pinMode(B1, 'input_pullup');
       setWatch(function (e) { log.push([e.state, e.pin == B1, String(e.pin)]); }, B1, { repeat: true, edge: 'falling' });
       log.push(digitalRead([B1, A0]), B1 | 0, getPinMode(B1));`,
      ctx,
    );
    r.bank.drive('B1', 0);
    r.clock.advance(0);
    expect(vm.runInContext('JSON.stringify(log)', ctx)).toBe('[2,17,"input_pullup",[false,true,"B1"]]');
  });
});
