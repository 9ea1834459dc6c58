// Amount text ↔ minor units must round-trip exactly for every safe amount in every currency of
// the table; a wrong amount is worse than none. (The shop's price filter once returned null for
// ¥1,000,000,000,000 because its parser capped the integer part at 12 digits.)
import fc from 'fast-check';
import { CURRENCY_EXPONENTS, formatMinorUnits, parseMinorUnits } from '../../../host/src/services/money';

const currencies = Object.keys(CURRENCY_EXPONENTS);

test('every safe amount ≥ 0 formats and parses back to itself, with "." and (when allowed) ","', () => {
  fc.assert(
    fc.property(fc.oneof(fc.integer({ min: 0, max: 10 ** 6 }), fc.maxSafeInteger().map(Math.abs)), fc.constantFrom(...currencies), (amount, currency) => {
      const shown = formatMinorUnits(amount, currency)!;
      expect(parseMinorUnits(shown, currency)).toBe(amount);
      expect(parseMinorUnits(shown.replace('.', ','), currency, true)).toBe(amount);
    }),
    { numRuns: 2000 },
  );
});

test('known values, and text that is not an amount gives undefined', () => {
  expect(parseMinorUnits('12', 'EUR')).toBe(1200);
  expect(parseMinorUnits('12.5', 'EUR')).toBe(1250);
  expect(parseMinorUnits('0.005', 'KWD')).toBe(5);
  expect(parseMinorUnits('1000000000000', 'JPY')).toBe(10 ** 12);
  expect(parseMinorUnits(String(Number.MAX_SAFE_INTEGER), 'JPY')).toBe(Number.MAX_SAFE_INTEGER);
  for (const [t, c] of [['12,50', 'EUR'], ['1.5', 'JPY'], ['0.001', 'EUR'], ['-1', 'EUR'], ['1e3', 'EUR'], [' 1', 'EUR'], ['1.', 'EUR'], ['9007199254740992', 'JPY'], ['90071992547409.92', 'EUR'], ['1', 'XXX'], ['', 'EUR']] as const)
    expect([t, parseMinorUnits(t, c)]).toEqual([t, undefined]);
});

test('bounded work on long input: a megabyte of digits is refused, not multiplied out', () => {
  expect(parseMinorUnits('9'.repeat(1 << 20), 'EUR')).toBeUndefined();
});
