// Money on the page: the API speaks integer minor units (cents); people read and type major units.
// Conversions go through strings so no amount ever passes through a float.

const digitsCache = new Map<string, number>();

/** How many minor-unit digits a currency has (EUR 2, JPY 0, BHD 3); 2 for a code Intl does not know. */
export function minorDigits(currency: string): number {
  let digits = digitsCache.get(currency);
  if (digits === undefined) {
    try {
      digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      digits = 2;
    }
    digitsCache.set(currency, digits);
  }
  return digits;
}

/** "12345" minor units of EUR → "123.45", exact for any safe integer. */
export function toDecimalString(minor: number, currency: string): `${number}` {
  const digits = minorDigits(currency);
  const sign = minor < 0 ? '-' : '';
  const abs = String(Math.abs(minor));
  if (digits === 0) return `${sign}${abs}` as `${number}`;
  const padded = abs.padStart(digits + 1, '0');
  return `${sign}${padded.slice(0, -digits)}.${padded.slice(-digits)}` as `${number}`;
}

const formatters = new Map<string, Intl.NumberFormat>();

/** 12345 EUR → "€123.45"; with `signed`, "+€123.45" / "−€123.45". */
export function formatMoney(minor: number, currency: string | undefined, options: { signed?: boolean } = {}): string {
  if (!currency) return `${minor.toLocaleString()} minor units`;
  const key = `${currency}|${options.signed ? 's' : ''}`;
  let format = formatters.get(key);
  if (!format) {
    try {
      format = new Intl.NumberFormat(undefined, {
        style: 'currency',
        currency,
        signDisplay: options.signed ? 'exceptZero' : 'auto',
      });
    } catch {
      format = new Intl.NumberFormat(undefined, { minimumFractionDigits: minorDigits(currency) });
    }
    formatters.set(key, format);
  }
  return format.format(toDecimalString(minor, currency));
}

/** A balance as a plain number for the chart's axis (a float is fine for drawing, never for money). */
export function toMajor(minor: number, currency: string): number {
  return minor / 10 ** minorDigits(currency);
}

export type ParsedAmount = { ok: true; minor: number } | { ok: false; problem: string };

/** "1,234.5" EUR → 123450. Refuses more decimals than the currency has, signs, exponents and zero. */
export function parseAmount(text: string, currency: string, options: { allowZero?: boolean } = {}): ParsedAmount {
  const cleaned = text.trim().replace(/[,_\s]/g, '');
  // A minus (ASCII or U+2212, as the feed prints it) before a number: say what is wrong with it, since
  // "enter an amount such as 12.50" would leave the reader guessing. The direction is the command's.
  if (/^[-\u2212]\d*\.?\d+$|^[-\u2212]\d+\.?$/.test(cleaned)) {
    return { ok: false, problem: options.allowZero ? 'The amount cannot be negative' : 'The amount must be positive (more than zero)' };
  }
  const match = /^(\d+)(?:\.(\d*))?$/.exec(cleaned);
  if (!match) return { ok: false, problem: 'Enter an amount such as 12.50' };
  const digits = minorDigits(currency);
  const whole = match[1]!;
  const fraction = match[2] ?? '';
  if (fraction.length > digits) {
    return { ok: false, problem: digits === 0 ? `${currency} has no minor units: enter a whole number` : `${currency} has ${digits} decimal places at most` };
  }
  const minor = Number(whole + fraction.padEnd(digits, '0'));
  if (!Number.isSafeInteger(minor)) return { ok: false, problem: 'That amount is too large' };
  if (minor === 0 && !options.allowZero) return { ok: false, problem: 'Enter an amount above zero' };
  return { ok: true, minor };
}
