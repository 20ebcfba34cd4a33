// The seam, as a property. While writers pour small batches in (through the store and through the HTTP
// API), subscribers start on random topics from random points of the log — or live — over graphql-ws and
// SSE; among them, several graphql-ws subscribers of one operation with different afterSequence (one
// shared fan-out group, on two connections). When the writers stop, every subscriber must have received
// exactly what the log holds after its start: no gap, no repeat, in order, every field as the log —
// read back and folded by hand (support/ledgerTruth.ts) — says. A live subscriber's start is not
// observable, so it must have received exactly a suffix of what followed the head when it subscribed.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { LiveHub } from '../../src/live/liveHub.ts';
import {
  AccountUpdatesSubDocument,
  EventsSubDocument,
  LedgerUpdatesSubDocument,
  type AccountUpdatesSubSubscription,
  type EventsSubSubscription,
  type EventType,
  type LedgerUpdatesSubSubscription,
} from '../generated/graphql.ts';
import {
  expectedAccountUpdates,
  expectedEvents,
  ledgerUpdateOver,
  readTruth,
  receivedAccountUpdate,
  receivedEvent,
  receivedLedgerUpdate,
  type Truth,
} from '../support/ledgerTruth.ts';
import { commit, open, sleep, startWriters, viaHttp, viaStore } from '../support/liveWorkload.ts';
import { sseClient, wsClient, type Subscription, type SubscriptionClient, type Transport } from '../support/subscriptionClients.ts';
import { startTServer, type TServer } from '../support/testServer.ts';

const RUNS = 6;
/** Batches the writers send per run, at least (they go on until every live subscriber has heard something). */
const BATCHES = 240;

type TopicSpec =
  | { readonly kind: 'accountUpdates'; readonly accounts: number[] }
  | { readonly kind: 'ledgerUpdates' }
  | { readonly kind: 'events'; readonly accounts: number[] | null; readonly types: EventType[] | null };

const topicArb: fc.Arbitrary<TopicSpec> = fc.oneof(
  fc.record({ kind: fc.constant('accountUpdates' as const), accounts: fc.uniqueArray(fc.nat(5), { minLength: 1, maxLength: 3 }) }),
  fc.record({ kind: fc.constant('ledgerUpdates' as const) }),
  fc.record({
    kind: fc.constant('events' as const),
    accounts: fc.option(fc.uniqueArray(fc.nat(5), { minLength: 1, maxLength: 2 }), { nil: null }),
    types: fc.option(fc.subarray<EventType>(['DEPOSITED', 'WITHDRAWN', 'TRANSFERRED'], { minLength: 1 }), { nil: null }),
  }),
);
/** Where to start, as a fraction of the head at subscribe time; null: live (no afterSequence). */
const startArb = fc.option(
  fc.integer({ min: 0, max: 100 }).map((percent) => percent / 100),
  { nil: null, freq: 3 },
);
/** When to subscribe: once the writers have sent this many batches of the run. */
const delayArb = fc.integer({ min: 0, max: BATCHES - 40 });

const scenarioArb = fc.record({
  seed: fc.integer({ min: 1, max: 1_000_000_000 }),
  accounts: fc.integer({ min: 3, max: 6 }),
  subscribers: fc.array(fc.record({ transport: fc.constantFrom<Transport>('ws', 'sse'), topic: topicArb, start: startArb, afterBatches: delayArb }), { minLength: 3, maxLength: 7 }),
  shared: fc.record({ topic: topicArb, members: fc.array(fc.record({ start: startArb, afterBatches: delayArb }), { minLength: 2, maxLength: 4 }) }),
});
type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

interface Started {
  readonly label: string;
  readonly topic: TopicSpec;
  readonly ids: string[] | null;
  readonly afterSequence: number | null;
  /** The head just before subscribing: a live subscriber starts at or after it. */
  readonly headBefore: number;
  readonly sub: Subscription<unknown>;
}

let server: TServer;
let run = 0;
/** graphql-ws subscriptions go through subscribeShared: its first argument is the fan-out group. */
let shared: MockInstance<LiveHub['subscribeShared']>;

beforeAll(async () => {
  server = await startTServer({ durability: 'none' }); // still RocksDB, without an fsync per batch
  shared = vi.spyOn(LiveHub.prototype, 'subscribeShared');
});
afterAll(async () => {
  vi.restoreAllMocks();
  await server?.stop();
});

function subscribe(client: SubscriptionClient, topic: TopicSpec, ids: string[] | null, afterSequence: number | null, label: string): Subscription<unknown> {
  const after = afterSequence === null ? {} : { afterSequence };
  switch (topic.kind) {
    case 'accountUpdates':
      return client.subscribe(AccountUpdatesSubDocument, { accountIds: ids!, ...after }, { label }) as Subscription<unknown>;
    case 'ledgerUpdates':
      return client.subscribe(LedgerUpdatesSubDocument, after, { label }) as Subscription<unknown>;
    case 'events':
      return client.subscribe(EventsSubDocument, { accountIds: ids, types: topic.types, ...after }, { label }) as Subscription<unknown>;
  }
}

/** Ordered keys and normalised messages, received and expected, for one subscriber. */
function compare(s: Started, truth: Truth): { received: unknown[]; expected: unknown[]; complete: boolean } {
  const data = s.sub.messages.map((m, i) => {
    if (m.data == null) throw new Error(`${s.label}: message ${i} is not data: ${JSON.stringify(m)}`);
    return m.data;
  });
  const from = s.afterSequence ?? s.headBefore;
  switch (s.topic.kind) {
    case 'accountUpdates': {
      const received = (data as AccountUpdatesSubSubscription[]).map((d) => d.accountUpdates);
      for (const u of received) if (u.head < u.sequence || u.head > truth.head) throw new Error(`${s.label}: head ${u.head} for sequence ${u.sequence}`);
      let expected = expectedAccountUpdates(truth, s.ids!, from);
      if (s.afterSequence === null && received.length > 0) expected = suffixFrom(expected, (e) => e.sequence === received[0]!.sequence && e.accountId === received[0]!.accountId);
      return { received: received.map(receivedAccountUpdate), expected, complete: received.length >= expected.length };
    }
    case 'events': {
      const received = (data as EventsSubSubscription[]).map((d) => d.events);
      let expected = expectedEvents(truth, { accountIds: s.ids, types: s.topic.types }, from);
      if (s.afterSequence === null && received.length > 0) expected = suffixFrom(expected, (e) => e.sequence === received[0]!.sequence);
      return { received: received.map(receivedEvent), expected, complete: received.length >= expected.length };
    }
    case 'ledgerUpdates': {
      // One message per batch — or fewer, each covering several batches, if this subscriber fell behind
      // and had its pending batches merged: then each must still be exactly the log over its range.
      const received = (data as LedgerUpdatesSubSubscription[]).map((d) => d.ledgerUpdates);
      let batches = truth.batches.filter((b) => b.to > from);
      if (s.afterSequence === null && received.length > 0) batches = suffixFrom(batches, (b) => b.from === received[0]!.fromSequence);
      const ends = new Set(truth.batches.map((b) => b.to));
      const tiles: unknown[] = [];
      let next = batches.length > 0 ? Math.max(batches[0]!.from, from + 1) : null;
      for (const m of received) {
        if (m.head < m.toSequence || m.head > truth.head) throw new Error(`${s.label}: head ${m.head} for ${m.fromSequence}..${m.toSequence}`);
        const covered = truth.batches.filter((b) => b.to >= m.fromSequence && b.to <= m.toSequence).length;
        // Where each message must start (right after the last), and the log over its range, if it ends a batch.
        tiles.push({ ...(ends.has(m.toSequence) ? ledgerUpdateOver(truth, next ?? m.fromSequence, m.toSequence) : { fromSequence: next, toSequence: 'a batch end' }), batches: covered });
        next = m.toSequence + 1;
      }
      const last = batches[batches.length - 1]?.to ?? from;
      const lastReceived = received[received.length - 1]?.toSequence ?? from;
      return {
        received: received.map((m) => ({ ...receivedLedgerUpdate(m), batches: m.batches })),
        expected: lastReceived < last ? [...tiles, `…up to ${last}`] : tiles,
        complete: lastReceived >= last,
      };
    }
  }
}

function suffixFrom<T>(items: T[], isFirst: (item: T) => boolean): T[] {
  const i = items.findIndex(isFirst);
  return i < 0 ? [{ missing: 'the first message received is not in the log after the head at subscribe time' } as T, ...items] : items.slice(i);
}

async function check(scenario: Scenario): Promise<void> {
  const r = ++run;
  const store = server.app.store;
  const accountIds = Array.from({ length: scenario.accounts }, (_, i) => `seam${r}-${i}`);
  const idsOf = (indexes: number[] | null) => (indexes === null ? null : [...new Set(indexes.map((i) => accountIds[i % accountIds.length]!))]);
  await commit(store, accountIds.map((id) => open(id, 500)));

  const ws = [wsClient(server.graphqlUrl), wsClient(server.graphqlUrl)];
  const sse = sseClient(server.graphqlUrl);
  const started: Started[] = [];
  const sharedBefore = shared.mock.calls.length;
  const writers = startWriters([viaStore(store), viaStore(store), viaHttp(server)], scenario.seed, accountIds);
  const start = (client: SubscriptionClient, topic: TopicSpec, fraction: number | null, afterBatches: number, label: string) =>
    writers.reached(afterBatches).then(() => {
      const headBefore = store.head;
      const afterSequence = fraction === null ? null : Math.floor(fraction * headBefore);
      const ids = topic.kind === 'ledgerUpdates' ? null : idsOf(topic.accounts);
      started.push({ label: `${label} ${JSON.stringify(topic)} after ${afterSequence ?? `live (head ${headBefore})`}`, topic, ids, afterSequence, headBefore, sub: subscribe(client, topic, ids, afterSequence, label) });
    });

  try {
    await Promise.all([
      ...scenario.subscribers.map((s, i) => start(s.transport === 'ws' ? ws[i % 2]! : sse, s.topic, s.start, s.afterBatches, `#${i} ${s.transport}`)),
      ...scenario.shared.members.map((m, i) => start(ws[i % 2]!, scenario.shared.topic, m.start, m.afterBatches, `shared#${i} ws`)),
    ]);
    // Write on until every live subscriber has heard something: then each is surely subscribed on the server.
    const deadline = Date.now() + 20_000;
    while (writers.batches < BATCHES || started.some((s) => s.afterSequence === null && s.sub.messages.length === 0)) {
      if (Date.now() > deadline) throw new Error(`live subscribers heard nothing: ${started.filter((s) => s.sub.messages.length === 0).map((s) => s.label)}`);
      await sleep(20);
    }
  } finally {
    await writers.stop();
  }
  // The shared members did share one fan-out group (whatever their afterSequence).
  const groups = new Map<string, number>();
  for (const [key] of shared.mock.calls.slice(sharedBefore)) groups.set(key, (groups.get(key) ?? 0) + 1);
  expect(Math.max(...groups.values())).toBeGreaterThanOrEqual(scenario.shared.members.length);
  const truth = await readTruth(store);
  expect(truth.head).toBe(store.head);

  // Wait until each has what the log says it should (or the deadline), then compare.
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !started.every((s) => compare(s, truth).complete)) await sleep(25);
  await sleep(100); // a repeat past the end would arrive now
  try {
    for (const s of started) {
      const { received, expected } = compare(s, truth);
      expect(received, s.label).toEqual(expected);
    }
  } finally {
    await Promise.all([...ws, sse].map((c) => c.close()));
  }
}

describe('subscriptions at the seam (property)', () => {
  it('every subscriber, from any point or live, over graphql-ws or SSE, gets exactly the log after its start', async () => {
    await fc.assert(fc.asyncProperty(scenarioArb, check), { numRuns: RUNS, endOnFailure: true });
    // The scenarios did exercise what they claim: catch-ups of real length and concurrent writes.
    expect(server.app.store.head).toBeGreaterThan(RUNS * BATCHES);
  });
});
