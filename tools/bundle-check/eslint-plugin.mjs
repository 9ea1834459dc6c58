// ESLint plugin `espruino`, used by eslint.config.mjs for device/src and protocol/src.
//
// Rule `espruino/loop-closure` is the source-side twin of loop-closure.ts (profile kind
// `loop-closure`, id syntax/loop-closure): Espruino 2v29 keeps ONE binding for a `let`/`const`
// declared in a `for`, `for…in` or `for…of` head instead of one per iteration, so a function
// created in the loop that refers to it sees the last value, not the value of its iteration.
// Same definition as the checker: a reference resolving to such a binding is reported when a
// function, arrow, method, getter/setter or class field initializer created inside that loop
// statement lies between the loop and the reference. References are resolved with ESLint's scope
// manager (typescript-eslint's for .ts), so shadowing parameters and declarations are respected
// and type-only references are ignored.
//
// Option: { message } — the text to report (eslint.config.mjs passes the profile's message).
// Plain JavaScript with no imports, so that eslint.config.mjs can load it without a build.

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);
// TypeScript nodes whose contents are types, erased from the JavaScript
const TYPE_ONLY = new Set(['TSTypeAnnotation', 'TSTypeQuery', 'TSTypeParameterInstantiation', 'TSTypeParameterDeclaration']);

/**
 * The closure between `reference` and `loop` (both ESTree nodes with parent links), or null when
 * the reference runs directly in the loop, or is only a type.
 */
export function capturingClosure(reference, loop) {
  let closure = null;
  for (let child = reference, node = reference.parent; node; child = node, node = node.parent) {
    if (node === loop) return closure;
    if (TYPE_ONLY.has(node.type)) return null;
    if (closure) continue;
    if (FUNCTION_TYPES.has(node.type)) closure = node;
    // a class field initializer runs later, when an instance is constructed
    else if (node.type === 'PropertyDefinition' && node.value === child) closure = node;
  }
  return null;
}

const loopClosure = {
  meta: {
    type: 'problem',
    docs: {
      description:
        'Disallow closures over `let`/`const` bindings of a loop head: Espruino 2v29 shares one binding across all iterations',
    },
    schema: [{ type: 'object', properties: { message: { type: 'string' } }, additionalProperties: false }],
    messages: { loopClosure: '{{message}}' },
  },
  create(context) {
    const message =
      context.options[0]?.message ??
      'A closure created in this loop refers to a `let`/`const` of the loop head, which Espruino shares across iterations.';
    const sourceCode = context.sourceCode;

    /** @param loop a for / for-in / for-of statement; @param head its init or left */
    function check(loop, head) {
      if (!head || head.type !== 'VariableDeclaration' || head.kind === 'var') return;
      for (const variable of sourceCode.getDeclaredVariables(head)) {
        for (const reference of variable.references) {
          if (reference.isValueReference === false) continue; // typescript-eslint: a type reference
          const identifier = reference.identifier;
          if (capturingClosure(identifier, loop)) context.report({ node: identifier, messageId: 'loopClosure', data: { message } });
        }
      }
    }

    return {
      ForStatement: (node) => check(node, node.init),
      ForInStatement: (node) => check(node, node.left),
      ForOfStatement: (node) => check(node, node.left),
    };
  },
};

export default {
  meta: { name: 'espruino' },
  rules: { 'loop-closure': loopClosure },
};
