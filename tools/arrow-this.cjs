'use strict';
// Espruino 2v29 loses `this` in an arrow function whose *expression* body contains another
// function: in a method, `this.run(0, (done) => this.ok(1, () => 0))` throws "Function "ok" not
// found" when `run` calls the arrow, while `(done) => { return this.ok(1, () => 0); }` works
// (measured on the interpreter; device/ESPRUINO.md). esbuild's minifier turns every one-statement
// block body into an expression body, so the source cannot avoid the form: the build gives such
// arrows their block body back, here, on the minified bundle — only those whose body uses `this`
// (lexically: not inside a nested `function`) and contains a function, three bytes each.

// tools/ is plain JavaScript run by node; the parser is the one the build uses
// eslint-disable-next-line @typescript-eslint/no-require-imports
const acorn = require('acorn');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const walk = require('acorn-walk');

const isFunction = (n) => n.type === 'FunctionExpression' || n.type === 'FunctionDeclaration' || n.type === 'ArrowFunctionExpression';

/** Whether `body` reads `this` of the arrow (a nested arrow's `this` is the arrow's, a nested function's is not), and holds a function. */
function thisAndFunction(body) {
  let usesThis = false;
  let holdsFunction = false;
  const visit = (n, inArrowsOnly) => {
    if (!n || typeof n.type !== 'string') return;
    if (n.type === 'ThisExpression' && inArrowsOnly) usesThis = true;
    if (isFunction(n)) holdsFunction = true;
    const stillLexical = inArrowsOnly && !(n.type === 'FunctionExpression' || n.type === 'FunctionDeclaration');
    for (const k of Object.keys(n)) {
      if (k === 'type' || k === 'start' || k === 'end') continue;
      const v = n[k];
      if (Array.isArray(v)) for (const c of v) visit(c, stillLexical);
      else if (v && typeof v.type === 'string') visit(v, stillLexical);
    }
  };
  visit(body, true);
  return usesThis && holdsFunction;
}

/**
 * The arrows Espruino would run with `this` undefined: expression bodies that use `this` and
 * contain a function. Each as the byte offsets of its body (from after `=>` to the arrow's end).
 * @param {string} text
 * @returns {{ from: number, to: number }[]}
 */
function arrowsLosingThis(text) {
  const ast = acorn.parse(text, { ecmaVersion: 2020 });
  const out = [];
  walk.full(ast, (n) => {
    if (n.type !== 'ArrowFunctionExpression' || !n.expression || !thisAndFunction(n.body)) return;
    const afterParams = n.params.length ? n.params[n.params.length - 1].end : n.start;
    const arrow = text.indexOf('=>', afterParams);
    if (arrow < 0 || arrow > n.body.start) throw new Error(`arrow-this: no => before the body at ${n.start}`);
    out.push({ from: arrow + 2, to: n.end });
  });
  return out;
}

/**
 * `text` with every such arrow's body as `{return …}`; the same program for JavaScript.
 * @param {string} text
 * @returns {{ text: string, rewritten: number }}
 */
function blockArrowBodies(text) {
  let s = text;
  let rewritten = 0;
  // one at a time, parsed afresh: nested arrows shift each other's offsets (a handful per bundle)
  for (let sites = arrowsLosingThis(s); sites.length; sites = arrowsLosingThis(s)) {
    const { from, to } = sites[0];
    s = s.slice(0, from) + '{return ' + s.slice(from, to) + '}' + s.slice(to);
    if (++rewritten > 10000) throw new Error('arrow-this: no end to rewriting');
  }
  return { text: s, rewritten };
}

module.exports = { arrowsLosingThis, blockArrowBodies };
