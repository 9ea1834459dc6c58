// An electrical model of the Espruino Pico's GPIO pins, and the Espruino 2v29 pin API
// (pinMode, digitalRead/Write, digitalPulse, setWatch/clearWatch, Pin objects) built on it.
//
// PinBank holds each pin's mode and output latch, wires between pins (a pressed key joins
// a keypad row to a column), and drivers from outside (a test forcing a level, an external
// pull-up). Every change re-resolves the level of every net: push-pull outputs and
// open-drain lows drive, pull-ups/pull-downs pull, a net with nothing on it keeps its last
// level, and two outputs fighting are recorded as a contention. pinGlobals() then offers
// what firmware calls, with Espruino's semantics (from its jswrap_io.c / jsinteractive.c):
// automatic pin modes unless pinMode was called, arrays of pins with the last pin as the
// least significant bit, watch ids counting up from 1, watch callbacks run from the event
// queue (never inside digitalWrite), debounce as Espruino's state machine does it, and the
// STM32 rule that only one pin per pin number (EXTI line) can be watched.

/** The Pico's pins in Espruino's pin-table order (boards/PICO_R1_3.py, UQFN48 package), so `B3 | 0` is 19 as on the board. */
export const PICO_PINS: readonly string[] = [
  'A0', 'A1', 'A2', 'A3', 'A4', 'A5', 'A6', 'A7', 'A8', 'A9', 'A10', 'A11', 'A12', 'A13', 'A14', 'A15',
  'B0', 'B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B9', 'B10', 'B12', 'B13', 'B14', 'B15',
  'C13', 'C14', 'C15', 'H0', 'H1',
];

/** Espruino's built-in aliases on the Pico. */
export const PICO_ALIASES: Readonly<Record<string, string>> = { LED1: 'B2', LED2: 'B12', BTN: 'C13', BTN1: 'C13' };

export type PinMode =
  | 'analog'
  | 'input'
  | 'input_pullup'
  | 'input_pulldown'
  | 'output'
  | 'opendrain'
  | 'opendrain_pullup'
  | 'af_output'
  | 'af_opendrain';

export const PIN_MODES: readonly PinMode[] = [
  'analog', 'input', 'input_pullup', 'input_pulldown', 'output', 'opendrain', 'opendrain_pullup', 'af_output', 'af_opendrain',
];

export type Level = 0 | 1;

/** Time and timers of the emulated interpreter. `now()` is in MILLISECONDS; watch callbacks report now()/1000 as Espruino's getTime() seconds. */
export interface PinClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
}

/** STM32 internal pull resistor (datasheet: 30-50 k). */
export const INTERNAL_PULL_OHMS = 40000;

interface PinState {
  readonly name: string;
  readonly index: number;
  /** Number within the port: the EXTI line on an STM32. */
  readonly num: number;
  mode: PinMode;
  /** Set by pinMode (not 'auto'): digitalRead/Write then leave the mode alone. */
  manual: boolean;
  /** Output data register. */
  out: Level;
  /** What a peripheral drives in af_output / af_opendrain mode (idle high). */
  afOut: Level;
  peripheral: string | undefined;
  /** Level of the pin's net at the last resolution (what a probe measures). */
  net: Level;
  /** What the input register reads (0 in analog mode: the Schmitt trigger is off). */
  read: Level;
  strong: Level | null;
  pull: { dir: 'up' | 'down'; ohms: number } | null;
}

export interface Contention {
  /** Pins of the net where outputs drive different levels. */
  pins: string[];
  time: number;
}

export type PinChangeListener = (pin: string, level: Level, timeMs: number) => void;

/** The Pico's pins, their modes and the wiring around them. */
export class PinBank {
  private readonly pins: PinState[];
  private readonly byName = new Map<string, PinState>();
  private readonly wires = new Map<number, [number, number]>();
  private nextWire = 1;
  private listeners: PinChangeListener[] = [];
  private activeContentions = new Set<string>();
  /** Every short between outputs seen so far (two push-pull outputs at different levels on one net). */
  readonly contentions: Contention[] = [];

  constructor(
    names: readonly string[] = PICO_PINS,
    private readonly now: () => number = () => 0,
  ) {
    this.pins = names.map((name, index) => ({
      name, index, num: Number(name.slice(1)), mode: 'analog' as PinMode, manual: false, out: 0 as Level, afOut: 1 as Level,
      peripheral: undefined, net: 0 as Level, read: 0 as Level, strong: null, pull: null,
    }));
    for (const p of this.pins) this.byName.set(p.name, p);
    // Espruino's reset state on the Pico: everything analog (lowest power) except BTN1, an input with pull-down
    const btn = this.byName.get('C13');
    if (btn) btn.mode = 'input_pulldown';
    this.resolve();
  }

  get names(): string[] {
    return this.pins.map((p) => p.name);
  }
  has(name: string): boolean {
    return this.byName.has(name);
  }
  /** Index in the pin table (the Pin's numeric value in Espruino). */
  index(name: string): number {
    return this.pin(name).index;
  }
  nameAt(index: number): string | undefined {
    return this.pins[index]?.name;
  }
  /** Pin number within its port (the STM32 EXTI line). */
  number(name: string): number {
    return this.pin(name).num;
  }

  mode(name: string): PinMode {
    return this.pin(name).mode;
  }
  isManual(name: string): boolean {
    return this.pin(name).manual;
  }
  /** Sets the mode as the chip does; `manual` records whether pinMode chose it. Detaches any peripheral. */
  setMode(name: string, mode: PinMode, manual = this.pin(name).manual): void {
    const p = this.pin(name);
    p.mode = mode;
    p.manual = manual;
    p.peripheral = undefined;
    this.resolve();
  }
  /** The output latch. */
  output(name: string): Level {
    return this.pin(name).out;
  }
  /** Sets the output latch (which drives the pin only in an output mode). */
  setOutput(name: string, level: Level | boolean | number): void {
    this.pin(name).out = level ? 1 : 0;
    this.resolve();
  }
  /** Sets the output latch and the mode in one step (one resolution, as jshPinOutput does). */
  writeAndMode(name: string, level: Level, mode: PinMode | undefined): void {
    const p = this.pin(name);
    p.out = level;
    if (mode !== undefined) {
      p.mode = mode;
      p.peripheral = undefined;
    }
    this.resolve();
  }
  /** What the firmware reads from the pin (digitalRead without changing the mode). */
  read(name: string): Level {
    return this.pin(name).read;
  }
  /** The electrical level of the pin's net, whatever the pin's mode (a probe on the board). */
  level(name: string): Level {
    return this.pin(name).net;
  }
  /** Why the pin is at its level. */
  probe(name: string): { level: Level; read: Level; mode: PinMode; driven: boolean; pulled: boolean; floating: boolean; contention: boolean } {
    const p = this.pin(name);
    const net = this.netOf(p.index);
    const { strong, up, down, contention } = this.sources(net);
    return {
      level: p.net, read: p.read, mode: p.mode, driven: strong.length > 0, pulled: up + down > 0,
      floating: strong.length === 0 && up + down === 0, contention,
    };
  }

  /** Hands the pin to a peripheral (an emulated UART or I2C): it is then in an AF mode and drives `afLevel`. */
  attachPeripheral(name: string, label: string, mode: 'af_output' | 'af_opendrain' = 'af_output', afLevel: Level = 1): void {
    const p = this.pin(name);
    p.mode = mode;
    p.peripheral = label;
    p.afOut = afLevel;
    this.resolve();
  }
  /** What the peripheral on the pin drives now. */
  setPeripheralLevel(name: string, level: Level): void {
    this.pin(name).afOut = level;
    this.resolve();
  }
  peripheral(name: string): string | undefined {
    return this.pin(name).peripheral;
  }

  /** Joins two pins with a wire or a closed switch; returns an id for disconnect(). */
  connect(a: string, b: string): number {
    const id = this.nextWire++;
    this.wires.set(id, [this.pin(a).index, this.pin(b).index]);
    this.resolve();
    return id;
  }
  disconnect(id: number): void {
    if (this.wires.delete(id)) this.resolve();
  }
  /** Pins wired (directly or through others) to this one, itself included. */
  connected(name: string): string[] {
    return this.netOf(this.pin(name).index).map((i) => this.pins[i].name);
  }

  /** Something outside drives the pin hard (a test signal, a switch to a rail); null lets go. */
  drive(name: string, level: Level | boolean | null): void {
    this.pin(name).strong = level === null ? null : level ? 1 : 0;
    this.resolve();
  }
  /** An external resistor to 3.3 V ('up') or GND ('down'); null removes it. */
  pullExternal(name: string, dir: 'up' | 'down' | null, ohms = 10000): void {
    this.pin(name).pull = dir === null ? null : { dir, ohms };
    this.resolve();
  }

  /** Called with every change of what a pin reads (its input register), after the change. Returns an unsubscribe function. */
  onChange(listener: PinChangeListener): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  private pin(name: string): PinState {
    const p = this.byName.get(name);
    if (!p) throw new Error(`No pin ${name} on this board`);
    return p;
  }

  private netOf(start: number): number[] {
    const seen = new Set<number>([start]);
    const todo = [start];
    while (todo.length) {
      const i = todo.pop() as number;
      for (const [a, b] of this.wires.values()) {
        const other = a === i ? b : b === i ? a : -1;
        if (other >= 0 && !seen.has(other)) {
          seen.add(other);
          todo.push(other);
        }
      }
    }
    return [...seen].sort((x, y) => x - y);
  }

  private sources(net: number[]): { strong: Level[]; up: number; down: number; contention: boolean } {
    const strong: Level[] = [];
    let up = 0;
    let down = 0;
    for (const i of net) {
      const p = this.pins[i];
      switch (p.mode) {
        case 'output': strong.push(p.out); break;
        case 'opendrain': if (p.out === 0) strong.push(0); break;
        case 'opendrain_pullup': if (p.out === 0) strong.push(0); else up += 1 / INTERNAL_PULL_OHMS; break;
        case 'af_output': strong.push(p.afOut); break;
        case 'af_opendrain': if (p.afOut === 0) strong.push(0); break;
        case 'input_pullup': up += 1 / INTERNAL_PULL_OHMS; break;
        case 'input_pulldown': down += 1 / INTERNAL_PULL_OHMS; break;
        default: break;
      }
      if (p.strong !== null) strong.push(p.strong);
      if (p.pull) {
        if (p.pull.dir === 'up') up += 1 / p.pull.ohms;
        else down += 1 / p.pull.ohms;
      }
    }
    const contention = strong.some((l) => l !== strong[0]);
    return { strong, up, down, contention };
  }

  private resolve(): void {
    const changed: PinState[] = [];
    const done = new Set<number>();
    const contentionsNow = new Set<string>();
    for (const p of this.pins) {
      if (done.has(p.index)) continue;
      const net = this.netOf(p.index);
      for (const i of net) done.add(i);
      const { strong, up, down, contention } = this.sources(net);
      let level: Level;
      if (strong.length) {
        // a short: the real level depends on the drivers; the model says 0 and records it
        level = contention ? 0 : strong[0];
        if (contention) contentionsNow.add(net.map((i) => this.pins[i].name).join(','));
      } else if (up !== down) {
        level = up > down ? 1 : 0;
      } else {
        // floating (or an even divider): the node keeps its charge, i.e. its last level
        level = this.pins[net[0]].net;
      }
      for (const i of net) {
        const q = this.pins[i];
        q.net = level;
        const read: Level = q.mode === 'analog' ? 0 : level;
        if (read !== q.read) {
          q.read = read;
          changed.push(q);
        }
      }
    }
    for (const key of contentionsNow) {
      if (!this.activeContentions.has(key)) this.contentions.push({ pins: key.split(','), time: this.now() });
    }
    this.activeContentions = contentionsNow;
    if (changed.length === 0) return;
    const t = this.now();
    for (const q of changed) for (const l of this.listeners.slice()) l(q.name, q.read, t);
  }
}

/** A clock that only moves when told to: deterministic tests and step-by-step front ends. */
export class ManualClock implements PinClock {
  /** advance() gives up after this many timers (a callback loop would otherwise never end). */
  static RUNAWAY = 100000;
  private t = 0;
  private seq = 0;
  private queue: { at: number; seq: number; fn: () => void }[] = [];

  constructor(start = 0) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): number {
    const id = ++this.seq;
    this.queue.push({ at: this.t + Math.max(0, Number(ms) || 0), seq: id, fn });
    return id;
  }
  clearTimeout(id: number): void {
    this.queue = this.queue.filter((e) => e.seq !== id);
  }
  /** Timers not yet run. */
  get pending(): number {
    return this.queue.length;
  }
  /** Moves time on by `ms`, running every timer that falls due, in time order (timers they start included). */
  advance(ms = 0): void {
    const end = this.t + ms;
    for (let ran = 0; ; ran++) {
      if (ran > ManualClock.RUNAWAY) throw new Error(`ManualClock: more than ${ManualClock.RUNAWAY} timers in one advance(); something re-arms itself at once`);
      let next: { at: number; seq: number; fn: () => void } | undefined;
      for (const e of this.queue) if (e.at <= end && (!next || e.at < next.at || (e.at === next.at && e.seq < next.seq))) next = e;
      if (!next) break;
      this.queue.splice(this.queue.indexOf(next), 1);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
  }
}

/** A Pin object as Espruino's `B3`: numeric value = pin-table index, string form = name. */
export class EspruinoPin {
  constructor(
    readonly name: string,
    private readonly api: PinApi,
  ) {}
  valueOf(): number {
    return this.api.bank.index(this.name);
  }
  toString(): string {
    return this.name;
  }
  toJSON(): string {
    return this.name;
  }
  /** Reads the pin (sets 'input' unless pinMode was called). */
  read(): boolean {
    return this.api.input(this.name) === 1;
  }
  write(value: unknown): void {
    this.api.output(this.name, value ? 1 : 0);
  }
  set(): void {
    this.api.output(this.name, 1);
  }
  reset(): void {
    this.api.output(this.name, 0);
  }
  /** Inverts the output latch; returns the new state. */
  toggle(): boolean {
    const on: Level = this.api.bank.output(this.name) ? 0 : 1;
    this.api.output(this.name, on);
    return on === 1;
  }
  mode(mode?: unknown): void {
    this.api.pinMode(this.name, mode, false);
  }
  getMode(): PinMode {
    return this.api.bank.mode(this.name);
  }
  pulse(value: unknown, time: unknown): void {
    this.api.digitalPulse(this.name, value, time);
  }
  getInfo(): { port: string; num: number; mode: PinMode; output: number } {
    const b = this.api.bank;
    return { port: this.name[0], num: b.number(this.name), mode: b.mode(this.name), output: b.output(this.name) };
  }
}

export interface PinGlobalsOptions {
  /** Runs each watch callback, e.g. the sandbox's `callback` so an exception is printed, not fatal. Default: call it. */
  run?: (fn: () => void) => void;
  /** Receives what Espruino prints as a warning or a non-throwing error (jsWarn / jsError). */
  warn?: (message: string) => void;
  /** Builds the errors thrown into firmware (to make them in the firmware's realm). Default: Node's Error/TypeError. */
  makeError?: (message: string, type: 'Error' | 'TypeError') => Error;
  /** Pins that are Espruino buttons (setWatch defaults to edge 'rising', debounce 25 ms). Default: C13. */
  buttons?: readonly string[];
  /** Extra names for pins, e.g. LED1. Default: PICO_ALIASES (only those the bank has). */
  aliases?: Readonly<Record<string, string>>;
}

interface Watch {
  id: number;
  pin: string;
  cb: (e: Record<string, unknown>) => void;
  repeat: boolean;
  edge: -1 | 0 | 1;
  debounceMs: number;
  dataPin: string | undefined;
  state: Level;
  lastTime: number | undefined;
  timeout: { fireAt: number; state: Level } | undefined;
}

interface PinEvent {
  pin: string;
  state: Level;
  timeMs: number;
  data: Level | undefined;
}

/** The implementation behind pinGlobals (exported for the integrator's own wiring and for tests). */
export class PinApi {
  private watches: Watch[] = [];
  private events: PinEvent[] = [];
  private draining = false;
  private readonly objects = new Map<string, EspruinoPin>();
  private readonly pulses = new Map<string, { until: number; pending: { at: number; level: Level; done: boolean }[] }>();
  private readonly buttons: Set<string>;

  constructor(
    readonly bank: PinBank,
    readonly clock: PinClock,
    private readonly opts: PinGlobalsOptions = {},
  ) {
    this.buttons = new Set((opts.buttons ?? ['C13']).filter((b) => bank.has(b)));
    bank.onChange((pin, level) => this.edge(pin, level));
  }

  /** The Pin object for a name (one object per pin). */
  pinObject(name: string): EspruinoPin {
    let o = this.objects.get(name);
    if (!o) {
      o = new EspruinoPin(name, this);
      this.objects.set(name, o);
    }
    return o;
  }

  /** A pin argument as Espruino converts it (jshGetPinFromVar): Pin, pin-table index or name. */
  pinName(v: unknown): string | undefined {
    if (v instanceof EspruinoPin) return v.name;
    if (typeof v === 'number' && Number.isInteger(v)) return this.bank.nameAt(v);
    if (typeof v === 'string') {
      const s = v.toUpperCase();
      if (this.bank.has(s)) return s;
      const alias = (this.opts.aliases ?? PICO_ALIASES)[s];
      if (alias && this.bank.has(alias)) return alias;
    }
    return undefined;
  }

  private requirePin(v: unknown): string {
    const name = this.pinName(v);
    if (name === undefined) throw this.error('Invalid pin');
    return name;
  }

  private error(message: string, type: 'Error' | 'TypeError' = 'Error'): Error {
    if (this.opts.makeError) return this.opts.makeError(message, type);
    return type === 'TypeError' ? new TypeError(message) : new Error(message);
  }

  private warn(message: string): void {
    if (this.opts.warn) this.opts.warn(message);
  }

  /** jshPinInput: reads, first switching to 'input' unless the mode is manual. */
  input(name: string): Level {
    if (!this.bank.isManual(name)) this.bank.setMode(name, 'input', false);
    return this.bank.read(name);
  }

  /** jshPinOutput: sets the latch, then switches to 'output' unless the mode is manual. */
  output(name: string, level: Level): void {
    this.bank.writeAndMode(name, level, this.bank.isManual(name) ? undefined : 'output');
  }

  pinMode(pin: unknown, mode: unknown, automatic: unknown): void {
    const name = this.requirePin(pin);
    if (typeof mode === 'string' && (PIN_MODES as readonly string[]).includes(mode)) {
      this.bank.setMode(name, mode as PinMode, !automatic);
      return;
    }
    this.bank.setMode(name, this.bank.mode(name), false);
    if (mode !== undefined && mode !== 'auto') throw this.error('Unknown pin mode');
  }

  digitalRead(pin: unknown): number {
    if (Array.isArray(pin)) {
      let value = 0;
      for (const p of pin) value = ((value << 1) | this.input(this.requirePin(p))) >>> 0;
      return value;
    }
    if (pin !== null && typeof pin === 'object' && !(pin instanceof EspruinoPin)) {
      const r = (pin as { read?: unknown }).read;
      if (typeof r !== 'function') throw this.error('Invalid pin');
      return Number(r.call(pin)) | 0;
    }
    return this.input(this.requirePin(pin));
  }

  digitalWrite(pin: unknown, value: unknown): void {
    let v = typeof value === 'boolean' ? (value ? -1 : 0) : Number(value) | 0;
    if (Array.isArray(pin)) {
      // from the last pin (least significant bit) back to the first, one write at a time
      for (let i = pin.length - 1; i >= 0; i--) {
        this.output(this.requirePin(pin[i]), (v & 1) as Level);
        v >>= 1;
      }
      return;
    }
    if (pin !== null && typeof pin === 'object' && !(pin instanceof EspruinoPin)) {
      const w = (pin as { write?: unknown }).write;
      if (typeof w !== 'function') throw this.error('Invalid pin');
      w.call(pin, v);
      return;
    }
    this.output(this.requirePin(pin), v !== 0 ? 1 : 0);
  }

  /**
   * Pulses start at once, or after the pulses already queued on the pin, and run on the clock.
   * `time` 0 waits for queued pulses: here they are completed at once (Espruino busy-waits).
   */
  digitalPulse(pin: unknown, value: unknown, time: unknown): void {
    const name = this.requirePin(pin);
    let level: Level = value ? 1 : 0;
    const now = this.clock.now();
    let q = this.pulses.get(name);
    if (!q || !q.pending.some((e) => !e.done)) {
      // nothing queued on the pin: the first edge is now
      q = { until: now, pending: [] };
      this.pulses.set(name, q);
      this.output(name, level);
    }
    const state = q;
    if (typeof time === 'number') {
      if (!(time >= 0)) throw this.error('Pulse Time is less than 0 or not a number');
      if (time === 0) {
        for (const e of state.pending) {
          if (!e.done) {
            e.done = true;
            this.output(name, e.level);
          }
        }
        state.pending = [];
        return;
      }
    } else if (!Array.isArray(time)) {
      throw this.error(`Expecting Number or Array, got ${typeof time}`);
    }
    let t = state.until;
    for (const raw of typeof time === 'number' ? [time] : (time as unknown[])) {
      const ms = Number(raw);
      if (!Number.isNaN(ms) && ms > 0) {
        t += ms;
        const e = { at: t, level: (level ? 0 : 1) as Level, done: false };
        state.pending.push(e);
        this.clock.setTimeout(() => {
          if (e.done) return;
          e.done = true;
          this.output(name, e.level);
        }, t - this.clock.now());
      }
      level = level ? 0 : 1;
    }
    state.until = t;
  }

  setWatch(fn: unknown, pin: unknown, options: unknown): number | undefined {
    const name = this.pinName(pin);
    if (name === undefined) {
      this.warn('Invalid pin');
      return undefined;
    }
    const num = this.bank.number(name);
    if (!this.watches.some((w) => w.pin === name) && this.watches.some((w) => this.bank.number(w.pin) === num)) {
      this.warn('Unable to set watch. You may already have a watch on a pin with the same number (eg. A0 and B0),\nor this pin cannot be used with watch');
      return undefined;
    }
    let repeat = false;
    let debounceMs = 0;
    let edge: -1 | 0 | 1 = 0;
    let dataPin: string | undefined;
    if (this.buttons.has(name)) {
      edge = 1;
      debounceMs = 25;
    }
    if (options !== null && typeof options === 'object') {
      const o = options as Record<string, unknown>;
      if ('repeat' in o && o.repeat !== undefined) repeat = Boolean(o.repeat);
      if ('debounce' in o && o.debounce !== undefined) {
        const d = Number(o.debounce);
        debounceMs = Number.isNaN(d) || d < 0 ? 0 : d;
      }
      const e = o.edge;
      if (e !== undefined) {
        if (typeof e === 'number') edge = e > 0 ? 1 : e < 0 ? -1 : 0;
        else if (e === 'rising') edge = 1;
        else if (e === 'falling') edge = -1;
        else if (e === 'both') edge = 0;
        else throw this.error("'edge' in setWatch should be 1, -1, 0, 'rising', 'falling' or 'both'", 'TypeError');
      }
      if (o.irq) throw this.error('irq=true set, but function is not a native function');
      if (o.data !== undefined) dataPin = this.pinName(o.data);
    } else {
      repeat = Boolean(options);
    }
    if (typeof fn !== 'function') {
      if (typeof fn === 'string') throw this.error('setWatch with a string of code is not supported by the emulator');
      throw this.error('Function or String not supplied!');
    }
    if (!this.bank.isManual(name)) this.bank.setMode(name, 'input', false);
    const last = this.watches[this.watches.length - 1];
    const id = last ? last.id + 1 : 1;
    this.watches.push({
      id, pin: name, cb: fn as Watch['cb'], repeat, edge, debounceMs, dataPin, state: this.bank.read(name), lastTime: undefined, timeout: undefined,
    });
    return id;
  }

  clearWatch(args: unknown[]): void {
    if (args.length === 0) {
      for (const w of this.watches) w.timeout = undefined;
      this.watches = [];
      return;
    }
    const id = args[0];
    if (id === undefined) throw this.error('clearWatch(undefined) not allowed. Use clearWatch() instead');
    const i = this.watches.findIndex((w) => w.id === Number(id));
    if (i < 0) throw this.error(`Unknown Watch ${String(id)}`);
    this.watches[i].timeout = undefined;
    this.watches.splice(i, 1);
  }

  /** Watches in force, for tests and front ends. */
  watchList(): { id: number; pin: string; repeat: boolean; edge: 'rising' | 'falling' | 'both'; debounce: number }[] {
    return this.watches.map((w) => ({
      id: w.id, pin: w.pin, repeat: w.repeat, edge: w.edge > 0 ? 'rising' : w.edge < 0 ? 'falling' : 'both', debounce: w.debounceMs,
    }));
  }

  // ---- the event queue: an edge on a watched pin is queued with its time (the IRQ) and
  // handled from the clock (the idle loop), as jsinteractive.c does

  private edge(pin: string, level: Level): void {
    const ws = this.watches.filter((w) => w.pin === pin);
    if (ws.length === 0) return; // EXTI not enabled: no event
    const dp = ws.find((w) => w.dataPin !== undefined)?.dataPin;
    this.events.push({ pin, state: level, timeMs: this.clock.now(), data: dp === undefined ? undefined : this.bank.read(dp) });
    if (!this.draining) {
      this.draining = true;
      this.clock.setTimeout(() => this.drain(), 0);
    }
  }

  private drain(): void {
    this.draining = false;
    const events = this.events.splice(0);
    for (const ev of events) {
      for (const w of this.watches.slice()) {
        if (w.pin !== ev.pin || !this.watches.includes(w)) continue;
        if (w.debounceMs <= 0) {
          w.state = ev.state;
          const time = ev.timeMs / 1000;
          if (matches(w.edge, ev.state)) {
            const arg: Record<string, unknown> = { state: ev.state === 1, lastTime: w.lastTime, time, pin: this.pinObject(w.pin) };
            if (w.dataPin !== undefined && ev.data !== undefined) arg.data = ev.data === 1;
            this.call(w, arg);
            if (!w.repeat) this.remove(w);
          }
          w.lastTime = time;
        } else if (w.timeout) {
          w.timeout.fireAt = ev.timeMs + w.debounceMs;
          w.timeout.state = ev.state;
          this.armDebounce(w);
        } else if (ev.state !== w.state) {
          w.timeout = { fireAt: ev.timeMs + w.debounceMs, state: ev.state };
          this.armDebounce(w);
        }
      }
    }
  }

  private armDebounce(w: Watch): void {
    const timeout = w.timeout;
    if (!timeout) return;
    const target = timeout.fireAt;
    this.clock.setTimeout(() => {
      if (w.timeout !== timeout || timeout.fireAt !== target) return; // moved on by a later bounce, or cleared
      w.timeout = undefined;
      const before = w.state;
      w.state = timeout.state;
      if (before === timeout.state) return;
      const time = (timeout.fireAt - w.debounceMs) / 1000;
      if (matches(w.edge, timeout.state)) {
        const arg = { state: timeout.state === 1, lastTime: w.lastTime, time, pin: this.pinObject(w.pin) };
        w.lastTime = time;
        this.call(w, arg);
        if (!w.repeat) this.remove(w);
      } else {
        w.lastTime = time;
      }
    }, Math.max(0, target - this.clock.now()));
  }

  private remove(w: Watch): void {
    this.watches = this.watches.filter((x) => x !== w);
  }

  private call(w: Watch, arg: Record<string, unknown>): void {
    const run = this.opts.run ?? ((f: () => void) => f());
    run(() => w.cb(arg));
  }
}

function matches(edge: -1 | 0 | 1, level: Level): boolean {
  return edge === 0 || (edge > 0 && level === 1) || (edge < 0 && level === 0);
}

/**
 * The Espruino pin API over a PinBank, as globals for the firmware's context: pinMode,
 * getPinMode, digitalRead, digitalWrite, digitalPulse, setWatch, clearWatch, Pin, one Pin
 * object per pin name (A0 … H1) and the aliases LED1, LED2, BTN, BTN1.
 *
 * `clock.now()` is in milliseconds and must be the firmware's getTime()*1000; watch
 * callbacks and debounce timers are started through `clock.setTimeout` (0 ms for the event
 * queue), so they run between the firmware's other callbacks, never inside digitalWrite.
 */
export function pinGlobals(bank: PinBank, clock: PinClock, opts: PinGlobalsOptions = {}): Record<string, unknown> {
  const api = new PinApi(bank, clock, opts);
  // Pin(v) / new Pin(v): the Pin object, or undefined; `B3 instanceof Pin` holds
  const pinConstructor = function Pin(v?: unknown): EspruinoPin | undefined {
    const name = api.pinName(v);
    return name === undefined ? undefined : api.pinObject(name);
  };
  pinConstructor.prototype = EspruinoPin.prototype;
  const g: Record<string, unknown> = {
    pinMode: (pin: unknown, mode?: unknown, automatic?: unknown) => api.pinMode(pin, mode, automatic),
    getPinMode: (pin: unknown) => {
      const name = api.pinName(pin);
      if (name === undefined) throw opts.makeError ? opts.makeError('Invalid pin', 'Error') : new Error('Invalid pin');
      return bank.mode(name);
    },
    digitalRead: (pin: unknown) => api.digitalRead(pin),
    digitalWrite: (pin: unknown, value: unknown) => api.digitalWrite(pin, value),
    digitalPulse: (pin: unknown, value: unknown, time: unknown) => api.digitalPulse(pin, value, time),
    setWatch: (fn: unknown, pin: unknown, options?: unknown) => api.setWatch(fn, pin, options),
    clearWatch: (...args: unknown[]) => api.clearWatch(args),
    Pin: pinConstructor,
  };
  for (const name of bank.names) g[name] = api.pinObject(name);
  for (const [alias, name] of Object.entries(opts.aliases ?? PICO_ALIASES)) if (bank.has(name)) g[alias] = api.pinObject(name);
  Object.defineProperty(g, '__pinApi', { value: api, enumerable: false });
  return g;
}

/** The PinApi behind a pinGlobals() result (watch list, Pin objects). */
export function pinApiOf(globals: Record<string, unknown>): PinApi {
  const api = (globals as { __pinApi?: PinApi }).__pinApi;
  if (!api) throw new Error('not made by pinGlobals()');
  return api;
}
