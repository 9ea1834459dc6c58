// The seller's catalogue on a real SQLite file: articles and their rules, full-text search
// against a brute-force reading of the same 13,000 demo articles (words, prefixes, filters,
// paging), ranking, digital content, stock, and the database file's identity and version.

import fc from 'fast-check';
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Article, Catalogue, NewArticle } from '../../../host/src/seller/catalogue';
import { DEMO_CATALOGUE_SIZE, demoArticles, ensureDemoCatalogue, openDemoCatalogue } from '../../../host/src/seller/demo-catalogue';
import { CatalogueError, isCatalogueError } from '../../../host/src/seller/errors';
import { SqliteArchive } from '../../../host/src/services/archive';

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'semper-catalogue-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cd = (sku: string, title: string, over: Partial<NewArticle> = {}): NewArticle => ({
  sku,
  title,
  description: 'Audio CD.',
  category: 'Music CD',
  kind: 'physical',
  price: 1500,
  currency: 'EUR',
  stock: 5,
  deliverByDays: 3,
  refundUntilDays: 14,
  ...over,
});
const doc = (sku: string, title: string, over: Partial<NewArticle> = {}): NewArticle => ({
  sku,
  title,
  description: 'A report, delivered on-line.',
  category: 'Documents',
  kind: 'digital-document',
  price: 450,
  currency: 'EUR',
  mediaType: 'application/pdf',
  content: new Uint8Array([0x25, 0x50, 0x44, 0x46]),
  deliverByDays: 0,
  refundUntilDays: 0,
  ...over,
});

function thrown(f: () => unknown): CatalogueError {
  try {
    f();
  } catch (e) {
    if (isCatalogueError(e)) return e;
    throw e;
  }
  throw new Error('nothing was thrown');
}

describe('articles', () => {
  let c: Catalogue;
  beforeEach(() => (c = Catalogue.open(':memory:')));
  afterEach(() => c.close());

  test('an article comes back as it was added; digital content apart, bytes or a file reference', () => {
    const a = c.add(cd('CD-1', 'Harbour Lights'));
    expect(a).toEqual({ sku: 'CD-1', title: 'Harbour Lights', description: 'Audio CD.', category: 'Music CD', kind: 'physical', price: 1500, currency: 'EUR', stock: 5, mediaType: null, deliverByDays: 3, refundUntilDays: 14 });
    c.add(doc('DOC-1', 'Colour management'));
    c.add(doc('DOC-2', 'Screening', { content: undefined, contentFile: 'documents/screening.pdf' }));
    c.add(doc('DBQ-1', 'Fact sheet query', { kind: 'database-query', mediaType: 'application/json', content: '{"unit":"Petrojarl 1"}' }));
    expect(c.content('DOC-1')).toEqual({ sku: 'DOC-1', mediaType: 'application/pdf', bytes: new Uint8Array([0x25, 0x50, 0x44, 0x46]) });
    expect(c.content('DOC-2')).toEqual({ sku: 'DOC-2', mediaType: 'application/pdf', file: 'documents/screening.pdf' });
    expect(new TextDecoder().decode(c.content('DBQ-1').bytes)).toBe('{"unit":"Petrojarl 1"}');
    expect(thrown(() => c.content('CD-1')).code).toBe('NOT_DIGITAL');
    expect(thrown(() => c.content('CD-9')).code).toBe('NOT_FOUND');
    expect(c.get('cd-1')).toBeUndefined();
    expect(c.count()).toBe(4);
  });

  test.each<[string, Partial<NewArticle>, string]>([
    ['sku', { sku: 'cd 1' }, 'sku'],
    ['sku length', { sku: 'A'.repeat(33) }, 'sku'],
    ['kind', { kind: 'service' as never }, 'kind'],
    ['float price', { price: 12.5 }, 'price'],
    ['negative price', { price: -1 }, 'price'],
    ['currency', { currency: 'XXX' }, 'currency'],
    ['stock missing', { stock: undefined }, 'stock'],
    ['negative stock', { stock: -2 }, 'stock'],
    ['content on goods', { content: 'x' }, 'content'],
    ['empty title', { title: '  ' }, 'title'],
    ['control character', { description: 'a\u0007b' }, 'description'],
    ['delivery days', { deliverByDays: 1.5 }, 'deliverByDays'],
    ['refund days', { refundUntilDays: -1 }, 'refundUntilDays'],
  ])('physical goods: a bad %s is refused, naming the field, and nothing is stored', (_what, over, field) => {
    const e = thrown(() => c.add(cd('CD-1', 'Harbour Lights', over)));
    expect([e.code, e.field]).toEqual(['BAD_ARTICLE', field]);
    expect(c.count()).toBe(0);
  });

  test.each<[string, Partial<NewArticle>, string]>([
    ['stock on digital goods', { stock: 1 }, 'stock'],
    ['no media type', { mediaType: undefined }, 'mediaType'],
    ['a media type with parameters', { mediaType: 'text/plain; charset=utf-8' }, 'mediaType'],
    ['no content', { content: undefined }, 'content'],
    ['content and file', { contentFile: 'x.pdf' }, 'content'],
  ])('digital goods: %s is refused', (_what, over, field) => {
    const e = thrown(() => c.add(doc('DOC-1', 'Report', over)));
    expect([e.code, e.field]).toEqual(['BAD_ARTICLE', field]);
  });

  test('a duplicate SKU is refused and addMany is all or nothing', () => {
    c.add(cd('CD-1', 'Harbour Lights'));
    expect(thrown(() => c.add(cd('CD-1', 'Other'))).code).toBe('DUPLICATE');
    expect(thrown(() => c.addMany([cd('CD-2', 'Two'), cd('CD-3', 'Three'), cd('CD-1', 'Again')])).code).toBe('DUPLICATE');
    expect(thrown(() => c.addMany([cd('CD-4', 'Four'), cd('CD-5', 'Five', { price: -3 })])).code).toBe('BAD_ARTICLE');
    expect(c.count()).toBe(1);
    expect(c.search({ text: 'two OR three OR four' }).total).toBe(0); // the index did not keep them either
  });

  test('stock moves in one transaction and never below zero', () => {
    c.add(cd('CD-1', 'Harbour Lights', { stock: 2 }));
    expect(c.adjustStock('CD-1', -2)).toBe(0);
    const e = thrown(() => c.adjustStock('CD-1', -1));
    expect(e.code).toBe('OUT_OF_STOCK');
    expect(c.require('CD-1').stock).toBe(0);
    expect(c.adjustStock('CD-1', 10)).toBe(10);
    c.add(doc('DOC-1', 'Report'));
    expect(thrown(() => c.adjustStock('DOC-1', -1)).code).toBe('NOT_DIGITAL');
  });
});

describe('search on a small catalogue', () => {
  let c: Catalogue;
  beforeAll(() => {
    c = Catalogue.open(':memory:');
    c.addMany([
      cd('CD-1', 'Harbour Lights', { price: 1299 }),
      cd('CD-2', 'Winter Songs', { description: 'Recorded live in the harbour of Hamburg.', price: 899 }),
      cd('CD-3', 'Beethoven: Symphony No. 5', { price: 1999 }),
      cd('CD-4', 'Mozart: Symphony No. 40', { price: 999 }),
      cd('CD-5', 'Symphonie fantastique', { description: 'Berlioz, Orchestre de Paris.', price: 1499 }),
      doc('DOC-1', 'Colour management in offset printing', { price: 250 }),
      doc('DBQ-1', 'Fact sheet query: Petrojarl 1 (North Sea)', { kind: 'database-query', mediaType: 'application/json', price: 150 }),
      cd('CR-1', 'Apprendre le français (CD-ROM)', { category: 'CD-ROM (French)', price: 3900 }),
    ]);
  });
  afterAll(() => c.close());
  const skus = (r: { hits: Article[] }) => r.hits.map((a) => a.sku);

  test('ranking: a word in the title ranks above the same word in the description', () => {
    expect(skus(c.search({ text: 'harbour' }))).toEqual(['CD-1', 'CD-2']);
  });

  test('prefixes, phrases, exclusion, OR, diacritics, SKUs and hyphenated words', () => {
    expect(skus(c.search({ text: 'symph*', sort: 'title' }))).toEqual(['CD-3', 'CD-4', 'CD-5']);
    expect(skus(c.search({ text: 'symphony -mozart' }))).toEqual(['CD-3']);
    expect(skus(c.search({ text: '"symphony no 40"' }))).toEqual(['CD-4']);
    expect(skus(c.search({ text: '"no symphony"' }))).toEqual([]);
    expect(skus(c.search({ text: 'berlioz OR petrojarl', sort: 'price' }))).toEqual(['DBQ-1', 'CD-5']);
    expect(skus(c.search({ text: 'FRANCAIS' }))).toEqual(['CR-1']);
    expect(skus(c.search({ text: 'cd-rom' }))).toEqual(['CR-1']);
    expect(skus(c.search({ text: 'dbq-1' }))).toEqual(['DBQ-1']);
  });

  test('filters: kind and an inclusive price range; sort by price both ways', () => {
    expect(skus(c.search({ kind: 'digital-document' }))).toEqual(['DOC-1']);
    expect(skus(c.search({ minPrice: 999, maxPrice: 1499, sort: 'price' }))).toEqual(['CD-4', 'CD-1', 'CD-5']);
    expect(skus(c.search({ text: 'symphony', maxPrice: 1000 }))).toEqual(['CD-4']);
    expect(skus(c.search({ kind: 'physical', sort: 'price-desc', pageSize: 2 }))).toEqual(['CR-1', 'CD-3']);
    expect(skus(c.search({}))).toEqual(['CR-1', 'CD-3', 'DOC-1', 'DBQ-1', 'CD-1', 'CD-4', 'CD-5', 'CD-2']); // by title
    c.add(cd('CD-6', 'aardvark blues'));
    expect(skus(c.search({ pageSize: 2 }))).toEqual(['CD-6', 'CR-1']); // letter case does not decide the order
    c.add(cd('CD-7', 'AARDVARK BLUES'));
    expect(skus(c.search({ pageSize: 2 }))).toEqual(['CD-6', 'CD-7']);
  });

  test('bad filters are BAD_QUERY naming the field', () => {
    const field = (req: Parameters<Catalogue['search']>[0]) => thrown(() => c.search(req)).field;
    expect(field({ minPrice: 10, maxPrice: 5 })).toBe('maxPrice');
    expect(field({ minPrice: 1.5 })).toBe('minPrice');
    expect(field({ kind: 'cheese' as never })).toBe('kind');
    expect(field({ page: 0 })).toBe('page');
    expect(field({ pageSize: 101 })).toBe('pageSize');
    expect(field({ sort: 'random' as never })).toBe('sort');
    expect(field({ currency: 'ZZZ' })).toBe('currency');
    expect(field({ text: '"open' })).toBe('text');
  });
});

// ------------------------------------------------------------------ the 13,000 articles

/** The words of a text as the index's unicode61 tokenizer with remove_diacritics 2 sees them. */
const tokens = (s: string): string[] =>
  s
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);

describe('the demo catalogue', () => {
  let c: Catalogue;
  let all: NewArticle[];
  /** The brute-force reading: word → SKUs of the articles holding it. */
  let postings: Map<string, Set<string>>;
  beforeAll(() => {
    c = openDemoCatalogue(join(dir, 'demo.db'));
    all = demoArticles();
    postings = new Map();
    for (const a of all) {
      for (const w of tokens(`${a.title} ${a.description} ${a.category} ${a.sku}`)) {
        const set = postings.get(w) ?? new Set<string>();
        set.add(a.sku);
        postings.set(w, set);
      }
    }
  });
  afterAll(() => c.close());

  test('13,000 articles of every kind, the same from the same seed, other from another', () => {
    expect(c.count()).toBe(DEMO_CATALOGUE_SIZE);
    expect(new Set(all.map((a) => a.sku)).size).toBe(DEMO_CATALOGUE_SIZE);
    expect(JSON.stringify(demoArticles())).toBe(JSON.stringify(all));
    expect(JSON.stringify(demoArticles(200, 7))).not.toBe(JSON.stringify(all.slice(0, 200)));
    const kinds = new Map<string, number>();
    for (const a of all) kinds.set(a.kind, (kinds.get(a.kind) ?? 0) + 1);
    expect([...kinds.keys()].sort()).toEqual(['database-query', 'digital-document', 'physical']);
    expect(all.some((a) => a.kind === 'physical' && a.stock === 0)).toBe(true);
    expect(c.require('CD-00001')).toEqual(expect.objectContaining({ sku: 'CD-00001', title: all[0].title }));
  });

  test('generated at first start only: a second start keeps the file as it is', () => {
    c.adjustStock('CD-00001', 1000);
    const again = Catalogue.open(join(dir, 'demo.db'));
    try {
      expect(ensureDemoCatalogue(again)).toEqual({ created: false, articles: DEMO_CATALOGUE_SIZE });
      expect(again.require('CD-00001').stock).toBe(c.require('CD-00001').stock);
    } finally {
      again.close();
    }
  });

  test('search finds exactly the articles a brute-force reading finds (words, prefixes, kind and price filters)', () => {
    const vocabulary = [...postings.keys()].filter((w) => w.length >= 2).sort();
    const holding = (word: string, prefix: boolean): Set<string> => {
      if (!prefix) return postings.get(word) ?? new Set();
      const out = new Set<string>();
      for (const [w, skus] of postings) if (w.startsWith(word)) for (const sku of skus) out.add(sku);
      return out;
    };
    const kinds = ['physical', 'digital-document', 'database-query'] as const;
    fc.assert(
      fc.property(
        fc.array(fc.record({ word: fc.constantFrom(...vocabulary), prefix: fc.boolean() }), { minLength: 1, maxLength: 3 }),
        fc.option(fc.constantFrom(...kinds), { nil: undefined }),
        fc.option(fc.tuple(fc.integer({ min: 0, max: 20000 }), fc.integer({ min: 0, max: 20000 })), { nil: undefined }),
        (terms, kind, range) => {
          const text = terms.map((t) => (t.prefix ? `${t.word}*` : t.word)).join(' ');
          const [minPrice, maxPrice] = range ? [Math.min(...range), Math.max(...range)] : [undefined, undefined];
          const sets = terms.map((t) => holding(t.word, t.prefix));
          const expected = all
            .filter((a) => sets.every((set) => set.has(a.sku)))
            .filter((a) => kind === undefined || a.kind === kind)
            .filter((a) => minPrice === undefined || (a.price >= minPrice && a.price <= (maxPrice as number)))
            .map((a) => a.sku)
            .sort();
          const first = c.search({ text, kind, minPrice, maxPrice, pageSize: 100 });
          expect(first.total).toBe(expected.length);
          if (expected.length <= 400) {
            const found: string[] = [];
            for (let page = 1; page <= first.pages; page++) found.push(...c.search({ text, kind, minPrice, maxPrice, pageSize: 100, page, sort: 'price' }).hits.map((a) => a.sku));
            expect(found.sort()).toEqual(expected);
          } else {
            for (const a of first.hits) expect(expected).toContain(a.sku);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  test('paging: pages are disjoint, in one order, and together are the whole result', () => {
    const whole = c.search({ text: 'symphony', pageSize: 100 });
    expect(whole.total).toBeGreaterThan(40);
    const pages = Math.ceil(Math.min(whole.total, 100) / 7);
    const joined: string[] = [];
    for (let page = 1; page <= pages; page++) {
      const p = c.search({ text: 'symphony', pageSize: 7, page });
      expect(p.total).toBe(whole.total);
      expect(p.pages).toBe(Math.ceil(whole.total / 7));
      joined.push(...p.hits.map((a) => a.sku));
    }
    expect(joined.slice(0, 100)).toEqual(whole.hits.map((a) => a.sku).slice(0, joined.length));
    expect(new Set(joined).size).toBe(joined.length);
    // a page past the end is empty, not an error
    expect(c.search({ text: 'symphony', page: 1000 }).hits).toEqual([]);
  });
});

describe('bulk loads', () => {
  test('after a bulk load (the index rebuilt once), the index follows single additions again', () => {
    const small = Catalogue.open(':memory:');
    try {
      ensureDemoCatalogue(small, { size: 1200 });
      expect(small.search({ text: 'zeppelin' }).total).toBe(0);
      small.add(cd('CD-99999', 'Zeppelin over Friedrichshafen'));
      expect(small.search({ text: 'zeppelin' }).hits.map((a) => a.sku)).toEqual(['CD-99999']);
      // a bulk load that fails leaves the catalogue and its trigger as they were
      expect(thrown(() => small.addMany([...demoArticles(1500, 3).map((a) => ({ ...a, sku: `X${a.sku}` })), cd('CD-99999', 'again')])).code).toBe('DUPLICATE');
      expect(small.count()).toBe(1201);
      small.add(cd('CD-99998', 'Zeppelin II'));
      expect(small.search({ text: 'zeppelin', sort: 'title' }).hits.map((a) => a.sku)).toEqual(['CD-99998', 'CD-99999']);
      expect(small.search({ text: 'symphony' }).total).toBe(demoArticles(1200).filter((a) => /symphony/i.test(`${a.title} ${a.description}`)).length);
    } finally {
      small.close();
    }
  });
});

describe('the database file', () => {
  test('another SEMPER database (the archive) is not taken for a catalogue', () => {
    const path = join(dir, 'archive.db');
    SqliteArchive.open(path).close();
    expect(() => Catalogue.open(path)).toThrow(expect.objectContaining({ name: 'StoreError', code: 'NOT_A_DATABASE' }));
  });

  test('a foreign SQLite file and a file that is not SQLite are refused, not rewritten', () => {
    const foreign = join(dir, 'foreign.db');
    const raw = new Database(foreign);
    raw.exec('CREATE TABLE t (x); PRAGMA user_version = 1;');
    raw.close();
    expect(() => Catalogue.open(foreign)).toThrow(expect.objectContaining({ name: 'StoreError', code: 'NOT_A_DATABASE' }));
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'x'.repeat(4096));
    expect(() => Catalogue.open(text)).toThrow(expect.objectContaining({ name: 'StoreError', code: 'NOT_A_DATABASE' }));
    expect(readFileSync(text, 'utf8')).toBe('x'.repeat(4096));
  });

  test('a catalogue written by a newer program is refused, not rewritten', () => {
    const path = join(dir, 'newer.db');
    Catalogue.open(path).close();
    const raw = new Database(path);
    raw.pragma('user_version = 9');
    raw.close();
    expect(() => Catalogue.open(path)).toThrow(expect.objectContaining({ name: 'StoreError', code: 'UNSUPPORTED' }));
  });

  test('WAL and synchronous=FULL, and the schema version is written', () => {
    const path = join(dir, 'pragmas.db');
    Catalogue.open(path).close();
    const raw = new Database(path);
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(raw.pragma('user_version', { simple: true })).toBe(1);
      expect(raw.prepare("SELECT value FROM meta WHERE key = 'kind'").pluck().get()).toBe('semper-catalogue');
    } finally {
      raw.close();
    }
  });
});
