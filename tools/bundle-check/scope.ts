/**
 * Walking an acorn AST so that every node is visited, and knowing which identifiers are
 * references to globals.
 *
 * acorn-walk's base walker skips non-computed property keys, member names, labels and meta
 * properties. The walker below visits them too, under the walk types `PropertyName` and `Label`,
 * so a full walk sees every node, and an identifier arrives with walk type `Identifier` only
 * when it stands in expression position, i.e. when it is a reference (binding positions arrive
 * as `VariablePattern`).
 *
 * ScopeIndex records, for every node that opens a scope, the names declared in it:
 * `var` and sloppy-mode block functions (Annex B) hoist to the enclosing function or Program;
 * `let`, `const`, `class` and block functions belong to the enclosing block, `switch` or `for`;
 * parameters and a function expression's own name belong to the function; a class expression's
 * name to the class; a catch parameter to the catch clause. A reference is free when no
 * enclosing scope declares its name. Implicit globals (assignment without declaration) and
 * `with`/`eval` are not modelled: they only make the check stricter.
 */
import type { AnyNode } from 'acorn';
import * as walk from 'acorn-walk';

type Node = AnyNode;
type Walk = (node: Node, state: unknown, override?: string) => void;
type Visitor = (node: never, state: unknown, c: Walk) => void;

interface Keyed {
  key: Node;
  value?: Node | null;
  computed: boolean;
  shorthand?: boolean;
}

const propertyLike: Visitor = (n: Keyed & Node, st, c) => {
  if (!n.shorthand) c(n.key, st, n.computed ? 'Expression' : 'PropertyName');
  if (n.value) c(n.value, st, 'Expression');
};

const ignore: Visitor = () => undefined;

const visitors: Record<string, Visitor> = {
  MemberExpression: (n: { object: Node; property: Node; computed: boolean }, st, c) => {
    c(n.object, st, 'Expression');
    c(n.property, st, n.computed ? 'Expression' : 'PropertyName');
  },
  Property: propertyLike,
  MethodDefinition: propertyLike,
  PropertyDefinition: propertyLike,
  ObjectPattern: (n: { properties: Node[] }, st, c) => {
    for (const p of n.properties) c(p, st, p.type === 'Property' ? 'PatternProperty' : undefined);
  },
  PatternProperty: (n: Keyed, st, c) => {
    if (!n.shorthand) c(n.key, st, n.computed ? 'Expression' : 'PropertyName');
    if (n.value) c(n.value, st, 'Pattern');
  },
  LabeledStatement: (n: { label: Node; body: Node }, st, c) => {
    c(n.label, st, 'Label');
    c(n.body, st, 'Statement');
  },
  BreakStatement: (n: { label?: Node | null }, st, c) => {
    if (n.label) c(n.label, st, 'Label');
  },
  ContinueStatement: (n: { label?: Node | null }, st, c) => {
    if (n.label) c(n.label, st, 'Label');
  },
  MetaProperty: (n: { meta: Node; property: Node }, st, c) => {
    c(n.meta, st, 'PropertyName');
    c(n.property, st, 'PropertyName');
  },
  ExportNamedDeclaration: (n: { declaration?: Node | null; specifiers: Node[]; source?: Node | null }, st, c) => {
    if (n.declaration) c(n.declaration, st, 'Statement');
    for (const s of n.specifiers) c(s, st);
    if (n.source) c(n.source, st, 'Expression');
  },
  ExportSpecifier: (n: { local: Node; exported: Node }, st, c) => {
    c(n.local, st, 'PropertyName');
    if (n.exported !== n.local) c(n.exported, st, 'PropertyName');
  },
  ExportAllDeclaration: (n: { exported?: Node | null; source: Node }, st, c) => {
    if (n.exported) c(n.exported, st, 'PropertyName');
    c(n.source, st, 'Expression');
  },
  ImportSpecifier: (n: { local: Node; imported: Node }, st, c) => {
    if (n.imported !== n.local) c(n.imported, st, 'PropertyName');
    c(n.local, st, 'Pattern');
  },
  ImportDefaultSpecifier: (n: { local: Node }, st, c) => c(n.local, st, 'Pattern'),
  ImportNamespaceSpecifier: (n: { local: Node }, st, c) => c(n.local, st, 'Pattern'),
  ImportAttribute: (n: { key: Node; value: Node }, st, c) => {
    c(n.key, st, 'PropertyName');
    c(n.value, st, 'Expression');
  },
  PropertyName: ignore,
  Label: ignore,
};

/** acorn-walk base walker extended to reach every node (see the file comment). */
export const fullWalker = walk.make(visitors as unknown as walk.RecursiveVisitors<unknown>);

/** Walk every node once (post-order) with its ancestors (the node itself is last) and its walk type. */
export function walkAll(ast: Node, callback: (node: Node, ancestors: readonly Node[], walkType: string) => void): void {
  walk.fullAncestor(ast, (node, _state, ancestors, walkType) => callback(node, ancestors, walkType), fullWalker);
}

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);
const BLOCK_TYPES = new Set(['BlockStatement', 'StaticBlock', 'Program', 'SwitchStatement']);
const LEXICAL_TYPES = new Set([...BLOCK_TYPES, 'ForStatement', 'ForInStatement', 'ForOfStatement']);

/** Names bound by a binding pattern. */
export function boundNames(pattern: Node | null | undefined, out: string[] = []): string[] {
  if (!pattern) return out;
  switch (pattern.type) {
    case 'Identifier':
      out.push(pattern.name);
      break;
    case 'ObjectPattern':
      for (const p of pattern.properties) boundNames(p.type === 'Property' ? p.value : p, out);
      break;
    case 'ArrayPattern':
      for (const e of pattern.elements) boundNames(e, out);
      break;
    case 'RestElement':
      boundNames(pattern.argument, out);
      break;
    case 'AssignmentPattern':
      boundNames(pattern.left, out);
      break;
    default:
      break; // MemberExpression targets bind nothing
  }
  return out;
}

export class ScopeIndex {
  private readonly declared = new Map<Node, Set<string>>();

  constructor(ast: Node) {
    walkAll(ast, (node, ancestors) => this.collect(node, ancestors));
  }

  /** True when no scope enclosing the last of `ancestors` declares `name`. */
  isFree(name: string, ancestors: readonly Node[]): boolean {
    return this.resolve(name, ancestors) < 0;
  }

  /**
   * Index in `ancestors` of the innermost scope node that declares `name` for the last of
   * `ancestors`, or -1 when the name is free. The scope node of a `let`/`const` in a loop head
   * is the `for`, `for…in` or `for…of` statement itself.
   */
  resolve(name: string, ancestors: readonly Node[]): number {
    for (let i = ancestors.length - 1; i >= 0; i--) {
      if (this.declared.get(ancestors[i] as Node)?.has(name)) return i;
    }
    return -1;
  }

  private declare(scope: Node | undefined, names: readonly string[]): void {
    if (!scope || names.length === 0) return;
    let set = this.declared.get(scope);
    if (!set) {
      set = new Set();
      this.declared.set(scope, set);
    }
    for (const n of names) set.add(n);
  }

  /** Nearest ancestor (excluding the node itself) whose type is in `types`. */
  private static enclosing(ancestors: readonly Node[], types: ReadonlySet<string>): Node | undefined {
    for (let i = ancestors.length - 2; i >= 0; i--) {
      const a = ancestors[i] as Node;
      if (types.has(a.type)) return a;
    }
    return undefined;
  }

  private static readonly VAR_SCOPES = new Set([...FUNCTION_TYPES, 'Program']);

  private collect(node: Node, ancestors: readonly Node[]): void {
    switch (node.type) {
      case 'VariableDeclaration': {
        const names: string[] = [];
        for (const d of node.declarations) boundNames(d.id, names);
        const scope =
          node.kind === 'var' ? ScopeIndex.enclosing(ancestors, ScopeIndex.VAR_SCOPES) : ScopeIndex.enclosing(ancestors, LEXICAL_TYPES);
        this.declare(scope, names);
        break;
      }
      case 'FunctionDeclaration':
      case 'FunctionExpression':
      case 'ArrowFunctionExpression': {
        const params: string[] = [];
        for (const p of node.params) boundNames(p, params);
        if (node.type === 'FunctionExpression' && node.id) params.push(node.id.name);
        this.declare(node, params);
        if (node.type === 'FunctionDeclaration' && node.id) {
          const name = [node.id.name];
          this.declare(ScopeIndex.enclosing(ancestors, BLOCK_TYPES), name);
          this.declare(ScopeIndex.enclosing(ancestors, ScopeIndex.VAR_SCOPES), name); // Annex B hoisting
        }
        break;
      }
      case 'ClassDeclaration':
        if (node.id) this.declare(ScopeIndex.enclosing(ancestors, BLOCK_TYPES), [node.id.name]);
        break;
      case 'ClassExpression':
        if (node.id) this.declare(node, [node.id.name]);
        break;
      case 'CatchClause':
        this.declare(node, boundNames(node.param));
        break;
      case 'ImportSpecifier':
      case 'ImportDefaultSpecifier':
      case 'ImportNamespaceSpecifier':
        this.declare(ancestors[0], [node.local.name]);
        break;
      default:
        break;
    }
  }
}
