/**
 * Types for espruino-profile.json and a validator that names the bad path, so a slip while
 * editing the JSON fails loudly (in the checker, the CLI and the tests) instead of silently
 * disabling a rule. ESLint reads the same JSON in eslint.config.mjs.
 */
import profileJson from './espruino-profile.json';

/** `broken`: PROFILE.md lists it as failing/absent (measured). `conservative`: not probed, rejected until a probe shows it works. */
export type RuleStatus = 'broken' | 'conservative';
/** Where a selector or example applies: the bundle checker only, or ESLint on device/protocol source only. */
export type Target = 'bundle' | 'source';

export interface SelectorSpec {
  readonly selector: string;
  readonly only?: Target;
}

export interface RuleExample {
  readonly code: string;
  readonly only?: Target;
  /** Other rule ids this example unavoidably triggers as well. */
  readonly also?: readonly string[];
}

interface RuleCommon {
  readonly id: string;
  readonly status: RuleStatus;
  /** Where PROFILE.md says so, or why the rule is conservative. */
  readonly profile: string;
  /** What is wrong and what to write instead. */
  readonly message: string;
  readonly examples: readonly (string | RuleExample)[];
  /** Snippets this rule must not flag (near misses); the tests run them through the checker and ESLint. */
  readonly accepted?: readonly (string | RuleExample)[];
}

export interface SyntaxRule extends RuleCommon {
  readonly kind: 'syntax';
  readonly selectors: readonly SelectorSpec[];
}

export interface GlobalRule extends RuleCommon {
  readonly kind: 'global';
  readonly name: string;
}

export interface PropertyRule extends RuleCommon {
  readonly kind: 'property';
  /** Global object name (`Array`); absent means "on any object" (instance methods). */
  readonly object?: string;
  readonly property: string;
}

export interface RequireRule extends RuleCommon {
  readonly kind: 'require-module' | 'require-dynamic';
}

/**
 * A function created inside a `for`, `for…in` or `for…of` statement that refers to a `let`/`const`
 * binding of that loop's head. Espruino keeps one binding for the whole loop instead of one per
 * iteration, so such closures all see the last value. Checked by loop-closure.ts (bundle) and by
 * the `espruino/loop-closure` rule of eslint-plugin.mjs (source).
 */
export interface LoopClosureRule extends RuleCommon {
  readonly kind: 'loop-closure';
}

export type ProfileRule = SyntaxRule | GlobalRule | PropertyRule | RequireRule | LoopClosureRule;

export interface EspruinoProfile {
  readonly description: string;
  readonly profile: string;
  readonly espruino: string;
  readonly builtinModules: readonly string[];
  readonly rules: readonly ProfileRule[];
}

const KINDS = ['syntax', 'global', 'property', 'require-module', 'require-dynamic', 'loop-closure'];
const ID_PATTERN = /^(syntax|global|property|method|require)\/[A-Za-z0-9_.$-]+$/;
const NAME_PATTERN = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export class ProfileError extends Error {
  constructor(path: string, problem: string) {
    super(`espruino-profile.json: ${path}: ${problem}`);
    this.name = 'ProfileError';
  }
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(obj: Json, key: string, path: string, optional = false): string | undefined {
  const value = obj[key];
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw new ProfileError(`${path}.${key}`, 'expected a non-empty string');
  return value;
}

function target(obj: Json, path: string): Target | undefined {
  const only = str(obj, 'only', path, true);
  if (only !== undefined && only !== 'bundle' && only !== 'source') throw new ProfileError(`${path}.only`, 'expected "bundle" or "source"');
  return only;
}

function list(obj: Json, key: string, path: string): unknown[] {
  const value = obj[key];
  if (!Array.isArray(value) || value.length === 0) throw new ProfileError(`${path}.${key}`, 'expected a non-empty array');
  return value;
}

/** Check the shape of a parsed espruino-profile.json and return it typed. Throws ProfileError naming the bad path. */
export function parseProfile(json: unknown): EspruinoProfile {
  if (!isObject(json)) throw new ProfileError('$', 'expected an object');
  const builtinModules = list(json, 'builtinModules', '$').map((m, i) => {
    if (typeof m !== 'string' || !/^[A-Za-z][A-Za-z0-9_-]*$/.test(m)) throw new ProfileError(`$.builtinModules[${i}]`, 'expected a module name');
    return m;
  });
  const seen = new Set<string>();
  const rules = list(json, 'rules', '$').map((raw, i): ProfileRule => {
    const path = `$.rules[${i}]`;
    if (!isObject(raw)) throw new ProfileError(path, 'expected an object');
    const id = str(raw, 'id', path) as string;
    if (!ID_PATTERN.test(id)) throw new ProfileError(`${path}.id`, `"${id}" must look like syntax/…, global/…, property/…, method/… or require/…`);
    if (seen.has(id)) throw new ProfileError(`${path}.id`, `duplicate id "${id}"`);
    seen.add(id);
    const statusText = str(raw, 'status', path);
    if (statusText !== 'broken' && statusText !== 'conservative') throw new ProfileError(`${path}.status`, 'expected "broken" or "conservative"');
    const status: RuleStatus = statusText;
    const kind = str(raw, 'kind', path) as string;
    if (!KINDS.includes(kind)) throw new ProfileError(`${path}.kind`, `expected one of ${KINDS.join(', ')}`);
    const example = (ex: unknown, exPath: string): string | RuleExample => {
      if (typeof ex === 'string' && ex.length > 0) return ex;
      if (!isObject(ex)) throw new ProfileError(exPath, 'expected a string or {code, only?, also?}');
      const also = ex['also'];
      if (also !== undefined && (!Array.isArray(also) || !also.every((a) => typeof a === 'string'))) {
        throw new ProfileError(`${exPath}.also`, 'expected an array of rule ids');
      }
      const only = target(ex, exPath);
      return {
        code: str(ex, 'code', exPath) as string,
        ...(only ? { only } : {}),
        ...(also ? { also: also as string[] } : {}),
      };
    };
    const examples = list(raw, 'examples', path).map((ex, j) => example(ex, `${path}.examples[${j}]`));
    const accepted = raw['accepted'] === undefined ? undefined : list(raw, 'accepted', path).map((ex, j) => example(ex, `${path}.accepted[${j}]`));
    const common = {
      id,
      status,
      profile: str(raw, 'profile', path) as string,
      message: str(raw, 'message', path) as string,
      examples,
      ...(accepted ? { accepted } : {}),
    };
    switch (kind) {
      case 'syntax': {
        const selectors = list(raw, 'selectors', path).map((s, j): SelectorSpec => {
          const sPath = `${path}.selectors[${j}]`;
          if (!isObject(s)) throw new ProfileError(sPath, 'expected {selector, only?}');
          const only = target(s, sPath);
          return { selector: str(s, 'selector', sPath) as string, ...(only ? { only } : {}) };
        });
        return { ...common, kind, selectors };
      }
      case 'global': {
        const name = str(raw, 'name', path) as string;
        if (!NAME_PATTERN.test(name)) throw new ProfileError(`${path}.name`, 'expected an identifier');
        return { ...common, kind, name };
      }
      case 'property': {
        const object = str(raw, 'object', path, true);
        const property = str(raw, 'property', path) as string;
        if (object !== undefined && !NAME_PATTERN.test(object)) throw new ProfileError(`${path}.object`, 'expected an identifier');
        if (!NAME_PATTERN.test(property)) throw new ProfileError(`${path}.property`, 'expected an identifier');
        return { ...common, kind, property, ...(object !== undefined ? { object } : {}) };
      }
      default:
        return { ...common, kind: kind as (RequireRule | LoopClosureRule)['kind'] };
    }
  });
  for (const kind of ['require-module', 'require-dynamic', 'loop-closure']) {
    if (rules.filter((r) => r.kind === kind).length > 1) throw new ProfileError('$.rules', `more than one rule of kind ${kind}`);
  }
  return {
    description: str(json, 'description', '$') as string,
    profile: str(json, 'profile', '$') as string,
    espruino: str(json, 'espruino', '$') as string,
    builtinModules,
    rules,
  };
}

/** The profile shipped beside this file. */
export const defaultProfile: EspruinoProfile = parseProfile(profileJson);

/** Examples normalised to objects. */
export function ruleExamples(rule: ProfileRule): RuleExample[] {
  return rule.examples.map((ex) => (typeof ex === 'string' ? { code: ex } : ex));
}

/** Accepted snippets normalised to objects. Each must yield none of the profile's ids except those in its `also` (usually none). */
export function ruleAccepted(rule: ProfileRule): RuleExample[] {
  return (rule.accepted ?? []).map((ex) => (typeof ex === 'string' ? { code: ex } : ex));
}

/** True when the rule has something to check in a bundle (a rule may be source-only). */
export function appliesToBundle(rule: ProfileRule): boolean {
  return rule.kind !== 'syntax' || rule.selectors.some((s) => s.only !== 'source');
}
