// Structured logs: one JSON line per request and per attempt. pino escapes every string it writes, so
// user-supplied text (tokens, user agents, order ids) can never forge a log line.
import pino, { type Logger } from 'pino';

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'sspx-relay' },
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'authorization', 'key'], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
