// The auction token rules, shared by the browser script and the collector (one module, not two copies).
// Kept DOM-free and tiny: every byte here ships in dist/sspx.js.

/** Longest token we accept. Microsoft says the length "is susceptible to change"; 1,024 leaves room. */
export const MAX_TOKEN_LENGTH = 1024;

/** Printable ASCII without quotes, angle brackets, backtick or backslash: no whitespace, no control characters. */
const TOKEN_CHARS = /^[!#-&(-;=?-[\]-_a-~]+$/;

/** `${SSP_DATA}`, `[SSPDATA]` and friends, once percent-decoding has been undone. */
const MACRO = /[{[]SSP_?DATA/i;

/** percent-decodes once; a malformed escape leaves the text as it was. `+` stays `+` (it is a token byte). */
export function decode(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** true for a value the ad server left unreplaced: a macro in any encoding, or nothing at all. */
export function isMacro(value: string): boolean {
  return !value || MACRO.test(decode(decode(value)));
}

/** true for a value we keep and fire byte for byte. */
export function isToken(value: unknown): value is string {
  return typeof value == 'string' && value.length <= MAX_TOKEN_LENGTH && TOKEN_CHARS.test(value) && !isMacro(value);
}
