// tools/pretokenise.cjs: the firmware's .bootcde as Espruino's one-byte tokens (what `npm run
// flash` stores). Checked four ways: the encoding of each kind of token against Espruino
// 2v29's lexer table (src/jslex.h); generated token soups that must lex the same before and
// after, and after printing back as text; the shipped bundles round-tripping the same way and
// the detokenised firmware running a purse payment in the emulator; and, with ESPRUINO_BIN
// naming a locally built interpreter, the real Espruino booting the text and the pretokenised
// firmware from Storage and answering a statement byte for byte alike.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { detokenise, lex, LEX, plainConstants, pretokenise, sameTokens } from '../../tools/pretokenise.cjs';
import { onInterpreter, paymentFrames, purchaseOnEmulator } from '../../bench/device';

const ROOT = join(__dirname, '..', '..');
const DIST = join(ROOT, 'dist', 'device');
const bytes = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));
/** The firmware's code: firmware.js after its first line (the resource installer). */
const code = (file: string): string => {
  const text = readFileSync(join(DIST, file), 'latin1');
  return text.slice(text.indexOf('\n') + 1);
};

describe('the token bytes are those of Espruino 2v29 (src/jslex.h LEX_TYPES)', () => {
  it('reserved words and operators become one byte each', () => {
    // LEX_R_FUNCTION is 170, LEX_R_RETURN 171, LEX_TYPEEQUAL 139, LEX_ARROW_FUNCTION 162, LEX_R_OF 198
    expect(bytes(pretokenise('function f(a){return a===1}'))).toEqual([170, ...bytes('f(a){'), 171, ...bytes('a'), 139, ...bytes('1}')]);
    expect(bytes(pretokenise('x=>x'))).toEqual([...bytes('x'), 162, ...bytes('x')]);
    expect(bytes(pretokenise('for(const v of a);'))).toEqual([167, 40, 174, 118, 198, 97, 41, 59]);
    expect(bytes(pretokenise('a??b'))).toEqual([97, LEX.NULLISH, 98]);
    expect(LEX.RAW_STRING8).toBe(0xd1);
    expect(LEX.RAW_INT16).toBe(0xd5);
  });

  it('strings become raw bytes behind 0xD1 length (0xD2 lo hi from 256 bytes), escapes resolved', () => {
    expect(bytes(pretokenise('"a\\x00\\xff\\n\\\\"'))).toEqual([0xd1, 5, 97, 0, 255, 10, 92]);
    const long = 'y'.repeat(300);
    expect(bytes(pretokenise(`'${long}\\x01\\x02'`))).toEqual([0xd2, 302 & 255, 302 >> 8, ...bytes(long), 1, 2]);
  });

  it('integers become 0xD3, 0xD4 int8 or 0xD5 lo hi only where that is shorter', () => {
    expect(bytes(pretokenise('[7,100,1000,0x7fff,32768]'))).toEqual([91, 55, 44, 0xd4, 100, 44, 0xd5, 1000 & 255, 1000 >> 8, 44, 0xd5, 255, 127, 44, ...bytes('32768'), 93]);
    // 1e3 is a float to Espruino, and stays one
    expect(pretokenise('a=1e3')).toBe('a=1e3');
  });

  it('leaves as text what could mean something else: \\u escapes, templates, regular expressions, floats', () => {
    for (const s of ['"\\u20ac"', '`a${b}c`', '`$x`', 'x=/a"b/g.test(s)', '.5', '"\\101"']) expect(pretokenise(s)).toBe(s);
    // a template without ${…} or $ is a plain string to Espruino's lexer
    expect(bytes(pretokenise('`ab`'))).toEqual([0xd1, 2, 97, 98]);
  });

  it('drops whitespace, keeping the spaces two text tokens need', () => {
    expect(pretokenise('var a = b in c ;')).toBe(String.fromCharCode(172) + 'a=b' + String.fromCharCode(185) + 'c;');
    expect(pretokenise('a - -b + +c')).toBe('a- -b+ +c');
    expect(pretokenise('x = a / /re/g.source')).toBe('x=a/ /re/g.source');
    expect(pretokenise('a=1 .toString()')).toBe('a=1 .toString()');
  });

  it('refuses text that is not ASCII (the bundle is built with charset ascii)', () => {
    expect(() => pretokenise('a="\xe9"')).toThrow(/must be ASCII/);
  });
});

describe('plainConstants: !0, !1 and void 0 as the words true, false, undefined', () => {
  it('rewrites the minifier\'s forms, spacing them from neighbouring words', () => {
    expect(plainConstants('a=!0,b=!1,c=void 0;')).toBe('a=true,b=false,c=undefined;');
    expect(plainConstants('return!0}')).toBe('return true}');
    expect(plainConstants('typeof!1')).toBe('typeof false');
    expect(plainConstants('x===void 0?!1:!0')).toBe('x===undefined?false:true');
    expect(plainConstants('!!0')).toBe('!true');
  });

  it('leaves alone what is not the constant alone: members, calls, other numbers, strings, regular expressions, templates', () => {
    for (const s of ['!0[k]', '!0 .x', '!1(a)', 'void 0(a)', '!10', '!0x0', '"!0"', "'void 0'", 'x=/!0/', '`!1`', '!0`t`', 'a!=0', 'a!==1']) expect(plainConstants(s)).toBe(s);
  });

  it('means the same to JavaScript: the same values from expressions built around them', () => {
    const parts = ['!0', '!1', 'void 0'];
    const around = ['X', '-X', '!X', 'typeof X', 'X+""', '[X][0]', '({a:X}).a', 'X?1:2', 'X==null', 'X===undefined', 'X&&3', 'X||4', 'X instanceof Object', '(X)'];
    for (const p of parts) {
      for (const a of around) {
        const text = '(' + a.replace(/X/g, p) + ')';
        const plain = plainConstants(text);
        expect(plain).not.toBe(text);
        expect(JSON.stringify([new Function('return ' + plain)()])).toBe(JSON.stringify([new Function('return ' + text)()]));
      }
    }
  });

  it('is what the build wrote: no !0, !1 or void 0 tokens are left in the firmware', () => {
    const tokens = lex(code('firmware.js'));
    const constant = (t: (typeof tokens)[number], n: (typeof tokens)[number] | undefined): boolean => n?.tk === LEX.INT && (t.tk === 33 ? n.value === 0 || n.value === 1 : t.tk === 192 && n.value === 0);
    const left = tokens.filter((t, k) => constant(t, tokens[k + 1]) && ![46, 91, 40].includes(tokens[k + 2]?.tk ?? 0));
    expect(left).toEqual([]);
  });
});

/** Tokens as esbuild writes them, joined by arbitrary whitespace: not JavaScript, but lexable. */
const word = fc.constantFrom('a', 'x1', '$', '_b', 'return', 'typeof', 'in', 'of', 'this', 'undefined', 'null', 'true', 'default', 'function', 'instanceof', 'new', 'delete', 'void');
const number = fc.oneof(fc.nat({ max: 70000 }).map(String), fc.nat({ max: 70000 }).map((n) => '0x' + n.toString(16)), fc.constantFrom('1e3', '.5', '2.25', '1E-7', '0'));
const escaped = (s: string): string => s.replace(/[^\x20-\x7e]|["\\]/g, (c) => (c === '"' || c === '\\' ? '\\' + c : '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0')));
const string = fc.oneof(
  fc.string({ unit: 'binary-ascii', maxLength: 300 }).map((s) => '"' + escaped(s) + '"'),
  fc.string({ maxLength: 20 }).map((s) => "'" + s.replace(/[^\x20-\x7e]|['\\]/g, '') + "'"),
  fc.constantFrom('"\\n\\t\\r\\b\\f\\v"', '"\\u00e9"', '"\\0"', '``', '`a\\`b`', '`x${1+2}y`'),
);
const operator = fc.constantFrom('+', '-', '*', '%', '=', '==', '===', '!=', '!==', '<', '<=', '<<', '<<=', '>', '>=', '>>', '>>>', '>>=', '>>>=', '+=', '-=', '++', '--', '*=', '%=', '&', '&=', '&&', '|', '|=', '||', '^', '^=', '=>', '?', '??', '!', '~', ':', '.', ',', ';', '(', ')', '[', ']', '{', '}');
const division = fc.constant('a/b');
const regex = fc.constantFrom('(/ab+c/g)', '(/[a-z]\\//i)', '=/x/');
const soup = fc.array(fc.tuple(fc.oneof(word, number, string, operator, division, regex), fc.constantFrom('', ' ', '\n', '  ')), { maxLength: 60 }).map((parts) => parts.map(([t, ws]) => t + ws).join(''));

describe('round trips', () => {
  it('generated token streams lex the same pretokenised and printed back as text', () => {
    fc.assert(
      fc.property(soup, (text) => {
        const before = lex(text);
        const p = pretokenise(text);
        expect(sameTokens(lex(p), before)).toBeNull();
        expect(sameTokens(lex(detokenise(p)), before)).toBeNull();
        expect(p.length).toBeLessThanOrEqual(text.length);
      }),
      { numRuns: 500, seed: 2029 },
    );
  });

  it.each(['firmware.js', 'protocol.js'])('dist/device/%s: pretokenised about a fifth smaller, and the same tokens', (file) => {
    const text = file === 'firmware.js' ? code(file) : readFileSync(join(DIST, file), 'latin1');
    const p = pretokenise(text);
    expect(p.length).toBeLessThan(text.length * 0.85);
    expect(sameTokens(lex(p), lex(text))).toBeNull();
    expect(sameTokens(lex(detokenise(p)), lex(text))).toBeNull();
  });

  it('dist/device/firmware.bootcde is the firmware\'s code pretokenised, mechanically', () => {
    expect(readFileSync(join(DIST, 'firmware.bootcde'), 'latin1')).toBe(pretokenise(code('firmware.js')));
  });

  it('the firmware printed back from its .bootcde takes a purse payment in the emulator', async () => {
    const text = readFileSync(join(DIST, 'firmware.js'), 'latin1');
    const firmware = text.slice(0, text.indexOf('\n') + 1) + detokenise(readFileSync(join(DIST, 'firmware.bootcde'), 'latin1'));
    const { device, host, answer } = await purchaseOnEmulator(firmware);
    host.close();
    device.powerOff();
    // the card's debit token: the payment went through the firmware's whole purse flow
    expect((answer as { token?: Uint8Array }).token?.length).toBeGreaterThan(64);
  });
});

const BIN = process.env.ESPRUINO_BIN;
(BIN ? describe : describe.skip)('on the real interpreter (ESPRUINO_BIN)', () => {
  /**
   * Boots `fw` from the interpreter's Storage (the firmware with virtual pins, console left on
   * stdout; bench/device.ts's helpers), sends SYNC and a CONFIRM with a long statement, and
   * returns all it printed but the memory figure.
   */
  function boot(fw: string): { out: string; jsVars: number } {
    const { sync, confirm } = paymentFrames();
    const out = onInterpreter(
      BIN as string,
      fw,
      'LoopbackA.setConsole=function(){};eval(require("Storage").read("fw.js"));(function(){' +
        `setTimeout(function(){USB.emit("data",${sync});setTimeout(function(){USB.emit("data",${confirm});` +
        'setTimeout(function(){print("MEM "+process.memory().usage);quit();},600);},200);},800);})();',
    );
    const m = /MEM (\d+)/.exec(out);
    expect(m).not.toBeNull();
    return { out: out.replace(/MEM \d+/, ''), jsVars: Number(m![1]) };
  }

  it('boots the pretokenised firmware and answers a statement exactly as the text does, in fewer JsVars', () => {
    const text = readFileSync(join(DIST, 'firmware-measure.js'), 'latin1');
    const line1 = text.slice(0, text.indexOf('\n') + 1);
    const asText = boot(text);
    const tokens = boot(line1 + readFileSync(join(DIST, 'firmware-measure.bootcde'), 'latin1'));
    expect(asText.out).toContain('Check'); // the review's STATUS: the statement is on screen
    expect(asText.out).not.toContain('Uncaught');
    expect(tokens.out).toBe(asText.out);
    expect(tokens.jsVars).toBeLessThanOrEqual(asText.jsVars);
  });
});
