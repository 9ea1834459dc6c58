// One operation at a time (SPEC.md §5.0.6): a host request that needs the user or the card,
// or a flow the user started from the menu. The operation owns the status bar's step
// counter and the STATUS events, its deadline, and the way it ends — exactly one answer to
// the host, then back to idle. Whatever ends it (the user, the card, CANCEL from the host,
// its timeout, a firmware fault) ends it once; later callbacks of an ended operation are
// ignored, so a late card answer can never act on a newer operation.

import { DeviceState, ErrorCode } from '../../../protocol/src/messages';
import { Request } from '../link/host-link';
import { CardError } from '../card/errors';

export interface OpHost {
  /** STATUS event to the host (dropped while the link is down). */
  status(state: number, step: number, steps: number, label: string, id: number): void;
  /** The status bar's step display. */
  showStep(step: number, steps: number, label: string): void;
  /** The operation has ended: the display goes back to idle (or a result). */
  ended(op: Operation): void;
}

export class Operation {
  /** Request id, 0 for flows started on the device. */
  id: number;
  req: Request | null;
  steps: number;
  done: boolean;
  private host: OpHost;
  private timer: number;
  /** Called once when the operation ends for any reason (e.g. to drop a PIN prompt). */
  onEnd: () => void;
  /** The error code the operation ended with (0: success). */
  lastError: number;
  /** PIN tries left reported with the error, if any. */
  lastTries?: number;
  /**
   * The card has been told to sign, debit, load or change the PIN: past this point a CANCEL
   * is refused ({cancelled: false}, SPEC §5.0.6) and the operation answers as the card does.
   */
  committed: boolean;
  /** No user interaction: on success the display goes straight back to idle, no result screen. */
  quiet: boolean;

  constructor(host: OpHost, req: Request | null, steps: number) {
    this.id = req ? req.msg.id : 0;
    this.req = req;
    this.steps = steps;
    this.done = false;
    this.host = host;
    this.timer = 0;
    this.onEnd = () => {};
    this.lastError = 0;
    this.quiet = false;
    this.committed = false;
  }

  step(n: number, label: string, state: number): void {
    if (this.done) return;
    this.host.showStep(n, this.steps, label);
    this.host.status(state, n, this.steps, label, this.id);
  }

  /** Ends the operation with `code` after `seconds` of no progress (reset by every call). */
  deadline(seconds: number, code: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = 0;
      this.fail(code);
    }, seconds * 1000);
  }

  /** Wraps a callback so it runs only while this operation is live, and a fault inside ends it. */
  guard<A, B>(fn: (a: A, b?: B) => void): (a: A, b?: B) => void {
    return (a: A, b?: B) => {
      if (this.done) return;
      try {
        fn(a, b);
      } catch {
        // the host gets INTERNAL; the fault itself travels no further (no English on the wire)
        this.fail(ErrorCode.INTERNAL);
      }
    };
  }

  ok(body: { [name: string]: unknown }): void {
    if (this.done) return;
    if (this.req) this.req.reply(body);
    this.finish();
  }

  fail(code: number, path?: string, triesLeft?: number): void {
    if (this.done) return;
    if (this.req) this.req.fail(code, path, triesLeft);
    this.lastError = code;
    this.lastTries = triesLeft;
    this.finish();
  }

  /** A card failure passed on as it is (PIN tries, funds, …). */
  cardFail(e: CardError): void {
    this.fail(e.code, e.reason, e.triesLeft);
  }

  private finish(): void {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = 0;
    this.host.showStep(0, 0, '');
    this.host.status(DeviceState.IDLE, 0, 0, '', 0);
    const f = this.onEnd;
    this.onEnd = () => {};
    f();
    this.host.ended(this);
  }
}
