// The auction token rules, shared by the browser script and the collector (one module, not two copies).
// Kept DOM-free. What the script imports (decodeValue, NOT_TOKEN) ships in dist/sspx.js, so it is kept tiny;
// isMacro and isToken are the collector's (which tells a token from the macro) and are left out of the bundle.

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

/** percent-decodes a landing URL's value once, as the script reads a token: `unescape` never throws (a stray `%`
 * stays, the valid escapes around it are decoded) and leaves `+` as `+`, in a few bytes where decode's try/catch costs
 * ~15 of gzip. For every value whose escapes are ASCII it agrees with decode; non-ASCII escapes (and `%uXXXX`) give
 * characters NOT_TOKEN refuses, where decode kept a broken one raw: no token holds either. */
export const decodeValue: (raw: string) => string = unescape;

/** The macro's name in any spelling the ad server or a site builder may leave unreplaced, with nothing but
 * punctuation around it: `${SSP_DATA}`, `[SSPDATA]`, `%%SSP_DATA%%`, `__SSP_DATA__`, `$SSP_DATA`, bare
 * `SSP_DATA`, `${ssp-data}`; any case, `_`, `-` or nothing between SSP and DATA. A letter or digit around it
 * makes it something else (a token never is the macro's bare name with punctuation). */
const MACRO = /^[^a-z\d]*ssp[-_]?data[^a-z\d]*$/i;

/** true for a value the ad server left unreplaced: empty, or MACRO once percent-encoding is undone to any depth.
 * Each pass collapses a run of `%25` (one per layer of encoding) and then decodes: a macro encoded any number of
 * times is decoded in one pass, and the bounded passes (linear work each) cover encodings that mix layers.
 * `unescape`, not decodeURIComponent: it leaves a stray or malformed `%` as it is instead of failing. */
export const isMacro = (value: string): boolean => {
  for (let pass = 0; pass < 4; pass++) value = unescape(value.replace(/%(25)+/g, '%'));
  return !value || MACRO.test(value);
};

/** matches what no token is: anything with a character that is not printable ASCII (whitespace, control
 * characters) or is a quote, angle bracket, backtick or backslash; or more than MAX_TOKEN_LENGTH characters
 * (past the first alternative, `.` only meets printable ones). The empty string is isMacro's to refuse. */
export const NOT_TOKEN = /[^!-~]|["'<>\\`]|.{1025}/;

/** NOT_TOKEN without its length alternative, made on first use by the collector, which checks the length first:
 * `.{1025}` is tried at every position of a short token and cost 4 % of the ingest CPU. Derived, so the rule is
 * written once; built lazily, so the browser script (which never calls isToken) carries none of it. */
let notTokenChar: RegExp | undefined;

/** true for a value NOT_TOKEN lets through (a token or an unreplaced macro), tested the collector's fast way: the
 * length first, then the characters */
export const tokenShaped = (value: string): boolean =>
  value.length <= MAX_TOKEN_LENGTH && !(notTokenChar ??= new RegExp(NOT_TOKEN.source.replace('|.{1025}', ''))).test(value);

/** true for a value we keep and fire byte for byte: 1 to MAX_TOKEN_LENGTH printable ASCII characters, no
 * quotes, angle brackets, backtick or backslash, and no macro. */
export const isToken = (value: unknown): value is string => typeof value == 'string' && tokenShaped(value) && !isMacro(value);
