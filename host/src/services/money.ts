// Money on the host: integer minor units + ISO 4217 code, never a float. The exponent table
// is the one the device's statement screens use (device/src/ui/format.ts); host code may not
// import device/, so it is repeated here (candidate for protocol/, which both may import).

/** ISO 4217 minor-unit exponents of the currencies SEMPER handles. */
export const CURRENCY_EXPONENTS: Readonly<Record<string, number>> = Object.freeze({
  EUR: 2, USD: 2, GBP: 2, CHF: 2, JPY: 0, SEK: 2, NOK: 2, DKK: 2, PLN: 2, CZK: 2, HUF: 2,
  RON: 2, BGN: 2, ISK: 0, CAD: 2, AUD: 2, NZD: 2, CNY: 2, HKD: 2, SGD: 2, KRW: 0, INR: 2,
  BRL: 2, MXN: 2, ZAR: 2, TRY: 2, ILS: 2, BHD: 3, KWD: 3, JOD: 3, OMR: 3, TND: 3, CLP: 0,
});

/** The exponent of an ISO 4217 code, or undefined if it is not in the table. */
export function currencyExponent(code: string): number | undefined {
  return Object.prototype.hasOwnProperty.call(CURRENCY_EXPONENTS, code) ? CURRENCY_EXPONENTS[code] : undefined;
}

/** True for a safe integer (the only representation of an amount). */
export function isMinorUnits(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n);
}

/**
 * Minor units → decimal string with the currency's exponent, e.g. (-1234, 'EUR') → "-12.34",
 * (5, 'KWD') → "0.005", (700, 'JPY') → "700". Exact for every safe integer: digits are split
 * as text. Undefined for a currency not in the table.
 */
export function formatMinorUnits(amount: number, currency: string): string | undefined {
  const e = currencyExponent(currency);
  if (e === undefined || !isMinorUnits(amount)) return undefined;
  const sign = amount < 0 ? '-' : '';
  const digits = String(Math.abs(amount)).padStart(e + 1, '0');
  return e === 0 ? sign + digits : `${sign}${digits.slice(0, -e)}.${digits.slice(-e)}`;
}

/**
 * Decimal text → minor units, the inverse of formatMinorUnits for amounts ≥ 0: "12", "12.5",
 * "12.50" (and "12,50" when `decimalComma`) in EUR → 1250. Exact: digits are joined as text,
 * never through a float. Undefined when the text is not such an amount, has more decimals than
 * the currency has, or leaves the safe-integer range; undefined for a currency not in the table.
 */
export function parseMinorUnits(text: string, currency: string, decimalComma = false): number | undefined {
  const e = currencyExponent(currency);
  const m = (decimalComma ? /^(\d+)(?:[.,](\d*))?$/ : /^(\d+)(?:\.(\d+))?$/).exec(text);
  if (e === undefined || !m || m[1].length > 16 || (m[2] ?? '').length > e) return undefined;
  const n = Number(m[1] + (m[2] ?? '').padEnd(e, '0'));
  return Number.isSafeInteger(n) ? n : undefined;
}
