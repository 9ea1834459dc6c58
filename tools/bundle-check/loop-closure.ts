/**
 * Loop-head bindings captured by closures (profile kind `loop-closure`).
 *
 * ES2015 gives every iteration of `for (let i …)`, `for (const k in …)` and `for (const x of …)`
 * a fresh copy of the head's bindings, so a function created in the loop remembers the value of
 * its own iteration. Espruino 2v29 keeps ONE binding for the whole loop (measured on the
 * interpreter: `for (let i = 0; i < 3; i++) fs.push(function () { return i; })` gives 3, 3, 3, where
 * V8 gives 0, 1, 2). A `let` declared inside the loop body is fresh per iteration on Espruino too.
 *
 * The rule: a reference to a `let`/`const` binding of a loop's head (resolved through the scopes,
 * so a parameter or declaration of the same name in between shadows it) is flagged when a
 * function, arrow, method, getter/setter or class field initializer created inside that loop
 * statement lies between the loop and the reference. Whether the closure outlives the iteration
 * is not known statically, so every such closure is flagged.
 *
 * eslint-plugin.mjs (rule `espruino/loop-closure`) applies the same definition to TypeScript
 * source through ESLint's scope manager; the profile's examples and accepted snippets run
 * through both.
 */
import type { AnyNode } from 'acorn';

type Node = AnyNode;

export const LOOP_TYPES: ReadonlySet<string> = new Set(['ForStatement', 'ForInStatement', 'ForOfStatement']);
const FUNCTION_TYPES: ReadonlySet<string> = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);

/**
 * `ancestors` ends with a reference whose binding is declared by the scope node `ancestors[scope]`
 * (from ScopeIndex.resolve). Returns the closure that captures a loop-head binding, or undefined.
 * Only `let`/`const`/`using` declarations in a loop head have the loop statement as their scope
 * node (`var` hoists to the function), so the loop statement itself identifies the binding.
 */
export function capturingClosure(ancestors: readonly Node[], scope: number): Node | undefined {
  const loop = ancestors[scope];
  if (!loop || !LOOP_TYPES.has(loop.type)) return undefined;
  for (let i = scope + 1; i < ancestors.length - 1; i++) {
    const node = ancestors[i] as Node;
    if (FUNCTION_TYPES.has(node.type)) return node;
    // a class field initializer runs later, when an instance is constructed
    if (node.type === 'PropertyDefinition' && node.value && ancestors[i + 1] === node.value) return node;
  }
  return undefined;
}
