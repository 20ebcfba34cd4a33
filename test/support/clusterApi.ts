// Helpers for the cluster API tests (test/integration/cluster.test.ts): API nodes started in-process
// over a real NATS JetStream cluster, their /readyz and /metrics, mutations reduced to what the test
// keeps of them (acknowledged at a sequence, or refused with a code), the log read back through the
// `events` query, and waits for a replica to reach a sequence.
import { spawn } from 'node:child_process';
import { connect as connectTcp, createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { expect } from 'vitest';
import type { ClusterStatus } from '../../src/cluster/clusterNode.ts';
import type { Config } from '../../src/server/config.ts';
import {
  AccountsDocument,
  DepositDocument,
  EventsDocument,
  OpenAccountDocument,
  TransferDocument,
  WithdrawDocument,
  type AccountFieldsFragment,
  type EventFieldsFragment,
} from '../generated/graphql.ts';
import { freePort } from '../../src/cluster/localNats.ts';
import { tempDir } from './tempStore.ts';
import { startTServer, type TServer } from './testServer.ts';

/** Every node a test started, so that afterEach stops what a failing test left running. */
export class Nodes {
  private readonly running = new Set<TServer>();

  /** An API node of the cluster on `urls`, in a temp dir of its own unless `dataDir` is given. */
  async start(urls: string, stream: string, nodeId: string, config: Partial<Config> = {}): Promise<TServer> {
    const server = await startTServer({ ...config, cluster: { urls, stream, replicas: 3, nodeId } });
    this.running.add(server);
    return server;
  }

  async stop(server: TServer): Promise<void> {
    if (!this.running.delete(server)) return;
    await server.stop();
  }

  async stopAll(): Promise<void> {
    const all = [...this.running];
    this.running.clear();
    // Followers first, then the writer: nobody is left forwarding to a writer that went away.
    const writerLast = all.sort((a, b) => Number(a.app.cluster?.status.role === 'writer') - Number(b.app.cluster?.status.role === 'writer'));
    for (const server of writerLast) await server.stop().catch((err) => console.error('stopping a node failed:', err));
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns something other than undefined; fails after `timeoutMs` with `what`. */
export async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export const statusOf = (server: TServer): ClusterStatus => {
  const cluster = server.app.cluster;
  if (!cluster) throw new Error(`${server.url} is not a cluster node`);
  return cluster.status;
};

export async function waitForWriter(server: TServer, timeoutMs = 15_000): Promise<void> {
  await until(`${statusOf(server).nodeId} to become the writer`, () => (statusOf(server).role === 'writer' ? true : undefined), timeoutMs);
}

/** Until every node has applied the same log position and head as the first (the writer, say). */
export async function converged(servers: readonly TServer[], timeoutMs = 15_000): Promise<{ head: number; position: number }> {
  return until(
    'the nodes to converge',
    () => {
      const [first, ...rest] = servers.map((s) => ({ head: s.app.store.head, position: s.app.store.logPosition }));
      return rest.every((r) => r.head === first!.head && r.position === first!.position) ? first : undefined;
    },
    timeoutMs,
  );
}

export interface Readyz {
  readonly status: number;
  readonly body: { status: string; reason?: string; head: number; cluster?: ClusterStatus };
}

export async function readyz(server: TServer): Promise<Readyz> {
  const res = await fetch(`${server.url}/readyz`);
  return { status: res.status, body: (await res.json()) as Readyz['body'] };
}

export async function scrape(server: TServer): Promise<string> {
  const res = await fetch(`${server.url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** The value of one sample line (`name value`), or undefined when absent. */
export function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** A TCP port on loopback that nothing listens on (it did a moment ago: ours, closed). */
export const deadPort = freePort;

// --- mutations as outcomes -------------------------------------------------------------------------

export type Op =
  | { readonly type: 'open'; readonly accountId: string; readonly initialBalance: number }
  | { readonly type: 'deposit'; readonly accountId: string; readonly amount: number; readonly transactionId: string }
  | { readonly type: 'withdraw'; readonly accountId: string; readonly amount: number; readonly transactionId: string }
  | { readonly type: 'transfer'; readonly from: string; readonly to: string; readonly amount: number; readonly transactionId: string };

export type Outcome =
  /** Appended at `sequence` (or, replayed, the original result of an earlier identical command). */
  | { readonly kind: 'acked'; readonly sequence: number; readonly replayed: boolean; readonly payload?: Record<string, unknown> }
  /** Refused by the rules: the typed error's __typename and code, and the rest of its fields. */
  | { readonly kind: 'refused'; readonly typename: string; readonly code: string; readonly fields: Record<string, unknown> }
  /** A GraphQL or HTTP error: no answer about the command. */
  | { readonly kind: 'failed'; readonly status: number; readonly errors: unknown };

type Payload = { __typename: string; sequence?: number; replayed?: boolean; code?: string } & Record<string, unknown>;

function outcomeOf(status: number, payload: Payload | undefined | null, errors: unknown): Outcome {
  if (!payload) return { kind: 'failed', status, errors };
  // The payload (event, accounts) is kept out of sight of toEqual on outcomes: `withPayload` reads it.
  if (payload.__typename.endsWith('Success')) {
    const outcome = { kind: 'acked' as const, sequence: payload.sequence!, replayed: payload.replayed! };
    Object.defineProperty(outcome, 'payload', { value: payload, enumerable: false });
    return outcome;
  }
  const { __typename, code, ...fields } = payload;
  return { kind: 'refused', typename: __typename, code: code!, fields };
}

/** Sends one op as its mutation to `server`. */
export async function send(server: TServer, op: Op): Promise<Outcome> {
  switch (op.type) {
    case 'open': {
      const r = await server.request(OpenAccountDocument, { input: { accountId: op.accountId, currency: 'EUR', initialBalance: op.initialBalance } });
      return outcomeOf(r.status, r.data?.openAccount as Payload | undefined, r.errors);
    }
    case 'deposit': {
      const r = await server.request(DepositDocument, { input: { accountId: op.accountId, amount: op.amount, transactionId: op.transactionId } });
      return outcomeOf(r.status, r.data?.deposit as Payload | undefined, r.errors);
    }
    case 'withdraw': {
      const r = await server.request(WithdrawDocument, { input: { accountId: op.accountId, amount: op.amount, transactionId: op.transactionId } });
      return outcomeOf(r.status, r.data?.withdraw as Payload | undefined, r.errors);
    }
    case 'transfer': {
      const r = await server.request(TransferDocument, { input: { fromAccountId: op.from, toAccountId: op.to, amount: op.amount, transactionId: op.transactionId } });
      return outcomeOf(r.status, r.data?.transfer as Payload | undefined, r.errors);
    }
  }
}

/** Account balances after the acknowledged ops, applied in the order of their sequences (not read from any node). */
export function foldAcked(acked: readonly { op: Op; sequence: number }[]): Map<string, number> {
  const balances = new Map<string, number>();
  const add = (id: string, change: number) => balances.set(id, (balances.get(id) ?? 0) + change);
  for (const { op } of [...acked].sort((a, b) => a.sequence - b.sequence)) {
    if (op.type === 'open') balances.set(op.accountId, op.initialBalance);
    else if (op.type === 'deposit') add(op.accountId, op.amount);
    else if (op.type === 'withdraw') add(op.accountId, -op.amount);
    else {
      add(op.from, -op.amount);
      add(op.to, op.amount);
    }
  }
  return balances;
}

// --- reads -------------------------------------------------------------------------------------------

/** Every event after `after`, through the `events` query of `server`, in order. */
export async function eventsOf(server: TServer, after = 0): Promise<EventFieldsFragment[]> {
  const out: EventFieldsFragment[] = [];
  let cursor: string | null | undefined;
  for (;;) {
    const page = (await server.data(EventsDocument, { afterSequence: after, first: 1000, after: cursor })).events;
    for (const { node } of page.edges) out.push(node);
    if (!page.pageInfo.hasNextPage) return out;
    cursor = page.pageInfo.endCursor;
  }
}

/** Every account, through the `accounts` query of `server`, by id. */
export async function accountsOf(server: TServer): Promise<Map<string, AccountFieldsFragment>> {
  const out = new Map<string, AccountFieldsFragment>();
  let cursor: string | null | undefined;
  for (;;) {
    const page = (await server.data(AccountsDocument, { first: 1000, after: cursor })).accounts;
    for (const { node } of page.edges) out.set(node.id, node);
    if (!page.pageInfo.hasNextPage) return out;
    cursor = page.pageInfo.endCursor;
  }
}

/** The log's blocks (committed batches) of a node's store, as bytes. */
export async function blocksOf(server: TServer): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const { block } of server.app.store.readBlocks(1)) out.push(Buffer.from(block));
  return out;
}

/** A data dir of the caller's (startTServer leaves it in place), removed by `remove`. */
export const ownDir = (prefix: string) => tempDir(prefix);

/** A TCP server on loopback that accepts connections and never says a word (a hung NATS server). */
export async function silentServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `nats://127.0.0.1:${address.port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A single nats-server without JetStream, on a free loopback port; resolves once it accepts connections. */
export async function plainNats(binary: string): Promise<{ url: string; close: () => Promise<void> }> {
  const port = await deadPort();
  const child = spawn(binary, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  await until(`a plain nats-server on ${port}`, async () => ((await accepts(port)) ? true : undefined), 10_000).catch(async (err) => {
    await close();
    throw err;
  });
  return { url: `nats://127.0.0.1:${port}`, close };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
