// The auction token rules, shared by the browser script and the collector (one module, not two copies).
// Kept DOM-free and tiny: every byte here ships in dist/sspx.js.

/** Longest token we accept. Microsoft says the length "is susceptible to change"; 1,024 leaves room.
 * NOT_TOKEN spells it out again (as `.{1025}`): a literal costs the browser script fewer bytes. */
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

/** matches what no token is: anything with a character that is not printable ASCII (whitespace, control
 * characters) or is a quote, angle bracket, backtick or backslash; or more than MAX_TOKEN_LENGTH characters
 * (past the first alternative, `.` only meets printable ones). The empty string is isMacro's to refuse. */
export const NOT_TOKEN = /[^!-~]|["'<>\\`]|.{1025}/;

/** NOT_TOKEN without its length alternative, made on first use by the collector, which checks the length first:
 * `.{1025}` is tried at every position of a short token and cost 4 % of the ingest CPU. Derived, so the rule is
 * written once; built lazily, so the browser script (which never calls isToken) carries none of it. */
let notTokenChar: RegExp | undefined;

/** true for a value we keep and fire byte for byte: 1 to MAX_TOKEN_LENGTH printable ASCII characters, no
 * quotes, angle brackets, backtick or backslash, and no macro. */
export const isToken = (value: unknown): value is string =>
  typeof value == 'string' &&
  value.length <= MAX_TOKEN_LENGTH &&
  !(notTokenChar ??= new RegExp(NOT_TOKEN.source.replace('|.{1025}', ''))).test(value) &&
  !isMacro(value);
