// ISO/IEC 7816-3 §11: the T=1 half-duplex block transmission protocol, both sides.
//
// Block = NAD PCB LEN INF EDC. EDC is either the LRC (one byte: XOR of every byte from NAD
// to the last INF byte) or a CRC (two bytes), chosen by bit 1 of the first TCi for T=1 in the
// ATR (TC3 here). The CRC is the one the open-source PC/SC CCID driver uses (see `crc16`).
// NAD = 0 DAD(3 bits) 0 SAD(3 bits); b8 and b4 (VPP control, obsolete) are ignored.
//   I-block  PCB 0 N(S) M 00000        (b8 = 0; b7 = send sequence number; b6 = more data)
//   R-block  PCB 1 0 0 N(R) 00 ee      (ee: 00 ok, 01 EDC/parity error, 10 other error)
//   S-block  PCB 1 1 r 000 tt          (r: 1 = response; tt: 00 RESYNCH, 01 IFS, 10 ABORT, 11 WTX)
//
// Pure logic: no timers and no I/O of its own. The card side is fed bytes one at a time
// (`receiveByte`) and told when the line has been idle for longer than the character
// waiting time (`lineIdle`); it writes its blocks through an injected `send`. The
// terminal side talks to an injected `T1Port` whose `readByte(timeoutMs)` returns null
// when nothing arrived within the timeout (the port owns the clock).

export const NAD_DEFAULT = 0x00;
export const MAX_INF = 254;
export const DEFAULT_IFS = 32;

/** Error detection code: LRC (1 byte) or CRC (2 bytes), from TC3 bit 1 of the ATR. */
export type Edc = 'LRC' | 'CRC';
export const edcLength = (edc: Edc): number => (edc === 'CRC' ? 2 : 1);

export const enum SType {
  RESYNCH = 0,
  IFS = 1,
  ABORT = 2,
  WTX = 3,
}

export type Block =
  | { kind: 'I'; nad: number; ns: number; more: boolean; inf: Uint8Array }
  | { kind: 'R'; nad: number; nr: number; error: 0 | 1 | 2 }
  | { kind: 'S'; nad: number; response: boolean; type: SType; inf: Uint8Array };

export class T1Error extends Error {
  constructor(
    readonly code: 'RESYNCHRONISED' | 'DEACTIVATE' | 'ABORTED' | 'TOO_LONG',
    message: string,
  ) {
    super(message);
    this.name = 'T1Error';
  }
}

export function lrc(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let x = 0;
  for (let i = start; i < end; i++) x ^= bytes[i];
  return x;
}

/**
 * The T=1 CRC as computed by the PC/SC CCID driver (src/openct/checksum.c, "ISO STD 3309"):
 * polynomial x^16 + x^12 + x^5 + 1 processed LSB first (0x8408 reflected), initial value
 * 0xFFFF, no final XOR (CRC-16/MCRF4XX in the CRC catalogue; check value 0x6F91 for
 * "123456789"); the block carries it high byte first. ISO/IEC 7816-3 only refers to
 * ISO/IEC 13239, whose FCS differs (final complement, low byte first); readers disagree
 * in practice, see test/vectors/t1/README.md.
 */
export function crc16(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffff;
  for (let i = start; i < end; i++) {
    c ^= bytes[i];
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x8408 : c >>> 1;
  }
  return c;
}

/** Writes the EDC of bytes[0 .. end) at bytes[end ..]. */
function putEdc(bytes: Uint8Array, end: number, edc: Edc): void {
  if (edc === 'LRC') {
    bytes[end] = lrc(bytes, 0, end);
  } else {
    const c = crc16(bytes, 0, end);
    bytes[end] = c >> 8;
    bytes[end + 1] = c & 0xff;
  }
}

function edcOk(bytes: Uint8Array, end: number, edc: Edc): boolean {
  if (edc === 'LRC') return lrc(bytes, 0, end) === bytes[end];
  const c = crc16(bytes, 0, end);
  return bytes[end] === c >> 8 && bytes[end + 1] === (c & 0xff);
}

/** NAD with SAD and DAD exchanged (the answer's NAD); the VPP bits b8 and b4 are dropped. */
export function swapNad(nad: number): number {
  return ((nad & 0x07) << 4) | ((nad >> 4) & 0x07);
}

export function pcbOf(b: Block): number {
  switch (b.kind) {
    case 'I':
      return ((b.ns & 1) << 6) | (b.more ? 0x20 : 0);
    case 'R':
      return 0x80 | ((b.nr & 1) << 4) | b.error;
    case 'S':
      return 0xc0 | (b.response ? 0x20 : 0) | b.type;
  }
}

export function encodeBlock(b: Block, edc: Edc = 'LRC'): Uint8Array {
  const inf = b.kind === 'R' ? new Uint8Array(0) : b.inf;
  if (inf.length > MAX_INF) throw new RangeError(`INF of ${inf.length} bytes exceeds ${MAX_INF}`);
  const out = new Uint8Array(3 + inf.length + edcLength(edc));
  out[0] = b.nad;
  out[1] = pcbOf(b);
  out[2] = inf.length;
  out.set(inf, 3);
  putEdc(out, 3 + inf.length, edc);
  return out;
}

export const iBlock = (ns: number, more: boolean, inf: Uint8Array, nad = NAD_DEFAULT): Block => ({ kind: 'I', nad, ns: ns & 1, more, inf });
export const rBlock = (nr: number, error: 0 | 1 | 2 = 0, nad = NAD_DEFAULT): Block => ({ kind: 'R', nad, nr: nr & 1, error });
export const sBlock = (type: SType, response: boolean, inf: Uint8Array = new Uint8Array(0), nad = NAD_DEFAULT): Block => ({
  kind: 'S',
  nad,
  response,
  type,
  inf,
});

/**
 * Parses one complete block; returns a reason when it is invalid: 'edc' for a bad LRC/CRC,
 * 'format' for a bad PCB, a reserved LEN (FF) or LEN above `maxInf` (the receiver's IFS).
 */
export function parseBlock(bytes: Uint8Array, edc: Edc = 'LRC', maxInf = MAX_INF): Block | { invalid: 'edc' | 'format' } {
  const el = edcLength(edc);
  if (bytes.length < 3 + el) return { invalid: 'format' };
  const len = bytes[2];
  if (bytes.length !== len + 3 + el) return { invalid: 'format' };
  if (!edcOk(bytes, 3 + len, edc)) return { invalid: 'edc' };
  if (len === 0xff || len > maxInf) return { invalid: 'format' };
  const nad = bytes[0];
  const pcb = bytes[1];
  const inf = bytes.slice(3, 3 + len);
  if ((pcb & 0x80) === 0) {
    if ((pcb & 0x1f) !== 0) return { invalid: 'format' };
    return { kind: 'I', nad, ns: (pcb >> 6) & 1, more: (pcb & 0x20) !== 0, inf };
  }
  if ((pcb & 0xc0) === 0x80) {
    const err = pcb & 0x0f;
    if ((pcb & 0x20) !== 0 || len !== 0 || err > 2) return { invalid: 'format' };
    return { kind: 'R', nad, nr: (pcb >> 4) & 1, error: err as 0 | 1 | 2 };
  }
  const type = pcb & 0x1f;
  if (type > 3) return { invalid: 'format' };
  const needsInf = type === SType.IFS || type === SType.WTX;
  if (needsInf ? len !== 1 : len !== 0) return { invalid: 'format' };
  if (type === SType.IFS && (inf[0] < 1 || inf[0] > 0xfe)) return { invalid: 'format' };
  return { kind: 'S', nad, response: (pcb & 0x20) !== 0, type: type as SType, inf };
}

export function isBlock(x: Block | object): x is Block {
  return (x as Block).kind !== undefined;
}

// ------------------------------------------------------------------------------------ card

/** What the card application returns for one APDU: the response APDU and the time it took. */
export interface CardReply {
  response: Uint8Array;
  /** Emulated processing time; above the BWT the card first asks for a waiting time extension. */
  workMs?: number;
}

export interface T1CardOptions {
  /** IFSC: the card's receive buffer, advertised in TA3. */
  ifsc: number;
  /** BWT in ms (from BWI): a reply slower than this is preceded by S(WTX request). */
  bwtMs: number;
  /** Runs one complete command APDU. May throw (power cut): the card then stays silent. */
  handle: (apdu: Uint8Array) => CardReply;
  send: (bytes: Uint8Array) => void;
  /** Longest command APDU accepted across chained blocks (default 65544); longer: S(ABORT request). */
  maxApdu?: number;
  /** Error detection code announced in TC3 (default LRC). */
  edc?: Edc;
  /**
   * true: the card supports only NAD 00 and treats any block whose NAD (VPP bits ignored) is
   * not 00 as an invalid block (R-block, "other error"). Default false: the card answers
   * every block with SAD and DAD exchanged.
   */
  nadZeroOnly?: boolean;
}

/**
 * The card side. Rules (ISO 7816-3 §11.6.2/11.6.3, annex A scenarios):
 * - an I-block with the expected N(S) is accepted; M=1 is acknowledged with R(N(R) = next);
 *   the last block of a chain runs the APDU exactly once and the answer is sent as I-blocks
 *   chained by IFSD;
 * - a block with a bad EDC or format (bad PCB, LEN = FF, LEN > IFSC), or a partial block
 *   ended by line idle, gets R(expected N(S)) with the error bit (01 EDC, 10 other);
 * - an R-block asking for the N(S) of the card's last I-block makes the card send it again,
 *   an R-block acknowledging the card's chained block gets the next one, anything else gets
 *   R(expected N(S)) (the terminal's I-block was lost);
 * - S(RESYNCH), S(IFS), S(ABORT) requests are answered; S(WTX) requests are sent when a reply
 *   takes longer than the BWT, S(IFS) requests when `requestIfsc` was called, S(ABORT)
 *   requests when a command chain exceeds `maxApdu`; a request is repeated until answered;
 * - NAD: every block is answered with the NAD of the last valid block, SAD and DAD exchanged
 *   (one logical connection; SAD = DAD ≠ 0 is reserved and makes the block invalid).
 */
export class T1Card {
  ifsc: number;
  ifsd = DEFAULT_IFS;
  readonly edc: Edc;
  private expectedNs = 0; // N(S) of the next I-block from the terminal
  private cardNs = 0; // N(S) of the card's next I-block
  private rx: number[] = [];
  private draining = false;
  private rxBadLen = false; // LEN = FF seen: the rest of the block is ignored until line idle
  private nad = NAD_DEFAULT; // NAD of the card's blocks
  private chainIn: number[] = [];
  private chainOut: Uint8Array | null = null; // response bytes not yet sent
  private lastSent: Block | null = null;
  private lastSentI: Block | null = null;
  private pendingReply: Uint8Array | null = null; // waiting for S(WTX/IFS response)
  private awaiting: SType | null = null; // the S request `pendingReply` waits for
  private pendingIfsc: number | null = null;
  /** Counters for tests and diagnostics. */
  readonly stats = { blocksIn: 0, badBlocks: 0, apdus: 0, wtx: 0, resynchs: 0, retransmits: 0, aborts: 0 };

  constructor(private readonly opts: T1CardOptions) {
    this.ifsc = opts.ifsc;
    this.edc = opts.edc ?? 'LRC';
  }

  /** Cold or warm reset: all T=1 state back to its initial values. */
  reset(): void {
    this.expectedNs = 0;
    this.cardNs = 0;
    this.ifsd = DEFAULT_IFS;
    this.ifsc = this.opts.ifsc;
    this.rx = [];
    this.draining = false;
    this.rxBadLen = false;
    this.nad = NAD_DEFAULT;
    this.chainIn = [];
    this.chainOut = null;
    this.lastSent = null;
    this.lastSentI = null;
    this.pendingReply = null;
    this.awaiting = null;
    this.pendingIfsc = null;
  }

  /**
   * Announces a new IFSC (1..254): the card sends S(IFS request) before its next response
   * I-block and uses the new size once the terminal has answered with S(IFS response).
   */
  requestIfsc(ifsc: number): void {
    if (!Number.isInteger(ifsc) || ifsc < 1 || ifsc > MAX_INF) throw new RangeError(`IFSC ${ifsc} outside 1..${MAX_INF}`);
    this.pendingIfsc = ifsc;
  }

  receiveByte(b: number): void {
    if (this.draining) return;
    this.rx.push(b & 0xff);
    if (this.rx.length === 3 && this.rx[2] === 0xff) {
      // reserved LEN: invalid block; its end is only known from the line going idle
      this.rx = [];
      this.draining = true;
      this.rxBadLen = true;
      return;
    }
    if (this.rx.length >= 3 && this.rx.length === this.rx[2] + 3 + edcLength(this.edc)) {
      const bytes = Uint8Array.from(this.rx);
      this.rx = [];
      this.onBlock(bytes);
    }
  }

  /** The line has been silent for longer than CWT: ends a partial block and any draining. */
  lineIdle(): void {
    const partial = this.rx.length > 0 || this.rxBadLen;
    this.rx = [];
    this.draining = false;
    this.rxBadLen = false;
    if (partial) this.onInvalid(2, false);
  }

  private emit(b: Block): void {
    const blk = { ...b, nad: this.nad } as Block;
    this.lastSent = blk;
    if (blk.kind === 'I') this.lastSentI = blk;
    this.opts.send(encodeBlock(blk, this.edc));
  }

  private resend(b: Block): void {
    this.lastSent = b;
    this.opts.send(encodeBlock(b, this.edc));
  }

  private unansweredRequest(): boolean {
    return this.lastSent !== null && this.lastSent.kind === 'S' && !this.lastSent.response;
  }

  private onInvalid(error: 1 | 2, drain = true): void {
    this.stats.badBlocks++;
    // the rest of a damaged block may still be on the line
    if (drain) this.draining = true;
    if (this.unansweredRequest()) {
      this.resend(this.lastSent!); // our S request is still unanswered
      return;
    }
    this.emit(rBlock(this.expectedNs, error));
  }

  private onBlock(bytes: Uint8Array): void {
    this.stats.blocksIn++;
    const p = parseBlock(bytes, this.edc, this.ifsc);
    if (!isBlock(p)) {
      this.onInvalid(p.invalid === 'edc' ? 1 : 2);
      return;
    }
    const nad = p.nad & 0x77;
    if ((nad !== 0 && (nad & 0x07) === nad >> 4) || (this.opts.nadZeroOnly && nad !== 0)) {
      this.onInvalid(2, false);
      return;
    }
    this.nad = swapNad(nad);
    if (p.kind === 'S') return this.onS(p);
    if (this.pendingReply) {
      // waiting for S(WTX/IFS response): anything else repeats the request
      if (this.lastSent) this.resend(this.lastSent);
      return;
    }
    if (p.kind === 'R') {
      if (this.unansweredRequest()) {
        this.resend(this.lastSent!); // our S(ABORT request) was lost
        return;
      }
      return this.onR(p);
    }
    this.onI(p);
  }

  private onS(p: Extract<Block, { kind: 'S' }>): void {
    if (p.response) {
      if (this.pendingReply && p.type === this.awaiting) {
        if (p.type === SType.IFS) {
          if (p.inf[0] !== this.pendingIfsc) return this.onInvalid(2, false);
          this.ifsc = this.pendingIfsc;
          this.pendingIfsc = null;
        }
        const reply = this.pendingReply;
        this.pendingReply = null;
        this.awaiting = null;
        this.startReply(reply);
        return;
      }
      if (p.type === SType.ABORT && this.unansweredRequest() && (this.lastSent as { type: SType }).type === SType.ABORT) {
        // the terminal accepted our abort: the chain is dropped, the terminal sends next
        this.lastSent = null;
        return;
      }
      this.onInvalid(2, false);
      return;
    }
    switch (p.type) {
      case SType.RESYNCH:
        this.stats.resynchs++;
        this.expectedNs = 0;
        this.cardNs = 0;
        this.ifsd = DEFAULT_IFS;
        this.ifsc = this.opts.ifsc;
        this.chainIn = [];
        this.chainOut = null;
        this.pendingReply = null;
        this.awaiting = null;
        this.lastSentI = null;
        this.emit(sBlock(SType.RESYNCH, true));
        return;
      case SType.IFS:
        this.ifsd = p.inf[0];
        this.emit(sBlock(SType.IFS, true, p.inf));
        return;
      case SType.ABORT:
        this.stats.aborts++;
        this.chainIn = [];
        this.chainOut = null;
        this.pendingReply = null;
        this.awaiting = null;
        this.emit(sBlock(SType.ABORT, true));
        return;
      case SType.WTX:
        this.onInvalid(2, false); // only the card may ask for more time
        return;
    }
  }

  private onR(p: Extract<Block, { kind: 'R' }>): void {
    const last = this.lastSentI;
    if (this.chainOut && last && last.kind === 'I' && last.more && p.nr === this.cardNs) {
      this.sendNextChunk();
      return;
    }
    if (last && last.kind === 'I' && p.nr === last.ns) {
      this.stats.retransmits++;
      this.resend(last);
      return;
    }
    this.emit(rBlock(this.expectedNs, 0));
  }

  private onI(p: Extract<Block, { kind: 'I' }>): void {
    if (p.ns !== this.expectedNs) {
      this.emit(rBlock(this.expectedNs, 2));
      return;
    }
    if (this.chainIn.length + p.inf.length > (this.opts.maxApdu ?? 65544)) {
      // not accepted (N(S) unchanged): the terminal answers the abort and drops the command
      this.chainIn = [];
      this.stats.aborts++;
      this.emit(sBlock(SType.ABORT, false));
      return;
    }
    this.expectedNs ^= 1;
    // a new I-block from the terminal acknowledges our last I-block
    this.chainOut = null;
    for (const b of p.inf) this.chainIn.push(b);
    if (p.more) {
      this.emit(rBlock(this.expectedNs, 0));
      return;
    }
    const apdu = Uint8Array.from(this.chainIn);
    this.chainIn = [];
    this.stats.apdus++;
    const reply = this.opts.handle(apdu);
    if ((reply.workMs ?? 0) > this.opts.bwtMs) {
      const mult = Math.min(255, Math.ceil((reply.workMs ?? 0) / this.opts.bwtMs));
      this.pendingReply = reply.response;
      this.awaiting = SType.WTX;
      this.stats.wtx++;
      this.emit(sBlock(SType.WTX, false, Uint8Array.of(mult)));
      return;
    }
    this.startReply(reply.response);
  }

  private startReply(resp: Uint8Array): void {
    if (this.pendingIfsc !== null) {
      this.pendingReply = resp;
      this.awaiting = SType.IFS;
      this.emit(sBlock(SType.IFS, false, Uint8Array.of(this.pendingIfsc)));
      return;
    }
    this.chainOut = resp;
    this.sendNextChunk();
  }

  private sendNextChunk(): void {
    const rest = this.chainOut!;
    const n = Math.min(this.ifsd, rest.length);
    const more = rest.length > n;
    const block = iBlock(this.cardNs, more, rest.slice(0, n));
    this.cardNs ^= 1;
    this.chainOut = more ? rest.slice(n) : null;
    this.emit(block);
  }
}

// -------------------------------------------------------------------------------- terminal

export interface T1Port {
  send(bytes: Uint8Array): void;
  /** Next byte, or null when none arrived within `timeoutMs` (the port advances its clock). */
  readByte(timeoutMs: number): number | null;
}

export interface T1TerminalOptions {
  /** IFSC from the ATR (TA3). */
  ifsc: number;
  /** The IFSD this terminal announces with S(IFS request) (default 254). */
  ifsd?: number;
  bwtMs: number;
  cwtMs: number;
  /** Retransmissions of one block before S(RESYNCH) (ISO: at least... default 3). */
  maxRetries?: number;
  /** NAD of the terminal's blocks (default 00); the card's blocks must carry it swapped. */
  nad?: number;
  /** Error detection code from the ATR's TC3 (default LRC). */
  edc?: Edc;
}

/**
 * The reference reader side (the model for the firmware's driver). `transmit` sends one
 * command APDU, chained by IFSC, and returns the response APDU. Error handling: a bad or
 * missing block is answered with an R-block (or the repeated S request) up to `maxRetries`
 * times; then S(RESYNCH) up to 3 times — after a successful resynchronisation the APDU's
 * outcome is unknown, so `transmit` throws T1Error RESYNCHRONISED (never resends it
 * silently); if RESYNCH fails too it throws DEACTIVATE. Every loop is bounded.
 */
export class T1Terminal {
  ifsc: number;
  readonly ifsd: number;
  /** The IFSD the card currently uses: 32 until S(IFS) succeeds, and again after RESYNCH. */
  private ifsdInUse = DEFAULT_IFS;
  private ns = 0; // N(S) of our next I-block
  private cardNs = 0; // expected N(S) of the card's next I-block
  private readonly maxRetries: number;
  private readonly nad: number;
  readonly edc: Edc;
  /** The last WTX multiplier granted (tests). */
  lastWtx = 0;
  readonly stats = { blocksSent: 0, retransmits: 0, resynchs: 0, badBlocks: 0, timeouts: 0 };

  constructor(
    private readonly port: T1Port,
    private readonly opts: T1TerminalOptions,
  ) {
    this.ifsc = opts.ifsc;
    this.ifsd = opts.ifsd ?? MAX_INF;
    this.maxRetries = opts.maxRetries ?? 3;
    this.nad = opts.nad ?? NAD_DEFAULT;
    this.edc = opts.edc ?? 'LRC';
  }

  /** After a card reset: sequence numbers back to 0, IFSC from the ATR. */
  reset(ifsc = this.opts.ifsc): void {
    this.ns = 0;
    this.cardNs = 0;
    this.ifsc = ifsc;
    this.ifsdInUse = DEFAULT_IFS;
  }

  private sendBlock(b: Block): void {
    this.stats.blocksSent++;
    this.port.send(encodeBlock(b, this.edc));
  }

  /**
   * Reads one block: NAD within `bwt` (BWT expiry: null), the rest within CWT each (CWT
   * expiry: a partial block). A damaged block is { bad: 1 } for a bad EDC, { bad: 2 } for
   * anything else (partial, LEN = FF or > IFSD, bad PCB, wrong NAD).
   */
  private readBlock(bwt: number): Block | null | { bad: 1 | 2 } {
    const first = this.port.readByte(bwt);
    if (first === null) {
      this.stats.timeouts++;
      return null;
    }
    const bytes = [first];
    const el = edcLength(this.edc);
    for (;;) {
      if (bytes.length === 3 && bytes[2] === 0xff) {
        this.stats.badBlocks++;
        this.drain();
        return { bad: 2 };
      }
      const need = bytes.length >= 3 ? bytes[2] + 3 + el : 3;
      if (bytes.length >= need) break;
      const b = this.port.readByte(this.opts.cwtMs);
      if (b === null) {
        this.stats.badBlocks++;
        return { bad: 2 };
      }
      bytes.push(b);
    }
    const p = parseBlock(Uint8Array.from(bytes), this.edc, Math.max(this.ifsd, this.ifsdInUse));
    if (!isBlock(p) || (p.nad & 0x77) !== swapNad(this.nad)) {
      this.stats.badBlocks++;
      this.drain();
      return { bad: !isBlock(p) && p.invalid === 'edc' ? 1 : 2 };
    }
    return p;
  }

  /** Discards whatever is left on the line (the rest of a damaged block). */
  private drain(): void {
    for (let i = 0; i < 300 && this.port.readByte(this.opts.cwtMs) !== null; i++);
  }

  /**
   * One exchange step: send `block`, and read until `accept` returns a result or a block
   * that needs an answer arrives. Handles WTX and card S(IFS)/S(ABORT) requests, R-block
   * retransmission requests and errors, with bounded retries; resynchronises on exhaustion.
   */
  private exchange<T>(block: Block, accept: (b: Block) => T | undefined): T {
    let toSend: Block = block;
    let errors = 0;
    let wtx = 1;
    for (let guard = 0; guard < 64; guard++) {
      this.sendBlock(toSend);
      const r = this.readBlock(this.opts.bwtMs * wtx);
      wtx = 1;
      if (r !== null && isBlock(r)) {
        if (r.kind === 'S' && !r.response && r.type === SType.WTX) {
          wtx = Math.max(1, r.inf[0]);
          this.lastWtx = wtx;
          toSend = sBlock(SType.WTX, true, r.inf, this.nad);
          continue;
        }
        if (r.kind === 'S' && !r.response && r.type === SType.IFS) {
          this.ifsc = r.inf[0];
          toSend = sBlock(SType.IFS, true, r.inf, this.nad);
          continue;
        }
        if (r.kind === 'S' && !r.response && r.type === SType.ABORT) {
          this.sendBlock(sBlock(SType.ABORT, true, new Uint8Array(0), this.nad));
          throw new T1Error('ABORTED', 'the card aborted the chain');
        }
        const v = accept(r);
        if (v !== undefined) return v;
        if (r.kind === 'R' && block.kind === 'I' && r.nr === block.ns) {
          // the card asks for our I-block again
          this.stats.retransmits++;
          if (++errors > this.maxRetries) return this.resynch();
          toSend = block;
          continue;
        }
      }
      // timeout, damaged block or a block that makes no sense here
      if (++errors > this.maxRetries) return this.resynch();
      this.stats.retransmits++;
      if (block.kind === 'S') toSend = block;
      else if (block.kind === 'R') toSend = block;
      else toSend = rBlock(this.cardNs, r === null || isBlock(r) ? 2 : r.bad, this.nad);
    }
    return this.resynch();
  }

  private resynch(): never {
    for (let i = 0; i < 3; i++) {
      this.stats.resynchs++;
      this.drain();
      this.sendBlock(sBlock(SType.RESYNCH, false, new Uint8Array(0), this.nad));
      const r = this.readBlock(this.opts.bwtMs);
      if (r !== null && isBlock(r) && r.kind === 'S' && r.response && r.type === SType.RESYNCH) {
        this.ns = 0;
        this.cardNs = 0;
        this.ifsc = this.opts.ifsc;
        this.ifsdInUse = DEFAULT_IFS;
        throw new T1Error('RESYNCHRONISED', 'T=1 resynchronised: the outcome of the APDU is unknown');
      }
    }
    throw new T1Error('DEACTIVATE', 'T=1 resynchronisation failed: deactivate the card');
  }

  /** S(IFS request) announcing this terminal's IFSD (usually right after the ATR). */
  negotiateIfsd(): void {
    const req = sBlock(SType.IFS, false, Uint8Array.of(this.ifsd), this.nad);
    this.exchange(req, (b) => (b.kind === 'S' && b.response && b.type === SType.IFS && b.inf[0] === this.ifsd ? true : undefined));
    this.ifsdInUse = this.ifsd;
  }

  /** Sends one command APDU and returns the response APDU. */
  transmit(apdu: Uint8Array): Uint8Array {
    if (apdu.length === 0) throw new RangeError('empty APDU');
    // send the command, chained by IFSC
    let off = 0;
    let first: Block | null = null;
    for (;;) {
      const n = Math.min(this.ifsc, apdu.length - off);
      const more = off + n < apdu.length;
      const blk = iBlock(this.ns, more, apdu.slice(off, off + n), this.nad);
      off += n;
      if (more) {
        // wait for R(N(R) = our next N(S))
        const want = this.ns ^ 1;
        this.exchange(blk, (b) => (b.kind === 'R' && b.nr === want ? true : undefined));
        this.ns ^= 1;
        continue;
      }
      first = this.exchange(blk, (b) => (b.kind === 'I' && b.ns === this.cardNs ? b : undefined));
      this.ns ^= 1;
      break;
    }
    // receive the response, acknowledging chained blocks with R(N(R))
    const out: number[] = [];
    let cur: Block = first;
    for (;;) {
      if (cur.kind !== 'I') throw new Error('unreachable');
      for (const b of cur.inf) out.push(b);
      this.cardNs ^= 1;
      if (out.length > 65538) throw new T1Error('TOO_LONG', 'response longer than 65538 bytes');
      if (!cur.more) return Uint8Array.from(out);
      const ack = rBlock(this.cardNs, 0, this.nad);
      cur = this.exchange(ack, (b) => (b.kind === 'I' && b.ns === this.cardNs ? b : undefined));
    }
  }
}
