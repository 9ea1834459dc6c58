// Types of tools/pretokenise.cjs for the tests (tools/ stays plain JavaScript run by node).

/** One token as Espruino's lexer reads it. */
export interface Token {
  tk: number;
  value?: string | number;
  start: number;
  end: number;
  raw?: boolean;
}
export const LEX: Readonly<Record<'EOF' | 'ID' | 'INT' | 'FLOAT' | 'STR' | 'TEMPLATE_LITERAL' | 'REGEX' | 'NULLISH' | 'RAW_STRING8' | 'RAW_STRING16' | 'RAW_INT0' | 'RAW_INT8' | 'RAW_INT16', number>>;
export const TOKEN_TEXT: ReadonlyMap<number, string>;
export function lex(src: string): Token[];
export function sameTokens(a: Token[], b: Token[]): string | null;
export function pretokenise(text: string): string;
export function plainConstants(text: string): string;
export function detokenise(bytes: string): string;
