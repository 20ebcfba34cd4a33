// Subscription test clients over both transports: graphql-ws (one WebSocket carrying many operations)
// and SSE (yoga's `event: next` / `data:` stream over fetch, GET or POST). Both collect what arrives,
// with its arrival time, and offer waits with timeouts that fail with what did arrive. `rawSocket`
// speaks graphql-transport-ws by hand, for what a well-behaved client never does (stall, skip init).
import { performance } from 'node:perf_hooks';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type GraphQLFormattedError } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export type Transport = 'ws' | 'sse';
export const TRANSPORTS: readonly Transport[] = ['ws', 'sse'];

/** One `next` message as the client received it. */
export interface Message<R> {
  readonly data?: R | null;
  readonly errors?: readonly GraphQLFormattedError[];
  readonly extensions?: Record<string, unknown>;
}

/** What one subscription received, and waits on it. */
export class Collected<R> {
  readonly messages: Message<R>[] = [];
  /** performance.now() at each message's arrival. */
  readonly arrivals: number[] = [];
  /** Null while open; `{}` when completed; `{ error }` when ended by an error (GraphQL errors or a transport failure). */
  ended: { error?: unknown } | null = null;
  private readonly waiters = new Set<() => void>();

  constructor(readonly label: string) {}

  /** The data of every message, failing on a message without data. */
  get data(): R[] {
    return this.messages.map((m, i) => {
      if (m.data == null) throw new Error(`${this.label}: message ${i} has no data: ${JSON.stringify(m)}`);
      return m.data;
    });
  }

  /** Every GraphQL error received: in messages, and the one the stream ended with. */
  get errors(): GraphQLFormattedError[] {
    const errors = this.messages.flatMap((m) => m.errors ?? []);
    const end = this.ended?.error;
    if (Array.isArray(end)) errors.push(...(end as GraphQLFormattedError[]));
    return errors;
  }

  push(message: Message<R>): void {
    this.messages.push(message);
    this.arrivals.push(performance.now());
    this.notify();
  }

  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = error === undefined ? {} : { error };
    this.notify();
  }

  /** Resolves once `predicate` holds; fails after `timeoutMs`, or if the stream ends first. */
  until(what: string, predicate: (c: this) => boolean, timeoutMs = 10_000): Promise<this> {
    return new Promise((resolve, reject) => {
      const check = () => {
        let ok: boolean;
        try {
          ok = predicate(this);
        } catch (err) {
          return finish(err);
        }
        if (ok) return finish();
        if (this.ended) finish(new Error(`${this.label}: ended (${describeEnd(this.ended)}) before ${what}; ${this.summary()}`));
      };
      const timer = setTimeout(() => finish(new Error(`${this.label}: timed out after ${timeoutMs} ms waiting for ${what}; ${this.summary()}`)), timeoutMs);
      const finish = (err?: unknown) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve(this);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** At least `n` messages. */
  waitFor(n: number, timeoutMs?: number): Promise<this> {
    return this.until(`${n} messages`, (c) => c.messages.length >= n, timeoutMs);
  }

  /** Collects messages until `predicate` holds for the latest one; returns all messages so far. */
  async collectUntil(what: string, predicate: (latest: Message<R>) => boolean, timeoutMs?: number): Promise<Message<R>[]> {
    await this.until(what, (c) => c.messages.length > 0 && predicate(c.messages[c.messages.length - 1]!), timeoutMs);
    return this.messages;
  }

  /** The stream ended (completed or failed). */
  completed(timeoutMs?: number): Promise<this> {
    return this.until('the end of the stream', (c) => c.ended !== null, timeoutMs);
  }

  summary(): string {
    const last = this.messages.slice(-3).map((m) => JSON.stringify(m).slice(0, 400));
    return `${this.messages.length} messages so far${last.length ? `, the last: ${last.join(' | ')}` : ''}`;
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

function describeEnd(ended: { error?: unknown }): string {
  if (!('error' in ended)) return 'completed';
  const e = ended.error;
  if (e instanceof Error) return e.message;
  if (e && typeof e === 'object' && 'code' in e) return `closed ${(e as { code: number }).code} ${(e as { reason?: string }).reason ?? ''}`;
  return JSON.stringify(e);
}

export interface Subscription<R> extends Collected<R> {
  /** Stops the subscription (the stream ends as completed). */
  close(): Promise<void>;
}

export interface SubscribeOptions {
  /** SSE only: GET (query in the URL) or POST (JSON body). @default the client's */
  readonly method?: 'GET' | 'POST';
  readonly label?: string;
}

export interface SubscriptionClient {
  readonly transport: Transport;
  subscribe<R, V>(document: TypedDocumentNode<R, V>, variables?: V, options?: SubscribeOptions): Subscription<R>;
  /** Ends every subscription of this client and its connection(s). */
  close(): Promise<void>;
}

let labels = 0;

/** A graphql-ws client: one WebSocket (opened on the first subscribe) for all its subscriptions. */
export function wsClient(graphqlUrl: string): SubscriptionClient & { readonly client: Client } {
  const client = createClient({ url: graphqlUrl.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  const open = new Set<Subscription<unknown>>();
  return {
    transport: 'ws',
    client,
    subscribe<R, V>(document: TypedDocumentNode<R, V>, variables?: V, options: SubscribeOptions = {}): Subscription<R> {
      const sub = new Collected<R>(options.label ?? `ws#${++labels}`) as Subscription<R>;
      const unsubscribe = client.subscribe<R>(
        { query: print(document), variables: (variables ?? {}) as Record<string, unknown> },
        { next: (m) => sub.push(m as Message<R>), error: (err) => sub.end(err), complete: () => sub.end() },
      );
      sub.close = async () => {
        unsubscribe();
        sub.end();
        open.delete(sub as Subscription<unknown>);
      };
      open.add(sub as Subscription<unknown>);
      return sub;
    },
    async close() {
      for (const sub of [...open]) await sub.close();
      await client.dispose();
    },
  };
}

/** An SSE client: one streaming HTTP request per subscription, `accept: text/event-stream`. */
export function sseClient(graphqlUrl: string, defaults: { method?: 'GET' | 'POST' } = {}): SubscriptionClient {
  const open = new Set<Subscription<unknown>>();
  return {
    transport: 'sse',
    subscribe<R, V>(document: TypedDocumentNode<R, V>, variables?: V, options: SubscribeOptions = {}): Subscription<R> {
      const method = options.method ?? defaults.method ?? 'POST';
      const sub = new Collected<R>(options.label ?? `sse-${method}#${++labels}`) as Subscription<R>;
      const abort = new AbortController();
      const query = print(document);
      const reading = (async () => {
        const res =
          method === 'GET'
            ? await fetch(`${graphqlUrl}?${new URLSearchParams({ query, variables: JSON.stringify(variables ?? {}) })}`, { headers: { accept: 'text/event-stream' }, signal: abort.signal })
            : await fetch(graphqlUrl, {
                method: 'POST',
                headers: { accept: 'text/event-stream', 'content-type': 'application/json' },
                body: JSON.stringify({ query, variables: variables ?? {} }),
                signal: abort.signal,
              });
        // yoga answers some request errors (bad variables) with a 4xx status and the errors as SSE events.
        if (!res.headers.get('content-type')?.startsWith('text/event-stream')) {
          throw new Error(`SSE request failed: HTTP ${res.status} ${res.headers.get('content-type')}: ${await res.text()}`);
        }
        for await (const { event, data } of sseEvents(res.body as unknown as AsyncIterable<Uint8Array>)) {
          if (event === 'next') sub.push(JSON.parse(data) as Message<R>);
          else if (event === 'complete') return sub.end();
          // anything else is a keep-alive comment
        }
        sub.end(new Error('the SSE stream closed without `event: complete`'));
      })().catch((err) => sub.end(abort.signal.aborted ? undefined : err));
      sub.close = async () => {
        sub.end();
        abort.abort();
        await reading;
        open.delete(sub as Subscription<unknown>);
      };
      open.add(sub as Subscription<unknown>);
      return sub;
    },
    async close() {
      await Promise.all([...open].map((sub) => sub.close()));
    },
  };
}

/** The events of an SSE body as they arrive. */
export async function* sseEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<{ event: string | null; data: string }> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      yield parseEvent(block);
    }
  }
}

/** One SSE event block: `event:` and the `data:` lines (joined by newlines); `:` lines are comments. */
function parseEvent(block: string): { event: string | null; data: string } {
  let event: string | null = null;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  return { event, data: data.join('\n') };
}

export function clientFor(transport: Transport, graphqlUrl: string): SubscriptionClient {
  return transport === 'ws' ? wsClient(graphqlUrl) : sseClient(graphqlUrl);
}

// --- graphql-transport-ws by hand ---------------------------------------------------------------------

export interface RawSocket {
  readonly ws: WebSocket;
  /** Every protocol message received, parsed. */
  readonly received: { type: string; id?: string; payload?: unknown }[];
  /** Pings (WebSocket control frames) received. */
  readonly pings: number[];
  /** Resolves with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  send(message: Record<string, unknown>): void;
  /** connection_init, then waits for connection_ack. */
  init(timeoutMs?: number): Promise<void>;
  subscribe<R, V>(id: string, document: TypedDocumentNode<R, V>, variables?: V): void;
  /** Stops reading from the TCP socket: the server's writes back up into the kernel and then into it. */
  pause(): void;
  /** Resolves when a received message satisfies `predicate`. */
  waitFor(what: string, predicate: (m: { type: string; id?: string; payload?: unknown }) => boolean, timeoutMs?: number): Promise<void>;
  terminate(): void;
}

export async function rawSocket(graphqlUrl: string): Promise<RawSocket> {
  const ws = new WebSocket(graphqlUrl.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const received: RawSocket['received'] = [];
  const pings: number[] = [];
  const listeners = new Set<() => void>();
  ws.on('message', (data) => {
    received.push(JSON.parse(String(data)));
    for (const l of [...listeners]) l();
  });
  ws.on('ping', () => pings.push(performance.now()));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  ws.on('error', () => {}); // surfaces as 'close'
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const waitFor: RawSocket['waitFor'] = (what, predicate, timeoutMs = 10_000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (received.some(predicate)) {
          listeners.delete(check);
          clearTimeout(timer);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`raw socket: timed out waiting for ${what}; received ${JSON.stringify(received.slice(-3))}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });
  const send = (message: Record<string, unknown>) => ws.send(JSON.stringify(message));
  return {
    ws,
    received,
    pings,
    closed,
    send,
    async init(timeoutMs) {
      send({ type: 'connection_init' });
      await waitFor('connection_ack', (m) => m.type === 'connection_ack', timeoutMs);
    },
    subscribe(id, document, variables) {
      send({ id, type: 'subscribe', payload: { query: print(document), variables: variables ?? {} } });
    },
    pause() {
      (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    },
    waitFor,
    terminate: () => ws.terminate(),
  };
}
