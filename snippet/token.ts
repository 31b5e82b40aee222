// The auction token rules, shared by the browser script and the collector (one module, not two copies).
// Kept DOM-free and tiny: every byte here ships in dist/sspx.js.

/** Longest token we accept. Microsoft says the length "is susceptible to change"; 1,024 leaves room. */
export const MAX_TOKEN_LENGTH = 1024;

/** percent-decodes once; a malformed escape leaves the text as it was. `+` stays `+` (it is a token byte). */
export const decode = (raw: string): string => {
  try {
    raw = decodeURIComponent(raw);
  } catch {}
  return raw;
};

/** true for a value the ad server left unreplaced: a macro in any encoding (`${SSP_DATA}`, `[SSPDATA]` and
 * friends, once percent-decoding has been undone), or nothing at all. */
export const isMacro = (value: string): boolean => !value || /[{[]SSP_?DATA/i.test(decode(decode(value)));

/** isToken for a value known to be a string: at most MAX_TOKEN_LENGTH characters, all printable ASCII but
 * quotes, angle brackets, backtick and backslash (so no whitespace, no control characters), and no macro
 * (which also rules out the empty string). */
export const isTokenText = (value: string): boolean =>
  !/[^!-~]|["'<>\\`]/.test(value) && !value[MAX_TOKEN_LENGTH] && !isMacro(value);

/** true for a value we keep and fire byte for byte. */
export const isToken = (value: unknown): value is string => typeof value == 'string' && isTokenText(value);
