// Slow subscribers (issue 4, "When subscribers are slow"). In process, on a real store, with a LiveHub
// whose queue holds 5 messages: accountUpdates / events subscribers that overflow fall back to the log
// and still get every message exactly once, in order; ledgerUpdates coalesces into fewer messages that
// still add up to the log; one that stays behind past maxBehindMs is stopped with SUBSCRIBER_TOO_SLOW
// and the sequence to resume from, and resuming there loses and repeats nothing. Against a real server:
// a client that stops reading slows neither the writer nor the other subscribers, and its queues stay
// bounded; and the graphql-ws connection hygiene (init timeout, subscription cap, keepalive pings).
import { performance } from 'node:perf_hooks';
import { subscribe as graphqlSubscribe, type ExecutionResult } from 'graphql';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RecordedEvent } from '../../src/domain/events.ts';
import { UNRESTRICTED } from '../../src/graphql/access.ts';
import type { Context } from '../../src/graphql/builder.ts';
import { schema } from '../../src/graphql/schema.ts';
import { sharedSubscribe } from '../../src/graphql/sharedSubscriptions.ts';
import { LiveHub } from '../../src/live/liveHub.ts';
import { DEFAULT_LIVE_OPTIONS, LiveSubscription, SubscriptionTooSlow, type LiveOptions } from '../../src/live/liveSubscription.ts';
import { accountUpdatesTopic, eventsTopic, ledgerUpdatesTopic, type AccountUpdate, type Item, type LedgerUpdate } from '../../src/live/topics.ts';
import { PointInTime } from '../../src/projection/pointInTime.ts';
import { MAX_SUBSCRIPTIONS_PER_CONNECTION } from '../../src/server/app.ts';
import type { LedgerStore } from '../../src/store/ledgerStore.ts';
import { AccountUpdatesSubDocument, EventsSubDocument, LedgerUpdatesSubDocument, type AccountUpdatesSubSubscription } from '../generated/graphql.ts';
import {
  accountsOf,
  expectedAccountUpdates,
  expectedEvents,
  ledgerUpdateOver,
  readTruth,
  receivedAccountUpdate,
  type AccountUpdateShape,
  type EventShape,
  type LedgerUpdateShape,
  type Truth,
} from '../support/ledgerTruth.ts';
import { commit, deposit, open, sleep, startWriters, transfer, viaStore } from '../support/liveWorkload.ts';
import { rawSocket, sseClient, wsClient, type RawSocket } from '../support/subscriptionClients.ts';
import { tempStore } from '../support/tempStore.ts';
import { startTServer, type TServer } from '../support/testServer.ts';

const SMALL: LiveOptions = { queueLimit: 5, maxBehindMs: 60_000, maxCoalescedAccounts: 100_000 };

// --- pulling slowly --------------------------------------------------------------------------------------

/** Pulls a subscription slowly in the background, noting the longest queue it saw. */
class SlowPuller<P> {
  readonly items: Item<P>[] = [];
  maxQueue = 0;
  error: unknown = null;
  private enough: (items: Item<P>[]) => boolean = () => false;
  private readonly done: Promise<void>;

  constructor(
    readonly sub: LiveSubscription<P>,
    pauseMs: number,
  ) {
    this.done = (async () => {
      while (!this.enough(this.items)) {
        let r: IteratorResult<Item<P>>;
        try {
          r = await sub.next();
        } catch (err) {
          this.error = err;
          return;
        }
        if (r.done) return;
        this.items.push(r.value);
        this.maxQueue = Math.max(this.maxQueue, queueOf(sub));
        await sleep(pauseMs);
      }
    })();
  }

  /** Pulls until `count` messages, or the one that ends at `sequence` (or `timeoutMs`), then ends the subscription. */
  async finish(until: { count: number } | { sequence: number }, timeoutMs = 20_000): Promise<Item<P>[]> {
    this.enough = 'count' in until ? (items) => items.length >= until.count : (items) => (items[items.length - 1]?.sequence ?? 0) >= until.sequence;
    if (!this.enough(this.items)) await Promise.race([this.done, sleep(timeoutMs)]);
    await this.sub.return();
    await this.done;
    return this.items;
  }
}

/** The topic, counting its log reads: the first catch-up (with afterSequence) and each fallback. */
function counted<T extends { readLog: (after: number, to: number) => AsyncIterable<unknown> }>(topic: T): T & { reads: number } {
  const out = { ...topic, reads: 0 };
  out.readLog = (after, to) => {
    out.reads++;
    return topic.readLog(after, to);
  };
  return out as T & { reads: number };
}

const queueOf = (sub: LiveSubscription<unknown>) => (sub as unknown as { queue: unknown[] }).queue.length;

/**
 * Takes messages from an iterator as they come: `take(n)` waits for up to `n`, stopping early when none
 * comes within `idleMs`. A next() still pending then is kept for the following take, not abandoned
 * (an abandoned one would swallow the message it resolves with).
 */
function reader<P>(iterator: AsyncIterator<P>) {
  let pending: Promise<IteratorResult<P>> | null = null;
  return {
    async take(n: number, idleMs = 2_000): Promise<P[]> {
      const out: P[] = [];
      while (out.length < n) {
        pending ??= iterator.next();
        const r = await Promise.race([pending, sleep(idleMs).then(() => 'idle' as const)]);
        if (r === 'idle') break;
        pending = null;
        if (r.done) break;
        out.push(r.value);
      }
      return out;
    },
    /** The next result (the pending one, if any). */
    next(): Promise<IteratorResult<P>> {
      const p = pending ?? iterator.next();
      pending = null;
      return p;
    },
  };
}

const accountShape = (u: AccountUpdate): AccountUpdateShape => ({ sequence: u.sequence, accountId: u.accountId, change: u.change, balance: u.balance, version: u.version, status: u.status, type: u.event.type });
const eventShape = (e: RecordedEvent): EventShape => ({ sequence: e.sequence, type: e.type, accountIds: accountsOf(e), id: e.id });
const ledgerShape = (u: LedgerUpdate): LedgerUpdateShape => ({
  fromSequence: u.fromSequence,
  toSequence: u.toSequence,
  accounts: u.accounts.map((a) => ({ accountId: a.accountId, change: a.change, balance: a.balance, version: a.version, status: a.status })).sort((x, y) => x.accountId.localeCompare(y.accountId)),
  totals: [...u.totals].map((t) => ({ currency: t.currency, balance: t.balance, accounts: t.accounts })).sort((x, y) => x.currency.localeCompare(y.currency)),
  accountCount: u.accountCount,
});

/**
 * ledgerUpdates received after `after` against the log: back to back from the first batch after it,
 * each message exactly the log over its range (net changes, balances, totals), and `batches` right.
 */
function expectTiles(updates: readonly LedgerUpdate[], truth: Truth, after: number, label: string): void {
  const batches = truth.batches.filter((b) => b.to > after);
  let next = Math.max(batches[0]!.from, after + 1);
  for (const u of updates) {
    expect(ledgerShape(u), `${label}: ${u.fromSequence}..${u.toSequence}`).toEqual(ledgerUpdateOver(truth, next, u.toSequence));
    expect(u.batches, label).toBe(batches.filter((b) => b.to >= u.fromSequence && b.to <= u.toSequence).length);
    next = u.toSequence + 1;
  }
  expect(next - 1, `${label}: received up to`).toBe(truth.head);
}

describe('slow subscribers in process (LiveHub, queueLimit 5)', () => {
  let store: LedgerStore;
  let cleanup: () => Promise<void>;
  const ids = ['a', 'b', 'c', 'd', 'e'];
  beforeEach(async () => {
    ({ store, cleanup } = await tempStore({ durability: 'none' }));
    await commit(store, ids.map((id) => open(id, 1_000)));
  });
  afterEach(async () => {
    await cleanup();
  });

  it('(b) accountUpdates and events subscribers that overflow fall back to the log: every message exactly once, in order', async () => {
    const hub = new LiveHub(store, SMALL);
    const writers = startWriters([viaStore(store), viaStore(store)], 7, ids);
    await writers.reached(50);
    const live = store.head;
    const from = Math.floor(store.head / 2);
    const specs = [
      { label: 'accountUpdates [a,b,c] live', after: null, topic: counted(accountUpdatesTopic(store, new Set(['a', 'b', 'c']))), pauseMs: 2 },
      { label: 'accountUpdates [b,a] from 0', after: 0, topic: counted(accountUpdatesTopic(store, new Set(['b', 'a']))), pauseMs: 1 },
      { label: 'events [a,b] live', after: null, topic: counted(eventsTopic(store, { accountIds: new Set(['a', 'b']), types: null })), pauseMs: 2 },
      { label: `events from ${from}`, after: from, topic: counted(eventsTopic(store, { accountIds: null, types: null })), pauseMs: 1 },
      { label: 'events TRANSFERRED live', after: null, topic: counted(eventsTopic(store, { accountIds: null, types: new Set(['TRANSFERRED']) })), pauseMs: 3 },
    ];
    const pullers = specs.map((s) => new SlowPuller(hub.subscribe(s.topic as never, s.after), s.pauseMs));
    await writers.reached(250);
    await writers.stop();
    const truth = await readTruth(store);
    const expected = [
      expectedAccountUpdates(truth, ['a', 'b', 'c'], live),
      expectedAccountUpdates(truth, ['a', 'b'], 0),
      expectedEvents(truth, { accountIds: ['a', 'b'] }, live),
      expectedEvents(truth, {}, from),
      expectedEvents(truth, { types: ['TRANSFERRED'] }, live),
    ];
    for (const [i, { label, after, topic }] of specs.entries()) {
      const puller = pullers[i]!;
      const items = await puller.finish({ count: expected[i]!.length });
      const shapes = i < 2 ? items.map((it) => accountShape(it.payload as AccountUpdate)) : items.map((it) => eventShape(it.payload as RecordedEvent));
      expect(shapes, label).toEqual(expected[i]);
      expect(puller.error, label).toBeNull();
      // It did fall behind (read the log again), and its queue never held more than the limit.
      expect(topic.reads - (after === null ? 0 : 1), `${label}: fallbacks to the log`).toBeGreaterThan(0);
      expect(puller.maxQueue, label).toBeLessThanOrEqual(SMALL.queueLimit);
    }
  });

  it('(c) ledgerUpdates coalesces: fewer messages, several batches each, that still add up to the log', async () => {
    const hub = new LiveHub(store, SMALL);
    const writers = startWriters([viaStore(store), viaStore(store)], 11, ids);
    await writers.reached(30);
    const live = { after: store.head, puller: new SlowPuller(hub.subscribe(ledgerUpdatesTopic(store), null), 4) };
    const from = Math.floor(store.head / 3);
    const replay = { after: from, puller: new SlowPuller(hub.subscribe(ledgerUpdatesTopic(store), from), 4) };
    await writers.reached(300);
    await writers.stop();
    const truth = await readTruth(store);
    for (const [label, { after, puller }] of Object.entries({ live, replay })) {
      const updates = (await puller.finish({ sequence: truth.head })).map((it) => it.payload);
      expectTiles(updates, truth, after, label);
      const batches = truth.batches.filter((b) => b.to > after).length;
      expect(updates.length, `${label}: fewer messages than batches`).toBeLessThan(batches);
      expect(updates.some((u) => u.batches > 1), label).toBe(true);
      expect(puller.maxQueue, label).toBeLessThanOrEqual(SMALL.queueLimit);
    }
  });

  it('(b) a fallback between the two messages of one transfer loses neither', async () => {
    const hub = new LiveHub(store, SMALL);
    const sub = hub.subscribe(accountUpdatesTopic(store, new Set(['a', 'b'])), null);
    const start = store.head;
    const [t] = await commit(store, [transfer('a', 'b', 7)]);
    const first = await sub.next(); // the "from" side; the "to" side waits in the queue
    expect(first.value).toMatchObject({ sequence: t!.sequence, part: 0 });
    for (let i = 0; i < 3; i++) await commit(store, [deposit('a', 1), deposit('b', 1)]); // 1 + 6 queued: over the limit
    const rest = await reader(sub).take(7);
    const truth = await readTruth(store);
    expect([first.value!, ...rest].map((it) => accountShape(it.payload))).toEqual(expectedAccountUpdates(truth, ['a', 'b'], start));
    await sub.return();
  });

  it('(c) ledgerUpdates in a shared fan-out group coalesces without counting a batch twice', async () => {
    const hub = new LiveHub(store, SMALL);
    // Preparation (execution, in the server) is asynchronous: batches are in flight to the group as members join.
    const prepare = async () => {
      await sleep(3);
      return 'prepared';
    };
    const writers = startWriters([viaStore(store), viaStore(store)], 13, ids);
    await writers.reached(20);
    const first = { after: store.head as number, puller: new SlowPuller(hub.subscribeShared('ledger', ledgerUpdatesTopic(store), null, prepare), 1) };
    const members = [first];
    for (const n of [60, 100, 140]) {
      await writers.reached(n);
      const after = n === 100 ? Math.floor(store.head / 2) : null;
      members.push({ after: after ?? store.head, puller: new SlowPuller(hub.subscribeShared('ledger', ledgerUpdatesTopic(store), after, prepare), 4) });
    }
    await writers.reached(260);
    await writers.stop();
    const truth = await readTruth(store);
    for (const [i, { after, puller }] of members.entries()) {
      const updates = (await puller.finish({ sequence: truth.head })).map((it) => it.payload);
      expectTiles(updates, truth, after, `member ${i} after ${after}`);
      expect(puller.maxQueue).toBeLessThanOrEqual(SMALL.queueLimit);
    }
    expect(members.slice(1).some((m) => m.puller.items.some((it) => it.payload.batches > 1))).toBe(true);
  });

  it('(d) a subscriber behind for longer than maxBehindMs is stopped with the sequence to resume from; resuming there loses and repeats nothing', async () => {
    const options = { ...SMALL, maxBehindMs: 200 };
    const hub = new LiveHub(store, options);
    const topic = () => accountUpdatesTopic(store, new Set(['a', 'b']));
    const start = store.head;
    const sub = hub.subscribe(topic(), start);
    await commit(store, [deposit('a', 1)]);
    await commit(store, [transfer('a', 'b', 5)]);
    // Take up to the "from" side of the transfer, then stop reading while the writer goes on.
    const read = reader(sub);
    const taken = await read.take(2);
    expect(taken.map((it) => it.part)).toEqual([0, 0]);
    const t0 = performance.now();
    while (performance.now() - t0 < options.maxBehindMs * 2) {
      await commit(store, [transfer('b', 'a', 1), deposit('b', 1)]);
      await sleep(5);
    }
    // Still behind (the queue overflowed again) past maxBehindMs: what it has, then the error.
    let failure: unknown = null;
    try {
      for (;;) {
        const r = await read.next();
        if (r.done) break;
        taken.push(r.value);
      }
    } catch (err) {
      failure = err;
    }
    expect(failure).toBeInstanceOf(SubscriptionTooSlow);
    const resume = (failure as SubscriptionTooSlow).resumeAfterSequence;
    expect((failure as SubscriptionTooSlow).code).toBe('SUBSCRIBER_TOO_SLOW');
    expect(await sub.next()).toEqual({ done: true, value: undefined }); // completed
    expect(resume).toBe(taken[taken.length - 1]!.sequence);

    for (let i = 0; i < 5; i++) await commit(store, [transfer('a', 'b', 1)]);
    const truth = await readTruth(store);
    const expected = expectedAccountUpdates(truth, ['a', 'b'], start);
    const again = hub.subscribe(topic(), resume);
    const rest = await reader(again).take(expected.length - taken.length);
    await again.return();
    expect([...taken, ...rest].map((it) => accountShape(it.payload))).toEqual(expected);
  });

  it('(d) a ledgerUpdates subscriber that caught up is not stopped for having been behind before', async () => {
    const options = { ...SMALL, maxBehindMs: 200 };
    const hub = new LiveHub(store, options);
    const start = store.head;
    const sub = hub.subscribe(ledgerUpdatesTopic(store), null);
    const received: LedgerUpdate[] = [];
    const read = reader(sub);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 10; i++) await commit(store, [deposit('a', 1)]); // behind: coalesced
      received.push(...(await read.take(10, 300)).map((it) => it.payload)); // and all caught up
      await sleep(options.maxBehindMs * 1.5);
    }
    await sub.return();
    expect(received.some((u) => u.batches > 1)).toBe(true);
    expectTiles(received, await readTruth(store), start, 'ledgerUpdates');
  });

  it('(d) over GraphQL (the SSE and the graphql-ws paths): the error carries SUBSCRIBER_TOO_SLOW and resumeAfterSequence, then the stream ends', async () => {
    const live = new LiveHub(store, { ...SMALL, maxBehindMs: 200 });
    const contextValue: Context = { store, pointInTime: new PointInTime(store), live, viewer: UNRESTRICTED };
    const paths = {
      sse: (variables: Record<string, unknown>) => graphqlSubscribe({ schema, document: AccountUpdatesSubDocument, variableValues: variables, contextValue }),
      ws: (variables: Record<string, unknown>) =>
        sharedSubscribe({ schema, document: AccountUpdatesSubDocument, variableValues: variables, contextValue, rootValue: { subscribe: graphqlSubscribe as never } }),
    };
    for (const [path, open] of Object.entries(paths)) {
      const start = store.head;
      const stream = (await open({ accountIds: ['a', 'b'], afterSequence: start })) as AsyncIterableIterator<ExecutionResult<AccountUpdatesSubSubscription>>;
      await commit(store, [transfer('a', 'b', 3)]);
      const read = reader(stream);
      const results = await read.take(1); // the "from" side of the transfer
      const t0 = performance.now();
      while (performance.now() - t0 < 400) {
        await commit(store, [transfer('b', 'a', 1), deposit('a', 1)]);
        await sleep(5);
      }
      results.push(...(await read.take(100_000, 500)));
      const last = results[results.length - 1]!;
      expect(last.errors?.map((e) => e.extensions), path).toEqual([{ code: 'SUBSCRIBER_TOO_SLOW', resumeAfterSequence: expect.any(Number) }]);
      expect(await read.next(), `${path}: completed after the error`).toMatchObject({ done: true });
      const resume = last.errors![0]!.extensions!.resumeAfterSequence as number;

      const again = (await open({ accountIds: ['a', 'b'], afterSequence: resume })) as AsyncIterableIterator<ExecutionResult<AccountUpdatesSubSubscription>>;
      const truth = await readTruth(store);
      const expected = expectedAccountUpdates(truth, ['a', 'b'], start);
      const before = results.slice(0, -1).map((r) => receivedAccountUpdate(r.data!.accountUpdates));
      const after = (await reader(again).take(expected.length - before.length)).map((r) => receivedAccountUpdate(r.data!.accountUpdates));
      await again.return?.();
      expect([...before, ...after], path).toEqual(expected);
    }
  });
});

// --- against a real server -------------------------------------------------------------------------------

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
};

describe('real server: a client that stops reading, and connection hygiene', () => {
  let server: TServer;
  /** Opened first, so that the keepalive ping (every 12 s) comes while the other tests run. */
  let pinged: RawSocket;
  let pingedOpenedAt: number;
  beforeAll(async () => {
    server = await startTServer({ durability: 'none' });
    pinged = await rawSocket(server.graphqlUrl);
    pingedOpenedAt = performance.now();
    await pinged.init();
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await server?.stop();
  });

  it('(a) slows neither the writer nor the other subscribers, and what the server holds for it stays bounded', async () => {
    const store = server.app.store;
    const accounts = Array.from({ length: 20 }, (_, i) => `stall-${i}`);
    await commit(store, accounts.map((id) => open(id, 100_000)));
    const committedAt = new Map<number, number>();
    const stopTiming = store.onCommit((c) => committedAt.set(c.toSequence, performance.now()));
    // The server's own subscriptions, to look at their queues (graphql-ws goes through subscribeShared).
    const shared = vi.spyOn(LiveHub.prototype, 'subscribeShared');

    const clients = [wsClient(server.graphqlUrl), wsClient(server.graphqlUrl), wsClient(server.graphqlUrl), sseClient(server.graphqlUrl)];
    const readers = clients.map((c, i) => c.subscribe(LedgerUpdatesSubDocument, {}, { label: `reader ${i} ${c.transport}` }));
    const accountReaders = clients.slice(0, 3).map((c, i) => c.subscribe(AccountUpdatesSubDocument, { accountIds: accounts.slice(i * 5, i * 5 + 5) }));
    const all = [...readers, ...accountReaders];
    for (let i = 0; all.some((r) => r.messages.length === 0); i++) {
      if (i > 500) throw new Error('the readers never heard anything');
      await commit(store, accounts.map((id) => deposit(id, 1)));
      await sleep(10);
    }

    /** Writes `batches` batches flat out; the readers' delivery latency (arrival − commit) of what they got. */
    const phase = async (batches: number, seed: number) => {
      const from = readers.map((r) => r.messages.length);
      const t0 = performance.now();
      const writers = startWriters([viaStore(store), viaStore(store)], seed, accounts);
      await writers.reached(batches);
      const sent = await writers.stop();
      const elapsed = performance.now() - t0;
      const head = store.head;
      for (const r of readers) await r.until(`ledgerUpdates up to ${head}`, (c) => c.messages[c.messages.length - 1]?.data?.ledgerUpdates.toSequence === head, 20_000);
      const latencies = readers.flatMap((r, i) =>
        r.messages.slice(from[i]).map((m, j) => r.arrivals[from[i]! + j]! - committedAt.get(m.data!.ledgerUpdates.toSequence)!),
      );
      return { perSecond: (sent / elapsed) * 1_000, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), count: latencies.length };
    };

    const BATCHES = 1_500; // more than a queue holds (DEFAULT_LIVE_OPTIONS.queueLimit)
    const baseline = await phase(BATCHES, 1);

    // The stalled client: 40 subscriptions from the start of the log, then it stops reading its socket.
    const raw = await rawSocket(server.graphqlUrl);
    await raw.init();
    const before = shared.mock.results.length;
    for (let i = 0; i < 40; i++) {
      if (i % 2) raw.subscribe(`s${i}`, EventsSubDocument, { afterSequence: 0 });
      else raw.subscribe(`s${i}`, LedgerUpdatesSubDocument, { afterSequence: 0 });
    }
    await raw.waitFor('a first message', (m) => m.type === 'next');
    raw.pause();
    await eventuallyTrue('the server has all 40', () => shared.mock.results.length - before === 40);
    const stalled = shared.mock.results.slice(before).map((r) => r.value as LiveSubscription<unknown>);
    // Wait until the server can no longer send to it: what it has delivered stops moving.
    let last = '';
    const deadline = Date.now() + 20_000;
    for (let still = 0; still < 10; ) {
      if (Date.now() > deadline) throw new Error(`the stalled client's subscriptions kept going: ${last}`);
      await sleep(50);
      const now = stalled.map((s) => s.delivered).join();
      still = now === last ? still + 1 : 0;
      last = now;
    }
    let maxQueue = 0;
    const sampling = setInterval(() => (maxQueue = Math.max(maxQueue, ...stalled.map((s) => queueOf(s)))), 2);
    const heapBefore = process.memoryUsage().heapUsed;
    const withStall = await phase(BATCHES, 2);
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    clearInterval(sampling);
    stopTiming();

    console.info(`stalled-client test: baseline ${fmt(baseline)}; with a stalled client ${fmt(withStall)}; stalled queues ≤ ${maxQueue}; heap +${(heapGrowth / 2 ** 20).toFixed(1)} MiB`);
    // The stalled subscriptions really were stalled: the server did not push the log at the socket.
    const head = store.head;
    expect(stalled.every((s) => s.delivered < head - BATCHES), `delivered: ${stalled.map((s) => s.delivered)} head ${head}`).toBe(true);
    // Its queues pressed against the limit, and never past it (ledgerUpdates coalesced, events went back to the log).
    expect(maxQueue).toBeGreaterThan(DEFAULT_LIVE_OPTIONS.queueLimit / 2);
    expect(maxQueue).toBeLessThanOrEqual(DEFAULT_LIVE_OPTIONS.queueLimit);
    expect(heapGrowth).toBeLessThan(128 * 2 ** 20);
    // The others did not notice (loose bounds: this machine may be busy).
    expect(withStall.count).toBeGreaterThan(readers.length * (BATCHES / 10));
    expect(withStall.p99).toBeLessThan(5 * Math.max(baseline.p99, 50));
    expect(withStall.perSecond).toBeGreaterThan(baseline.perSecond / 3);
    for (const r of accountReaders) expect(r.ended).toBeNull();

    // Once it goes away, the server lets go of its subscriptions.
    raw.terminate();
    await eventuallyTrue('the stalled subscriptions end', () => stalled.every((s) => (s as unknown as { finished: boolean }).finished));
    await Promise.all(clients.map((c) => c.close()));
  });
  it('(e) a WebSocket that never sends connection_init is closed with 4408 after the timeout', async () => {
    const raw = await rawSocket(server.graphqlUrl);
    const t0 = performance.now();
    const { code } = await raw.closed;
    const waited = performance.now() - t0;
    expect(code).toBe(4408);
    expect(waited).toBeGreaterThan(2_500); // the server waits 3 s
    expect(waited).toBeLessThan(10_000);
  });

  it(`(e) at most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions on one connection: the next gets TOO_MANY_SUBSCRIPTIONS, and the connection goes on`, async () => {
    const store = server.app.store;
    await commit(store, [open('cap-a', 1)]);
    const head = store.head;
    const client = wsClient(server.graphqlUrl);
    const subs = Array.from({ length: MAX_SUBSCRIPTIONS_PER_CONNECTION }, () => client.subscribe(EventsSubDocument, { afterSequence: head - 1 }));
    for (const sub of subs) await sub.waitFor(1); // every one of them is up
    const over = client.subscribe(EventsSubDocument, { afterSequence: head - 1 });
    await over.completed();
    expect(over.errors.map((e) => e.extensions?.code)).toEqual(['TOO_MANY_SUBSCRIPTIONS']);
    expect(over.messages).toEqual([]);
    // One ends: there is room for one more, on the same connection.
    await subs[0]!.close();
    await sleep(50);
    const another = client.subscribe(EventsSubDocument, { afterSequence: head - 1 });
    await another.waitFor(1);
    expect(subs.slice(1).every((s) => s.ended === null)).toBe(true);
    await client.close();
  });

  it('(e) keepalive: the server pings every 12 s, and a client that answers stays connected', async () => {
    await eventuallyTrue('a ping', () => pinged.pings.length > 0, Math.max(0, 15_000 - (performance.now() - pingedOpenedAt)));
    expect(pinged.pings[0]! - pingedOpenedAt).toBeGreaterThan(11_000);
    expect(pinged.ws.readyState).toBe(pinged.ws.OPEN);
    pinged.terminate();
  });

});

const fmt = (r: { perSecond: number; p50: number; p99: number; count: number }) =>
  `${r.perSecond.toFixed(0)} batches/s, reader latency p50 ${r.p50.toFixed(1)} ms p99 ${r.p99.toFixed(1)} ms over ${r.count} messages`;

async function eventuallyTrue(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}
