// A harness around the firmware's real App (device/src/app.ts): its operations, prompts and
// menu as bundled for the device, with a display that draws nothing (a Graphics stub) and a
// card object supplied by the test. Keys go straight into Tinguin.key(), requests straight
// into the App's handler table with a fake Request (host-link.ts), and the sandbox runs the
// firmware's timers — so a test can press a million keys in seconds.

import { runHarness } from './bundle';
import { Sandbox } from '../../../board/emulator/sandbox';

export const APP_ENTRY = `
import { App } from '../../../device/src/app';
import { Tinguin, ScrollView } from '../../../device/src/ui/tinguin';
import { review, refused } from '../../../device/src/ops/statement';
import { OfferBook } from '../../../device/src/ops/offers';
declare const __harness: (api: unknown) => void;

const noop = function (this: unknown) { return g; };
const g: any = {
  clear: noop, setColor: noop, fillRect: noop, clearRect: noop, drawLine: noop, drawString: noop, setFontCustom: noop,
  getWidth: () => 128, getHeight: () => 64,
};
__harness({
  make: (card: any) => {
    const ui = new Tinguin({ g: g, flip: () => {} });
    const app = new App(ui, card);
    app.idle();
    return {
      key: (k: string) => ui.key(k),
      handle: (type: number, req: any) => (app.link.handlers as any)[type](req),
      opId: () => (app.op ? app.op.id : -1),
      view: () => (ui.view ? (ui.view as any).constructor.name : ''),
    };
  },
  /** DOWN presses the review needs before the end of the statement has been on screen. */
  downsToEnd: (bytes: Uint8Array) => {
    const r = review(bytes, [1, 2, 3, 4], new OfferBook());
    if (refused(r)) return -1;
    const v = new ScrollView(r.rows, () => {}, () => '');
    let n = 0;
    // as on the display: every key is followed by a redraw, which is when seenAll is updated
    while (!v.seenAll && n < 1000) { v.key('DOWN'); v.more(); n++; }
    return n;
  },
});
`;

export interface AppHarness {
  sandbox: Sandbox;
  key(k: string): void;
  handle(type: number, req: unknown): void;
  opId(): number;
  downsToEnd(bytes: Uint8Array): number;
  u8(b: Uint8Array): Uint8Array;
  stop(): void;
}

/** The App in a sandbox with `card` in the slot. */
export function appHarness(card: Record<string, unknown>): AppHarness {
  const { sandbox, api } = runHarness('app-entry.ts', APP_ENTRY);
  const app = api.make(card);
  return {
    sandbox,
    key: (k) => app.key(k),
    handle: (type, req) => app.handle(type, req),
    opId: () => app.opId(),
    downsToEnd: (b) => api.downsToEnd(sandbox.inContext(b)),
    u8: (b) => sandbox.inContext(b),
    stop: () => sandbox.stop(),
  };
}
