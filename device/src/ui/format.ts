// Money and dates as the display shows them: amounts from integer minor units with the
// currency's ISO 4217 exponent (never a float), grouped for reading; dates as ISO 8601 in
// UTC (the device has no trusted clock or time zone, so it shows what the statement says,
// unambiguously in every language).

/**
 * ISO 4217 minor-unit exponents of the currencies the device shows, as " CODE digit" entries
 * of one string (a string costs no JsVar per currency, and no property name the bundle could
 * rename). A currency not listed here cannot be displayed (its amount would be guessed), and
 * the statement is refused.
 */
const EXPONENTS =
  ' EUR2 USD2 GBP2 CHF2 JPY0 SEK2 NOK2 DKK2 PLN2 CZK2 HUF2 RON2 BGN2 ISK0 CAD2 AUD2 NZD2 CNY2 HKD2 SGD2 KRW0 INR2' +
  ' BRL2 MXN2 ZAR2 TRY2 ILS2 BHD3 KWD3 JOD3 OMR3 TND3 CLP0';

/** The exponent of an ISO 4217 code, or -1 if the device does not know it. */
export function currencyExponent(code: string): number {
  // exactly three capitals, so " " + code can only match a whole entry (no regex: Espruino
  // 2v29's has no {n} quantifier — /^[A-Z]{3}$/ is always false there)
  if (typeof code !== 'string' || code.length !== 3) return -1;
  for (let i = 0; i < 3; i++) if (code.charCodeAt(i) < 65 || code.charCodeAt(i) > 90) return -1;
  const at = EXPONENTS.indexOf(' ' + code);
  return at < 0 ? -1 : EXPONENTS.charCodeAt(at + 4) - 48;
}

function group(digits: string, sep: string): string {
  let out = '';
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += sep;
    out += digits.charAt(i);
  }
  return out;
}

/**
 * "1,234.50 EUR" (decimal "." and group ",") or "1.234,50 EUR" — exact for any amount up
 * to 2^53 − 1 minor units: the digits are split as text, no division by powers of ten in
 * floating point. Returns '' for an unknown currency.
 */
export function formatMoney(amount: number, currency: string, decimal: string, groupSep: string): string {
  const e = currencyExponent(currency);
  if (e < 0) return '';
  let digits = String(amount);
  while (digits.length <= e) digits = '0' + digits;
  const whole = digits.substr(0, digits.length - e);
  const frac = e > 0 ? decimal + digits.substr(digits.length - e) : '';
  return group(whole, groupSep) + frac + ' ' + currency;
}

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/**
 * Seconds since 1970-01-01T00:00:00Z → "YYYY-MM-DD", and " hh:mm:ss" unless it is midnight
 * (UTC, proleptic Gregorian), by the days-to-civil algorithm (H. Hinnant). Every second shows
 * differently: two deadlines a second apart never look the same.
 */
export function formatDate(seconds: number): string {
  const days = Math.floor(seconds / 86400);
  const secs = seconds - days * 86400;
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const date = y + '-' + pad2(m) + '-' + pad2(d);
  if (secs === 0) return date;
  return date + ' ' + pad2(Math.floor(secs / 3600)) + ':' + pad2(Math.floor(secs / 60) % 60) + ':' + pad2(secs % 60);
}
