// The three subscriptions of DESIGN.md §1 "Subscriptions", over both transports (graphql-ws and SSE),
// against a real server on a real store: every field of every message; one ledgerUpdates message per
// committed batch with one entry per changed account; the filters of `events`; with afterSequence the
// log first (from any point, even mid-batch), then live; without it, live only; the log head on every
// message; bad arguments answered with BAD_USER_INPUT on a connection that goes on working.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MAX_SUBSCRIBED_ACCOUNTS } from '../../src/graphql/schema/subscriptions.ts';
import { LiveHub } from '../../src/live/liveHub.ts';
import type { LiveSubscription } from '../../src/live/liveSubscription.ts';
import type { LedgerStore } from '../../src/store/ledgerStore.ts';
import {
  AccountUpdatesSubDocument,
  EventsDocument,
  EventsSubDocument,
  LedgerDocument,
  LedgerUpdatesSubDocument,
  type AccountUpdatesSubSubscription,
  type EventFieldsFragment,
  type EventsSubSubscription,
  type EventType,
  type LedgerUpdatesSubSubscription,
} from '../generated/graphql.ts';
import {
  expectedAccountUpdates,
  expectedEvents,
  expectedLedgerUpdates,
  ledgerUpdateOver,
  readTruth,
  receivedAccountUpdate,
  receivedEvent,
  receivedLedgerUpdate,
} from '../support/ledgerTruth.ts';
import { close, commit, deposit, open, sleep, transfer, withdraw, type Appended } from '../support/liveWorkload.ts';
import { clientFor, TRANSPORTS, type Collected, type Subscription, type SubscriptionClient } from '../support/subscriptionClients.ts';
import { startTServer, type TServer } from '../support/testServer.ts';

type LU = LedgerUpdatesSubSubscription['ledgerUpdates'];

const au = (c: Collected<AccountUpdatesSubSubscription>) => c.data.map((d) => d.accountUpdates);
const lu = (c: Collected<LedgerUpdatesSubSubscription>) => c.data.map((d) => d.ledgerUpdates);
const ev = (c: Collected<EventsSubSubscription>) => c.data.map((d) => d.events);

/** Waits for `n` messages; on timeout goes on, so the comparison that follows shows what is missing. */
async function settle(sub: Collected<unknown>, n: number, timeoutMs = 10_000): Promise<void> {
  await sub.waitFor(n, timeoutMs).catch(() => {});
  await sleep(50); // anything past n (a repeat) arrives too, and fails the comparison
}

describe.each(TRANSPORTS)('subscriptions over %s', (transport) => {
  let server: TServer;
  let store: LedgerStore;
  let client: SubscriptionClient;
  let opened: Subscription<unknown>[] = [];
  let n = 0;
  const ids = (name: string, count: number) => Array.from({ length: count }, (_, i) => `${transport}-${name}${++n}-${'abcdefgh'[i]}`);

  const subscribe: SubscriptionClient['subscribe'] = (document, variables, options) => {
    const sub = client.subscribe(document, variables, options);
    opened.push(sub as Subscription<unknown>);
    return sub;
  };

  beforeAll(async () => {
    server = await startTServer();
    store = server.app.store;
    client = clientFor(transport, server.graphqlUrl);
  });
  afterEach(async () => {
    await Promise.all(opened.map((s) => s.close()));
    opened = [];
  });
  afterAll(async () => {
    await client?.close();
    await server?.stop();
  });

  /** Every event after `after`, as the events query gives them (the same selection the subscriptions use). */
  async function loggedEvents(after: number): Promise<Map<number, EventFieldsFragment>> {
    const out = new Map<number, EventFieldsFragment>();
    let cursor: string | null | undefined;
    for (;;) {
      const page = (await server.data(EventsDocument, { afterSequence: after, first: 1000, after: cursor })).events;
      for (const { node } of page.edges) out.set(node.sequence, node);
      if (!page.pageInfo.hasNextPage) return out;
      cursor = page.pageInfo.endCursor;
    }
  }

  const last = <T>(items: readonly T[]) => items[items.length - 1]!;
  const batchEnd = (batch: readonly Appended[]) => last(batch).sequence;

  it('accountUpdates: one message per event touching a listed account, with every field', async () => {
    const [a, b, c, d] = ids('au', 4);
    await commit(store, [open(a!, 100), open(b!), open(c!, 50), open(d!)]);
    const h0 = store.head;
    const sub = subscribe(AccountUpdatesSubDocument, { accountIds: [a!, b!, d!], afterSequence: h0 });

    const b1 = await commit(store, [deposit(a!, 50)]);
    await sub.waitFor(1); // live from here on: the subscription has caught up with the log
    const b2 = await commit(store, [transfer(a!, b!, 30)]);
    const b3 = await commit(store, [deposit(c!, 5)]); // c is not listed
    const b4 = await commit(store, [withdraw(b!, 10), transfer(c!, a!, 20), deposit(b!, 1)]); // one batch
    const b5 = await commit(store, [close(d!)]);
    await settle(sub, 7);

    const seq = (batch: Appended[], i = 0) => batch[i]!.sequence;
    expect(au(sub).map(({ event, head, ...rest }) => rest)).toEqual([
      { sequence: seq(b1), accountId: a, change: 50, balance: 150, version: 2, status: 'OPEN' },
      { sequence: seq(b2), accountId: a, change: -30, balance: 120, version: 3, status: 'OPEN' },
      { sequence: seq(b2), accountId: b, change: 30, balance: 30, version: 2, status: 'OPEN' },
      { sequence: seq(b4, 0), accountId: b, change: -10, balance: 20, version: 3, status: 'OPEN' },
      { sequence: seq(b4, 1), accountId: a, change: 20, balance: 140, version: 4, status: 'OPEN' },
      { sequence: seq(b4, 2), accountId: b, change: 1, balance: 21, version: 4, status: 'OPEN' },
      { sequence: seq(b5), accountId: d, change: 0, balance: 0, version: 2, status: 'CLOSED' },
    ]);
    expect(seq(b3)).toBe(seq(b2) + 1);

    // The event is the whole event, as the events query has it.
    const logged = await loggedEvents(h0);
    for (const u of au(sub)) expect(u.event).toEqual(logged.get(u.sequence));
    // head: the log head when sent — the end of the message's batch once live (all but the first here).
    expect(au(sub)[0]!.head).toBeGreaterThanOrEqual(seq(b1));
    expect(au(sub).slice(1).map((u) => u.head)).toEqual([batchEnd(b2), batchEnd(b2), batchEnd(b4), batchEnd(b4), batchEnd(b4), batchEnd(b5)]);
    // graphql-ws and SSE both put the head in extensions too.
    for (const m of sub.messages) expect(m.extensions?.head).toBeGreaterThanOrEqual(m.data!.accountUpdates.sequence);
  });

  it('ledgerUpdates: one message per committed batch, one entry per changed account (net change, new balance), and the totals', async () => {
    const [a, b, u, d] = ids('lu', 4);
    await commit(store, [open(a!, 100), open(b!), open(u!, 7, 'USD')]);
    const h0 = store.head;
    const sub = subscribe(LedgerUpdatesSubDocument, { afterSequence: h0 });

    const b1 = await commit(store, [deposit(a!, 10), transfer(a!, b!, 5), deposit(a!, 1), deposit(u!, 3)]);
    await sub.waitFor(1);
    const b2 = await commit(store, [open(d!, 0, 'USD'), close(d!)]);
    const b3 = await commit(store, [transfer(a!, b!, 1)]);
    await settle(sub, 3);

    const updates = lu(sub);
    expect(updates.map((m) => [m.fromSequence, m.toSequence, m.batches])).toEqual([
      [b1[0]!.sequence, batchEnd(b1), 1],
      [b2[0]!.sequence, batchEnd(b2), 1],
      [b3[0]!.sequence, batchEnd(b3), 1],
    ]);
    const byAccount = (m: LU) => Object.fromEntries(m.accounts.map(({ accountId, ...rest }) => [accountId, rest]));
    expect(updates[0]!.accounts).toHaveLength(3); // a once, although three of the batch's events touched it
    expect(byAccount(updates[0]!)).toEqual({
      [a!]: { change: 6, balance: 106, version: 4, status: 'OPEN' },
      [b!]: { change: 5, balance: 5, version: 2, status: 'OPEN' },
      [u!]: { change: 3, balance: 10, version: 2, status: 'OPEN' },
    });
    expect(byAccount(updates[1]!)).toEqual({ [d!]: { change: 0, balance: 0, version: 2, status: 'CLOSED' } });
    expect(byAccount(updates[2]!)).toEqual({
      [a!]: { change: -1, balance: 105, version: 5, status: 'OPEN' },
      [b!]: { change: 1, balance: 6, version: 3, status: 'OPEN' },
    });
    // The totals and account count are the ledger's at the batch's end, as the point-in-time query has them.
    for (const m of updates) {
      const { ledger } = await server.data(LedgerDocument, { atSequence: m.toSequence });
      expect({ totals: [...m.totals].sort((x, y) => x.currency.localeCompare(y.currency)), accountCount: m.accountCount }).toEqual({
        totals: [...ledger.totals].sort((x, y) => x.currency.localeCompare(y.currency)),
        accountCount: ledger.accountCount,
      });
    }
    const truth = await readTruth(store);
    expect(updates.map(receivedLedgerUpdate)).toEqual(updates.map((m) => ledgerUpdateOver(truth, m.fromSequence, m.toSequence)));
    expect(updates.slice(1).map((m) => m.head)).toEqual([batchEnd(b2), batchEnd(b3)]);
    for (const m of sub.messages) expect(m.extensions?.head).toBeGreaterThanOrEqual(m.data!.ledgerUpdates.toSequence);
  });

  it('events: every event, or those of the listed accounts and types', async () => {
    const [a, b, c, d] = ids('ev', 4);
    await commit(store, [open(a!, 100), open(b!, 10), open(c!)]);
    const h0 = store.head;
    const types: EventType[] = ['TRANSFERRED', 'DEPOSITED'];
    const all = subscribe(EventsSubDocument, { afterSequence: h0 });
    const aMoney = subscribe(EventsSubDocument, { afterSequence: h0, accountIds: [a!], types });
    const bc = subscribe(EventsSubDocument, { afterSequence: h0, accountIds: [b!, c!] });
    const lifecycle = subscribe(EventsSubDocument, { afterSequence: h0, types: ['OPENED', 'CLOSED'] }, { method: 'GET' });

    const w = [
      await commit(store, [deposit(a!, 5)]),
      await commit(store, [withdraw(a!, 2)]),
      await commit(store, [transfer(a!, b!, 3)]),
      await commit(store, [transfer(b!, c!, 1)]),
      await commit(store, [deposit(c!, 4)]),
      await commit(store, [open(d!), close(d!)]),
      await commit(store, [deposit(b!, 2)]),
    ].flat();
    const s = (i: number) => w[i]!.sequence;
    const expectations: [Collected<EventsSubSubscription>, number[]][] = [
      [all, w.map((r) => r.sequence)],
      [aMoney, [s(0), s(2)]],
      [bc, [s(2), s(3), s(4), s(7)]],
      [lifecycle, [s(5), s(6)]],
    ];
    const logged = await loggedEvents(h0);
    for (const [sub, sequences] of expectations) {
      await settle(sub, sequences.length);
      expect(ev(sub), sub.label).toEqual(sequences.map((q) => logged.get(q)));
      for (const m of sub.messages) expect(m.extensions?.head, sub.label).toBeGreaterThanOrEqual(m.data!.events.sequence);
    }
  });

  it('with afterSequence: what the log holds after it (even mid-batch), then live, each exactly once', async () => {
    const [a, b] = ids('replay', 2);
    const start = store.head;
    await commit(store, [open(a!, 1_000), open(b!)]);
    const batches: Appended[][] = [];
    for (let i = 0; i < 12; i++) batches.push(await commit(store, [deposit(a!, i + 1), transfer(a!, b!, 2), deposit(b!, 1)]));
    const mid = batches[5]![0]!.sequence; // the catch-up starts inside batch 5
    const h1 = store.head;

    const accounts = subscribe(AccountUpdatesSubDocument, { accountIds: [a!, b!], afterSequence: mid });
    const fromStart = subscribe(AccountUpdatesSubDocument, { accountIds: [b!], afterSequence: start });
    const ledger = subscribe(LedgerUpdatesSubDocument, { afterSequence: mid });
    const events = subscribe(EventsSubDocument, { afterSequence: mid, accountIds: [a!] });

    let truth = await readTruth(store);
    const caughtUp = () => [
      [accounts, expectedAccountUpdates(truth, [a!, b!], mid).length],
      [fromStart, expectedAccountUpdates(truth, [b!], start).length],
      [ledger, expectedLedgerUpdates(truth, mid).length],
      [events, expectedEvents(truth, { accountIds: [a!] }, mid).length],
    ] as const;
    for (const [sub, count] of caughtUp()) await settle(sub, count);
    // The catch-up: exactly the log, each message sent with the head as it was (nothing was written since).
    expect(au(accounts).map(receivedAccountUpdate)).toEqual(expectedAccountUpdates(truth, [a!, b!], mid));
    expect(au(fromStart).map(receivedAccountUpdate)).toEqual(expectedAccountUpdates(truth, [b!], start));
    expect(lu(ledger).map(receivedLedgerUpdate)).toEqual(expectedLedgerUpdates(truth, mid));
    expect(lu(ledger)[0]).toMatchObject({ fromSequence: mid + 1, toSequence: batchEnd(batches[5]!) });
    expect(ev(events).map(receivedEvent)).toEqual(expectedEvents(truth, { accountIds: [a!] }, mid));
    expect([...au(accounts), ...au(fromStart), ...lu(ledger)].every((m) => m.head === h1)).toBe(true);
    expect(events.messages.every((m) => m.extensions?.head === h1)).toBe(true);

    // Then live.
    const counts = caughtUp().map(([sub]) => sub.messages.length);
    const live: Appended[][] = [];
    for (let i = 0; i < 5; i++) live.push(await commit(store, [transfer(a!, b!, 1), deposit(a!, 1)]));
    truth = await readTruth(store);
    for (const [sub, count] of caughtUp()) await settle(sub, count);
    expect(au(accounts).map(receivedAccountUpdate)).toEqual(expectedAccountUpdates(truth, [a!, b!], mid));
    expect(au(fromStart).map(receivedAccountUpdate)).toEqual(expectedAccountUpdates(truth, [b!], start));
    expect(lu(ledger).map(receivedLedgerUpdate)).toEqual(expectedLedgerUpdates(truth, mid));
    expect(ev(events).map(receivedEvent)).toEqual(expectedEvents(truth, { accountIds: [a!] }, mid));
    // Live messages carry the head at their batch's end.
    const ends = new Map(live.flatMap((batch) => batch.map((r) => [r.sequence as number, batchEnd(batch)] as const)));
    expect(au(accounts).slice(counts[0]).map((m) => m.head)).toEqual(au(accounts).slice(counts[0]).map((m) => ends.get(m.sequence)));
    expect(lu(ledger).slice(counts[2]).map((m) => m.head)).toEqual(live.map(batchEnd));
  });

  it('a long catch-up (past the log reader chunk) delivers both sides of every transfer between listed accounts', async () => {
    const [a, b] = ids('long', 2);
    const h0 = store.head;
    await commit(store, [open(a!, 1_000_000), open(b!)]);
    for (let i = 0; i < 6; i++) await commit(store, Array.from({ length: 100 }, () => transfer(a!, b!, 1)));
    const truth = await readTruth(store);
    // Listed "to" side first: the history of b runs out of its first chunk on a transfer whose "from" part is in a's.
    const sub = subscribe(AccountUpdatesSubDocument, { accountIds: [b!, a!], afterSequence: h0 });
    const expected = expectedAccountUpdates(truth, [a!, b!], h0);
    expect(expected).toHaveLength(2 + 1_200);
    await settle(sub, expected.length, 20_000);
    expect(au(sub).map(receivedAccountUpdate)).toEqual(expected);
  });

  it('without afterSequence: live only — nothing from before, then every message', async () => {
    const [a] = ids('live', 1);
    await commit(store, [open(a!, 10)]);
    for (let i = 0; i < 5; i++) await commit(store, [deposit(a!, 1)]);
    const h0 = store.head;
    const accounts = subscribe(AccountUpdatesSubDocument, { accountIds: [a!] });
    const ledger = subscribe(LedgerUpdatesSubDocument, {});
    const events = subscribe(EventsSubDocument, { accountIds: [a!] });
    const subs = [accounts, ledger, events] as Collected<unknown>[];
    // When the server has each subscription on its side is not observable: write until all three hear something.
    const deadline = Date.now() + 10_000;
    while (subs.some((s) => s.messages.length === 0) && Date.now() < deadline) {
      await commit(store, [deposit(a!, 1)]);
      await sleep(25);
    }
    for (let i = 0; i < 5; i++) await commit(store, [deposit(a!, 1)]);
    const truth = await readTruth(store);

    const firstAccounts = au(accounts)[0]!.sequence;
    const firstLedger = lu(ledger)[0]!.fromSequence;
    const firstEvent = ev(events)[0]!.sequence;
    for (const first of [firstAccounts, firstLedger, firstEvent]) expect(first).toBeGreaterThan(h0);
    expect(truth.batches.some((batch) => batch.from === firstLedger)).toBe(true); // a whole batch, not the tail of one
    const expectedAccounts = expectedAccountUpdates(truth, [a!], firstAccounts - 1);
    const expectedLedger = expectedLedgerUpdates(truth, firstLedger - 1);
    const expectedEv = expectedEvents(truth, { accountIds: [a!] }, firstEvent - 1);
    await settle(accounts, expectedAccounts.length);
    await settle(ledger, expectedLedger.length);
    await settle(events, expectedEv.length);
    expect(au(accounts).map(receivedAccountUpdate)).toEqual(expectedAccounts);
    expect(lu(ledger).map(receivedLedgerUpdate)).toEqual(expectedLedger);
    expect(ev(events).map(receivedEvent)).toEqual(expectedEv);
    expect(expectedAccounts.length).toBeGreaterThanOrEqual(6);
    // Live: every message carries its batch's end as the head.
    expect(au(accounts).every((m) => m.head === m.sequence)).toBe(true);
    expect(lu(ledger).every((m) => m.head === m.toSequence)).toBe(true);
  });

  it('closing a subscription ends it on the server at once, even on a quiet topic', async () => {
    const [a] = ids('quiet', 1);
    await commit(store, [open(a!, 5)]);
    // The server's own subscriptions (SSE: subscribe; graphql-ws: subscribeShared).
    const own = vi.spyOn(LiveHub.prototype, 'subscribe');
    const shared = vi.spyOn(LiveHub.prototype, 'subscribeShared');
    try {
      const subs = [
        subscribe(AccountUpdatesSubDocument, { accountIds: [a!], afterSequence: store.head - 1 }),
        subscribe(EventsSubDocument, { accountIds: [a!], afterSequence: store.head - 1 }),
        subscribe(LedgerUpdatesSubDocument, { afterSequence: store.head - 1 }),
      ];
      for (const sub of subs) await sub.waitFor(1); // now waiting for a next message that does not come
      const server = [...own.mock.results, ...shared.mock.results].map((r) => r.value as LiveSubscription<unknown>);
      expect(server).toHaveLength(3);
      const finished = () => server.filter((s) => (s as unknown as { finished: boolean }).finished).length;
      expect(finished()).toBe(0);
      await Promise.all(subs.map((sub) => sub.close()));
      const deadline = Date.now() + 5_000;
      while (finished() < server.length && Date.now() < deadline) await sleep(10);
      expect(finished()).toBe(server.length);
    } finally {
      own.mockRestore();
      shared.mockRestore();
    }
  });

  it('bad arguments: BAD_USER_INPUT, the stream ends, and the connection goes on working', async () => {
    const [a] = ids('bad', 1);
    await commit(store, [open(a!, 1)]);
    const head = store.head;
    const many = Array.from({ length: MAX_SUBSCRIBED_ACCOUNTS + 1 }, (_, i) => `${a}-${i}`);
    const cases: [string, Collected<unknown>][] = [
      ['accountUpdates afterSequence past the head', subscribe(AccountUpdatesSubDocument, { accountIds: [a!], afterSequence: head + 1 })],
      ['ledgerUpdates afterSequence past the head', subscribe(LedgerUpdatesSubDocument, { afterSequence: head + 1_000 })],
      ['events afterSequence past the head', subscribe(EventsSubDocument, { afterSequence: head + 5 }, { method: 'GET' })],
      ['negative afterSequence', subscribe(LedgerUpdatesSubDocument, { afterSequence: -1 })],
      ['accountUpdates with no accounts', subscribe(AccountUpdatesSubDocument, { accountIds: [] })],
      [`accountUpdates with ${many.length} accounts`, subscribe(AccountUpdatesSubDocument, { accountIds: many })],
      [`events with ${many.length} accounts`, subscribe(EventsSubDocument, { accountIds: many })],
      ['accountUpdates with a bad id', subscribe(AccountUpdatesSubDocument, { accountIds: [a!, 'no spaces allowed'] })],
      ['events with a bad id', subscribe(EventsSubDocument, { accountIds: ['x'.repeat(129)] })],
    ];
    for (const [what, sub] of cases) {
      await sub.completed(5_000);
      expect(sub.messages.every((m) => m.data == null), what).toBe(true);
      expect(sub.errors.map((e) => e.extensions?.code), what).toEqual(['BAD_USER_INPUT']);
    }
    // A good one after all that, on the same client (for graphql-ws: the same connection).
    const good = subscribe(EventsSubDocument, { afterSequence: head - 1 });
    await good.waitFor(1);
    expect(ev(good).map((e) => e.sequence)).toEqual([head]);
  });
});
