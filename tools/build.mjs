#!/usr/bin/env node
// usage: npm run build [-- --quiet]
// npm run build: compiles the host side (tsc → dist/), type-checks the firmware against
// the Espruino profile (device/tsconfig.json) and bundles it with esbuild into ONE file,
// dist/device/firmware.js — the exact text that is uploaded to a board. Also bundles the
// protocol stack alone (dist/device/protocol.js) with the same settings, so tests and the
// fuzzer exercise the device-side codec exactly as it ships.
import * as acorn from 'acorn';
import { build } from 'esbuild';
import ts from 'typescript';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { langKeyNames, pairCode, renameLangKeys, unpair } from './lang-keys.cjs';
import { blockArrowBodies } from './arrow-this.cjs';
import { internStrings } from './intern-strings.cjs';
import { plainConstants, pretokenise } from './pretokenise.cjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
// the board's pin map, one place for firmware and emulator; comments ("//…" keys) stay behind
const pinmap = JSON.parse(readFileSync(join(root, 'board', 'pinmap.json'), 'utf8'), (k, v) => (k.startsWith('//') ? undefined : v));
// the display's languages: every device/lang/*.json, English first; adding a language is
// adding a file. Each becomes a pack of "\nkey=value" lines in the font's bytes (checked here:
// a string the font cannot draw fails the build): a Storage file the firmware reads from flash
// (device/src/resources.ts) — RAM holds only the list of languages.
const fontTs = readFileSync(join(root, 'device', 'src', 'ui', 'font.ts'), 'utf8');
/** A single-quoted string literal of font.ts (generated, pure ASCII with \x escapes) as its bytes. */
const fontLiteral = (re) => new Function(`return '${re.exec(fontTs)[1]}';`)();
const fontWidths = fontLiteral(/export const FONT_WIDTHS = '([^']*)'/);
function toFontBytes(text, where) {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0);
    const b = cp < 0x80 || (cp >= 0xa0 && cp <= 0xff) ? cp : cp === 0x20ac ? 0x80 : -1;
    if (b < 32 || !fontWidths.charCodeAt(b - 32)) throw new Error(`${where}: ${JSON.stringify(ch)} is not in the device font (device/font/README.md)`);
    out += String.fromCharCode(b);
  }
  return out;
}
const langDir = join(root, 'device', 'lang');
const languages = readdirSync(langDir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ file: f, ...JSON.parse(readFileSync(join(langDir, f), 'utf8')) }))
  .sort((a, b) => (a.code === 'en' ? -1 : b.code === 'en' ? 1 : a.code < b.code ? -1 : 1));
const languageList = languages.map((l) => [l.code, toFontBytes(l.name, `${l.file}: name`)]);
/** Every .ts file under `dir`, as text. */
const sourcesUnder = (dir) => readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.ts')).map((f) => readFileSync(join(dir, f), 'utf8'));
// the keys get names of a letter or two in the bundle and the packs (tools/lang-keys.cjs)
const langNames = langKeyNames(Object.keys(languages[0].strings), sourcesUnder(join(root, 'device', 'src')));
// every text in the font's bytes, then byte-pair coded over all languages (tools/lang-keys.cjs
// pairCode): the packs hold the coded texts, the firmware the table (__LANG_PAIRS__)
const langTexts = languages.flatMap((l) =>
  Object.entries(l.strings).map(([k, v]) => {
    if (!(k in langNames.keys)) throw new Error(`${l.file}: ${k} is not a key of ${languages[0].file}`);
    if (v.includes('\n')) throw new Error(`${l.file}: ${k}: a text may not hold a line break (the pack's separator)`);
    return toFontBytes(v, `${l.file}: ${k}`);
  }),
);
const langPairs = pairCode(langTexts);
langTexts.forEach((text, i) => {
  if (unpair(langPairs.coded[i], langPairs.table) !== text) throw new Error(`pair coding does not give back ${JSON.stringify(text)}`);
});
/** The language packs, "\nkey=text" lines (texts coded), each key written as `name(key)`. */
const languagePacksNamed = (name) => {
  let n = 0;
  return languages.map((l) => [
    l.code,
    Object.keys(l.strings)
      .map((k) => '\n' + name(k) + '=' + langPairs.coded[n++])
      .join(''),
  ]);
};
const languagePacks = languagePacksNamed((k) => langNames.keys[k]);
const resourcesVersion = createHash('sha256').update(fontTs).update(JSON.stringify(languagePacks)).digest('hex').slice(0, 6);
/**
 * The Storage files the firmware reads at run time besides its code (device/src/resources.ts):
 * the font's bitmap and widths and one pack per language, named semper.<kind>.<version> so
 * that a new build's files never mix with an old one's. `npm run flash` writes each of them
 * next to .bootcde; firmware.js carries them in its first line (resourceInstaller) for the
 * emulator and the tests, which boot the whole file.
 */
function resourceFilesOf(packs) {
  const files = {
    ['semper.font.' + resourcesVersion]: fontLiteral(/export function fontFiles\(\)[^{]*\{\s*return \['([^']*)'/),
    ['semper.fontw.' + resourcesVersion]: fontWidths,
  };
  for (const [code, pack] of packs) files['semper.lang.' + code + '.' + resourcesVersion] = pack;
  return files;
}
const resourceFiles = resourceFilesOf(languagePacks);
/**
 * The same files with the keys as written: for test/device's harness, which bundles device/src
 * without the build's plugins (esbuild's synchronous API has none), so without the renaming.
 */
// read by test/device/harness/bundle.ts, which runs this file's first part
// eslint-disable-next-line @typescript-eslint/no-unused-vars
const resourceFilesAsWritten = () => resourceFilesOf(languagePacksNamed((k) => k));
/** A string as an ASCII JavaScript literal (Espruino strings are bytes: \xNN for the rest). */
const asciiLiteral = (str) => '"' + str.replace(/[^\x20-\x7e]|["\\]/g, (c) => (c === '"' || c === '\\' ? '\\' + c : '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'))) + '"';
/**
 * The first line of firmware.js: writes the resource files into Storage where they are
 * missing or differ, and erases those of other builds. On a board the flash tool writes the
 * files itself and stores only the rest of firmware.js as .bootcde (tools/flash/flash.mjs
 * reads the files back out of this line), so the bytes are in flash once.
 */
const RESOURCE_MARK = '/*semper-resources*/';
const resourceInstaller =
  RESOURCE_MARK +
  '(function(S,f){var o=S.list(/^semper\\.(font|lang)/),i,n;for(i=0;i<o.length;i++)if(!(o[i] in f))S.erase(o[i]);for(n in f)if(S.read(n)!==f[n])S.write(n,f[n]);})(require("Storage"),{' +
  Object.entries(resourceFiles)
    .map(([n, d]) => asciiLiteral(n) + ':' + asciiLiteral(d))
    .join(',') +
  '});\n';
/**
 * The fields of the pin map the firmware reads (hal/display.ts, hal/keypad.ts, card/reader.ts;
 * device/src/espruino.d.ts declares exactly these): the object stays in RAM from boot, so no
 * more than needed.
 */
function firmwarePins(pm) {
  const pick = (o, keys) => Object.fromEntries(keys.map((k) => [k, o[k]]));
  const c = pm.card;
  return {
    display: pick(pm.display, ['scl', 'sda', 'address', 'bitrate']),
    keypad: pick(pm.keypad, ['rows', 'cols', 'layout', 'debounceMs']),
    card: {
      uart: pick(c.uart, ['tx', 'rx', 'baud', 'bytesize', 'parity', 'stopbits']),
      rst: pick(c.rst, ['pin', 'activeLow']),
      vcc: pick(c.vcc, ['pin', 'activeLow']),
      clk: pick(c.clk, ['pin', 'requestHz', 'hz']),
      detect: pick(c.detect, ['pin', 'mode', 'inserted', 'debounceMs']),
    },
  };
}
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
if (process.argv.includes('--help')) {
  console.log('usage: npm run build [-- --quiet] [-- --firmware]\n\n--firmware: only type-check and bundle the firmware.\nCompiles the host side into dist/, type-checks the firmware against the Espruino profile\nand writes dist/device/firmware.js (the file uploaded to a board) and dist/device/protocol.js.');
  process.exit(0);
}
const quiet = process.argv.includes('--quiet');
const log = (s) => quiet || console.log(s);

function step(name, fn) {
  const t = Date.now();
  try {
    fn();
  } catch (e) {
    console.error(`build: ${name} failed`);
    if (e.stdout) process.stderr.write(e.stdout);
    if (e.stderr) process.stderr.write(e.stderr);
    process.exit(1);
  }
  log(`build: ${name} (${Date.now() - t} ms)`);
}

// --firmware: only the device bundles (quick turns while working on the firmware)
const firmwareOnly = process.argv.includes('--firmware');
if (!firmwareOnly) {
  step('host, board, shared, protocol, tools (tsc)', () => execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'pipe' }));
  step('tests type-check (tsc)', () => execFileSync(process.execPath, [tsc, '-p', join(root, 'test', 'tsconfig.json')], { stdio: 'pipe' }));
}
step('firmware type-check against the Espruino profile (tsc)', () => execFileSync(process.execPath, [tsc, '-p', join(root, 'device', 'tsconfig.json')], { stdio: 'pipe' }));

/** esbuild settings shared by every bundle that runs on Espruino (tools/espruino-esbuild.json). */
const espruinoBase = JSON.parse(readFileSync(join(root, 'tools', 'espruino-esbuild.json'), 'utf8'));
delete espruinoBase['//'];
const espruino = {
  ...espruinoBase,
  define: {
    __FIRMWARE_VERSION__: JSON.stringify(pkg.version),
    __PINMAP__: JSON.stringify(firmwarePins(pinmap)),
    __LANGUAGE_LIST__: JSON.stringify(languageList),
    __RESOURCES_VERSION__: JSON.stringify(resourcesVersion),
    __LANG_PAIRS__: JSON.stringify(langPairs.table),
  },
};

// Property names: the firmware bundle renames every property the firmware owns to a short
// name (esbuild mangleProps) — shorter text, and on Espruino a name of up to 4 bytes fits in
// its JsVar where a longer one takes another. Kept as written (reserveProps): every name
// JavaScript or Espruino defines (the build's own runtime, plus each word of
// device/src/espruino.d.ts but its pin map), the
// field names of the link's schema strings ("1 statement y 1 1536,…": bodies are objects
// keyed by them), every string literal that is a bare name (a key read through o[name]),
// the names in the constant tables (errorCodeName() shows them: Object.keys), and the
// settings keys persisted in Storage (they must survive a firmware update).
function reservedProps(tables) {
  const names = new Set(['lang']);
  for (const t of Object.values(tables)) for (const n of Object.keys(t)) names.add(n);
  const addAll = (o) => {
    if (o === null || (typeof o !== 'object' && typeof o !== 'function')) return;
    for (const n of Object.getOwnPropertyNames(o)) names.add(n);
  };
  // the ECMAScript globals and their properties (Espruino's own API is espruino.d.ts, below):
  // Node's further globals (fetch's Response.status, String.prototype.link, …) are not the
  // board's and would keep the firmware's own names of the same spelling long
  const ecmaScript = ['Object', 'Function', 'Array', 'Number', 'Boolean', 'String', 'Symbol', 'Date', 'Promise', 'RegExp', 'Error', 'EvalError', 'RangeError', 'ReferenceError', 'SyntaxError', 'TypeError', 'URIError', 'JSON', 'Math', 'ArrayBuffer', 'DataView', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'Map', 'Set', 'WeakMap', 'WeakSet', 'Proxy', 'Reflect', 'BigInt', 'parseFloat', 'parseInt', 'isFinite', 'isNaN', 'encodeURIComponent', 'decodeURIComponent', 'encodeURI', 'decodeURI', 'escape', 'unescape', 'eval', 'globalThis', 'Infinity', 'NaN', 'undefined'];
  for (const g of ecmaScript) {
    names.add(g);
    const v = globalThis[g];
    addAll(v);
    if (typeof v === 'function') addAll(v.prototype);
  }
  // but not String.prototype's HTML methods of Annex B (link, big, small, sub…): Espruino has
  // none, and the firmware's own `link` and kin may be renamed
  for (const n of ['anchor', 'big', 'blink', 'bold', 'fixed', 'fontcolor', 'fontsize', 'italics', 'link', 'small', 'strike', 'sub', 'sup']) names.delete(n);
  // protocols the language itself reads from plain objects: iterators, thenables, property descriptors, JSON
  for (const n of ['next', 'done', 'value', 'then', 'toJSON', 'get', 'set', 'enumerable', 'configurable', 'writable', 'stack']) names.add(n);
  addAll(Object.getPrototypeOf(Uint8Array));
  addAll(Object.getPrototypeOf(Uint8Array.prototype));
  // every name of the platform's declarations (not of their comments, nor a parameter's:
  // that is no property), but not those of the pin map (see inlineConstants)
  const platform = readFileSync(join(root, 'device', 'src', 'espruino.d.ts'), 'utf8').replace(/declare const __PINMAP__: \{[\s\S]*?\n\};/, '');
  const declared = (node) => {
    if (ts.isIdentifier(node) && !(ts.isParameter(node.parent) && node.parent.name === node)) names.add(node.text);
    ts.forEachChild(node, declared);
  };
  declared(ts.createSourceFile('espruino.d.ts', platform, ts.ScriptTarget.ES2020, true));
  const literal = (text) => {
    if (/^[A-Za-z_$][\w$]*$/.test(text)) names.add(text);
    for (const field of text.split(',')) {
      const f = /^\??\d+ ([A-Za-z_$][\w$]*) [a-zA-Z]\b/.exec(field);
      if (f) names.add(f[1]);
    }
  };
  const walk = (dir) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) {
        // the string literals of the code (parsed: a name in `backticks` in a comment is none)
        const visit = (node) => {
          if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) literal(node.text);
          ts.forEachChild(node, visit);
        };
        visit(ts.createSourceFile(p, readFileSync(p, 'utf8'), ts.ScriptTarget.ES2020, true));
      }
    }
  };
  walk(join(root, 'device', 'src'));
  walk(join(root, 'protocol', 'src'));
  return new RegExp('^(?:' + [...names].map((n) => n.replace(/\$/g, '\\$')).join('|') + ')$');
}
// Named constants: the protocol's `export const X = { NAME: 1, … } as const` tables (MsgType,
// ErrorCode, DeviceState, FrameKind, …) are read as X.NAME all over the firmware. In the
// bundle each such read becomes its number (an esbuild plugin rewrites the source as it
// loads it), so no table object is alive on the board — a JsVar or two per entry otherwise —
// unless code really uses it as an object (then esbuild keeps it). A name a table lacks fails
// the build.
// The same plugin renames the display strings' keys in device/src (tools/lang-keys.cjs) and
// leaves the protocol's English refusal texts (protocol/src/wording.ts) and the diagnostic
// counters (protocol/src/counting.ts) out.
function constantTables() {
  const tables = {};
  const walk = (dir) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) {
        const text = readFileSync(p, 'utf8');
        for (const m of text.matchAll(/export const (\w+) = \{([^}]*)\} as const;/g)) {
          const body = m[2].replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
          const entries = body.split(',').map((e) => e.trim()).filter((e) => e !== '');
          const table = {};
          if (entries.every((e) => /^[A-Z_][A-Z0-9_]*: \d+$/.test(e))) {
            for (const e of entries) table[e.split(':')[0]] = Number(e.split(':')[1]);
            tables[m[1]] = table;
          }
        }
      }
    }
  };
  walk(join(root, 'protocol', 'src'));
  walk(join(root, 'device', 'src'));
  return tables;
}
const tables = constantTables();
// It also makes __PINMAP__ an import of one module holding the pin map as source, not a
// define: esbuild then renames its keys short like every other property of the firmware.
/** Build flags that are true for the host and the tests and false in the firmware: name → module. */
const FIRMWARE_FLAGS = { WORDED: 'wording', COUNTED: 'counting' };
const inlineConstants = (pins) => ({
  name: 'inline-constants',
  setup(b) {
    const use = new RegExp('\\b(' + Object.keys(tables).join('|') + ')\\.([A-Z_][A-Z0-9_]*)\\b', 'g');
    b.onResolve({ filter: /^semper:pinmap$/ }, () => ({ path: 'pinmap', namespace: 'semper' }));
    // keys unquoted: esbuild renames only those (a quoted key is a string it must keep)
    const source = (v) => (Array.isArray(v) ? '[' + v.map(source).join(',') + ']' : v && typeof v === 'object' ? '{' + Object.entries(v).map(([k, x]) => k + ':' + source(x)).join(',') + '}' : JSON.stringify(v));
    b.onLoad({ filter: /^pinmap$/, namespace: 'semper' }, () => ({ loader: 'js', contents: `export const PINMAP = ${source(pins)};` }));
    b.onLoad({ filter: /[\\/](device|protocol)[\\/]src[\\/].*\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      let contents = text.replace(use, (all, table, name) => {
        if (!(name in tables[table])) throw new Error(`${args.path}: ${table}.${name} is not in the table`);
        return String(tables[table][name]);
      });
      // the firmware's build flags: its refusals carry no English (protocol/src/wording.ts) and
      // it keeps no diagnostic counters (protocol/src/counting.ts). The import goes and every
      // use of the flag becomes the literal `false`, so esbuild folds `if (X) …` and
      // `X ? '…' : ''` as it parses (an imported constant is inlined only later, and leaves a
      // `!1` behind here and there)
      for (const [flag, module] of Object.entries(FIRMWARE_FLAGS)) {
        if (!contents.includes(flag)) continue;
        const imp = new RegExp(`^import \\{ ${flag} \\} from '[./]*(?:protocol/src/)?${module}';$`, 'm');
        if (!imp.test(contents)) throw new Error(`${args.path}: ${flag} must be imported alone, as import { ${flag} } from '…/${module}'`);
        contents = contents.replace(imp, '').replace(new RegExp(`\\b${flag}\\b`, 'g'), 'false');
      }
      if (/[\\/]device[\\/]/.test(args.path)) {
        contents = renameLangKeys(contents, langNames);
        if (contents.includes('__PINMAP__')) contents = "import { PINMAP as __PINMAP_MODULE__ } from 'semper:pinmap';\n" + contents.replace(/\b__PINMAP__\b/g, '__PINMAP_MODULE__');
      }
      return { loader: 'ts', contents };
    });
  },
});
/** The firmware bundle's esbuild settings (dist/device/firmware.js and its --measure twin). */
// cjs, so `require('Storage')` stays a literal call (iife would wrap the externals in a
// __require helper that needs Proxy, which Espruino lacks). No IIFE around it: on Espruino a
// function made inside another function keeps a link to that scope — one more JsVar for
// each of the ~300 functions defined at boot (measured: 380 JsVars of the Pico's 5,100).
// So the firmware's top-level names live in the interpreter's root scope; the console is
// locked away from the host (main.ts), and checkTopLevelNames() below keeps them from
// shadowing anything Espruino defines.
// Platform globals the firmware names often, called by a one-letter alias that the bundle's
// first statement sets (`var U=Uint8Array,…`): `Uint8Array` alone is written 41 times,
// `Math.floor` 25. esbuild's define writes the alias for every free use of the global and keeps
// the letter out of its own names (it is a free name of the code); checkTopLevelNames keeps it
// from an Espruino global. Each holds a function, a JsVar or two for as long as the firmware
// runs. Only functions that need no `this` (static, or global), and not `Math` itself: the
// bundle check must still see `Math.pow` and its kin by name (tools/bundle-check).
const GLOBAL_ALIASES = { Uint8Array: 'U', 'Math.floor': 'M', 'Array.isArray': 'A', 'String.fromCharCode': 'F', digitalWrite: 'W', setTimeout: 'T', clearTimeout: 'C' };
const firmwareBuild = {
  ...espruino,
  define: { ...espruino.define, ...GLOBAL_ALIASES },
  banner: { js: 'var ' + Object.entries(GLOBAL_ALIASES).map(([g, a]) => a + '=' + g).join(',') + ';' },
  format: 'cjs',
  mangleProps: /^[A-Za-z_$]/,
  reserveProps: reservedProps(tables),
  plugins: [inlineConstants(firmwarePins(pinmap))],
  entryPoints: [join(root, 'device', 'src', 'main.ts')],
};
const out = join(root, 'dist', 'device');
mkdirSync(out, { recursive: true });

/**
 * The bundle's top-level names become globals on the board: none may be a name Espruino or
 * JavaScript defines (a pin such as A5 or B15, LED1, BTN, E, a global of the platform API in
 * device/src/espruino.d.ts, or of this build's own runtime), or the firmware would shadow it.
 * esbuild already avoids every global the firmware itself uses; this catches the rest.
 */
function checkTopLevelNames(file) {
  const ast = acorn.parse(readFileSync(file, 'latin1'), { ecmaVersion: 2020 });
  const platform = new Set(Object.getOwnPropertyNames(globalThis));
  for (const m of readFileSync(join(root, 'device', 'src', 'espruino.d.ts'), 'utf8').matchAll(/declare (?:const|function) ([A-Za-z_$][\w$]*)/g)) platform.add(m[1]);
  for (const n of ['LED1', 'LED2', 'LED3', 'BTN', 'BTN1', 'SD', 'Pin', 'Flash', 'Modules', 'SPI1', 'SPI2', 'SPI3', 'I2C2', 'I2C3', 'Serial1', 'Serial3', 'Serial4', 'Serial5', 'Serial6', 'LoopbackB', 'Telnet', 'load', 'save', 'reset', 'trace', 'edit', 'dump', 'peek8', 'poke8', 'HIGH', 'LOW', 'global']) platform.add(n);
  const names = [];
  for (const n of ast.body) {
    if (n.type === 'FunctionDeclaration' || n.type === 'ClassDeclaration') names.push(n.id.name);
    else if (n.type === 'VariableDeclaration') for (const d of n.declarations) names.push(d.id.name);
  }
  const bad = names.filter((n) => platform.has(n) || /^[A-HD]\d{1,2}$/.test(n));
  if (bad.length) {
    console.error(`build: ${file}: top-level names that would shadow Espruino globals: ${bad.join(', ')}`);
    process.exit(1);
  }
  // a global's alias (GLOBAL_ALIASES) must be the only one of its name
  const twice = names.filter((n, i) => names.indexOf(n) !== i);
  if (twice.length) {
    console.error(`build: ${file}: top-level names declared twice: ${twice.join(', ')}`);
    process.exit(1);
  }
}
/**
 * No display string may be asked for by its long key in the bundle: the packs know only the
 * short names (a literal the rename missed would show the key on screen instead of the text).
 */
function checkLangKeys(file) {
  const text = readFileSync(file, 'latin1');
  const left = [...Object.keys(langNames.keys), ...Object.keys(langNames.prefixes)].filter((k) => text.includes(JSON.stringify(k)) || text.includes(`'${k}'`));
  if (left.length) {
    console.error(`build: ${file}: display-string keys not renamed (tools/lang-keys.cjs): ${left.join(', ')}`);
    process.exit(1);
  }
}
await build({
  ...firmwareBuild,
  outfile: join(out, 'firmware.js'),
  metafile: true,
}).then((r) => writeFileSync(join(out, 'firmware.meta.json'), JSON.stringify(r.metafile)));
checkTopLevelNames(join(out, 'firmware.js'));
checkLangKeys(join(out, 'firmware.js'));
/**
 * Which compared strings are held once (tools/intern-strings.cjs): those that save at least
 * `minGain` bytes, at most `max` of them (each is a JsVar or two of RAM while the firmware runs).
 */
const INTERNED = { minGain: 10, max: 8 };
/**
 * Puts the resource installer in front of a firmware bundle, and writes its .bootcde as the
 * board stores it: the bundle pretokenised (tools/pretokenise.mjs; `npm run flash` makes the
 * same bytes from the bundle it checks) — `<name>.bootcde` next to it, read by the bench.
 */
const withResources = (file) => {
  // arrows that would lose `this` on Espruino get their block body back (tools/arrow-this.cjs)
  const blocked = blockArrowBodies(readFileSync(file, 'latin1')).text;
  // the strings compared most, held once (tools/intern-strings.cjs): a declaration in front
  const interned = internStrings(blocked, INTERNED);
  // `!0`, `!1`, `void 0` as the words: one-byte tokens pretokenised (plainConstants)
  const code = plainConstants((interned.declarations ? 'var ' + interned.declarations + ';' : '') + interned.text);
  writeFileSync(file, resourceInstaller + code, 'latin1');
  writeFileSync(file.replace(/\.js$/, '.bootcde'), pretokenise(code), 'latin1');
  checkTopLevelNames(file);
};
withResources(join(out, 'firmware.js'));
await build({ ...espruino, entryPoints: [join(root, 'protocol', 'src', 'bundle.ts')], outfile: join(out, 'protocol.js') });
// The same firmware with the board's pins renamed to the Linux interpreter's virtual pins (D0,
// D1, …), so `npm run bench:device` and test/espruino can boot it on a locally built Espruino
// and read process.memory(); never uploaded to a board. Always built (--measure is accepted
// for the bench's script): it costs a fraction of a second.
{
  const virtual = {};
  const pin = (v) => (typeof v === 'string' && /^[A-H]\d{1,2}$/.test(v) ? (virtual[v] ??= 'D' + Object.keys(virtual).length) : v);
  const remap = (o) => (Array.isArray(o) ? o.map((v) => remap(pin(v))) : o && typeof o === 'object' ? Object.fromEntries(Object.entries(o).map(([k, v]) => [k, remap(pin(v))])) : o);
  await build({
    ...firmwareBuild,
    plugins: [inlineConstants(firmwarePins(remap(pinmap)))],
    outfile: join(out, 'firmware-measure.js'),
  });
  withResources(join(out, 'firmware-measure.js'));
}
log(`build: dist/device/firmware.js ${statSync(join(out, 'firmware.js')).size} bytes, dist/device/protocol.js ${statSync(join(out, 'protocol.js')).size} bytes`);
