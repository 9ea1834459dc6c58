// The emulated smart card: ATR + PPS + T=1 card side + purse applet + persistent store,
// spoken to byte by byte over the emulated card UART.

import { buildAtr, DEFAULT_ATR_PARAMS, AtrParams, t1Timings } from './atr';
import { PurseApplet } from './applet';
import { CardStore, FileNv, MemoryNv, Nv, PowerCut } from './store';
import { T1Card } from './t1';

export interface EmulatedCardOptions {
  atr?: AtrParams;
  /** Milliseconds; used for the character waiting time between received bytes (default Date.now). */
  clock?: () => number;
  randomPrivateKey?: () => Uint8Array;
}

type Phase = 'absent' | 'unpowered' | 'pps' | 't1' | 'mute';

export class EmulatedCard {
  readonly atr: Uint8Array;
  readonly cwtMs: number;
  readonly bwtMs: number;
  /** Card → reader bytes (the card UART's TX line). */
  onTransmit: (bytes: Uint8Array) => void = () => undefined;
  private phase: Phase = 'unpowered';
  private store: CardStore | null = null;
  private applet: PurseApplet | null = null;
  private readonly t1: T1Card;
  private readonly clock: () => number;
  private lastByteAt = -Infinity;
  private pps: number[] = [];
  private ppsDone = false;

  constructor(
    readonly nv: Nv,
    private readonly opts: EmulatedCardOptions = {},
  ) {
    const p = opts.atr ?? DEFAULT_ATR_PARAMS;
    this.atr = buildAtr(p);
    const t = t1Timings(p);
    this.cwtMs = t.cwtMs;
    this.bwtMs = t.bwtMs;
    this.clock = opts.clock ?? Date.now;
    this.t1 = new T1Card({
      ifsc: p.ifsc,
      bwtMs: this.bwtMs,
      send: (b) => this.onTransmit(b),
      handle: (apdu) => {
        const response = this.applet!.process(apdu);
        return { response, workMs: this.applet!.lastWorkMs };
      },
    });
  }

  /** A card whose state lives in `file` (created by `personalise` + `FileNv.save`). */
  static fromFile(file: string, opts?: EmulatedCardOptions): EmulatedCard {
    return new EmulatedCard(new FileNv(file), opts);
  }

  get state(): Phase {
    return this.phase;
  }

  get t1Stats(): T1Card['stats'] {
    return this.t1.stats;
  }

  /** The applet (tests): present while the card is powered. */
  get currentApplet(): PurseApplet | null {
    return this.applet;
  }

  insert(): void {
    if (this.phase === 'absent') this.phase = 'unpowered';
  }

  /** Card pulled out: power and all volatile state are gone; NV is whatever was written. */
  remove(): void {
    this.powerOff();
    this.phase = 'absent';
  }

  /** Power cut with the card in the slot. */
  powerOff(): void {
    this.applet = null;
    this.store = null;
    this.t1.reset();
    if (this.phase !== 'absent') this.phase = 'unpowered';
  }

  /**
   * Cold/warm reset: NV recovery (rolls back an interrupted transaction), fresh T=1 and applet
   * state, then the ATR on the UART. Returns the ATR, or null if the card is absent or the
   * recovery itself was cut.
   */
  reset(): Uint8Array | null {
    if (this.phase === 'absent') return null;
    if (this.nv instanceof MemoryNv) this.nv.powerUp();
    try {
      this.store = CardStore.open(this.nv);
    } catch (e) {
      if (e instanceof PowerCut) {
        this.phase = 'mute';
        return null;
      }
      throw e;
    }
    this.applet = new PurseApplet(this.store, { randomPrivateKey: this.opts.randomPrivateKey });
    this.t1.reset();
    this.pps = [];
    this.ppsDone = false;
    this.phase = 'pps';
    this.lastByteAt = -Infinity;
    this.onTransmit(this.atr);
    return this.atr;
  }

  /**
   * Reader → card, bytes written together: they follow each other on the wire, so the
   * character waiting time is checked once, before the first — a pause of the test process
   * while they are handled is not a gap on the line.
   */
  receive(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.gapCheck();
    for (const b of bytes) this.take(b);
    this.lastByteAt = this.clock();
  }

  /** Reader → card, one byte (the card UART's RX line). */
  receiveByte(byte: number): void {
    this.gapCheck();
    this.take(byte);
  }

  private gapCheck(): void {
    const now = this.clock();
    if (now - this.lastByteAt > this.cwtMs) this.lineIdle();
    this.lastByteAt = now;
  }

  private take(byte: number): void {
    if (this.phase === 'pps') {
      if (!this.ppsDone && (this.pps.length > 0 || byte === 0xff)) {
        this.pps.push(byte);
        this.tryPps();
        return;
      }
      this.phase = 't1';
    }
    if (this.phase !== 't1') return;
    try {
      this.t1.receiveByte(byte);
    } catch (e) {
      if (e instanceof PowerCut) {
        this.powerOff();
        this.phase = 'mute';
        return;
      }
      throw e;
    }
  }

  /** The line has been idle longer than CWT (callers without a clock may call this after each burst). */
  lineIdle(): void {
    if (this.phase === 't1') this.t1.lineIdle();
    if (this.phase === 'pps' && this.pps.length > 0) this.pps = []; // incomplete PPS: ignored
  }

  /** PPS (ISO 7816-3 §9): only T=1 with the default Fi/Di is accepted; the request is echoed. */
  private tryPps(): void {
    const p = this.pps;
    if (p.length < 2) return;
    const pps0 = p[1];
    const need = 3 + ((pps0 >> 4) & 1) + ((pps0 >> 5) & 1) + ((pps0 >> 6) & 1);
    if (p.length < need) return;
    let x = 0;
    for (const b of p) x ^= b;
    const pps1ok = (pps0 & 0x10) === 0 || p[2] === 0x11;
    this.ppsDone = true;
    this.pps = [];
    if (x === 0 && (pps0 & 0x0f) === 1 && pps1ok) this.onTransmit(Uint8Array.from(p));
    // otherwise the card stays silent: the reader must reset it (ISO 7816-3 §9.3)
  }
}
