// The optional fields of a fire, checked once here and shared by the conversion routes, the CLI and the dispatcher.
// Each check answers a reason a person can act on, or null when the value is fine.

/** letters and digits per Microsoft, plus the `.`, `_` and `-` common in order numbers; at most 36 */
export const ORDER_ID = /^[A-Za-z0-9._-]{1,36}$/;
/** purely numeric: `10` and `10.5` are values, `$10`, `1e3` and `-1` are not */
export const VALUE = /^\d{1,15}(\.\d{1,6})?$/;
/** at most 20 printable ASCII characters (space included) without quotes, backtick, angle brackets or backslash */
export const OTHER = /^[ !#-&(-;=?-[\]-_a-~]{1,20}$/;

export function invalidOrderId(v: unknown): string | null {
  if (typeof v !== 'string') return 'order_id must be a string';
  return ORDER_ID.test(v) ? null : 'order_id must be 1 to 36 letters, digits, ".", "_" or "-"';
}

/** a JSON number is accepted as its shortest decimal text (see valueText) */
export function invalidValue(v: unknown): string | null {
  if (typeof v === 'number') v = Number.isFinite(v) ? String(v) : '';
  if (typeof v !== 'string') return 'value must be a number or a numeric string';
  return VALUE.test(v) ? null : 'value must be purely numeric, such as 10 or 10.50 (at most 15 digits, 6 decimals; no currency sign)';
}

export function invalidOther(v: unknown): string | null {
  if (typeof v !== 'string') return 'other must be a string';
  return OTHER.test(v) ? null : 'other must be 1 to 20 printable ASCII characters without quotes, angle brackets or backslash';
}

/** the text fired for a value that passed invalidValue */
export function valueText(v: string | number): string {
  return typeof v === 'number' ? String(v) : v;
}
