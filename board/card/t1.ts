// ISO/IEC 7816-3 §11: the T=1 half-duplex block transmission protocol, both sides.
//
// Block = NAD PCB LEN INF EDC. EDC is the LRC (XOR of every byte from NAD to the last INF
// byte); this card never selects CRC (TC3 = 00 in the ATR).
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

export function encodeBlock(b: Block): Uint8Array {
  const inf = b.kind === 'R' ? new Uint8Array(0) : b.inf;
  if (inf.length > MAX_INF) throw new RangeError(`INF of ${inf.length} bytes exceeds ${MAX_INF}`);
  const out = new Uint8Array(4 + inf.length);
  out[0] = b.nad;
  out[1] = pcbOf(b);
  out[2] = inf.length;
  out.set(inf, 3);
  out[3 + inf.length] = lrc(out, 0, 3 + inf.length);
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

/** Parses one complete block; returns a reason string when it is invalid (bad EDC, length, PCB). */
export function parseBlock(bytes: Uint8Array): Block | { invalid: 'edc' | 'format' } {
  if (bytes.length < 4) return { invalid: 'format' };
  const len = bytes[2];
  if (bytes.length !== len + 4) return { invalid: 'format' };
  if (lrc(bytes, 0, bytes.length - 1) !== bytes[bytes.length - 1]) return { invalid: 'edc' };
  if (len === 0xff) return { invalid: 'format' };
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

export function isBlock(x: ReturnType<typeof parseBlock>): x is Block {
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
  /** Longest command APDU accepted across chained blocks (default 65544). */
  maxApdu?: number;
}

/**
 * The card side. Rules (ISO 7816-3 §11.6.2/11.6.3, annex A scenarios):
 * - an I-block with the expected N(S) is accepted; M=1 is acknowledged with R(N(R) = next);
 *   the last block of a chain runs the APDU exactly once and the answer is sent as I-blocks
 *   chained by IFSD;
 * - a block with a bad LRC or format, or a partial block ended by line idle, gets
 *   R(expected N(S)) with the error bit (01 EDC, 10 other);
 * - an R-block asking for the N(S) of the card's last I-block makes the card send it again,
 *   an R-block acknowledging the card's chained block gets the next one, anything else gets
 *   R(expected N(S)) (the terminal's I-block was lost);
 * - S(RESYNCH), S(IFS), S(ABORT) requests are answered; S(WTX) requests are sent when a reply
 *   takes longer than the BWT, and repeated until answered.
 */
export class T1Card {
  ifsc: number;
  ifsd = DEFAULT_IFS;
  private expectedNs = 0; // N(S) of the next I-block from the terminal
  private cardNs = 0; // N(S) of the card's next I-block
  private rx: number[] = [];
  private draining = false;
  private chainIn: number[] = [];
  private chainOut: Uint8Array | null = null; // response bytes not yet sent
  private lastSent: Block | null = null;
  private lastSentI: Block | null = null;
  private pendingReply: Uint8Array | null = null; // waiting for S(WTX response)
  /** Counters for tests and diagnostics. */
  readonly stats = { blocksIn: 0, badBlocks: 0, apdus: 0, wtx: 0, resynchs: 0, retransmits: 0 };

  constructor(private readonly opts: T1CardOptions) {
    this.ifsc = opts.ifsc;
  }

  /** Cold or warm reset: all T=1 state back to its initial values. */
  reset(): void {
    this.expectedNs = 0;
    this.cardNs = 0;
    this.ifsd = DEFAULT_IFS;
    this.ifsc = this.opts.ifsc;
    this.rx = [];
    this.draining = false;
    this.chainIn = [];
    this.chainOut = null;
    this.lastSent = null;
    this.lastSentI = null;
    this.pendingReply = null;
  }

  receiveByte(b: number): void {
    if (this.draining) return;
    this.rx.push(b & 0xff);
    if (this.rx.length >= 3 && this.rx.length === this.rx[2] + 4) {
      const bytes = Uint8Array.from(this.rx);
      this.rx = [];
      this.onBlock(bytes);
    }
  }

  /** The line has been silent for longer than CWT: ends a partial block and any draining. */
  lineIdle(): void {
    const partial = this.rx.length > 0;
    this.rx = [];
    this.draining = false;
    if (partial) this.onInvalid(2);
  }

  private emit(b: Block): void {
    this.lastSent = b;
    if (b.kind === 'I') this.lastSentI = b;
    this.opts.send(encodeBlock(b));
  }

  private onInvalid(error: 1 | 2): void {
    this.stats.badBlocks++;
    // the rest of a damaged block may still be on the line
    this.draining = true;
    if (this.lastSent && this.lastSent.kind === 'S' && !this.lastSent.response) {
      this.emit(this.lastSent); // our S request is still unanswered
      return;
    }
    this.emit(rBlock(this.expectedNs, error));
  }

  private onBlock(bytes: Uint8Array): void {
    this.stats.blocksIn++;
    const p = parseBlock(bytes);
    if (!isBlock(p)) {
      this.onInvalid(p.invalid === 'edc' ? 1 : 2);
      return;
    }
    if (p.kind === 'S') return this.onS(p);
    if (this.pendingReply) {
      // waiting for S(WTX response): anything else repeats the request
      if (this.lastSent) this.emit(this.lastSent);
      return;
    }
    if (p.kind === 'R') return this.onR(p);
    this.onI(p);
  }

  private onS(p: Extract<Block, { kind: 'S' }>): void {
    if (p.response) {
      if (p.type === SType.WTX && this.pendingReply) {
        const reply = this.pendingReply;
        this.pendingReply = null;
        this.startReply(reply);
        return;
      }
      this.onInvalid(2);
      return;
    }
    switch (p.type) {
      case SType.RESYNCH:
        this.stats.resynchs++;
        this.expectedNs = 0;
        this.cardNs = 0;
        this.ifsd = DEFAULT_IFS;
        this.chainIn = [];
        this.chainOut = null;
        this.pendingReply = null;
        this.lastSentI = null;
        this.emit(sBlock(SType.RESYNCH, true));
        return;
      case SType.IFS:
        this.ifsd = p.inf[0];
        this.emit(sBlock(SType.IFS, true, p.inf));
        return;
      case SType.ABORT:
        this.chainIn = [];
        this.chainOut = null;
        this.emit(sBlock(SType.ABORT, true));
        return;
      case SType.WTX:
        this.onInvalid(2); // only the card may ask for more time
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
      this.emit(last);
      return;
    }
    this.emit(rBlock(this.expectedNs, 0));
  }

  private onI(p: Extract<Block, { kind: 'I' }>): void {
    if (p.ns !== this.expectedNs) {
      this.emit(rBlock(this.expectedNs, 2));
      return;
    }
    if (p.inf.length > this.ifsc) {
      this.emit(rBlock(this.expectedNs, 2));
      return;
    }
    this.expectedNs ^= 1;
    // a new I-block from the terminal acknowledges our last I-block
    this.chainOut = null;
    for (const b of p.inf) this.chainIn.push(b);
    if (this.chainIn.length > (this.opts.maxApdu ?? 65544)) {
      this.chainIn = [];
      this.emit(sBlock(SType.ABORT, false));
      return;
    }
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
      this.stats.wtx++;
      this.emit(sBlock(SType.WTX, false, Uint8Array.of(mult)));
      return;
    }
    this.startReply(reply.response);
  }

  private startReply(resp: Uint8Array): void {
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
  nad?: number;
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
  private ns = 0; // N(S) of our next I-block
  private cardNs = 0; // expected N(S) of the card's next I-block
  private readonly maxRetries: number;
  private readonly nad: number;
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
  }

  /** After a card reset: sequence numbers back to 0, IFSC from the ATR. */
  reset(ifsc = this.opts.ifsc): void {
    this.ns = 0;
    this.cardNs = 0;
    this.ifsc = ifsc;
  }

  private sendBlock(b: Block): void {
    this.stats.blocksSent++;
    this.port.send(encodeBlock(b));
  }

  /** Reads one block: NAD within `bwt`, the rest within CWT each. null = timeout; 'bad' = damaged. */
  private readBlock(bwt: number): Block | null | 'bad' {
    const first = this.port.readByte(bwt);
    if (first === null) {
      this.stats.timeouts++;
      return null;
    }
    const bytes = [first];
    for (;;) {
      const need = bytes.length >= 3 ? bytes[2] + 4 : 3;
      if (bytes.length >= need) break;
      const b = this.port.readByte(this.opts.cwtMs);
      if (b === null) {
        this.stats.badBlocks++;
        return 'bad';
      }
      bytes.push(b);
    }
    const p = parseBlock(Uint8Array.from(bytes));
    if (!isBlock(p) || p.nad !== (((this.nad & 0x0f) << 4) | ((this.nad >> 4) & 0x0f))) {
      this.stats.badBlocks++;
      this.drain();
      return 'bad';
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
      if (r !== null && r !== 'bad') {
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
      else toSend = rBlock(this.cardNs, r === 'bad' ? 1 : 2, this.nad);
    }
    return this.resynch();
  }

  private resynch(): never {
    for (let i = 0; i < 3; i++) {
      this.stats.resynchs++;
      this.drain();
      this.sendBlock(sBlock(SType.RESYNCH, false, new Uint8Array(0), this.nad));
      const r = this.readBlock(this.opts.bwtMs);
      if (r !== null && r !== 'bad' && r.kind === 'S' && r.response && r.type === SType.RESYNCH) {
        this.ns = 0;
        this.cardNs = 0;
        this.ifsc = this.opts.ifsc;
        throw new T1Error('RESYNCHRONISED', 'T=1 resynchronised: the outcome of the APDU is unknown');
      }
    }
    throw new T1Error('DEACTIVATE', 'T=1 resynchronisation failed: deactivate the card');
  }

  /** S(IFS request) announcing this terminal's IFSD (usually right after the ATR). */
  negotiateIfsd(): void {
    const req = sBlock(SType.IFS, false, Uint8Array.of(this.ifsd), this.nad);
    this.exchange(req, (b) => (b.kind === 'S' && b.response && b.type === SType.IFS && b.inf[0] === this.ifsd ? true : undefined));
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
