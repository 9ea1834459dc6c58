// The card slot driver: card detect, activation (cold reset) and deactivation, the UART with
// echo cancellation, and reads with byte time-outs. Everything above it speaks bytes.
//
// Wiring (board/pinmap.json `card`, HARDWARE.md): the card's single I/O line is Serial2's RX,
// and TX drives it through a diode, so the reader hears an echo of every byte it sends —
// dropped here, byte for byte, before anything reaches T=1. VCC is switched by a low-active
// pin, RST is a plain output, CLK is a timer PWM, detect is a switch to GND (0 = inserted).

import { atrLength } from './atr';
import { COUNTED } from '../../../protocol/src/counting';

/**
 * The pins and UART settings of the slot: board/pinmap.json's `card`, as it is (default:
 * __PINMAP__.card). Used where it lies rather than copied into fields of the reader's own: a
 * copy is code in flash and JsVars in RAM for as long as the firmware runs.
 */
export type SlotConfig = typeof __PINMAP__.card;

/**
 * How a read ended without its bytes: 'timeout' no byte within the first time-out, 'partial'
 * some bytes then silence longer than the next-byte time-out, 'invalid' the length function
 * said the bytes cannot be a frame, 'removed' the card was pulled, 'off' the slot is not powered.
 */
export type ReadError = 'timeout' | 'partial' | 'invalid' | 'removed' | 'off';

/** Says how many bytes the frame that starts with `buf` has (≥ buf.length + 1 while unknown), or -1: invalid. */
export type FrameLength = (buf: number[]) => number;

export interface ReaderOptions {
  /** The UART (default Serial2, as the pin map says). */
  serial?: EspruinoUart;
  slot?: SlotConfig;
  /** Time from RST high to the first ATR byte before the card counts as mute (ms, default 200; ISO: 40,000 clocks ≈ 11 ms). */
  atrFirstMs?: number;
  /** Between ATR bytes (ms, default 1100; ISO: 9,600 etu ≈ 1 s). */
  atrNextMs?: number;
  /** Delay with VCC and CLK on and RST low before RST goes high (ms, default 2; ISO: ≥ 400 clocks). */
  resetHoldMs?: number;
}

/** The reader's counters: `echoed` = bytes heard back and dropped (equals `sent` on a healthy line). */
export interface ReaderStats {
  sent: number;
  echoed: number;
  echoErrors: number;
  received: number;
  ignored: number;
  powerUps: number;
}

interface PendingRead {
  buf: number[];
  firstMs: number;
  nextMs: number;
  need: FrameLength;
  cb: (err: ReadError | null, bytes: number[]) => void;
  timer: number;
}

const ECHO_SIZE = 512;

function stopTimer(p: PendingRead): void {
  if (p.timer) clearTimeout(p.timer);
  p.timer = 0;
}
const RX_LIMIT = 300;

/**
 * One card slot. `start()` claims the pins and the UART and watches card detect; `powerUp`
 * performs the cold reset and reads the ATR; `send` and `read` carry bytes; `deactivate`
 * (also on removal and on any fatal error above) drops RST, stops the clock and cuts VCC.
 */
export class CardReader {
  readonly slot: SlotConfig;
  readonly stats!: ReaderStats;
  /** The last ATR read, while powered. */
  atr: Uint8Array | null;
  private serial: EspruinoUart;
  private isPresent: boolean;
  private isPowered: boolean;
  protected started: boolean;
  protected watchId: number;
  private listeners: ((present: boolean) => void)[];
  private pending: PendingRead | null;
  private rx: number[];
  // bytes sent and not yet heard back: a ring, zeroed as it is consumed (it may hold a PIN block)
  private echo: Uint8Array;
  private echoHead: number;
  private echoLen: number;
  private readonly opts: ReaderOptions;

  constructor(opts?: ReaderOptions) {
    if (COUNTED) this.stats = { sent: 0, echoed: 0, echoErrors: 0, received: 0, ignored: 0, powerUps: 0 };
    this.atr = null;
    this.isPresent = false;
    this.isPowered = false;
    this.started = false;
    this.watchId = 0;
    this.listeners = [];
    this.pending = null;
    this.rx = [];
    this.echo = new Uint8Array(ECHO_SIZE);
    this.echoHead = 0;
    this.echoLen = 0;
    this.opts = opts === undefined ? {} : opts;
    this.slot = this.opts.slot === undefined ? __PINMAP__.card : this.opts.slot;
    this.serial = this.opts.serial === undefined ? Serial2 : this.opts.serial;
  }

  /** Claims the slot: card powered off, UART set up, card detect watched. Idempotent. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const u = this.slot.uart;
    const d = this.slot.detect;
    this.switchOff();
    // parity 'o' or 'e', anything else none; detect mode one of the three, else input_pullup
    this.serial.setup(u.baud, { rx: u.rx, tx: u.tx, bytesize: u.bytesize, parity: u.parity === 'o' || u.parity === 'e' ? u.parity : null, stopbits: u.stopbits });
    this.serial.on('data', (data: string) => this.onData(data));
    pinMode(d.pin, d.mode === 'input_pulldown' || d.mode === 'input' ? d.mode : 'input_pullup');
    this.isPresent = digitalRead(d.pin) === d.inserted;
    this.watchId = setWatch((e: WatchEvent) => this.onDetect((e.state ? 1 : 0) === d.inserted), d.pin, {
      repeat: true,
      edge: 'both',
      debounce: d.debounceMs,
    });
  }

  /** Whether a card is in the slot (debounced). */
  present(): boolean {
    return this.isPresent;
  }

  powered(): boolean {
    return this.isPowered;
  }

  /** Calls `cb(true)` when a card is inserted, `cb(false)` when it is pulled (after the card was deactivated). */
  onPresence(cb: (present: boolean) => void): void {
    this.listeners.push(cb);
  }

  private onDetect(present: boolean): void {
    if (present === this.isPresent) return;
    this.isPresent = present;
    if (!present) this.deactivate('removed');
    for (let i = 0; i < this.listeners.length; i++) this.listeners[i](present);
  }

  /**
   * Cold reset (ISO 7816-3 §6.2.2): RST low, VCC on, CLK on, RST high after `resetHoldMs`,
   * then the ATR within the ATR time-outs. Calls back with the raw ATR bytes; on silence
   * ('timeout' → the card is mute), a cut-off ATR or an invalid TS the card is deactivated.
   * When already powered, calls back at once with the ATR of that activation.
   */
  powerUp(cb: (err: ReadError | null, atr: Uint8Array | null) => void): void {
    if (!this.isPresent) return cb('removed', null);
    if (this.isPowered && this.atr) return cb(null, this.atr);
    const s = this.slot;
    if (COUNTED) this.stats.powerUps++;
    this.clearLine();
    digitalWrite(s.rst.pin, s.rst.activeLow ? 1 : 0);
    digitalWrite(s.vcc.pin, s.vcc.activeLow ? 0 : 1);
    if (typeof analogWrite === 'function') analogWrite(s.clk.pin, 0.5, { freq: s.clk.requestHz });
    this.isPowered = true;
    const hold = this.opts.resetHoldMs === undefined ? 2 : this.opts.resetHoldMs;
    setTimeout(() => {
      if (!this.isPowered) return cb(this.isPresent ? 'off' : 'removed', null);
      this.rx = []; // nothing is expected before RST goes high
      digitalWrite(s.rst.pin, s.rst.activeLow ? 0 : 1);
      const first = this.opts.atrFirstMs === undefined ? 200 : this.opts.atrFirstMs;
      const next = this.opts.atrNextMs === undefined ? 1100 : this.opts.atrNextMs;
      this.read(first, next, atrLength, (err, bytes) => {
        if (err) {
          if (err !== 'removed' && err !== 'off') this.deactivate('off');
          return cb(err, null);
        }
        this.atr = new Uint8Array(bytes);
        cb(null, this.atr);
      });
    }, hold);
  }

  /**
   * Deactivation (ISO 7816-3 §6.4): RST low, CLK stopped (low), VCC off. A read in progress
   * ends with `reason` ('removed' when the card was pulled, 'off' otherwise).
   */
  deactivate(reason?: 'removed' | 'off'): void {
    const was = this.isPowered;
    this.isPowered = false;
    this.atr = null;
    if (was || !this.started) this.switchOff();
    this.clearLine();
    const p = this.pending;
    if (p) {
      this.pending = null;
      stopTimer(p);
      p.cb(reason === undefined ? 'off' : reason, p.buf);
    }
  }

  private switchOff(): void {
    const s = this.slot;
    digitalWrite(s.rst.pin, s.rst.activeLow ? 1 : 0);
    digitalWrite(s.clk.pin, 0);
    digitalWrite(s.vcc.pin, s.vcc.activeLow ? 1 : 0);
  }

  private clearLine(): void {
    this.rx = [];
    this.echo.fill(0);
    this.echoHead = 0;
    this.echoLen = 0;
  }

  /** Sends bytes to the card (ignored unless powered); their echo is expected and dropped. */
  send(bytes: Uint8Array): void {
    if (!this.isPowered) return;
    for (let i = 0; i < bytes.length; i++) {
      if (this.echoLen >= ECHO_SIZE) {
        // never heard back: the line is broken; forget the oldest
        if (COUNTED) this.stats.echoErrors++;
        this.echo[this.echoHead] = 0;
        this.echoHead = (this.echoHead + 1) % ECHO_SIZE;
        this.echoLen--;
      }
      this.echo[(this.echoHead + this.echoLen) % ECHO_SIZE] = bytes[i];
      this.echoLen++;
    }
    if (COUNTED) this.stats.sent += bytes.length;
    this.serial.write(bytes);
  }

  /**
   * Reads one frame: the first byte within `firstMs` (counted from the last echo byte heard,
   * i.e. from the end of our own transmission), each further byte within `nextMs`, until
   * `need(buf)` bytes are in. One read at a time.
   */
  read(firstMs: number, nextMs: number, need: FrameLength, cb: (err: ReadError | null, bytes: number[]) => void): void {
    if (!this.isPowered) return cb(this.isPresent ? 'off' : 'removed', []);
    if (this.pending) {
      const old = this.pending;
      this.pending = null;
      stopTimer(old);
      old.cb('off', old.buf);
    }
    const p: PendingRead = { buf: [], firstMs: firstMs, nextMs: nextMs, need: need, cb: cb, timer: 0 };
    this.pending = p;
    this.arm(p);
    // bytes that came before the read (a fast card): they belong to it, in order
    const early = this.rx;
    this.rx = [];
    for (let i = 0; i < early.length; i++) this.route(early[i]);
  }

  /** Discards bytes until the line has been quiet for `quietMs` (the rest of a damaged frame). */
  drain(quietMs: number, cb: () => void): void {
    this.rx = [];
    this.read(quietMs, quietMs, (buf) => (buf.length >= RX_LIMIT ? buf.length : buf.length + 1), () => cb());
  }

  private arm(p: PendingRead): void {
    stopTimer(p);
    p.timer = setTimeout(() => {
      p.timer = 0; // fired: never cleared again (clearing a spent id is an error on some Espruino versions)
      this.expire(p);
    }, p.buf.length === 0 ? p.firstMs : p.nextMs);
  }

  private expire(p: PendingRead): void {
    if (this.pending !== p) return;
    this.pending = null;
    if (p.buf.length === 0 && this.echoLen > 0) {
      // our own bytes never came back: the I/O line is stuck or the UART is not wired
      if (COUNTED) this.stats.echoErrors++;
      this.echo.fill(0);
      this.echoHead = 0;
      this.echoLen = 0;
    }
    p.cb(p.buf.length === 0 ? 'timeout' : 'partial', p.buf);
  }

  /** Adds one byte to the pending read; finishes it when complete or invalid. */
  private take(p: PendingRead, b: number): void {
    p.buf.push(b);
    const n = p.need(p.buf);
    if (n < 0 || p.buf.length >= n) {
      this.pending = null;
      stopTimer(p);
      p.cb(n < 0 ? 'invalid' : null, p.buf);
    }
  }

  /** One received byte to the pending read, or kept for the next one. */
  private route(b: number): void {
    const p = this.pending;
    if (p) {
      this.take(p, b);
      if (this.pending === p) this.arm(p);
    } else if (this.rx.length < RX_LIMIT) {
      this.rx.push(b);
    }
  }

  private onData(d: string): void {
    if (!this.isPowered) {
      if (COUNTED) this.stats.ignored += d.length;
      return;
    }
    for (let i = 0; i < d.length && this.isPowered; i++) {
      const b = d.charCodeAt(i) & 0xff;
      if (this.echoLen > 0) {
        const want = this.echo[this.echoHead];
        this.echo[this.echoHead] = 0;
        this.echoHead = (this.echoHead + 1) % ECHO_SIZE;
        this.echoLen--;
        if (want === b) {
          if (COUNTED) this.stats.echoed++;
          // the first-byte time-out counts from the end of our transmission
          if (this.pending && this.pending.buf.length === 0) this.arm(this.pending);
          continue;
        }
        // a collision (the card talked while we sent) or a corrupted echo: the rest of the
        // echo is unreliable; the byte goes up, where the EDC rejects the frame
        if (COUNTED) this.stats.echoErrors++;
        this.echo.fill(0);
        this.echoHead = 0;
        this.echoLen = 0;
      }
      if (COUNTED) this.stats.received++;
      this.route(b);
    }
  }
}

/**
 * The card reader with what the firmware never calls: releasing the slot (tests and tools).
 * Apart from CardReader because esbuild keeps every method of a class the firmware uses.
 */
export class FullCardReader extends CardReader {
  /** Releases the card detect watch and powers the card off. */
  stop(): void {
    if (!this.started) return;
    this.deactivate('off');
    if (this.watchId) clearWatch(this.watchId);
    this.watchId = 0;
    this.started = false;
  }
}
