'use strict';
// Strings the firmware compares against many times, held once: `typeof x=="number"` thirteen
// times is thirteen copies of "number" in flash; `typeof x==d` is thirteen one-byte names and
// one `d="number"` in front. internStrings() rewrites the bundle so — each selected string, where
// it is an operand of ==, ===, != or !== or the test of a `case`, becomes a variable declared in
// the bundle's first statement — for the strings that save at least `minGain` bytes of
// pretokenised code, at most `max` of them (each is a JsVar or two of RAM while the firmware
// runs).
//
// Only compared strings: a comparison reads the value and keeps nothing, so the shared string
// can never be changed through another variable. Espruino appends to a string in place
// (`s += x`), and a shared "" in the firmware's other places broke a payment on the real
// interpreter (pretokenised only), so values that are stored stay fresh literals.
//
// The names are the letters, then pairs of lower-case letters, that appear nowhere in the
// bundle (not even as a property name), so none can be shadowed; the build's checkTopLevelNames
// keeps them from an Espruino global.

// tools/ is plain JavaScript run by node; the parser is the one the build uses
// eslint-disable-next-line @typescript-eslint/no-require-imports
const acorn = require('acorn');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const walk = require('acorn-walk');

/** Bytes a string literal takes pretokenised (raw: 0xD1 n bytes…; see pretokenise.cjs). */
const tokenBytes = (raw, value) => (value.length > 0 && value.length < 256 && /^["'][\x20-\x7e]*["']$/.test(raw) && !raw.includes('\\u') ? 2 + value.length : raw.length);

/**
 * @param {string} text the bundle (ASCII JavaScript)
 * @param {{ minGain: number, max: number }} opts
 * @returns {{ text: string, declarations: string, interned: { name: string, value: string, uses: number, gain: number }[] }}
 */
function internStrings(text, opts) {
  const ast = acorn.parse(text, { ecmaVersion: 2020 });
  const used = new Set();
  const sites = new Map();
  walk.fullAncestor(ast, (node, ancestors) => {
    if (node.type === 'Identifier') used.add(node.name);
    if (node.type !== 'Literal' || typeof node.value !== 'string') return;
    const parent = ancestors[ancestors.length - 2];
    const compared = parent && ((parent.type === 'BinaryExpression' && ['==', '===', '!=', '!=='].includes(parent.operator)) || (parent.type === 'SwitchCase' && parent.test === node));
    if (!compared) return;
    if (!sites.has(node.value)) sites.set(node.value, []);
    sites.get(node.value).push(node);
  });
  // one-letter names first (the few the minifier left free), then two letters
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const free = (n) => !used.has(n) && !['do', 'if', 'in'].includes(n);
  const names = [...letters].filter(free);
  for (const a of letters) for (const b of letters) if (free(a + b)) names.push(a + b);
  const candidates = [];
  for (const [value, nodes] of sites) if (nodes.length >= 2) candidates.push({ value, raw: nodes[0].raw, nodes, bytes: tokenBytes(nodes[0].raw, value) });
  /** Bytes saved by writing a name of `len` letters for each use and declaring it once. */
  const gainOf = (c, len) => c.nodes.length * (c.bytes - len) - (c.bytes + len + 2);
  const interned = [];
  for (const name of names) {
    if (interned.length >= opts.max) break;
    let best = null;
    for (const c of candidates) if (!c.name && (!best || gainOf(c, name.length) > gainOf(best, name.length) || (gainOf(c, name.length) === gainOf(best, name.length) && c.value < best.value))) best = c;
    if (!best || gainOf(best, name.length) < opts.minGain) break;
    best.name = name;
    best.gain = gainOf(best, name.length);
    interned.push(best);
  }
  const edits = [];
  for (const s of interned) for (const n of s.nodes) edits.push({ start: n.start, end: n.end, name: s.name });
  edits.sort((a, b) => a.start - b.start);
  let out = '';
  let from = 0;
  // a space where the name would run into a word before or after it (`case"x"` → `case a`)
  const wordy = (c) => /[\w$]/.test(c || '');
  for (const e of edits) {
    out += text.slice(from, e.start) + (wordy(text[e.start - 1]) ? ' ' : '') + e.name + (wordy(text[e.end]) ? ' ' : '');
    from = e.end;
  }
  out += text.slice(from);
  return {
    text: out,
    declarations: interned.map((s) => s.name + '=' + s.raw).join(','),
    interned: interned.map((s) => ({ name: s.name, value: s.value, uses: s.nodes.length, gain: s.gain })),
  };
}

exports.internStrings = internStrings;
