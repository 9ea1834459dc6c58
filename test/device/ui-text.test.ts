// The trusted display's text rules (device/src/ui/text.ts, format.ts): what may be drawn,
// how the rest is refused or escaped so that different texts never look alike, wrapping
// with the font's widths, and money and dates exactly.

import fc from 'fast-check';
import { glyphFor, textWidth, toDisplay, useFontWidths, wrap } from '../../device/src/ui/text';
import { FONT_WIDTHS } from '../../device/src/ui/font';
import { currencyExponent, formatDate, formatMoney } from '../../device/src/ui/format';

// the widths the firmware reads from its Storage file semper.fontw (tools/build.mjs writes it from these)
useFontWidths(FONT_WIDTHS);

const utf8 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

describe('toDisplay', () => {
  test('ASCII, Latin-1 letters and the euro sign map to the font', () => {
    expect(toDisplay(utf8('Müller & Söhne, 12 €'), false)).toBe('M\xfcller & S\xf6hne, 12 \x80');
    expect(glyphFor(0x20ac)).toBe(0x80);
    expect(glyphFor(0xd7)).toBe(-1); // × is not in the glyph set
  });

  test('names refuse what cannot be drawn or seen; free text escapes it', () => {
    for (const bad of ['Shop\u202e', 'Sh\u043ep', 'Tab\there', ' lead', 'trail ', 'dou  ble', 'new\nline', '\u0000'])
      expect([bad, toDisplay(utf8(bad), false)]).toEqual([bad, null]);
    expect(toDisplay(utf8('Sh\u043ep'), true)).toBe('Sh[U+043E]p'); // Cyrillic o
    expect(toDisplay(utf8('a\u202eb'), true)).toBe('a[U+202E]b');
    expect(toDisplay(utf8('x \ny'), true)).toBe('x[U+0020]\ny');
    expect(toDisplay(utf8('[U+0041]'), true)).toBe('[[U+0041]'); // a literal escape cannot pass as one
    expect(toDisplay(utf8('\u{1F600}'), true)).toBe('[U+1F600]');
  });

  test('different texts never display the same (free text, 20,000 random pairs)', () => {
    const chars = fc.constantFrom('a', 'b', ' ', '\n', '[', 'U', '+', '0', '\u00e4', '\u20ac', '\u202e', '\u043e', '\t', ']');
    const text = fc.array(chars, { maxLength: 12 }).map((a) => a.join(''));
    fc.assert(
      fc.property(text, text, (a, b) => {
        fc.pre(a !== b);
        return toDisplay(utf8(a), true) !== toDisplay(utf8(b), true);
      }),
      { numRuns: 20000, seed: 7 },
    );
  });
});

describe('wrap', () => {
  test('breaks at spaces, keeps lines within the width, cuts words wider than a line', () => {
    const lines = wrap('The quick brown fox jumps over the lazy dog', 60);
    for (const l of lines) expect(textWidth(l)).toBeLessThanOrEqual(60);
    expect(lines.join(' ')).toBe('The quick brown fox jumps over the lazy dog');
    const long = wrap('ABCDEFGHIJKLMNOPQRSTUVWXYZ', 30);
    expect(long.join('').replace(/\x7f/g, '')).toBe('ABCDEFGHIJKLMNOPQRSTUVWXYZ');
    expect(long.length).toBeGreaterThan(4);
    // a cut word is marked: it never looks like two words broken at a space
    expect(long.slice(0, -1).every((l) => l.endsWith('\x7f'))).toBe(true);
    expect(wrap('AAAAAAAAAA AAAA', 60)).not.toEqual(wrap('AAAAAAAAAAAAAA', 60));
    expect(wrap('a\n\nb', 128)).toEqual(['a', '', 'b']);
  });

  test('no character is lost but the break spaces (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'W', 'i', ' ', '\n', '\x80'), { maxLength: 80 }), fc.integer({ min: 8, max: 128 }), (a, w) => {
        const s = a.join('');
        const lines = wrap(s, w);
        for (const l of lines) if (l.length > 2) expect(textWidth(l)).toBeLessThanOrEqual(w);
        expect(lines.join('').replace(/[ \x7f]/g, '')).toBe(s.replace(/[ \n]/g, ''));
      }),
      { numRuns: 2000, seed: 3 },
    );
  });
});

describe('money and dates', () => {
  test('amounts from minor units with the ISO 4217 exponent, exact up to 2^53 - 1', () => {
    expect(formatMoney(1250, 'EUR', '.', ',')).toBe('12.50 EUR');
    expect(formatMoney(1250, 'EUR', ',', '.')).toBe('12,50 EUR');
    expect(formatMoney(5, 'EUR', '.', ',')).toBe('0.05 EUR');
    expect(formatMoney(123456789, 'USD', '.', ',')).toBe('1,234,567.89 USD');
    expect(formatMoney(1000, 'JPY', '.', ',')).toBe('1,000 JPY');
    expect(formatMoney(1234, 'KWD', '.', ',')).toBe('1.234 KWD');
    expect(formatMoney(9007199254740991, 'EUR', '.', ',')).toBe('90,071,992,547,409.91 EUR');
    expect(formatMoney(1, 'XXX', '.', ',')).toBe('');
    expect(currencyExponent('constructor')).toBe(-1);
    // the table is one string of " CODE digit" entries: only a whole entry may match
    for (const part of ['EUR2', 'UR2', 'R2 U', ' EUR', 'EU', 'eur', '', 'EURO', 'CLP0']) expect(currencyExponent(part)).toBe(-1);
    expect(currencyExponent('CLP')).toBe(0);
    expect(currencyExponent('BHD')).toBe(3);
  });

  test('dates in UTC, day and time exact to the second', () => {
    expect(formatDate(0)).toBe('1970-01-01');
    expect(formatDate(951782400)).toBe('2000-02-29');
    expect(formatDate(4102444799)).toBe('2099-12-31 23:59:59');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253402300799 }), (s) => {
        const iso = new Date(s * 1000).toISOString();
        const day = iso.slice(0, 10);
        const time = iso.slice(11, 19);
        expect(formatDate(s)).toBe(time === '00:00:00' ? day : `${day} ${time}`);
      }),
      { numRuns: 5000, seed: 11 },
    );
  });
});

test('font bytes go back to the UTF-8 they came from (STATUS labels)', () => {
  const { utf8Of } = jest.requireActual('../../device/src/ui/text') as typeof import('../../device/src/ui/text');
  for (const s of ['Prüfen', 'Börse laden', '12 € £ ¥ ¢', 'ASCII only', 'ÀÿÆß']) expect(utf8Of(toDisplay(utf8(s), false) as string)).toBe(utf8(s));
});
