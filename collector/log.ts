// Structured logs: one JSON line per request and per attempt. pino escapes quotes, backslashes and control
// characters in every string it writes; the streamWrite hook also escapes the characters that some line readers
// split on although JSON allows them raw (U+0085, U+2028, U+2029), so user-supplied text (tokens, user agents,
// order ids, paths) can never forge a log line. Keys and cookies are never logged; redact is the safety net.
import pino, { type Logger } from 'pino';

const HAS_LINE_BREAK = /[\u0085\u2028\u2029]/;
const LINE_BREAKS = /[\u0085\u2028\u2029]/g;
const escapeLineBreaks = (s: string) =>
  HAS_LINE_BREAK.test(s) ? s.replace(LINE_BREAKS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : s;

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'sspx-relay' },
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie', 'authorization', 'cookie', 'key', 'keys'],
        censor: '[redacted]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
      hooks: { streamWrite: escapeLineBreaks },
    },
    destination,
  );
}
