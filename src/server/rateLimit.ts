// Per-client rate limit for mutations: a token bucket per client address, refilled at `perSecond`
// with bursts of twice that. Over the limit a mutation is refused before it runs, with HTTP 429,
// a Retry-After header and `extensions.retryAfterMs` — on graphql-ws too (same envelop plugin).
import type { IncomingMessage } from 'node:http';
import type { Plugin } from '@envelop/core';
import { GraphQLError, getOperationAST } from 'graphql';

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets kept before idle (full) ones are dropped. */
const MAX_TRACKED_CLIENTS = 10_000;

export function mutationRateLimit(perSecond: number): Plugin {
  const burst = perSecond * 2;
  const buckets = new Map<string, Bucket>();
  const take = (client: string, now: number): number => {
    const bucket = buckets.get(client) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    buckets.set(client, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) / perSecond) * 1000);
  };
  const prune = (now: number) => {
    if (buckets.size <= MAX_TRACKED_CLIENTS) return;
    for (const [client, b] of buckets) if (b.tokens + ((now - b.at) / 1000) * perSecond >= burst) buckets.delete(client);
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      if (perSecond <= 0 || getOperationAST(args.document, args.operationName)?.operation !== 'mutation') return;
      const now = Date.now();
      const retryAfterMs = take(clientOf(args.contextValue as { req?: IncomingMessage }), now);
      prune(now);
      if (retryAfterMs === 0) return;
      setResultAndStopExecution({
        errors: [
          new GraphQLError(`Too many mutations from this client (limit ${perSecond}/s); retry in ${retryAfterMs} ms.`, {
            extensions: {
              code: 'RATE_LIMITED',
              retryAfterMs,
              http: { status: 429, headers: { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) } },
            },
          }),
        ],
      });
    },
  };
}

/** The client's address (HTTP request or WebSocket upgrade request). */
const clientOf = (context: { req?: IncomingMessage }): string => context.req?.socket?.remoteAddress ?? 'unknown';
