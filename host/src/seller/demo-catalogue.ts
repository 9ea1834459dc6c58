// The demo shop's catalogue, made from a seed: 13,000 articles like the SEMPER trial sites
// sold (seed §4.2–4.3) — the mail-order retailer's clothing and household goods with sizes
// and colours (Otto Versand), music CDs and books, French-language CD-ROMs (Actimedia), maps
// and offshore fact sheets sold as paid database queries (OPL), and technical documents
// delivered on-line (Fogra). Generated at first start, never committed as data: the same
// seed gives the same articles, byte for byte.

import { Catalogue, NewArticle } from './catalogue';

/** The size of the trial's mail-order catalogue (seed §4.3: "13.000 articles"). */
export const DEMO_CATALOGUE_SIZE = 13_000;
export const DEMO_SEED = 1998;

/** A small, fast, seeded generator (mulberry32): the catalogue is the same on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const between = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
/** A price ending in 9 or 95, like a catalogue's. */
const price = (r: Rng, lo: number, hi: number): number => {
  const p = between(r, lo, hi);
  return r() < 0.5 ? Math.floor(p / 100) * 100 + 95 : Math.floor(p / 10) * 10 + 9;
};

const COMPOSERS = ['Bach', 'Beethoven', 'Brahms', 'Bruckner', 'Chopin', 'Debussy', 'Dvořák', 'Händel', 'Haydn', 'Mahler', 'Mendelssohn', 'Mozart', 'Ravel', 'Schubert', 'Schumann', 'Sibelius', 'Strauss', 'Tschaikowsky', 'Verdi', 'Vivaldi', 'Wagner', 'Satie', 'Fauré', 'Bizet'];
const WORKS = ['Symphony No. 1', 'Symphony No. 5', 'Symphony No. 9', 'Piano Concerto No. 2', 'Violin Concerto', 'String Quartets', 'Piano Sonatas', 'Requiem', 'Overtures', 'Cello Suites', 'Nocturnes', 'Lieder', 'Chamber Music', 'Mass in B minor', 'The Four Seasons', 'Preludes', 'Serenades', 'Dances'];
const ENSEMBLES = ['Wiener Philharmoniker', 'Berliner Philharmoniker', 'Orchestre de Paris', 'London Symphony Orchestra', 'Gewandhausorchester Leipzig', 'Concertgebouw Orchestra', 'Staatskapelle Dresden', 'Academy of St Martin in the Fields', 'Quatuor Ébène', 'Alban Berg Quartett'];
const BANDS = ['The Northern Lights', 'Kraftwerk Revival', 'Les Étoiles', 'Blue Harbour', 'Die Nachtschicht', 'Stereo Lab Ensemble', 'Marta Quint Trio', 'Saint-Tropez Swing', 'Hamburg Brass', 'The Modems', 'Telechip Orchestra', 'Baud Rate', 'Jazzkantine', 'Café Müller Band'];
const GENRES = ['Jazz', 'Pop', 'Rock', 'Chanson', 'Folk', 'Schlager', 'Blues', 'Electronic', 'Soul', 'Swing'];
const ALBUM_WORDS = ['Midnight', 'Harbour', 'Lights', 'Winter', 'Summer', 'Road', 'Radio', 'Paris', 'Berlin', 'Ocean', 'Silver', 'Morning', 'Echoes', 'Journey', 'Stories', 'Dreams', 'Station', 'Bridges', 'Rain', 'Gold'];
const AUTHORS = ['Anna Becker', 'Jean Dupont', 'Maria Rossi', 'Peter Schmidt', 'Claire Martin', 'Jan de Vries', 'Sofia Papadopoulou', 'Thomas Weber', 'Lucie Bernard', 'Hans Müller', 'Elena García', 'Birgit Pfitzmann', 'Michael Waidner', 'Nikos Alexandris', 'Ingrid Schaumüller-Bichl'];
const BOOK_TOPICS = ['Secure Electronic Commerce', 'Cryptography for Beginners', 'The History of Mail Order', 'Offshore Engineering', 'Colour Management in Printing', 'French Cooking', 'Gardening through the Year', 'Smart Cards Explained', 'Networks and Protocols', 'A Guide to the Alps', 'The Baltic Coast', 'Business Law in Europe', 'Digital Signatures in Practice', 'Sailing the North Sea', 'Bookkeeping for Small Firms', 'Modern Architecture', 'Java for Business', 'The Internet Economy'];
const BOOK_FORMS = ['Hardcover', 'Paperback', 'Pocket edition', 'Revised edition', 'Large print'];
const GARMENTS = ['Shirt', 'Blouse', 'Jacket', 'Trousers', 'Jeans', 'Pullover', 'Cardigan', 'Raincoat', 'Skirt', 'Dress', 'T-shirt', 'Polo shirt', 'Fleece jacket', 'Parka', 'Pyjamas', 'Socks (5 pairs)'];
const FABRICS = ['cotton', 'linen', 'wool', 'merino', 'denim', 'corduroy', 'viscose', 'polyester blend', 'silk', 'flannel'];
const COLOURS = ['black', 'white', 'navy', 'blue', 'red', 'green', 'grey', 'beige', 'brown', 'bordeaux', 'olive', 'yellow'];
const SIZES = ['XS', 'S', 'M', 'L', 'XL', 'XXL'];
const WHO = ["Men's", "Women's", "Children's"];
const HOUSEHOLD = ['Coffee maker', 'Toaster', 'Kettle', 'Duvet', 'Pillow', 'Towel set', 'Saucepan set', 'Frying pan', 'Table lamp', 'Desk chair', 'Bookshelf', 'Vacuum cleaner', 'Iron', 'Alarm clock', 'Radio', 'Bed linen', 'Cutlery set', 'Dinner plates (6)', 'Wine glasses (6)', 'Hand mixer'];
const HOUSEHOLD_LINES = ['Classic', 'Komfort', 'Basic', 'Premium', 'Nordic', 'Provence', 'Studio', 'Family'];
const CDROM_TITLES = ['Apprendre le français', 'La cuisine française', 'Histoire de France', 'Les châteaux de la Loire', 'Dictionnaire encyclopédique', 'Atlas du monde', 'Le Louvre: visite virtuelle', 'Jeux de mots', 'Chansons françaises', 'Grammaire interactive', 'Les impressionnistes', 'La Provence'];
const CDROM_LEVELS = ['niveau 1', 'niveau 2', 'niveau 3', 'édition 1998', 'édition scolaire', 'version complète'];
const SEAS = ['North Sea', 'Norwegian Sea', 'Irish Sea', 'Gulf of Mexico', 'Campos Basin', 'West Africa', 'Caspian Sea', 'South China Sea', 'Barents Sea', 'Persian Gulf'];
const MAP_KINDS = ['Offshore oil & gas fields map', 'Pipeline map', 'Licence blocks chart', 'Platform locations wall map', 'Seabed survey chart'];
const UNIT_TYPES = ['FPSO', 'semi-submersible', 'jack-up', 'tension-leg platform', 'spar', 'FSO'];
const UNIT_NAMES = ['Petrojarl', 'Sea Explorer', 'Northern Endeavour', 'Glitne', 'Ocean Guardian', 'Bleo Holm', 'Captain', 'Schiehallion', 'Foinaven', 'Gryphon', 'Anasuria', 'Triton', 'Balder', 'Njord', 'Varg'];
const DOC_SUBJECTS = ['Colour management in offset printing', 'Standard ISO 12647 explained', 'Paper grades and print quality', 'Ink drying and set-off', 'Proofing for digital printing', 'Screening technologies', 'Quality control with print control strips', 'Pre-press workflows', 'Varnishing and coating', 'Print standards for newspapers', 'Environmental rules for printing works', 'Calibrating image setters'];
const DOC_KINDS = ['Research report', 'Technical guideline', 'Fact sheet', 'Seminar notes', 'Test report', 'Study'];

/** The demo articles, `size` of them, from `seed`: the same input gives the same list. */
export function demoArticles(size = DEMO_CATALOGUE_SIZE, seed = DEMO_SEED): NewArticle[] {
  const r = seededRandom(seed);
  const out: NewArticle[] = [];
  // shares of the catalogue per shelf, in thousandths
  const shelves: [number, (n: number) => NewArticle][] = [
    [270, (n) => musicCd(r, n)],
    [230, (n) => book(r, n)],
    [190, (n) => clothing(r, n)],
    [115, (n) => household(r, n)],
    [60, (n) => cdRom(r, n)],
    [40, (n) => map(r, n)],
    [70, (n) => document(r, n)],
    [25, (n) => factSheetQuery(r, n)],
  ];
  const counts = shelves.map(([share]) => Math.floor((size * share) / 1000));
  counts[0] += size - counts.reduce((a, b) => a + b, 0);
  shelves.forEach(([, make], i) => {
    for (let n = 1; n <= counts[i]; n++) out.push(make(n));
  });
  return out;
}

const sku = (prefix: string, n: number): string => `${prefix}-${String(n).padStart(5, '0')}`;
const physical = (r: Rng, deliverBy: [number, number]): Pick<NewArticle, 'kind' | 'stock' | 'deliverByDays' | 'refundUntilDays' | 'currency'> => ({
  kind: 'physical',
  // one article in twelve is sold out: the cart must say so
  stock: r() < 1 / 12 ? 0 : between(r, 1, 250),
  deliverByDays: between(r, deliverBy[0], deliverBy[1]),
  refundUntilDays: 14,
  currency: 'EUR',
});

function musicCd(r: Rng, n: number): NewArticle {
  if (r() < 0.55) {
    const composer = pick(r, COMPOSERS);
    const work = pick(r, WORKS);
    const ensemble = pick(r, ENSEMBLES);
    const year = between(r, 1955, 1998);
    return {
      sku: sku('CD', n),
      title: `${composer}: ${work}`,
      description: `${composer}, ${work}. ${ensemble}, recorded ${year}. Audio CD, ${between(r, 48, 79)} minutes, booklet in German, English and French.`,
      category: 'Music CD — Classical',
      price: price(r, 899, 2999),
      ...physical(r, [2, 5]),
    };
  }
  const band = pick(r, BANDS);
  const genre = pick(r, GENRES);
  const album = `${pick(r, ALBUM_WORDS)} ${pick(r, ALBUM_WORDS)}`;
  return {
    sku: sku('CD', n),
    title: `${band} — ${album}`,
    description: `${genre} album by ${band}, ${between(r, 9, 16)} tracks, released ${between(r, 1970, 1998)}. Audio CD.`,
    category: `Music CD — ${genre}`,
    price: price(r, 799, 2499),
    ...physical(r, [2, 5]),
  };
}

function book(r: Rng, n: number): NewArticle {
  const topic = pick(r, BOOK_TOPICS);
  const author = pick(r, AUTHORS);
  const form = pick(r, BOOK_FORMS);
  return {
    sku: sku('BK', n),
    title: `${topic}${r() < 0.4 ? `, volume ${between(r, 1, 4)}` : ''}`,
    description: `${topic} by ${author}. ${form}, ${between(r, 120, 780)} pages, ${between(r, 1990, 1998)}. ISBN 3-${between(r, 100, 999)}-${between(r, 10000, 99999)}-${between(r, 0, 9)}.`,
    category: 'Books',
    price: price(r, 990, 8900),
    ...physical(r, [2, 10]),
  };
}

function clothing(r: Rng, n: number): NewArticle {
  const who = pick(r, WHO);
  const garment = pick(r, GARMENTS);
  const fabric = pick(r, FABRICS);
  const colour = pick(r, COLOURS);
  const size = pick(r, SIZES);
  return {
    sku: sku('TX', n),
    title: `${who} ${garment.toLowerCase()}, ${fabric}, ${colour}, size ${size}`,
    description: `${who} ${garment.toLowerCase()} in ${colour} ${fabric}. Size ${size}. Machine washable at ${pick(r, [30, 40, 60])} °C. Article ${between(r, 100000, 999999)}.`,
    category: `Clothing — ${who.replace("'s", '')}`,
    price: price(r, 1295, 19900),
    ...physical(r, [3, 14]),
  };
}

function household(r: Rng, n: number): NewArticle {
  const thing = pick(r, HOUSEHOLD);
  const line = pick(r, HOUSEHOLD_LINES);
  const colour = pick(r, COLOURS);
  return {
    sku: sku('HH', n),
    title: `${thing} "${line}", ${colour}`,
    description: `${thing} from the ${line} range, colour ${colour}. ${between(r, 1, 5)} years guarantee. Delivered by parcel service.`,
    category: 'Household',
    price: price(r, 995, 34900),
    ...physical(r, [3, 21]),
  };
}

function cdRom(r: Rng, n: number): NewArticle {
  const title = pick(r, CDROM_TITLES);
  const level = pick(r, CDROM_LEVELS);
  return {
    sku: sku('CR', n),
    title: `${title} — ${level} (CD-ROM)`,
    description: `CD-ROM en langue française: ${title.toLowerCase()}, ${level}. Windows 95 and Macintosh System 7. Ships from Sophia-Antipolis.`,
    category: 'CD-ROM (French)',
    price: price(r, 1900, 8900),
    ...physical(r, [4, 12]),
  };
}

function map(r: Rng, n: number): NewArticle {
  const sea = pick(r, SEAS);
  const kind = pick(r, MAP_KINDS);
  return {
    sku: sku('MP', n),
    title: `${kind}: ${sea}, sheet ${between(r, 1, 40)}`,
    description: `${kind} of the ${sea}, scale 1:${pick(r, ['250,000', '500,000', '1,000,000'])}, edition ${between(r, 1994, 1998)}. Folded or rolled.`,
    category: 'Maps and charts',
    price: price(r, 2500, 19500),
    ...physical(r, [5, 15]),
  };
}

function document(r: Rng, n: number): NewArticle {
  const subject = pick(r, DOC_SUBJECTS);
  const kind = pick(r, DOC_KINDS);
  const pages = between(r, 4, 120);
  const year = between(r, 1992, 1998);
  const title = `${kind}: ${subject} (${year})`;
  return {
    sku: sku('DOC', n),
    title,
    description: `${kind} on ${subject.toLowerCase()}, ${pages} pages, delivered on-line at once after payment. Printing research institute, Munich.`,
    category: 'Documents',
    kind: 'digital-document',
    price: price(r, 250, 4900),
    currency: 'EUR',
    mediaType: 'text/plain',
    content: `${title}\n\n${pages} pages. Document ${sku('DOC', n)}, licensed to the buyer named on the receipt.\n`,
    deliverByDays: 0,
    refundUntilDays: 0,
  };
}

function factSheetQuery(r: Rng, n: number): NewArticle {
  const unit = `${pick(r, UNIT_NAMES)} ${between(r, 1, 9)}`;
  const type = pick(r, UNIT_TYPES);
  const sea = pick(r, SEAS);
  const sheet = { unit, type, area: sea, built: between(r, 1975, 1998), waterDepthM: between(r, 60, 1800), operator: `${pick(r, ['Nordic', 'Atlantic', 'Delta', 'Shelf'])} Offshore` };
  return {
    sku: sku('DBQ', n),
    title: `Fact sheet query: ${unit} (${type}, ${sea})`,
    description: `One query of the mobile production units database: the fact sheet of ${unit}, a ${type} in the ${sea} — operator, year built, water depth. Answered on-line.`,
    category: 'Database queries',
    kind: 'database-query',
    price: price(r, 150, 990),
    currency: 'EUR',
    mediaType: 'application/json',
    content: JSON.stringify(sheet),
    deliverByDays: 0,
    refundUntilDays: 0,
  };
}

/**
 * Fills an empty catalogue with the demo articles (one transaction); leaves a non-empty one
 * alone, so the catalogue is generated at first start only.
 */
export function ensureDemoCatalogue(catalogue: Catalogue, o: { size?: number; seed?: number } = {}): { created: boolean; articles: number } {
  if (catalogue.count() > 0) return { created: false, articles: catalogue.count() };
  catalogue.addMany(demoArticles(o.size, o.seed));
  return { created: true, articles: catalogue.count() };
}

/** Opens the catalogue at `path` and fills it with the demo articles on first start. */
export function openDemoCatalogue(path: string, o: { size?: number; seed?: number } = {}): Catalogue {
  const catalogue = Catalogue.open(path);
  try {
    ensureDemoCatalogue(catalogue, o);
  } catch (e) {
    catalogue.close();
    throw e;
  }
  return catalogue;
}
