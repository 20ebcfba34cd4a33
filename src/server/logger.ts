// The server's structured log: JSON lines (pino) on stdout, or on a stream a test passes in.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config.ts';

export type { Logger };

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino({ level, base: { service: 'evledger' } }, destination ?? pino.destination({ dest: 1, sync: false }));
}

/** An incoming `x-request-id` we echo and log as is: short, and only characters safe in a log or header. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's request id when it is sane, else a fresh UUID. */
export function requestIdFor(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}

/** yoga's logger interface, on pino: an Error argument becomes pino's `err` field. */
export function yogaLogging(logger: Logger) {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (...args: unknown[]) => {
      const err = args.find((a) => a instanceof Error);
      const message = args.filter((a) => a !== err).map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
      if (err) logger[level]({ err }, message || (err as Error).message);
      else logger[level](message);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
