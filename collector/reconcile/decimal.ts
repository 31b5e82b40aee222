// Money compared exactly: our `value` (the text we fired) against Microsoft's revenue column, as decimals in
// BigInt, never as floats — 0.1 + 0.2 must not become a value mismatch, nor 10.000001 a match for 10.

/** a decimal as an integer and a power of ten: 10.50 → { units: 1050n, scale: 2 } */
interface Decimal {
  units: bigint;
  scale: number;
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?$/;

function parse(text: string): Decimal | undefined {
  const m = DECIMAL.exec(text.trim());
  if (!m || (m[2] === '' && !m[3])) return undefined;
  const frac = m[3] ?? '';
  const units = BigInt((m[2] || '0') + frac) * (m[1] === '-' ? -1n : 1n);
  return { units, scale: frac.length };
}

const rescale = (d: Decimal, scale: number) => d.units * 10n ** BigInt(scale - d.scale);

/** the shortest text of a decimal: "010.500" → "10.5", "-0" → "0"; undefined when it is not a plain decimal */
export function normalizeDecimal(text: string): string | undefined {
  const d = parse(text);
  return d && format(d);
}

function format(d: Decimal): string {
  const negative = d.units < 0n;
  const digits = (negative ? -d.units : d.units).toString().padStart(d.scale + 1, '0');
  const int = digits.slice(0, digits.length - d.scale);
  const frac = digits.slice(digits.length - d.scale).replace(/0+$/, '');
  const text = frac ? `${int}.${frac}` : int;
  return negative && /[1-9]/.test(text) ? `-${text}` : text;
}

/** a − b exactly, as the shortest decimal text; undefined when either is not a decimal */
export function subtractDecimal(a: string, b: string): string | undefined {
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) return undefined;
  const scale = Math.max(x.scale, y.scale);
  return format({ units: rescale(x, scale) - rescale(y, scale), scale });
}

/** equal as numbers: "10.50" and "10.5" are; "10.5" and "10.500001" are not */
export function sameDecimal(a: string, b: string): boolean {
  return subtractDecimal(a, b) === '0';
}
