// Types of tools/lang-keys.cjs for the tests (tools/ stays plain JavaScript run by node).

export interface LangKeyNames {
  keys: Record<string, string>;
  prefixes: Record<string, string>;
}
export function langKeyNames(keys: string[], sources: string[]): LangKeyNames;
export function renameLangKeys(text: string, names: LangKeyNames): string;
export function pairCode(texts: string[]): { table: string; coded: string[] };
export function unpair(text: string, table: string): string;
