import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { checkBundle, clipLine, countChecks, PARSE_ERROR_RULE } from '../../tools/bundle-check/check';
import { main, type JsonReport } from '../../tools/bundle-check/cli';
import profileJson from '../../tools/bundle-check/espruino-profile.json';
import {
  appliesToBundle,
  defaultProfile,
  parseProfile,
  ProfileError,
  ruleAccepted,
  ruleExamples,
  type ProfileRule,
  type RuleExample,
} from '../../tools/bundle-check/profile';
import { compileSelector, SelectorSyntaxError } from '../../tools/bundle-check/selector';

const repoRoot = join(__dirname, '..', '..');

const ruleIds = (code: string): string[] => [...new Set(checkBundle(code).map((v) => v.rule))].sort();
const expectedIds = (rule: ProfileRule, ex: RuleExample): string[] => [rule.id, ...(ex.also ?? [])].sort();
const appliesToSource = (rule: ProfileRule): boolean => rule.kind !== 'syntax' || rule.selectors.some((s) => s.only !== 'bundle');

type Case = readonly [id: string, code: string, expected: string[]];
const casesFor = (skip: 'bundle' | 'source'): Case[] =>
  defaultProfile.rules.flatMap((rule) =>
    ruleExamples(rule)
      .filter((ex) => ex.only !== skip)
      .map((ex): Case => [rule.id, ex.code, expectedIds(rule, ex)]),
  );
const bundleCases = casesFor('source');
const sourceCases = casesFor('bundle');
/** Near misses from the profile's `accepted` lists: each must yield only its `also` ids (usually none). */
const acceptedFor = (skip: 'bundle' | 'source'): Case[] =>
  defaultProfile.rules.flatMap((rule) =>
    ruleAccepted(rule)
      .filter((ex) => ex.only !== skip)
      .map((ex): Case => [rule.id, ex.code, [...(ex.also ?? [])].sort()]),
  );
const bundleAccepted = acceptedFor('source');
const sourceAccepted = acceptedFor('bundle');

/** What the brief requires the profile to cover; removing one of these must be a deliberate test change. */
const REQUIRED_IDS = [
  'syntax/destructuring', 'syntax/spread', 'syntax/rest', 'syntax/default-parameter', 'syntax/async', 'syntax/generator',
  'syntax/optional-chaining', 'syntax/exponent', 'syntax/computed-key', 'syntax/label', 'syntax/bigint-literal',
  'syntax/regex-lookbehind', 'syntax/class-field', 'syntax/private-name', 'syntax/static-block', 'syntax/logical-assignment',
  'syntax/module', 'syntax/extends-error', 'syntax/loop-closure',
  'global/Map', 'global/Set', 'global/WeakMap', 'global/WeakSet', 'global/WeakRef', 'global/Symbol', 'global/BigInt', 'global/Proxy',
  'global/Reflect', 'global/TextEncoder', 'global/TextDecoder', 'global/Buffer', 'global/globalThis', 'global/queueMicrotask',
  'global/structuredClone', 'global/RangeError',
  'property/Array.prototype', 'property/Array.from', 'property/Array.of', 'property/Number.isInteger', 'property/Number.isSafeInteger',
  'property/Number.MAX_SAFE_INTEGER', 'property/Number.MIN_SAFE_INTEGER', 'property/Number.EPSILON', 'property/ArrayBuffer.isView',
  'property/Object.freeze', 'property/Object.isFrozen', 'property/Object.fromEntries', 'property/Math.imul', 'property/Math.clz32',
  'property/Math.fround', 'property/Math.trunc', 'property/Math.pow', 'property/String.fromCodePoint', 'method/codePointAt', 'method/normalize',
  'method/padEnd', 'property/Promise.allSettled', 'property/Promise.any', 'property/process.env',
  'require/non-builtin', 'require/dynamic',
];

describe('espruino-profile.json', () => {
  it('is valid and covers every required construct', () => {
    const ids = defaultProfile.rules.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(REQUIRED_IDS));
    expect(defaultProfile.builtinModules).toEqual(['Storage', 'crypto', 'Flash', 'heatshrink']);
  });

  it.each(defaultProfile.rules.map((r) => [r.id, r] as const))('%s has examples for every place it applies, and a message', (_id, rule) => {
    const examples = ruleExamples(rule);
    if (appliesToBundle(rule)) expect(examples.some((ex) => ex.only !== 'source')).toBe(true);
    if (appliesToSource(rule)) expect(examples.some((ex) => ex.only !== 'bundle')).toBe(true);
    expect(rule.message.length).toBeGreaterThan(40);
    // broken: PROFILE.md says so, or a later measurement on the interpreter that the entry quotes
    if (rule.status === 'broken') expect(rule.profile).toMatch(/^(PROFILE\.md|measured on the Espruino 2v29 interpreter)/);
  });

  it('every selector the checker uses compiles', () => {
    for (const rule of defaultProfile.rules) {
      if (rule.kind !== 'syntax') continue;
      for (const s of rule.selectors) if (s.only !== 'source') expect(() => compileSelector(s.selector)).not.toThrow();
    }
  });

  it('rejects malformed profiles and names the bad path', () => {
    const clone = (): { rules: Record<string, unknown>[] } & Record<string, unknown> => JSON.parse(JSON.stringify(profileJson));
    const noMessage = clone();
    delete noMessage.rules[0]?.['message'];
    expect(() => parseProfile(noMessage)).toThrow(new ProfileError('$.rules[0].message', 'expected a non-empty string'));
    const duplicate = clone();
    duplicate.rules.push(duplicate.rules[0] as Record<string, unknown>);
    expect(() => parseProfile(duplicate)).toThrow(/duplicate id "syntax\/destructuring"/);
    const badStatus = clone();
    (badStatus.rules[1] as Record<string, unknown>)['status'] = 'maybe';
    expect(() => parseProfile(badStatus)).toThrow(/\$\.rules\[1\]\.status/);
    const badOnly = clone();
    (badOnly.rules[0] as { selectors: Record<string, unknown>[] }).selectors[0] = { selector: 'X', only: 'editor' };
    expect(() => parseProfile(badOnly)).toThrow(/selectors\[0\]\.only/);
    const badAccepted = clone();
    (badAccepted.rules[0] as Record<string, unknown>)['accepted'] = [{ code: 'x;', only: 'editor' }];
    expect(() => parseProfile(badAccepted)).toThrow(/\$\.rules\[0\]\.accepted\[0\]\.only/);
    const twoLoopRules = clone();
    twoLoopRules.rules.push({ ...(twoLoopRules.rules.find((r) => r['kind'] === 'loop-closure') as Record<string, unknown>), id: 'syntax/loop-closure-2' });
    expect(() => parseProfile(twoLoopRules)).toThrow(/more than one rule of kind loop-closure/);
    expect(() => parseProfile([])).toThrow(ProfileError);
  });
});

describe('selector engine (esquery subset)', () => {
  const node = { type: 'BinaryExpression', start: 0, end: 1, operator: '**', left: { type: 'Identifier', name: 'a' } };
  it('matches types, attributes, regexes and :function like esquery', () => {
    expect(compileSelector("BinaryExpression[operator='**']").matches(node)).toBe(true);
    expect(compileSelector('BinaryExpression[operator="+"]').matches(node)).toBe(false);
    expect(compileSelector('*[left.name=/^a$/]').matches(node)).toBe(true);
    expect(compileSelector('[left.name!=/^b$/]').matches(node)).toBe(true);
    expect(compileSelector('BinaryExpression[right]').matches(node)).toBe(false);
    expect(compileSelector(':function[async=true]').types).toEqual(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);
  });
  it('refuses syntax it does not implement, so a selector never silently matches nothing', () => {
    for (const s of [':function > RestElement', ':not(Identifier)', 'A B', "X[a='\\'']", 'X[a>1]', '']) {
      expect(() => compileSelector(s)).toThrow(SelectorSyntaxError);
    }
  });
});

describe('checkBundle rejects every profile example with exactly its rule id', () => {
  it.each(bundleCases)('%s: %s', (_id, code, expected) => {
    expect(ruleIds(code)).toEqual(expected);
  });
});

describe("checkBundle accepts the profile's near misses", () => {
  it.each(bundleAccepted)('%s: %s', (_id, code, expected) => {
    expect(ruleIds(code)).toEqual(expected);
  });
});

// A real esbuild output (target es2015, minify, iife, platform neutral) of a small link layer:
// classes with a getter and a static method, an inlined const enum, template literal, `??` lowered,
// typed arrays, DataView, promises, closures.
const MINIFIED_IIFE =
  '(()=>{var o=class{constructor(e,n){this.code=e;this.detail=n}};function u(r){let e=65535;for(let n=0;n<r.length;n++){e^=r[n]<<8;for(let t=0;t<8;t++)e=e&32768?(e<<1^4129)&65535:e<<1&65535}return e}function i(r){let e=new Uint8Array(r.body.length+5),n=new DataView(e.buffer);return e[0]=r.op,n.setUint16(1,r.id),e.set(r.body,3),n.setUint16(e.length-2,u(e.subarray(0,e.length-2))),e}var s=class r{constructor(){this.handlers={};this.state=0}get busy(){return this.state!==0}static create(){return new r}on(e,n){return this.handlers[e]=n,this}dispatch(e){let n=this.handlers[e.op];return n?(this.state=1,n(e).then(t=>(this.state=0,i({op:e.op,id:e.id,body:t})))):Promise.reject(new o("UNKNOWN_OP",`no handler for ${e.op}`))}},a=s.create().on(2,r=>Promise.resolve(r.body.slice())).on(1,()=>Promise.resolve(new Uint8Array([1,0]))),l=[];function d(){let r=l.shift();r&&a.dispatch(r).then(e=>{console.log(e.length,a.busy),setTimeout(d,0)},e=>{var n;return console.log((n=e.code)!=null?n:"ERR")})}l.push({op:2,id:7,body:new Uint8Array([9,9])});setTimeout(d,10);})();';

const accepted: [string, string][] = [
  ['a local var named Map', 'function f() { var Map = {}; return Map; }'],
  ['a local var used from a nested function', 'function f() { var Map = {}; function g() { return new Map(); } return g; }'],
  ['a var declared after its use (hoisting)', 'function f() { return new Set(); var Set = function () {}; }'],
  ['a var inside a block hoists to the function', 'function f(x) { if (x) { var Set = function () {}; } return new Set(); }'],
  ['a function declared later in the block', 'function f() { return WeakMap(); function WeakMap() { return 1; } }'],
  ['parameters shadowing globals', 'function f(Symbol) { return Symbol.iterator; } var g = (Proxy) => new Proxy(); var h = function (a, Reflect) { return Reflect; };'],
  ['a catch parameter', 'try { f(); } catch (Map) { g(Map); }'],
  ['top-level declarations', 'var Map = function () {}; new Map(); let Reflect = {}; Reflect.x; class WeakMap {} new WeakMap(); function Buffer() {} Buffer();'],
  ['a function expression name inside itself', 'var f = function Buffer(n) { return n ? Buffer(n - 1) : 0; };'],
  ['a class expression name inside itself', 'var C = class Symbol { static make() { return new Symbol(); } };'],
  ['a for-let binding', 'for (let Set = 0; Set < 3; Set++) f(Set);'],
  ['property names like globals', 'obj.Map; obj.Set = 1; var o = { Map: 1, Symbol: 2, BigInt() { return 3; } }; o.Proxy.Reflect;'],
  ['class members named like globals', 'class A { Map() { return 1; } get Symbol() { return 2; } static Proxy() { return 3; } }'],
  ['`from` on objects that are not Array', 'var o = { from: 1 }; o.from; list.from(x); Array2.from(x); obj.Array.from(x);'],
  ['Array.from on a local Array', 'function f(Array) { return Array.from(x); }'],
  ['Array.isArray and methods borrowed from an instance', 'function f(s, g) { return Array.isArray(s) ? [].slice.call(arguments) : [].map.call(s, g); }'],
  ['prototype of something else', 'var p = obj.Array.prototype; x.prototype.slice; Object.prototype.hasOwnProperty.call(o, "k");'],
  ['template literals', 'var s = `a${b}c` + `plain`;'],
  ['classes with getters, setters, static methods and super', 'class A extends B { constructor() { super(); this.v = 1; } get x() { return this.v; } set x(v) { this.v = v; } static make() { return new A(); } m() { return super.m(); } }'],
  ['arrow functions', 'var f = (a, b) => a + b; var g = x => ({ x: x }); var h = () => { return 1; };'],
  ['for-of over arrays and plain loops', 'for (const x of [1, 2, 3]) f(x); for (var i = 0; i < 3; i++) {} for (var k in o) {}'],
  ['nullish coalescing `??`', 'var v = a ?? b ?? 0;'],
  ['catch without a binding', 'try { f(); } catch { g(); }'],
  ['shorthand properties and methods', 'var o = { a, f() { return 1; }, get x() { return 2; } };'],
  ['library that PROFILE.md lists as present',
    'Object.assign({}, o); Object.keys(o); Object.entries(o); Object.create(null); Object.defineProperty(o, "x", {}); Object.setPrototypeOf(a, b); Object.getPrototypeOf(a); ' +
      'Promise.all([p]).then(f); Promise.resolve(1); new Promise(function (r) { setTimeout(r, 1); }); new Uint8Array(4).subarray(1).fill(0); ' +
      'new DataView(b).getFloat32(0); s.padStart(2, "0"); s.repeat(3); s.startsWith("a"); JSON.stringify(o); btoa(s); atob(s); f.bind(o); setInterval(f, 10); Math.sqrt(2); x instanceof A; new TypeError("t");'],
  ['Espruino built-ins', 'var S = require("Storage"); var c = require("crypto"); require("Flash"); require("heatshrink"); E.CRC32(s); process.memory(); var b = process.env.BOARD + process.env.VERSION;'],
  ['a local function called require', 'function f(require) { return require("fs"); }'],
  ['simple regular expressions', 'var r = /^[a-z]+\\d*$/i, q = /(ab)c|d.e*/g, t = /\\.\\*\\+\\?/;'],
  ['your own error class, and plain Error', 'class AppError { constructor(code) { this.code = code; } } class E2 extends AppError {} throw new Error("x");'],
  ['object keys that look like labels', 'var o = { outer: 1 }; o.outer;'],
  ['TypeScript enum output', 'var Color = ((C) => (C[C.Red = 0] = "Red", C[C.Green = 1] = "Green", C))(Color || {});'],
  ['an empty bundle', ''],
  ['a realistic esbuild-minified iife', MINIFIED_IIFE],
];

describe('checkBundle accepts what Espruino runs', () => {
  it.each(accepted)('%s', (_name, code) => {
    expect(checkBundle(code)).toEqual([]);
  });
});

describe('scope tracking', () => {
  it.each([
    ['a declaration in another function does not count', 'function f() { return Map; } function g() { var Map; }', ['global/Map']],
    ['let is block scoped', '{ let Set = 1; } new Set();', ['global/Set']],
    ['a function expression name does not leak', 'var f = function Buffer() {}; Buffer.from(x);', ['global/Buffer']],
    ['a class expression name does not leak', 'var B = class Symbol {}; Symbol();', ['global/Symbol']],
    ['a catch parameter does not leak', 'try {} catch (Proxy) {} new Proxy();', ['global/Proxy']],
    ['a parameter does not leak', 'function f(Reflect) {} Reflect.ownKeys(o);', ['global/Reflect']],
    ['shorthand properties are references', 'var o = { Map };', ['global/Map']],
    ['computed member keys are references', 'o[Symbol];', ['global/Symbol']],
    ['Array.from when Array is only shadowed elsewhere', 'function f(Array) {} Array.from(x);', ['property/Array.from']],
  ] as const)('%s', (_name, code, expected) => {
    expect(ruleIds(code)).toEqual(expected);
  });
});

describe('loop-closure (let/const of a loop head captured by a closure)', () => {
  const loopHits = (code: string): [string, number][] =>
    checkBundle(code)
      .filter((v) => v.rule === 'syntax/loop-closure')
      .map((v) => [v.snippet.slice(v.caret, v.caret + 3), v.column]);

  it('reports every captured reference, at the reference', () => {
    expect(loopHits('for(let i=0;i<3;i++)f(()=>i+i,function(){return g(i)})')).toEqual([
      ['i+i', 27],
      ['i,f', 29],
      ['i)}', 51],
    ]);
  });

  it("checks each loop's own head bindings in nested loops", () => {
    const code = 'for (let i = 0; i < 2; i++) { let j = i; for (let k = 0; k < 2; k++) for (var m = 0; m < 2; m++) fs.push(() => j + k + m + i); }';
    expect(loopHits(code).map(([text]) => text)).toEqual(['k +', 'i);']);
  });

  it('respects shadowing by declarations inside the loop body and the closure', () => {
    expect(loopHits('for (let i = 0; i < 3; i++) { let i = 5; fs.push(() => i); }')).toEqual([]);
    expect(loopHits('for (const x of xs) fs.push(function x() { return x; });')).toEqual([]);
    expect(loopHits('for (const C of cs) fs.push(class C { m() { return C; } });')).toEqual([]);
    expect(loopHits('for (const x of xs) fs.push(function () { for (const x of ys) g(x); });')).toEqual([]);
  });

  it('flags a closure in the head of another loop nested in the body, and shorthand properties', () => {
    expect(loopHits('for (const a of as) for (var b in (function () { return { a }; })()) g(b);').map(([text]) => text)).toEqual(['a }']);
  });

  it("flags esbuild's __copyProps helper (format iife with globalName), which broke dist/device/protocol.js", () => {
    const out = esbuild.buildSync({
      stdin: { contents: 'export const a = 1; export const b = 2;', loader: 'ts' },
      bundle: true,
      format: 'iife',
      globalName: 'P',
      target: 'es2015',
      minify: true,
      write: false,
      logLevel: 'silent',
    }).outputFiles?.[0]?.text ?? '';
    const hits = checkBundle(out).filter((v) => v.rule === 'syntax/loop-closure');
    expect(hits).toHaveLength(1);
    expect(out.slice(hits[0]?.offset).startsWith(`${/for\(let (\w+) of/.exec(out)?.[1]}]`)).toBe(true);
  });
});

describe('positions and snippets', () => {
  it('reports the exact column on a long minified line and clips the snippet around it', () => {
    const code = 'var a=1;'.repeat(200) + 'var {b}=c;' + 'var d=2;'.repeat(200);
    const [v, ...rest] = checkBundle(code);
    expect(rest).toEqual([]);
    expect(v).toMatchObject({ rule: 'syntax/destructuring', line: 1, column: 1605, offset: 1604, status: 'broken' });
    expect(v?.snippet.length).toBeLessThanOrEqual(82);
    expect(v?.snippet.startsWith('…')).toBe(true);
    expect(v?.snippet.endsWith('…')).toBe(true);
    expect(v?.snippet.slice(v.caret).startsWith('{b}=c;')).toBe(true);
  });

  it('counts lines across \\n, \\r\\n and \\r', () => {
    const v = checkBundle('var a = 1;\r\nvar b = 2;\nvar c = 3;\rvar d = 2 ** 3;\n');
    expect(v).toMatchObject([{ rule: 'syntax/exponent', line: 4, column: 9, snippet: 'var d = 2 ** 3;', caret: 8 }]);
  });

  it('reports violations in source order, each node once per rule', () => {
    const v = checkBundle('var x = new Set(); var {y} = Array.from(z); var o = {[k]: 1};');
    expect(v.map((x) => [x.rule, x.column])).toEqual([
      ['global/Set', 13],
      ['syntax/destructuring', 24],
      ['property/Array.from', 30],
      ['syntax/computed-key', 54],
    ]);
  });

  it('turns a parse error into one violation with its position', () => {
    const v = checkBundle('var ok = 1;\nvar x = (1, ;');
    expect(v).toHaveLength(1);
    expect(v[0]).toMatchObject({ rule: PARSE_ERROR_RULE, status: 'error', line: 2, column: 13, snippet: 'var x = (1, ;' });
    expect(v[0]?.message).toMatch(/^Not valid JavaScript .*Unexpected token/);
    expect(ruleIds('#!/usr/bin/env node\nx;')).toEqual([PARSE_ERROR_RULE]);
  });

  it('reports module syntax by rule, not as a parse error', () => {
    expect(ruleIds("import x from 'y'; export { x };")).toEqual(['syntax/module']);
  });

  it('clipLine keeps short lines and cuts long ones around the column', () => {
    expect(clipLine('short', 2)).toEqual({ text: 'short', caret: 2 });
    const line = 'abcdefghij'.repeat(20);
    const { text, caret } = clipLine(line, 100, 20);
    expect(text).toBe('…' + line.slice(90, 110) + '…');
    expect(text[caret]).toBe(line[100]);
    expect(clipLine(line, 3, 20).text).toBe(line.slice(0, 20) + '…');
    expect(clipLine(line, 199, 20).text).toBe('…' + line.slice(180));
  });

  it('counts the checks it runs', () => {
    expect(countChecks()).toBe(defaultProfile.rules.filter(appliesToBundle).length + 1);
  });
});

describe('bundles made by esbuild (target es2015, minify, iife)', () => {
  const bundle = (contents: string, extra: esbuild.BuildOptions = {}): string => {
    const result = esbuild.buildSync({
      stdin: { contents, loader: 'ts', resolveDir: repoRoot },
      bundle: true,
      format: 'iife',
      target: 'es2015',
      minify: true,
      write: false,
      logLevel: 'silent',
      ...extra,
    });
    return result.outputFiles?.[0]?.text ?? '';
  };

  it('accepts TypeScript that only uses what PROFILE.md allows (and what esbuild lowers)', () => {
    const out = bundle(`
      const enum Op { Ping = 1, Sign = 2 }
      enum State { Idle, Busy }
      class Counter {
        private n: number;
        constructor(start: number) { this.n = start; }
        get value(): number { return this.n; }
        static zero(): Counter { return new Counter(0); }
        bump(by: number): this { this.n += by; return this; }
      }
      interface Msg { op: Op; body?: { text: string } }
      const describe = (m: Msg): string => \`op \${m.op}: \${m.body?.text ?? 'none'}\`;
      const withDefaults = (o: { a?: number }) => ({ ...{ a: 1 }, ...o });
      for (const m of [{ op: Op.Ping }, { op: Op.Sign, body: { text: 'x' } }] as Msg[]) console.log(describe(m));
      console.log(Counter.zero().bump(2).value, State.Busy, withDefaults({}), [].slice.call([1, 2]));
    `);
    expect(out).toMatch(/^\(\(\)=>\{/);
    expect(checkBundle(out)).toEqual([]);
  });

  it('catches destructuring, default and rest parameters that esbuild leaves in place for es2015', () => {
    const out = bundle(`
      export function f({ a, b }: { a: number; b: number }, c = 1, ...rest: number[]): number { return a + b + c + rest.length; }
      console.log(f({ a: 1, b: 2 }));
    `);
    expect(ruleIds(out)).toEqual(['syntax/default-parameter', 'syntax/destructuring', 'syntax/rest']);
  });

  it('catches `**`, which esbuild lowers to Math.pow (inexact on Espruino from exponent 10)', () => {
    const out = bundle('declare const a: number, b: number; console.log(a ** b);');
    expect(out).toContain('Math.pow');
    expect(ruleIds(out)).toEqual(['property/Math.pow']);
  });

  it('catches async functions, which esbuild lowers to generators', () => {
    const out = bundle('async function f(p: Promise<number>) { return (await p) + 1; } f(Promise.resolve(1)).then(console.log);');
    expect(ruleIds(out)).toEqual(['syntax/generator']);
  });

  it('catches what esbuild keeps at es2015 even with the destructuring/default/rest overrides tools/build.mjs sets', () => {
    const options: esbuild.BuildOptions = { supported: { destructuring: false, 'default-argument': false, 'rest-argument': false } };
    // with those overrides esbuild refuses destructuring and call spread outright (a build error), ...
    expect(() => bundle('const { a } = { a: 1 }; console.log(a);', options)).toThrow(/Transforming destructuring .* is not supported yet/);
    expect(() => bundle('declare const a: number[]; console.log(Math.max(...a));', options)).toThrow(/Transforming rest arguments .* is not supported yet/);
    // ... but array spread, computed keys, labels and missing globals are ES2015 to esbuild and pass through
    const out = bundle(
      `declare const k: string, a: number[];
       const o = { [k]: Math.max.apply(null, a) };
       outer: for (const i of a) { for (const j of a) { if (i === j) break outer; } }
       console.log([...a], o, new Map(), Array.from(a));`,
      options,
    );
    expect(ruleIds(out)).toEqual(['global/Map', 'property/Array.from', 'syntax/computed-key', 'syntax/label', 'syntax/spread']);
  });

  it('flags the __require helper that format iife emits for external modules (it mentions Proxy)', () => {
    const source = "declare function require(m: 'Storage'): { read(n: string): string }; console.log(require('Storage').read('a'));";
    const iife = bundle(source, { external: ['Storage'] });
    expect(ruleIds(iife)).toEqual(['global/Proxy']);
    // format cjs keeps require("Storage") literal; wrapping it in a function keeps the names local
    const cjs = bundle(source, { external: ['Storage'], format: 'cjs', banner: { js: '(function(){' }, footer: { js: '})();' } });
    expect(cjs).toContain('require("Storage")');
    expect(checkBundle(cjs)).toEqual([]);
  });
});

describe('ESLint config (eslint.config.mjs) applies the same profile to device/src and protocol/src', () => {
  interface LintMessage {
    ruleId: string | null;
    message: string;
    severity: number;
    line: number;
    column: number;
  }
  const PROFILE_RULES = new Set(['no-restricted-syntax', 'no-restricted-globals', 'no-restricted-properties', 'espruino/loop-closure']);
  const profileIds = (messages: LintMessage[]): string[] =>
    [...new Set(messages.filter((m) => m.ruleId !== null && PROFILE_RULES.has(m.ruleId)).map((m) => /\[([^\]]+)\]$/.exec(m.message)?.[1] ?? m.message))].sort();

  // TypeScript that must not be flagged on the device: types are erased, enums are plain code.
  const tsAccepted = [
    'export const enum Op { A = 1 }\nexport enum Color { Red, Green }\nexport const c: Color = Color.Red + Op.A;\n',
    'export class A {\n  private x: number;\n  declare y: string;\n  constructor(x: number) { this.x = x; }\n  get v(): number { return this.x; }\n  static make(): A { return new A(1); }\n}\n',
    "import type { Thing } from 'some-package';\nimport { local } from './local';\nexport const t: Thing | undefined = local;\n",
    "declare function require(name: 'Storage'): { read(n: string): string };\nexport const s = require('Storage').read('x');\n",
    'export type Fn = (...args: unknown[]) => void;\ndeclare function logAll(...items: string[]): void;\nexport interface I { m(...a: number[]): void }\nlogAll();\n',
    'export function f(a: number | null, s: string): string {\n  const v = a ?? 0;\n  for (const x of [1, 2]) s += `${x}:${v}`;\n  return [].slice.call(arguments).length + process.env.BOARD + s.padStart(2, "0");\n}\n',
    // the ES5 idioms PROFILE.md asks for instead of rest and spread must not trip prefer-rest-params / prefer-spread
    'export function max(): number {\n  const args: number[] = [].slice.call(arguments);\n  return Math.max.apply(null, args);\n}\n',
    'export function g(o: { [k: string]: number }): number {\n  try { return o.a; } catch { return 0; }\n}\n',
  ];

  let results: LintMessage[][] = [];
  const inputs: { filePath: string; code: string }[] = [];
  const add = (filePath: string, code: string): number => inputs.push({ filePath, code }) - 1;
  const deviceCase = sourceCases.map(([, code]) => add('device/src/x.ts', code));
  const protocolCase = sourceCases.map(([, code]) => add('protocol/src/codec/x.ts', code));
  const hostCase = sourceCases.map(([, code]) => add('host/src/x.ts', code));
  const acceptedCase = tsAccepted.map((code) => add('device/src/ok.ts', code));
  const nearMissDevice = sourceAccepted.map(([, code]) => add('device/src/x.ts', code));
  const nearMissProtocol = sourceAccepted.map(([, code]) => add('protocol/src/x.ts', code));
  const loopCase = add(
    'device/src/loop.ts',
    'export const fs: Array<() => number> = [];\nfor (let i = 0; i < 3; i++) {\n  fs.push(() => i);\n}\nfor (const k of [1]) fs.push(() => k);\n',
  );
  const ownFiles = ['tools/bundle-check/check.ts', 'tools/bundle-check/cli.ts', 'tools/bundle-check/profile.ts', 'tools/bundle-check/scope.ts',
    'tools/bundle-check/selector.ts', 'tools/bundle-check/loop-closure.ts', 'tools/bundle-check/eslint-plugin.mjs',
    'test/tools/bundle-check.test.ts', 'test/tools/eslint-lint.mjs', 'eslint.config.mjs'];
  const ownCase = ownFiles.map((f) => add(f, readFileSync(join(repoRoot, f), 'utf8')));
  const importCase = add('tools/bundle-check/x.ts', "import { a } from '../../protocol/src/index';\nimport { b } from 'eslint';\nimport { c } from './check';\nimport { d } from 'node:fs';\nexport const e = [a, b, c, d];\n");

  beforeAll(() => {
    const stdout = execFileSync(process.execPath, [join(__dirname, 'eslint-lint.mjs')], {
      cwd: repoRoot,
      input: JSON.stringify(inputs),
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    results = JSON.parse(stdout) as LintMessage[][];
  });

  it.each(sourceCases.map((c, i) => [...c, i] as const))('flags %s in device/src: %s', (_id, _code, expected, i) => {
    expect(profileIds(results[deviceCase[i] as number] ?? [])).toEqual(expected);
  });

  it('flags the same in protocol/src', () => {
    sourceCases.forEach(([, code, expected], i) => {
      expect({ code, ids: profileIds(results[protocolCase[i] as number] ?? []) }).toEqual({ code, ids: expected });
    });
  });

  it.each(sourceAccepted.map((c, i) => [...c, i] as const))("accepts %s's near miss in device/src and protocol/src: %s", (_id, _code, expected, i) => {
    expect(profileIds(results[nearMissDevice[i] as number] ?? [])).toEqual(expected);
    expect(profileIds(results[nearMissProtocol[i] as number] ?? [])).toEqual(expected);
  });

  it('reports espruino/loop-closure at the captured reference, with the profile message', () => {
    const messages = (results[loopCase] ?? []).filter((m) => m.ruleId === 'espruino/loop-closure');
    expect(messages.map((m) => [m.line, m.column, m.severity])).toEqual([
      [3, 17, 2],
      [5, 36, 2],
    ]);
    expect(messages[0]?.message).toMatch(/^On Espruino 2v29 a `let`\/`const` declared in a `for`.*\[syntax\/loop-closure\]$/);
  });

  it('does not apply the profile under host/src', () => {
    sourceCases.forEach(([, code], i) => {
      expect({ code, ids: profileIds(results[hostCase[i] as number] ?? []) }).toEqual({ code, ids: [] });
    });
  });

  it('accepts TypeScript-only syntax, enums and Espruino built-ins in device/src', () => {
    tsAccepted.forEach((code, i) => {
      expect({ code, messages: results[acceptedCase[i] as number] }).toEqual({ code, messages: [] });
    });
  });

  it('keeps tools/bundle-check standalone: only node:, acorn, acorn-walk and its own files', () => {
    const messages = results[importCase] ?? [];
    expect(messages.map((m) => [m.ruleId, m.line])).toEqual([
      ['no-restricted-imports', 1],
      ['no-restricted-imports', 2],
    ]);
  });

  it('finds nothing to report in the files of this tool', () => {
    ownFiles.forEach((file, i) => {
      expect({ file, messages: results[ownCase[i] as number] }).toEqual({ file, messages: [] });
    });
  });
});

describe('cli', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bundle-check-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (...argv: string[]): { status: number; out: string; err: string } => {
    const out: string[] = [];
    const err: string[] = [];
    const status = main(argv, { out: (s) => out.push(s), err: (s) => err.push(s) });
    return { status, out: out.join('\n'), err: err.join('\n') };
  };
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('prints usage for --help and exits 0', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^Usage: node dist\/tools\/bundle-check\/cli\.js \[--json\] <bundle\.js>/);
  });

  it('exits 2 without a file or with an unknown option', () => {
    expect(run()).toMatchObject({ status: 2, err: expect.stringContaining('no bundle given') });
    expect(run('--fast', 'x.js')).toMatchObject({ status: 2, err: expect.stringContaining('unknown option --fast') });
  });

  it('exits 2 on a missing file, naming it and npm run build', () => {
    const missing = join(dir, 'nope', 'firmware.js');
    const r = run(missing);
    expect(r.status).toBe(2);
    expect(r.err).toContain(missing);
    expect(r.err).toContain('npm run build');
  });

  it('prints OK with the size and the number of checks for a clean bundle', () => {
    const ok = file('ok.js', MINIFIED_IIFE);
    const r = run(ok);
    expect(r.status).toBe(0);
    expect(r.out).toBe(`OK ${ok} (${Buffer.byteLength(MINIFIED_IIFE).toLocaleString('en-US')} bytes, ${countChecks()} checks passed)`);
  });

  it('prints file:line:col rule message and the snippet with a caret, and exits 1', () => {
    const bad = file('bad.js', 'var a = 1;\nvar {b} = c, m = new Map();\n');
    const ok = file('ok2.js', 'var z = 1;');
    const r = run(bad, ok);
    expect(r.status).toBe(1);
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^${bad.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}:2:5 syntax/destructuring Destructuring fails`));
    expect(lines[1]).toBe('    var {b} = c, m = new Map();');
    expect(lines[2]).toBe('        ^');
    expect(lines[3]).toContain(':2:22 global/Map');
    expect(lines[6]).toBe(`FAIL ${bad} (39 bytes): 2 violations: 2 measured broken on Espruino`);
    expect(lines[7]).toMatch(/^OK .*ok2\.js/);
  });

  it('prints machine-readable output with --json', () => {
    const bad = file('bad.json.js', 'x **= 2;');
    const r = run('--json', bad);
    expect(r.status).toBe(1);
    const report = JSON.parse(r.out) as JsonReport;
    expect(report).toMatchObject({ ok: false, espruino: '2v29', checks: countChecks() });
    expect(report.files[0]).toMatchObject({ file: bad, bytes: 8, violations: [{ rule: 'syntax/exponent', line: 1, column: 1, status: 'broken' }] });
    expect(JSON.parse(run('--json', file('fine.js', '1;')).out)).toMatchObject({ ok: true });
  });
});
