// The shop's search language: what it reads, what it refuses (typed, with a reason for the
// buyer), and that nothing a buyer types — random text, or text made of FTS5's own syntax —
// escapes as anything but a CatalogueError BAD_QUERY, parsing alone or against real FTS5.

import fc from 'fast-check';
import { Catalogue } from '../../../host/src/seller/catalogue';
import { isCatalogueError } from '../../../host/src/seller/errors';
import { MAX_QUERY_LENGTH, MAX_TERMS, parseSearch, toFtsMatch } from '../../../host/src/seller/search-query';

function refusal(text: string): string {
  try {
    parseSearch(text);
  } catch (e) {
    if (isCatalogueError(e, 'BAD_QUERY')) return e.message;
    throw e;
  }
  throw new Error(`${JSON.stringify(text)} was accepted`);
}

describe('the search language', () => {
  test('words, prefixes, phrases, exclusions and OR become one parenthesised FTS5 expression of quoted strings', () => {
    expect(toFtsMatch(parseSearch('Beethoven'))).toBe('("beethoven")');
    expect(toFtsMatch(parseSearch('  navy   size L '))).toBe('("navy" AND "size" AND "l")');
    expect(toFtsMatch(parseSearch('beeth*'))).toBe('("beeth"*)');
    expect(toFtsMatch(parseSearch('"North Sea" map'))).toBe('("north sea" AND "map")');
    expect(toFtsMatch(parseSearch('"north se"*'))).toBe('("north se"*)');
    expect(toFtsMatch(parseSearch('symphony -mozart -"vienna phil"'))).toBe('(("symphony") NOT ("mozart" OR "vienna phil"))');
    expect(toFtsMatch(parseSearch('jacket OR parka navy'))).toBe('("jacket") OR ("parka" AND "navy")');
    // punctuation separates words, as in the index (CD-ROM is the phrase "cd rom"); FTS5's
    // column filters, NEAR groups and operators are plain words
    expect(toFtsMatch(parseSearch('CD-ROM C++ title:foo NEAR(a b) AND NOT'))).toBe('("cd rom" AND "c" AND "title foo" AND "near a" AND "b" AND "and" AND "not")');
    expect(toFtsMatch(parseSearch("jazz ' or 1=1 --"))).toBe('("jazz" AND "or" AND "1 1")');
  });

  test('no words at all is a browse, not an error', () => {
    for (const t of ['', '   ', '?!', '""', '- * ^']) expect(parseSearch(t)).toEqual({ any: [] });
  });

  test('what cannot be read is refused with a reason', () => {
    expect(refusal('"north sea')).toMatch(/quotation mark is not closed/);
    expect(refusal('-mozart')).toMatch(/at least one word that is not excluded/);
    expect(refusal('OR jazz')).toMatch(/"OR" needs a word on each side/);
    expect(refusal('jazz OR')).toMatch(/"OR" needs a word on each side/);
    expect(refusal('jazz OR OR blues')).toMatch(/"OR" needs a word on each side/);
    expect(refusal("' OR 1=1 --")).toMatch(/"OR" needs a word on each side/);
    expect(refusal('b*')).toMatch(/at least 2 letters before the \*/);
    expect(refusal('x'.repeat(MAX_QUERY_LENGTH + 1))).toMatch(/longer than 200/);
    expect(refusal(Array.from({ length: MAX_TERMS + 1 }, (_, i) => `w${i}`).join(' '))).toMatch(/more than 12/);
    expect(refusal('jazz\u0000')).toMatch(/control characters/);
  });
});

// text made of FTS5's syntax, to reach the corners a plain random string rarely does
const ftsish = fc
  .array(fc.constantFrom('"', '*', '-', '(', ')', ':', '^', '+', ' ', 'OR', 'AND', 'NOT', 'NEAR', 'title', 'jazz', 'beeth', 'é', '\u0301', '{', '}', ',', 'x', '0'), { maxLength: 30 })
  .map((xs) => xs.join(''));
const anyText = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.string({ unit: 'binary', maxLength: 400 }), ftsish);

describe('nothing typed escapes as anything but BAD_QUERY', () => {
  let catalogue: Catalogue;
  beforeAll(() => {
    catalogue = Catalogue.open(':memory:');
    catalogue.addMany([
      { sku: 'CD-1', title: 'Jazz at the Harbour', description: 'Live jazz, 1997', category: 'Music CD', kind: 'physical', price: 1599, currency: 'EUR', stock: 3, deliverByDays: 3, refundUntilDays: 14 },
      { sku: 'DOC-1', title: 'Beethoven for beginners', description: 'Notes (NEAR the "end")', category: 'Documents', kind: 'digital-document', price: 299, currency: 'EUR', mediaType: 'text/plain', content: 'x', deliverByDays: 0, refundUntilDays: 0 },
    ]);
  });
  afterAll(() => catalogue.close());

  test('parseSearch: a query or a CatalogueError BAD_QUERY, and every query is valid FTS5', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        try {
          const q = parseSearch(text);
          if (q.any.length) catalogue.search({ text }); // FTS5 itself accepts what we wrote
        } catch (e) {
          if (!isCatalogueError(e, 'BAD_QUERY')) throw e;
          expect(e.field).toBe('text');
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('Catalogue.search with random text and filters: a page or BAD_QUERY naming the field', () => {
    const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
    fc.assert(
      fc.property(
        fc.record({
          text: maybe(anyText),
          kind: maybe(fc.oneof(fc.constantFrom('physical', 'digital-document', 'database-query'), fc.string())),
          minPrice: maybe(fc.oneof(fc.integer(), fc.double())),
          maxPrice: maybe(fc.oneof(fc.integer(), fc.double())),
          page: maybe(fc.integer({ min: -5, max: 2000 })),
          pageSize: maybe(fc.integer({ min: -5, max: 200 })),
          sort: maybe(fc.oneof(fc.constantFrom('relevance', 'price', 'price-desc', 'title'), fc.string())),
        }),
        (req) => {
          try {
            const page = catalogue.search(req as Parameters<Catalogue['search']>[0]);
            expect(page.hits.length).toBeLessThanOrEqual(page.pageSize);
          } catch (e) {
            if (!isCatalogueError(e, 'BAD_QUERY')) throw e;
            expect(['text', 'kind', 'minPrice', 'maxPrice', 'page', 'pageSize', 'sort']).toContain(e.field);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
