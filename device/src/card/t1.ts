// ISO/IEC 7816-3 §11: the T=1 TERMINAL role, callback style, over a byte port (the reader).
// Modelled on the reference terminal of board/card/t1.ts (T1Terminal), with the same
// recovery rules, but asynchronous: every wait is a read with time-outs on the port.
//
// - command APDUs are chained by IFSC, responses by IFSD (the card's chaining, acknowledged
//   with R(N(R)));
// - a lost (BWT expiry), damaged (EDC, bad PCB, LEN, cut short by CWT) or senseless block is
//   answered with R(N(R)) (error bits 01 EDC / 10 other) — or our S request repeated — up to
//   `maxRetries` times per block; an R-block asking for our last I-block gets it again;
// - then up to 3 S(RESYNCH): after a resynchronisation the outcome of the APDU is unknown, so
//   `transmit` fails with RESYNCHRONISED (it never resends silently); if that fails too:
//   DEACTIVATE;
// - S(WTX request) is answered and the next wait is BWT × multiplier; S(IFS request) from
//   the card is answered and sets IFSC; S(ABORT request) is answered and ends the APDU with
//   ABORTED; S(IFS request) with our IFSD is sent after the ATR and after a resynchronisation.
// Every loop is bounded. Buffers that carried a command (it may hold a PIN block) are zeroed
// as soon as they are no longer needed.

import {
  blockLength,
  Edc,
  encodeBlock,
  IBlock,
  isBlock,
  MAX_INF,
  NAD_DEFAULT,
  parseBlock,
  rBlock,
  RError,
  rErrorFor,
  S_ABORT,
  S_IFS,
  S_RESYNCH,
  S_WTX,
  sBlock,
  swapNad,
  T1Block,
} from '../../../protocol/src/t1-block';
import { copyBytes } from '../../../protocol/src/cbor';
import { FrameLength, ReadError } from './reader';
import { COUNTED } from '../../../protocol/src/counting';

/** The byte port T=1 runs over (CardReader implements it). */
export interface T1Port {
  send(bytes: Uint8Array): void;
  read(firstMs: number, nextMs: number, need: FrameLength, cb: (err: ReadError | null, bytes: number[]) => void): void;
  drain(quietMs: number, cb: () => void): void;
}

export interface T1Options {
  /** IFSC from the ATR (TA3). */
  ifsc: number;
  edc: Edc;
  bwtMs: number;
  cwtMs: number;
  /** The IFSD announced with S(IFS request) (default 254). */
  ifsd?: number;
  /** NAD of our blocks (default 00); the card must answer with it swapped. */
  nad?: number;
  /** Retransmissions of one block before S(RESYNCH) (default 3). */
  maxRetries?: number;
  /** Floors for the time-outs: an interpreter's event loop is coarser than an etu (default 100 ms BWT, 25 ms CWT). */
  minBwtMs?: number;
  minCwtMs?: number;
}

export type T1Failure = 'RESYNCHRONISED' | 'DEACTIVATE' | 'ABORTED' | 'TOO_LONG' | 'REMOVED' | 'OFF' | 'BUSY' | 'EMPTY';

/** A typed T=1 error. */
export interface T1Error {
  kind: 't1';
  reason: T1Failure;
}

export interface T1Stats {
  blocksSent: number;
  retransmits: number;
  resynchs: number;
  badBlocks: number;
  timeouts: number;
  wtx: number;
}

function t1Error(reason: T1Failure): T1Error {
  return { kind: 't1', reason: reason };
}

/** What one read of a block gave: a block, nothing (BWT expired), a bad block, or the slot gone. */
interface ReadResult {
  block: T1Block | null;
  bad: RError;
  gone: ReadError | null;
}

type Accept = (b: T1Block) => boolean;
type Done = (err: T1Error | null, b: T1Block | null) => void;

export class T1Terminal {
  ifsc: number;
  readonly ifsd: number;
  readonly edc: Edc;
  readonly stats!: T1Stats;
  /** The last WTX multiplier granted. */
  lastWtx: number;
  /** True until the card has answered our S(IFS request) (again after a resynchronisation). */
  ifsdPending: boolean;
  private ns: number;
  private cardNs: number;
  private busy: boolean;
  private readonly nad: number;
  private readonly maxRetries: number;
  private readonly bwtMs: number;
  private readonly cwtMs: number;
  private readonly need: FrameLength;

  constructor(
    private readonly port: T1Port,
    private readonly opts: T1Options,
  ) {
    if (COUNTED) this.stats = { blocksSent: 0, retransmits: 0, resynchs: 0, badBlocks: 0, timeouts: 0, wtx: 0 };
    this.lastWtx = 0;
    this.ifsdPending = true;
    this.ns = 0;
    this.cardNs = 0;
    this.busy = false;
    this.ifsc = opts.ifsc;
    this.ifsd = opts.ifsd === undefined ? MAX_INF : opts.ifsd;
    this.edc = opts.edc;
    this.nad = opts.nad === undefined ? NAD_DEFAULT : opts.nad;
    this.maxRetries = opts.maxRetries === undefined ? 3 : opts.maxRetries;
    this.bwtMs = Math.max(opts.bwtMs, opts.minBwtMs === undefined ? 100 : opts.minBwtMs);
    this.cwtMs = Math.max(opts.cwtMs, opts.minCwtMs === undefined ? 25 : opts.minCwtMs);
    const edc = this.edc;
    this.need = (buf: number[]) => blockLength(buf, edc);
  }

  /** Effective time-outs (after the floors). */
  timeouts(): { bwtMs: number; cwtMs: number } {
    return { bwtMs: this.bwtMs, cwtMs: this.cwtMs };
  }

  private sendBlock(b: T1Block): void {
    if (COUNTED) this.stats.blocksSent++;
    const bytes = encodeBlock(b, this.edc);
    this.port.send(bytes);
    bytes.fill(0); // the port has its copy (it may be a PIN block)
  }

  /** Reads one block within `firstMs`; a damaged one is drained and reported with its R-block error bits. */
  private readBlock(firstMs: number, cb: (r: ReadResult) => void): void {
    this.port.read(firstMs, this.cwtMs, this.need, (err, bytes) => {
      if (err === 'removed' || err === 'off') return cb({ block: null, bad: 0, gone: err });
      if (err === 'timeout') {
        if (COUNTED) this.stats.timeouts++;
        return cb({ block: null, bad: 0, gone: null });
      }
      if (err === 'partial') {
        if (COUNTED) this.stats.badBlocks++;
        return cb({ block: null, bad: 2, gone: null });
      }
      if (err === 'invalid') {
        if (COUNTED) this.stats.badBlocks++;
        return this.port.drain(this.cwtMs, () => cb({ block: null, bad: 2, gone: null }));
      }
      const p = parseBlock(new Uint8Array(bytes), this.edc, this.ifsd);
      if (!isBlock(p) || (p.nad & 0x77) !== swapNad(this.nad)) {
        if (COUNTED) this.stats.badBlocks++;
        const bad: RError = isBlock(p) ? 2 : rErrorFor(p);
        return this.port.drain(this.cwtMs, () => cb({ block: null, bad: bad, gone: null }));
      }
      cb({ block: p, bad: 0, gone: null });
    });
  }

  /**
   * One exchange: send `block`, read until `accept` takes a block; answers WTX, IFS and ABORT
   * requests, retransmits on request, recovers errors with bounded retries, then resynchronises.
   */
  private exchange(block: T1Block, accept: Accept, done: Done): void {
    let toSend: T1Block = block;
    let errors = 0;
    let wtx = 1;
    let guard = 0;
    const step = (): void => {
      if (++guard > 64) return this.resynch(done);
      this.sendBlock(toSend);
      this.readBlock(this.bwtMs * wtx, (r) => {
        wtx = 1;
        if (r.gone) return done(t1Error(r.gone === 'removed' ? 'REMOVED' : 'OFF'), null);
        const b = r.block;
        if (b) {
          if (b.kind === 'S' && !b.response && b.type === S_WTX) {
            wtx = Math.max(1, b.inf[0]);
            this.lastWtx = wtx;
            if (COUNTED) this.stats.wtx++;
            toSend = sBlock(S_WTX, true, copyBytes(b.inf, 0, 1), this.nad);
            return step();
          }
          if (b.kind === 'S' && !b.response && b.type === S_IFS) {
            this.ifsc = b.inf[0];
            toSend = sBlock(S_IFS, true, copyBytes(b.inf, 0, 1), this.nad);
            return step();
          }
          if (b.kind === 'S' && !b.response && b.type === S_ABORT) {
            this.sendBlock(sBlock(S_ABORT, true, undefined, this.nad));
            return done(t1Error('ABORTED'), null);
          }
          if (accept(b)) return done(null, b);
          if (b.kind === 'R' && block.kind === 'I' && b.nr === block.ns) {
            // the card asks for our I-block again
            if (COUNTED) this.stats.retransmits++;
            if (++errors > this.maxRetries) return this.resynch(done);
            toSend = block;
            return step();
          }
        }
        // BWT expired, a damaged block, or a block that makes no sense here
        if (++errors > this.maxRetries) return this.resynch(done);
        if (COUNTED) this.stats.retransmits++;
        toSend = block.kind === 'I' ? rBlock(this.cardNs, b === null ? r.bad || 2 : 2, this.nad) : block;
        step();
      });
    };
    step();
  }

  /** Up to 3 S(RESYNCH): RESYNCHRONISED when the card answers (state reset), else DEACTIVATE. */
  private resynch(done: Done): void {
    let tries = 0;
    const attempt = (): void => {
      if (tries++ >= 3) return done(t1Error('DEACTIVATE'), null);
      if (COUNTED) this.stats.resynchs++;
      this.port.drain(this.cwtMs, () => {
        this.sendBlock(sBlock(S_RESYNCH, false, undefined, this.nad));
        this.readBlock(this.bwtMs, (r) => {
          if (r.gone) return done(t1Error(r.gone === 'removed' ? 'REMOVED' : 'OFF'), null);
          const b = r.block;
          if (b && b.kind === 'S' && b.response && b.type === S_RESYNCH) {
            this.ns = 0;
            this.cardNs = 0;
            this.ifsc = this.opts.ifsc;
            this.ifsdPending = true;
            return done(t1Error('RESYNCHRONISED'), null);
          }
          attempt();
        });
      });
    };
    attempt();
  }

  /** S(IFS request) announcing our IFSD (right after the ATR). */
  negotiateIfsd(cb: (err: T1Error | null) => void): void {
    if (this.busy) return cb(t1Error('BUSY'));
    this.busy = true;
    this.ifs((err) => {
      this.busy = false;
      cb(err);
    });
  }

  private ifs(cb: (err: T1Error | null) => void): void {
    const want = this.ifsd;
    const req = sBlock(S_IFS, false, new Uint8Array([want]), this.nad);
    this.exchange(
      req,
      (b) => b.kind === 'S' && b.response && b.type === S_IFS && b.inf[0] === want,
      (err) => {
        if (!err) this.ifsdPending = false;
        cb(err);
      },
    );
  }

  /**
   * Sends one command APDU and calls back with the response APDU. Announces IFSD first when
   * that is still pending (a failed announcement is not fatal: the card keeps IFSD 32 and
   * the exchange goes on, unless the card is gone).
   */
  transmit(apdu: Uint8Array, cb: (err: T1Error | null, response: Uint8Array | null) => void): void {
    if (this.busy) return cb(t1Error('BUSY'), null);
    if (apdu.length === 0) return cb(t1Error('EMPTY'), null);
    this.busy = true;
    const finish = (err: T1Error | null, resp: Uint8Array | null): void => {
      this.busy = false;
      cb(err, resp);
    };
    if (!this.ifsdPending) return this.send(apdu, finish);
    this.ifs((err) => {
      if (err && (err.reason === 'REMOVED' || err.reason === 'OFF' || err.reason === 'DEACTIVATE')) return finish(err, null);
      this.send(apdu, finish);
    });
  }

  private send(apdu: Uint8Array, finish: (err: T1Error | null, resp: Uint8Array | null) => void): void {
    let off = 0;
    const chunk = (): void => {
      const n = Math.min(this.ifsc, apdu.length - off);
      const more = off + n < apdu.length;
      const blk = { kind: 'I', nad: this.nad, ns: this.ns, more: more, inf: copyBytes(apdu, off, off + n) } as IBlock;
      off += n;
      if (more) {
        const want = this.ns ^ 1;
        this.exchange(
          blk,
          (b) => b.kind === 'R' && b.nr === want,
          (err) => {
            blk.inf.fill(0);
            if (err) return finish(err, null);
            this.ns ^= 1;
            chunk();
          },
        );
        return;
      }
      this.exchange(
        blk,
        (b) => b.kind === 'I' && b.ns === this.cardNs,
        (err, b) => {
          blk.inf.fill(0);
          if (err) return finish(err, null);
          this.ns ^= 1;
          this.receive(b as IBlock, [], finish);
        },
      );
    };
    chunk();
  }

  /** Collects the card's (chained) response, acknowledging each chained block with R(N(R)). */
  private receive(first: IBlock, out: number[], finish: (err: T1Error | null, resp: Uint8Array | null) => void): void {
    const cur = first;
    for (let i = 0; i < cur.inf.length; i++) out.push(cur.inf[i]);
    this.cardNs ^= 1;
    if (out.length > 65538) return finish(t1Error('TOO_LONG'), null);
    if (!cur.more) return finish(null, new Uint8Array(out));
    this.exchange(
      rBlock(this.cardNs, 0, this.nad),
      (b) => b.kind === 'I' && b.ns === this.cardNs,
      (err, b) => {
        if (err) return finish(err, null);
        this.receive(b as IBlock, out, finish);
      },
    );
  }
}
