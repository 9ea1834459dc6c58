// The shop's search language, parsed here and never handed to SQLite as typed: the buyer's
// text becomes a small syntax tree of words, and the FTS5 MATCH expression is written from
// that tree with every word inside a quoted FTS5 string. Nothing the buyer types can reach
// FTS5's own operators, column filters or NEAR groups, so an FTS5 syntax error cannot come
// from user input; whatever this parser cannot read is a CatalogueError BAD_QUERY.
//
//   query   = group *( "OR" group )          any of the groups
//   group   = 1*( term / "-" term )           all of the terms, none of the "-" terms
//   term    = word [ "*" ] / '"' words '"' [ "*" ]
//
// A word is a run of letters, digits and combining marks (Unicode); other characters
// separate words, as the unicode61 tokenizer does, so a chunk with punctuation inside
// ("CD-ROM", "title:foo") is the phrase of its words. `word*` matches words beginning with it;
// a quoted phrase matches its words in order. Case and diacritics do not matter (the index
// is built with remove_diacritics 2).

import { CatalogueError } from './errors';

/** Search text longer than this is refused (a search box, not a document). */
export const MAX_QUERY_LENGTH = 200;
/** More terms than this are refused (each is a posting-list walk). */
export const MAX_TERMS = 12;
/** A prefix shorter than this is refused: `a*` would walk most of the index. */
export const MIN_PREFIX_LENGTH = 2;

export interface Term {
  /** Normalised words (NFKC, lower case); more than one is a phrase. */
  words: string[];
  /** The last word matches as a prefix. */
  prefix: boolean;
}

export interface Group {
  all: Term[];
  none: Term[];
}

/** A parsed search: the groups are alternatives (OR); an empty list means "no text given". */
export interface SearchQuery {
  any: Group[];
}

const WORD = /[\p{L}\p{N}\p{M}]+/gu;

function bad(message: string): never {
  throw new CatalogueError('BAD_QUERY', message, 'text');
}

/** The words of a piece of text, as the index sees them. */
function wordsOf(text: string): string[] {
  return (text.normalize('NFKC').toLowerCase().match(WORD) ?? []).map((w) => w.normalize('NFKC'));
}

interface Token {
  kind: 'term' | 'or';
  negated: boolean;
  term?: Term;
}

/** Parses the buyer's search text. Throws CatalogueError BAD_QUERY with a message for the buyer. */
export function parseSearch(text: string): SearchQuery {
  if (typeof text !== 'string') bad('the search text must be text');
  if (text.length > MAX_QUERY_LENGTH) bad(`the search text is longer than ${MAX_QUERY_LENGTH} characters`);
  if (/(?![\t\n\r])\p{Cc}/u.test(text)) bad('the search text contains control characters');
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    let negated = false;
    let j = i;
    if (c === '-') {
      negated = true;
      j++;
    }
    if (text[j] === '"') {
      const end = text.indexOf('"', j + 1);
      if (end < 0) bad('a quotation mark is not closed');
      const words = wordsOf(text.slice(j + 1, end));
      const prefix = text[end + 1] === '*';
      i = end + (prefix ? 2 : 1);
      if (words.length === 0) continue; // "" or "?!" — nothing to look for
      tokens.push({ kind: 'term', negated, term: { words, prefix } });
      continue;
    }
    // a bare chunk up to the next space or quotation mark
    let k = j;
    while (k < text.length && !/\s/.test(text[k]) && text[k] !== '"') k++;
    const chunk = text.slice(j, k);
    i = k;
    if (chunk === 'OR' && !negated) {
      tokens.push({ kind: 'or', negated: false });
      continue;
    }
    const words = wordsOf(chunk);
    if (words.length === 0) continue; // punctuation only: a separator, like in the index
    const prefix = chunk.endsWith('*');
    tokens.push({ kind: 'term', negated, term: { words, prefix } });
  }

  const any: Group[] = [];
  let group: Group = { all: [], none: [] };
  let terms = 0;
  let sawOr = false;
  for (const t of tokens) {
    if (t.kind === 'or') {
      if (group.all.length === 0 && group.none.length === 0) bad('"OR" needs a word on each side');
      any.push(group);
      group = { all: [], none: [] };
      sawOr = true;
      continue;
    }
    const term = t.term as Term;
    if (term.prefix && term.words[term.words.length - 1].length < MIN_PREFIX_LENGTH) {
      bad(`a search with * needs at least ${MIN_PREFIX_LENGTH} letters before the *`);
    }
    if (++terms > MAX_TERMS) bad(`the search has more than ${MAX_TERMS} words or phrases`);
    (t.negated ? group.none : group.all).push(term);
  }
  if (group.all.length === 0 && group.none.length === 0) {
    if (sawOr) bad('"OR" needs a word on each side');
    return { any };
  }
  any.push(group);
  for (const g of any) if (g.all.length === 0) bad('a search needs at least one word that is not excluded with "-"');
  return { any };
}

/** True when the query has no words (the catalogue is browsed rather than searched). */
export function isEmptySearch(q: SearchQuery): boolean {
  return q.any.length === 0;
}

function ftsTerm(t: Term): string {
  // inside an FTS5 string only '"' is special; words hold letters, digits and marks only
  return `"${t.words.join(' ').replace(/"/g, '""')}"${t.prefix ? '*' : ''}`;
}

/** The FTS5 MATCH expression of a non-empty query, fully parenthesised. */
export function toFtsMatch(q: SearchQuery): string {
  if (isEmptySearch(q)) throw new CatalogueError('BAD_QUERY', 'an empty search has no match expression', 'text');
  return q.any
    .map((g) => {
      const all = g.all.map(ftsTerm).join(' AND ');
      return g.none.length ? `((${all}) NOT (${g.none.map(ftsTerm).join(' OR ')}))` : `(${all})`;
    })
    .join(' OR ');
}
