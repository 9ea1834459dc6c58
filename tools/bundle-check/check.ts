/**
 * Checks a JavaScript bundle against what Espruino 2v29 runs (espruino-profile.json, built from
 * ../shared/espruino/PROFILE.md). Parses with acorn, walks every node, and reports
 *  - syntax rules: ESTree selectors shared with ESLint's no-restricted-syntax,
 *  - global rules: free references to absent globals (locally declared names are fine),
 *  - property rules: `Global.member` on a free global, or `.member` on any object,
 *  - require rules: `require(x)` (free `require`) of anything but Espruino's built-in modules,
 *  - the loop-closure rule: a closure created in a loop that refers to a `let`/`const` of the
 *    loop's head (loop-closure.ts).
 * Imports only node built-ins, acorn and acorn-walk — nothing from the project.
 */
import * as acorn from 'acorn';
import type { AnyNode } from 'acorn';
import { appliesToBundle, defaultProfile, type EspruinoProfile, type ProfileRule, type RuleStatus } from './profile';
import { capturingClosure } from './loop-closure';
import { ScopeIndex, walkAll } from './scope';
import { compileSelector, type CompiledSelector } from './selector';

export interface BundleViolation {
  /** Rule id from espruino-profile.json, or `parse-error`. */
  readonly rule: string;
  readonly message: string;
  /** 1-based line. */
  readonly line: number;
  /** 1-based column, in UTF-16 code units (as editors count). */
  readonly column: number;
  /** The source line, clipped to about `snippetWidth` characters around the column (`…` marks a cut). */
  readonly snippet: string;
  /** 0-based index of the column inside `snippet`, for drawing a caret. */
  readonly caret: number;
  /** 0-based character offset in the source. */
  readonly offset: number;
  /** `broken`: PROFILE.md measured it failing; `conservative`: unverified, rejected until probed; `error`: not JavaScript. */
  readonly status: RuleStatus | 'error';
}

export interface CheckOptions {
  /** Defaults to the espruino-profile.json beside this file. */
  readonly profile?: EspruinoProfile;
  /** Width of `snippet` (default 80). */
  readonly snippetWidth?: number;
}

export const PARSE_ERROR_RULE = 'parse-error';

/** acorn options: the bundle is a script; module syntax parses so that it can be reported by rule, not as a parse error. */
export const PARSE_OPTIONS: acorn.Options = {
  ecmaVersion: 'latest',
  sourceType: 'script',
  allowImportExportEverywhere: true,
  allowAwaitOutsideFunction: true,
  allowHashBang: false,
  locations: false,
};

interface SelectorEntry {
  readonly rule: ProfileRule;
  readonly selector: CompiledSelector;
}

interface CompiledProfile {
  readonly byType: Map<string, SelectorEntry[]>;
  readonly anyType: SelectorEntry[];
  readonly globals: Map<string, ProfileRule>;
  readonly properties: Map<string, { readonly rule: ProfileRule; readonly object: string | undefined }[]>;
  readonly requireModule: ProfileRule | undefined;
  readonly requireDynamic: ProfileRule | undefined;
  readonly loopClosure: ProfileRule | undefined;
  readonly builtinModules: ReadonlySet<string>;
  readonly ruleCount: number;
}

const compiled = new WeakMap<EspruinoProfile, CompiledProfile>();

function compileProfile(profile: EspruinoProfile): CompiledProfile {
  const cached = compiled.get(profile);
  if (cached) return cached;
  const result: CompiledProfile = {
    byType: new Map(),
    anyType: [],
    globals: new Map(),
    properties: new Map(),
    requireModule: profile.rules.find((r) => r.kind === 'require-module'),
    requireDynamic: profile.rules.find((r) => r.kind === 'require-dynamic'),
    loopClosure: profile.rules.find((r) => r.kind === 'loop-closure'),
    builtinModules: new Set(profile.builtinModules),
    ruleCount: profile.rules.filter(appliesToBundle).length,
  };
  for (const rule of profile.rules) {
    switch (rule.kind) {
      case 'syntax':
        for (const spec of rule.selectors) {
          if (spec.only === 'source') continue;
          const selector = compileSelector(spec.selector);
          const entry = { rule, selector };
          if (selector.types === null) result.anyType.push(entry);
          for (const type of selector.types ?? []) {
            const list = result.byType.get(type) ?? [];
            list.push(entry);
            result.byType.set(type, list);
          }
        }
        break;
      case 'global':
        result.globals.set(rule.name, rule);
        break;
      case 'property': {
        const list = result.properties.get(rule.property) ?? [];
        list.push({ rule, object: rule.object });
        result.properties.set(rule.property, list);
        break;
      }
      default:
        break;
    }
  }
  compiled.set(profile, result);
  return result;
}

/** Number of checks a bundle goes through: the rules that apply to bundles, plus "parses as JavaScript". */
export function countChecks(profile: EspruinoProfile = defaultProfile): number {
  return compileProfile(profile).ruleCount + 1;
}

/** Clip a line to about `width` characters around a 0-based column; returns the text and the column's index in it. */
export function clipLine(line: string, column: number, width = 80): { text: string; caret: number } {
  if (line.length <= width) return { text: line, caret: Math.min(column, line.length) };
  const start = Math.max(0, Math.min(column - Math.floor(width / 2), line.length - width));
  const end = Math.min(line.length, start + width);
  const head = start > 0 ? '…' : '';
  const tail = end < line.length ? '…' : '';
  return { text: head + line.slice(start, end) + tail, caret: column - start + head.length };
}

const LINE_BREAK = /\r\n?|[\n\u2028\u2029]/g;

class SourceText {
  private readonly lineStarts: number[] = [0];

  constructor(private readonly text: string) {
    LINE_BREAK.lastIndex = 0;
    for (let m = LINE_BREAK.exec(text); m; m = LINE_BREAK.exec(text)) this.lineStarts.push(m.index + m[0].length);
  }

  /** 0-based line index of an offset. */
  private lineIndex(offset: number): number {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  locate(offset: number, width: number): { line: number; column: number; snippet: string; caret: number } {
    const index = this.lineIndex(offset);
    const start = this.lineStarts[index] as number;
    const next = this.lineStarts[index + 1];
    const lineText = this.text.slice(start, next === undefined ? this.text.length : next).replace(/(\r\n?|[\n\u2028\u2029])$/, '');
    const { text, caret } = clipLine(lineText, offset - start, width);
    return { line: index + 1, column: offset - start + 1, snippet: text, caret };
  }
}

function staticPropertyName(node: AnyNode): string | undefined {
  if (node.type !== 'MemberExpression') return undefined;
  const p = node.property;
  if (!node.computed) return p.type === 'Identifier' ? p.name : undefined;
  if (p.type === 'Literal' && typeof p.value === 'string') return p.value;
  if (p.type === 'TemplateLiteral' && p.expressions.length === 0) return p.quasis[0]?.value.cooked ?? undefined;
  return undefined;
}

/**
 * Check a bundle's source text. Returns the violations sorted by position; an empty array means
 * the bundle passed every check. A parse error is returned as the single `parse-error` violation.
 */
export function checkBundle(source: string, options: CheckOptions = {}): BundleViolation[] {
  const profile = options.profile ?? defaultProfile;
  const width = options.snippetWidth ?? 80;
  const rules = compileProfile(profile);
  const text = new SourceText(source);
  const violations: BundleViolation[] = [];

  let ast: acorn.Program;
  try {
    ast = acorn.parse(source, PARSE_OPTIONS);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    const pos = (error as SyntaxError & { pos?: number }).pos ?? 0;
    const reason = error.message.replace(/ \(\d+:\d+\)$/, '');
    return [
      {
        rule: PARSE_ERROR_RULE,
        message: `Not valid JavaScript (acorn, ecmaVersion latest, script): ${reason}. Espruino cannot load a bundle that does not parse.`,
        status: 'error',
        offset: pos,
        ...text.locate(pos, width),
      },
    ];
  }

  const scopes = new ScopeIndex(ast);
  const seen = new Set<string>();
  const report = (rule: ProfileRule, node: AnyNode): void => {
    const key = `${rule.id}@${node.start}`;
    if (seen.has(key)) return;
    seen.add(key);
    violations.push({ rule: rule.id, message: rule.message, status: rule.status, offset: node.start, ...text.locate(node.start, width) });
  };

  walkAll(ast, (node, ancestors, walkType) => {
    for (const entry of rules.byType.get(node.type) ?? []) if (entry.selector.matches(node)) report(entry.rule, node);
    for (const entry of rules.anyType) if (entry.selector.matches(node)) report(entry.rule, node);

    // references arrive as `Identifier`; assignment targets (and declarations) as `VariablePattern`
    if (node.type === 'Identifier' && (walkType === 'Identifier' || walkType === 'VariablePattern')) {
      const scope = scopes.resolve(node.name, ancestors);
      const rule = walkType === 'Identifier' && scope < 0 ? rules.globals.get(node.name) : undefined;
      if (rule) report(rule, node);
      if (rules.loopClosure && scope >= 0 && capturingClosure(ancestors, scope)) report(rules.loopClosure, node);
      return;
    }

    if (node.type === 'MemberExpression') {
      const name = staticPropertyName(node);
      for (const { rule, object } of (name !== undefined && rules.properties.get(name)) || []) {
        if (object === undefined) report(rule, node);
        else if (node.object.type === 'Identifier' && node.object.name === object && scopes.isFree(object, ancestors)) report(rule, node);
      }
      return;
    }

    if (node.type === 'CallExpression' && node.callee.type === 'Identifier' && node.callee.name === 'require' && scopes.isFree('require', ancestors)) {
      const arg = node.arguments[0];
      if (arg && arg.type === 'Literal') {
        if (!(typeof arg.value === 'string' && rules.builtinModules.has(arg.value)) && rules.requireModule) report(rules.requireModule, node);
      } else if (rules.requireDynamic) {
        report(rules.requireDynamic, node);
      }
    }
  });

  return violations.sort((a, b) => a.offset - b.offset || (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0));
}
