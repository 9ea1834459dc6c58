// The card's side of the line, recorded in the emulator and replayed on the real interpreter,
// so that `npm run bench:device` can count JsVars through a whole purse payment (card steps
// included) on an Espruino Linux port, which has no card slot and no keypad.
//
// Recording: while the firmware makes a payment in the emulator (board/emulator/device.ts wires
// the emulated card to Serial2 and the RST pin), every card → device chunk is noted with how
// many cold resets (RST rising edges) and how many device → card bytes came before it. The
// emulated card is deterministic for a given card state and the bytes the reader sends (ECDSA
// in noble is RFC 6979, the firmware debits with time 0), so the same firmware sending the same
// bytes gets the same answers: the replay checks every byte the firmware writes against the
// recording and counts mismatches.
//
// Replay (the harness, JS text run on the interpreter before the firmware is evaluated): it
// wraps the globals the firmware's slot and keypad drivers call — pinMode, digitalWrite,
// digitalRead, setWatch — and Serial2.write, the way the board's hardware would answer:
//
// - every byte written to Serial2 comes back as a `data` event (the I/O line's echo), then each
//   recorded card chunk whose resets and byte count are reached is delivered, in order (the
//   written bytes are copied first: the firmware zeroes its buffers after writing, a UART has
//   them already);
// - the keypad's pins are a 4×4 matrix in the harness: a pressed key reads 0 on its column while
//   the firmware drives its row low, and the column's setWatch callback is called after the
//   debounce, as the pin's edge would call it (the Linux port's virtual pins read 0 always and
//   raise no edges, and the board's keypad pin names are not even pins there);
// - everything else goes to the interpreter's own functions (card detect reads 0 = inserted).
//
// The recording lives in three Storage files read in slices (`rp.idx` 5 bytes per chunk:
// resets, device bytes before it (16 bits), its length (16 bits); `rp.card` the chunks;
// `rp.dev` what the firmware must write), so it costs no JsVars but the slice being delivered,
// and the harness itself is a Storage file (`rp.js`) evaluated from flash, so its functions'
// code stays in flash too; what it still holds is measured by the bench and printed.

import { EmulatedCard } from '../board/card/card';
import { EmulatedDevice } from '../board/emulator/device';

/** What the emulated card said and when, and what the firmware sent it, for one run. */
export interface CardLineRecording {
  chunks: { resets: number; after: number; bytes: Uint8Array }[];
  /** Every byte the firmware wrote to the card, in order. */
  sent: number[];
  /** The keys pressed on the device, in order. */
  keys: string[];
}

/** Starts recording the card line and the keys of `device`, whose slot holds `card` (inserted, not yet reset). */
export function recordCardLine(device: EmulatedDevice, card: EmulatedCard): CardLineRecording {
  const rec: CardLineRecording = { chunks: [], sent: [], keys: [] };
  let resets = 0;
  const transmit = card.onTransmit;
  card.onTransmit = (bytes) => {
    rec.chunks.push({ resets, after: rec.sent.length, bytes: Uint8Array.from(bytes) });
    transmit(bytes);
  };
  const receive = card.receive.bind(card);
  card.receive = (bytes) => {
    for (const b of bytes) rec.sent.push(b);
    receive(bytes);
  };
  const reset = card.reset.bind(card);
  card.reset = () => {
    resets++;
    return reset();
  };
  const press = device.keypad.press.bind(device.keypad);
  device.keypad.press = (name, opts) => {
    rec.keys.push(name);
    press(name, opts);
  };
  return rec;
}

/** The recording as the three Storage files the harness reads, and the harness as `rp.js`. */
export function replayFiles(rec: CardLineRecording, harness: string): Record<string, string> {
  const idx: number[] = [];
  for (const c of rec.chunks) {
    if (c.resets > 255 || c.after > 0xffff || c.bytes.length > 0xffff) throw new Error('card line recording too long for the replay index');
    idx.push(c.resets, c.after & 0xff, c.after >> 8, c.bytes.length & 0xff, c.bytes.length >> 8);
  }
  const latin1 = (b: ArrayLike<number>): string => Buffer.from(Array.from(b)).toString('latin1');
  return {
    'rp.idx': latin1(idx),
    'rp.card': latin1(rec.chunks.flatMap((c) => Array.from(c.bytes))),
    'rp.dev': latin1(rec.sent),
    'rp.js': harness,
  };
}

/** The pins the harness plays: the slot's RST, and the keypad matrix, as the measured bundle names them. */
export interface HarnessPins {
  rst: string;
  rows: string[];
  cols: string[];
  layout: string[][];
}

/**
 * The board's pin names → the ones `measure` (dist/device/firmware-measure.js, the same bundle
 * with pins renamed by tools/build.mjs) uses: the two bundles' string literals, side by side.
 */
export function measuredPinNames(board: string, measure: string): Map<string, string> {
  const strings = (s: string): string[] => s.match(/"(?:[^"\\\n]|\\.)*"/g) ?? [];
  const a = strings(board);
  const b = strings(measure);
  if (a.length !== b.length) throw new Error('firmware.js and firmware-measure.js differ beyond pin names');
  const map = new Map<string, string>();
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) map.set(JSON.parse(a[i]) as string, JSON.parse(b[i]) as string);
  return map;
}

/** The global through which the measuring script reaches the harness (no name the firmware's bundle can have). */
export const HARNESS = '__benchCardLine';

/**
 * The harness as JS text for the interpreter (stored as `rp.js`), to evaluate before the
 * firmware. It leaves `__benchCardLine` = {keys(list, done): presses the keys (indices
 * row*4+col) in turn, state(): "<chunks delivered> <of> <mismatched writes> <bytes written>"}.
 */
export function harnessScript(rec: CardLineRecording, pins: HarnessPins, o: { holdMs: number; gapMs: number; debounceMs: number }): string {
  const J = JSON.stringify;
  return (
    `global.${HARNESS}=(function(){var S=require("Storage"),dw=digitalWrite,dr=digitalRead,pm=pinMode,sw=setWatch,` +
    `R=${J(pins.rows)},C=${J(pins.cols)},RST=${J(pins.rst)},N=${rec.chunks.length},lv={},W=[],key=-1,kc=0,rst=0,resets=0,sent=0,n=0,off=0,bad=0,q=[];` +
    // the line delivers in order, one data event per tick, as a UART's event queue does
    'function pump(){if(q.length)Serial2.emit("data",q.shift());if(q.length)setTimeout(pump,0);}' +
    'function put(s){q.push(s);if(q.length==1)setTimeout(pump,0);}' +
    'function due(){while(n<N){var h=S.read("rp.idx",n*5,5);if(h.charCodeAt(0)>resets||(h.charCodeAt(1)|h.charCodeAt(2)<<8)>sent)return;' +
    'var l=h.charCodeAt(3)|h.charCodeAt(4)<<8;put(S.read("rp.card",off,l));off+=l;n++;}}' +
    'Serial2.write=function(d){var s="";for(var i=0;i<d.length;i++)s+=String.fromCharCode(d[i]);if(s!==S.read("rp.dev",sent,s.length))bad++;sent+=s.length;put(s);due();};' +
    'global.pinMode=function(p,m){if(R.indexOf(p)<0&&C.indexOf(p)<0)return pm(p,m);};' +
    'global.digitalWrite=function(p,v){if(R.indexOf(p)>=0){lv[p]=v?1:0;return;}' +
    'if(p===RST){if(v&&!rst)resets++;rst=v?1:0;dw(p,v);due();return;}return dw(p,v);};' +
    'global.digitalRead=function(p){var c=C.indexOf(p);if(c<0)return dr(p);return key>=0&&(key&3)==c&&lv[R[key>>2]]===0?0:1;};' +
    'global.setWatch=function(f,p,o){var c=C.indexOf(p);if(c<0)return sw(f,p,o);W[c]=f;return 100+c;};' +
    // a key: its column falls, the watch fires after the debounce; held, released, the same
    'function edge(s){var f=W[kc];if(f)f({state:s,time:getTime(),pin:C[kc]});}' +
    `function press(k,done){key=k;kc=k&3;setTimeout(function(){edge(0);setTimeout(function(){key=-1;` +
    `setTimeout(function(){edge(1);setTimeout(done,${o.gapMs});},${o.debounceMs});},${o.holdMs});},${o.debounceMs});}` +
    'return{keys:function(l,done){var i=0;(function next(){if(i<l.length)press(l[i++],next);else done();})();},' +
    'state:function(){return n+" "+N+" "+bad+" "+sent;}};})();'
  );
}

/** The recorded key presses as the harness's indices (row*4+col), a JS literal. */
export function keyIndices(rec: CardLineRecording, layout: string[][]): string {
  return JSON.stringify(
    rec.keys.map((k) => {
      for (let r = 0; r < layout.length; r++) {
        const c = layout[r].indexOf(k);
        if (c >= 0) return r * 4 + c;
      }
      throw new Error(`no key ${k} on the keypad`);
    }),
  );
}
