// Helpers for the API tests: narrowing a result union to the member a test expects, the head of the
// log, raw POSTs for bodies a typed client cannot produce, and a small seeded PRNG.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type ExecutionResult } from 'graphql';
import { expect } from 'vitest';
import { HeadDocument } from '../generated/graphql.ts';
import type { TServer } from './testServer.ts';

/** The union member named `typename`, failing the test with the whole value otherwise. */
export function as<T extends { __typename: string }, N extends T['__typename']>(value: T, typename: N): Extract<T, { __typename: N }> {
  expect(value.__typename, `expected ${typename}, got ${JSON.stringify(value)}`).toBe(typename);
  return value as Extract<T, { __typename: N }>;
}

export async function headOf(server: TServer): Promise<number> {
  return (await server.data(HeadDocument)).ledger.head;
}

/** Runs `fn` and checks that the log head is where it was before. Returns what `fn` returned. */
export async function expectHeadUnmoved<R>(server: TServer, fn: () => Promise<R>): Promise<R> {
  const before = await headOf(server);
  const result = await fn();
  expect(await headOf(server), 'the log head moved').toBe(before);
  return result;
}

export interface RawResponse {
  status: number;
  contentType: string | null;
  text: string;
  json: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] } | null;
}

/** POSTs a body exactly as given (for JSON a typed client cannot write, like 9007199254740993). */
export async function postRaw(url: string, body: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body,
  });
  const text = await res.text();
  let json: RawResponse['json'] = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, contentType: res.headers.get('content-type'), text, json };
}

/** mulberry32: a tiny deterministic PRNG, so a failing random history can be replayed from its seed. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    chance: (p: number) => next() < p,
  };
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A typed GraphQL client for any server URL (an app assembled by hand with buildApp, say). */
export function clientFor(graphqlUrl: string) {
  return {
    async data<R, V>(document: TypedDocumentNode<R, V>, variables?: V): Promise<R> {
      const res = await fetch(graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
        body: JSON.stringify({ query: print(document), variables }),
      });
      const result = (await res.json()) as ExecutionResult<R>;
      if (result.errors?.length || !result.data) throw new Error(`GraphQL errors (HTTP ${res.status}): ${JSON.stringify(result.errors)}`);
      return result.data;
    },
  };
}
