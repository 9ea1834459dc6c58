/**
 * A small matcher for the subset of ESTree selectors (esquery syntax, as used by ESLint's
 * `no-restricted-syntax`) that espruino-profile.json uses for the bundle. The checker and ESLint
 * read the very same selector strings, so this file mirrors esquery's semantics exactly:
 *
 *   compound   := head? attribute*          (at least one part)
 *   head       := NodeType | '*' | ':function'
 *   attribute  := '[' path ']'              (value at path is not null/undefined)
 *              |  '[' path ('=' | '!=') value ']'
 *   path       := name ('.' name)*          (names may be digits: arguments.0.type)
 *   value      := 'string' | "string" (no escapes) | /regex/flags | bare word or number
 *
 * Comparison with a string/word/number is done on `String(value)` (so `[computed=true]` matches
 * the boolean true); `=` with a regex requires a string value; `!=` with a regex coerces, as
 * esquery does. Combinators (`>`, descendant), `:not`, `:matches` and the like are rejected with
 * an error: selectors that need them must be marked `"only": "source"` (ESLint only).
 */

/** Any ESTree node, read generically. */
export interface EstreeNode {
  readonly type: string;
  readonly start: number;
  readonly end: number;
}

export interface CompiledSelector {
  /** The selector text, as written in the profile. */
  readonly source: string;
  /** Node types the selector can match, or null when it can match any type (`*` / no head). */
  readonly types: readonly string[] | null;
  matches(node: EstreeNode): boolean;
}

const FUNCTION_TYPES = ['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression'];

type AttributeTest = (node: EstreeNode) => boolean;

export class SelectorSyntaxError extends Error {
  readonly selector: string;
  readonly position: number;
  constructor(selector: string, position: number, problem: string) {
    super(`unsupported selector ${JSON.stringify(selector)} at ${position}: ${problem}`);
    this.name = 'SelectorSyntaxError';
    this.selector = selector;
    this.position = position;
  }
}

function getPath(node: unknown, path: readonly string[]): unknown {
  let value: unknown = node;
  for (const key of path) {
    if (value === null || value === undefined) return value;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

export function compileSelector(text: string): CompiledSelector {
  let pos = 0;
  const fail = (problem: string): never => {
    throw new SelectorSyntaxError(text, pos, problem);
  };
  const skipSpaces = (): void => {
    while (pos < text.length && text[pos] === ' ') pos++;
  };
  const readWhile = (re: RegExp): string => {
    const begin = pos;
    while (pos < text.length && re.test(text[pos] as string)) pos++;
    return text.slice(begin, pos);
  };

  skipSpaces();
  let types: string[] | null = null;
  if (text[pos] === '*') {
    pos++;
  } else if (text[pos] === ':') {
    pos++;
    const pseudo = readWhile(/[A-Za-z-]/);
    if (pseudo.toLowerCase() !== 'function') fail(`pseudo-class :${pseudo} is not supported`);
    types = FUNCTION_TYPES.slice();
  } else if (/[A-Za-z]/.test(text[pos] ?? '')) {
    types = [readWhile(/[A-Za-z0-9_]/)];
  }

  const tests: AttributeTest[] = [];
  while (text[pos] === '[') {
    pos++;
    skipSpaces();
    const pathText = readWhile(/[A-Za-z0-9_$.]/);
    if (!pathText || pathText.startsWith('.') || pathText.endsWith('.') || pathText.includes('..')) fail('expected an attribute path');
    const path = pathText.split('.');
    skipSpaces();
    if (text[pos] === ']') {
      pos++;
      tests.push((node) => getPath(node, path) != null);
      continue;
    }
    let operator: '=' | '!=';
    if (text.startsWith('!=', pos)) {
      operator = '!=';
      pos += 2;
    } else if (text[pos] === '=') {
      operator = '=';
      pos += 1;
    } else {
      return fail('expected =, != or ]');
    }
    skipSpaces();
    const quote = text[pos];
    if (quote === '/') {
      pos++;
      const body = readWhile(/[^/]/);
      if (!body || text[pos] !== '/') fail('unterminated regular expression');
      pos++;
      const flags = readWhile(/[imsu]/);
      const re = new RegExp(body, flags);
      tests.push(
        operator === '='
          ? (node) => {
              const value = getPath(node, path);
              return typeof value === 'string' && re.test(value);
            }
          : (node) => !re.test(String(getPath(node, path))),
      );
    } else {
      let literal: string;
      if (quote === "'" || quote === '"') {
        pos++;
        literal = '';
        while (pos < text.length && text[pos] !== quote) {
          if (text[pos] === '\\') fail('escapes in strings are not supported (esquery keeps them verbatim)');
          literal += text[pos];
          pos++;
        }
        if (text[pos] !== quote) fail('unterminated string');
        pos++;
      } else {
        literal = readWhile(/[A-Za-z0-9_$.+-]/);
        if (!literal) fail('expected a value');
      }
      tests.push(
        operator === '='
          ? (node) => literal === String(getPath(node, path))
          : (node) => literal !== String(getPath(node, path)),
      );
    }
    skipSpaces();
    if (text[pos] !== ']') fail('expected ]');
    pos++;
  }
  skipSpaces();
  if (pos !== text.length) fail('only compound selectors (type, :function, [attribute]) are supported here');
  if (types === null && tests.length === 0 && !text.trim().startsWith('*')) fail('empty selector');

  return {
    source: text,
    types,
    matches(node: EstreeNode): boolean {
      if (types !== null && !types.includes(node.type)) return false;
      for (const test of tests) if (!test(node)) return false;
      return true;
    },
  };
}
