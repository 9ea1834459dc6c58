// Optional: the device-side codec on the REAL Espruino interpreter. Runs only when
// ESPRUINO_BIN points at an Espruino 2v29 binary built locally (the Linux port, or a
// Linux build with the Pico's settings); CI has none and skips it. The protocol bundle,
// exactly as built (dist/device/protocol.js), is written to the interpreter's Storage
// and evaluated from there, as a board runs its code from flash (loaded as text, the
// 21 KB bundle alone exhausts a Pico's 5,100 JsVars). It is fed the RFC 8949 vectors,
// generated catalogue messages and the fuzz corpus, and every outcome — re-encoded bytes
// or typed error — must equal what the same bundle gives in the Node emulator sandbox. All of
// it twice: the bundle as text, and pretokenised as `npm run flash` stores .bootcde
// (tools/pretokenise.cjs) — the interpreter must run both identically.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Sandbox } from '../../board/emulator/sandbox';
import { encodeHostMessage } from '../../host/src/link/codec';
import { message } from '../helpers/arbitraries';
import { pretokenise } from '../../tools/pretokenise.cjs';
import vectors from '../vectors/rfc8949-appendix-a.json';

const BIN = process.env.ESPRUINO_BIN;
const ROOT = join(__dirname, '..', '..');
const BUNDLE = join(ROOT, 'dist', 'device', 'protocol.js');
const run = BIN ? describe : describe.skip;

// The driver appended to the bundle: decode, re-encode, print one line per input.
const DRIVER = `
function h2b(h){var b=new Uint8Array(h.length/2);for(var i=0;i<b.length;i++)b[i]=parseInt(h.substr(i*2,2),16);return b;}
function b2h(b){var s='';for(var i=0;i<b.length;i++)s+=(b[i]<16?'0':'')+b[i].toString(16);return s;}
var P=SemperProtocol,L={maxSize:4096,maxDepth:16,maxLength:4096,maxCount:64,maxTag:255};
for(var i=0;i<V.length;i++){var r,k=V[i][0],h=V[i].substr(1);
 try{if(k==='c'){r='ok:'+b2h(P.encode(P.decode(h2b(h),L)));}
 else{var d=k==='q'?'request':'response';var m=P.decodeMessage(h2b(h),d);r='ok:'+b2h(P.encodeMessage(m.type,m.id,m.body,d));}}
 catch(e){r='err:'+e.code+(e.path?':'+e.path:'');}
 print('R'+i+' '+r);}
`;

const FORMS: [string, (text: string) => string][] = [
  ['as text', (text) => text],
  ['pretokenised', pretokenise],
];

run.each(FORMS)('the protocol bundle on the real Espruino interpreter, %s', (_form, stored) => {
  const text = existsSync(BUNDLE) ? readFileSync(BUNDLE, 'latin1') : '';
  const bundle = stored(text);
  const sandbox = new Sandbox({ onConsole: () => {} });
  sandbox.run(text + '\nvar V=[];' + DRIVER);
  afterAll(() => sandbox.stop());

  /** Inputs tagged by what to run: c = raw CBOR, q = request, s = response. */
  const inputs: string[] = [
    ...(vectors as { vectors: { cbor: string }[] }).vectors.map((v) => 'c' + v.cbor),
    ...fc.sample(message, { numRuns: 200, seed: 2029 }).map(([dir, type, id, body]) => (dir === 'request' ? 'q' : 's') + Buffer.from(encodeHostMessage(type, id, body, dir)).toString('hex')),
    ...(JSON.parse(readFileSync(join(ROOT, 'test', 'corpus', 'link-decoder.json'), 'utf8')).entries as { hex: string }[]).map((e) => 'q' + e.hex),
  ];

  /** The same driver in the Node sandbox: the reference. */
  function inSandbox(batch: string[]): string[] {
    const out: string[] = [];
    const ctx = sandbox.context as unknown as { V: string[]; print: (s: string) => void };
    ctx.V = batch;
    ctx.print = (s: string) => out.push(s);
    sandbox.run(DRIVER);
    return out;
  }

  const dir = mkdtempSync(join(tmpdir(), 'espruino-'));
  /** Runs `code` on the interpreter, in `dir` (where the Linux port keeps its flash file). */
  function espruino(code: string): string[] {
    const file = join(dir, 'run.js');
    writeFileSync(file, code, 'latin1');
    const text = execFileSync(BIN as string, [file], { cwd: dir, input: '', timeout: 30000, encoding: 'latin1' });
    return text.split(/\r?\n/).map((l) => l.replace(/^>?\s*/, ''));
  }
  const LOAD = 'eval(require("Storage").read("protocol.js"));';

  function onEspruino(batch: string[]): string[] {
    return espruino(LOAD + 'var V=' + JSON.stringify(batch) + ';' + DRIVER).filter((l) => /^R\d+ /.test(l));
  }

  test('the bundle stored in flash loads within the Pico\'s memory', () => {
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run \`npm run build\` first`);
    const w = espruino('var S=require("Storage");S.eraseAll();print("W",S.write("protocol.js",' + JSON.stringify(bundle) + '));');
    expect(w).toContain('W true');
    const m = espruino(LOAD + 'print("M",JSON.stringify(process.memory()),typeof SemperProtocol.decodeMessage);').find((l) => l.startsWith('M '));
    expect(m).toMatch(/function$/);
    const mem = JSON.parse((m as string).slice(2).replace(/ function$/, '')) as { usage: number; total: number };
    console.log(`protocol stack from Storage on ${BIN}: ${mem.usage} of ${mem.total} JsVars in use`);
    // the firmware's whole budget (issue: ≤ 3,500 JsVars at peak on a 5,100-JsVar Pico)
    expect(mem.usage).toBeLessThan(3500);
  });

  test(`every input gives the same outcome on Espruino as in the sandbox (${inputs.length} inputs)`, () => {
    // batches small enough for the interpreter's variables (the bundle itself takes ~1,400)
    let batch: string[] = [];
    let size = 0;
    let compared = 0;
    const flush = (): void => {
      if (!batch.length) return;
      expect(onEspruino(batch)).toEqual(inSandbox(batch));
      compared += batch.length;
      batch = [];
      size = 0;
    };
    for (const x of inputs) {
      if (size + x.length > 6000) flush();
      batch.push(x);
      size += x.length;
    }
    flush();
    expect(compared).toBe(inputs.length);
  }, 600000);
});
