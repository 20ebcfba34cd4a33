// The queries over real HTTP, held to a history recorded from the mutation payloads: a seeded random mix
// of single mutations and submitCommands lists (atomic or not, some failing, some retried) is run
// against a server that snapshots every few events; then for EVERY sequence S, `account(atSequence)`
// and `ledger(atSequence)` must equal `replay(toSequence: S)` and the state recorded at S, `atTime`
// must land on the last sequence committed by then, and `accounts` / `events` must page through
// exactly what was recorded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AccountDocument,
  AccountsDocument,
  AtTimeDocument,
  CloseAccountDocument,
  DepositDocument,
  EventsDocument,
  LedgerDocument,
  OpenAccountDocument,
  PointInTimeIndexedDocument,
  PointInTimeReplayedDocument,
  ReplayDocument,
  SubmitCommandsDocument,
  TransferDocument,
  WithdrawDocument,
  type AccountFieldsFragment,
  type Command,
  type EventFieldsFragment,
  type EventsQuery,
  type EventsQueryVariables,
  type EventType,
  type LedgerFieldsFragment,
} from '../generated/graphql.ts';
import { eventually, mapLimit, prng } from '../support/api.ts';
import { startTServer, type TServer } from '../support/testServer.ts';

const SEED = 20_261_126;
const SNAPSHOT_INTERVAL = 10;
const RANDOM_STEPS = 110;
const IDS = ['q-a', 'q-b', 'q-c', 'q-d', 'q-e'];
/** Opened part-way through, so reads before that point must say null. */
const LATE = 'q-late';
/** Never opened: null at every point. */
const NEVER = 'q-never';
const ALL_IDS = [...IDS, LATE, 'q-close', NEVER];

interface Recorded {
  readonly sequence: number;
  readonly event: EventFieldsFragment;
  /** The event's accounts right after it, as the mutation payload returned them. */
  readonly accounts: readonly AccountFieldsFragment[];
}

let server: TServer;
/** log[i] is the event at sequence i + 1. */
const log: Recorded[] = [];
/** states[S]: every account that existed at S, as it was then. */
const states: Map<string, AccountFieldsFragment>[] = [new Map()];
let head = 0;

// --- recording -----------------------------------------------------------------------------------------

type AnySuccess = {
  __typename: string;
  sequence: number;
  replayed: boolean;
  event: EventFieldsFragment;
  account?: AccountFieldsFragment;
  from?: AccountFieldsFragment;
  to?: AccountFieldsFragment;
};

function record(result: { __typename: string }): void {
  if (!result.__typename.endsWith('Success')) return;
  const r = result as AnySuccess;
  if (r.replayed) return;
  expect(r.sequence, 'sequences are handed out gaplessly').toBe(log.length + 1);
  const accounts = r.account ? [r.account] : [r.from!, r.to!];
  log.push({ sequence: r.sequence, event: r.event, accounts });
  const next = new Map(states[states.length - 1]);
  for (const a of accounts) next.set(a.id, a);
  states.push(next);
}

async function runSingle(command: Command): Promise<void> {
  if (command.openAccount) record((await server.data(OpenAccountDocument, { input: command.openAccount })).openAccount);
  else if (command.deposit) record((await server.data(DepositDocument, { input: command.deposit })).deposit);
  else if (command.withdraw) record((await server.data(WithdrawDocument, { input: command.withdraw })).withdraw);
  else if (command.transfer) record((await server.data(TransferDocument, { input: command.transfer })).transfer);
  else if (command.closeAccount) record((await server.data(CloseAccountDocument, { input: command.closeAccount })).closeAccount);
}

async function runList(commands: Command[], atomic: boolean): Promise<void> {
  const { results } = (await server.data(SubmitCommandsDocument, { input: { commands, atomic } })).submitCommands;
  expect(results).toHaveLength(commands.length);
  for (const r of results) record(r);
}

/** A random command against the accounts as recorded now: mostly valid, some that must fail. */
function randomCommand(rng: ReturnType<typeof prng>, txIds: Command[], txCounter: { n: number }): Command {
  const now = states[states.length - 1]!;
  const id = () => rng.pick(IDS);
  const amount = () => rng.pick([1, 5, 10, 25, 50, 100, 250]);
  const tx = () => `q-tx-${txCounter.n++}`;
  const k = rng.int(0, 99);
  let command: Command;
  if (k < 30) command = { deposit: { accountId: id(), amount: amount(), transactionId: tx() } };
  else if (k < 50) command = { withdraw: { accountId: id(), amount: amount(), transactionId: tx() } };
  else if (k < 58) {
    // Everything that is left, so that accounts reach zero and can be closed.
    const target = id();
    command = { withdraw: { accountId: target, amount: Math.max(1, now.get(target)?.balance ?? 1), transactionId: tx() } };
  } else if (k < 85) command = { transfer: { fromAccountId: id(), toAccountId: id(), amount: amount(), transactionId: tx() } };
  else if (k < 90) command = { openAccount: { accountId: id(), currency: rng.pick(['EUR', 'USD']), initialBalance: amount() } };
  else if (k < 94) command = { closeAccount: { accountId: id(), reason: 'random' } };
  else if (k < 97 && txIds.length > 0) return rng.pick(txIds); // a retry: same content, same transactionId
  else command = { deposit: { accountId: id(), amount: amount(), transactionId: tx(), expectedVersion: now.get(IDS[0]!)?.version ?? 0 } };
  if (!command.openAccount && !command.closeAccount) txIds.push(command);
  return command;
}

async function buildHistory(): Promise<void> {
  const rng = prng(SEED);
  const txIds: Command[] = [];
  const counter = { n: 0 };
  await runList(
    [
      { openAccount: { accountId: 'q-a', currency: 'EUR', initialBalance: 1_000 } },
      { openAccount: { accountId: 'q-b', currency: 'EUR', initialBalance: 0 } },
      { openAccount: { accountId: 'q-c', currency: 'USD', initialBalance: 500 } },
    ],
    true,
  );
  await runSingle({ openAccount: { accountId: 'q-d', currency: 'USD', initialBalance: 200 } });
  for (let step = 0; step < RANDOM_STEPS; step++) {
    if (step === RANDOM_STEPS / 2) await runSingle({ openAccount: { accountId: LATE, currency: 'EUR', initialBalance: 100 } });
    if (rng.chance(0.6)) await runSingle(randomCommand(rng, txIds, counter));
    else {
      const commands = Array.from({ length: rng.int(2, 6) }, () => randomCommand(rng, txIds, counter));
      await runList(commands, rng.chance(0.3));
    }
  }
  // An account's whole life, closed at the end.
  await runSingle({ openAccount: { accountId: 'q-close', currency: 'USD', initialBalance: 0 } });
  await runSingle({ deposit: { accountId: 'q-close', amount: 30, transactionId: 'q-close-d' } });
  await runList(
    [{ withdraw: { accountId: 'q-close', amount: 30, transactionId: 'q-close-w' } }, { closeAccount: { accountId: 'q-close', reason: 'done' } }],
    true,
  );
  head = log.length;
}

// --- expectations ---------------------------------------------------------------------------------------

const expectedAccount = (id: string, at: number) => states[at]!.get(id) ?? null;

function expectedLedger(at: number): LedgerFieldsFragment {
  const totals = new Map<string, { currency: string; balance: number; accounts: number }>();
  for (const a of states[at]!.values()) {
    const t = totals.get(a.currency) ?? { currency: a.currency, balance: 0, accounts: 0 };
    t.balance += a.balance;
    t.accounts += 1;
    totals.set(a.currency, t);
  }
  return {
    sequence: at,
    head,
    accountCount: states[at]!.size,
    totals: [...totals.values()].sort((x, y) => (x.currency < y.currency ? -1 : 1)),
  };
}

const timestampOf = (seq: number) => Date.parse(log[seq - 1]!.event.timestamp);
/** The last sequence whose event was committed at or before `ms`. */
const lastAtOrBefore = (ms: number) => log.filter((r) => Date.parse(r.event.timestamp) <= ms).reduce((max, r) => Math.max(max, r.sequence), 0);

beforeAll(async () => {
  server = await startTServer({ snapshotInterval: SNAPSHOT_INTERVAL });
  await buildHistory();
  // Snapshots are written after the commit that crosses the interval, off the writer's path: wait
  // until replay to the head starts from one, and the latest is settled (two polls agree).
  let last = -1;
  await eventually('a snapshot to be written', async () => {
    const { fromSnapshot } = (await server.data(ReplayDocument, { toSequence: head, id: 'q-a' })).replay;
    const settled = fromSnapshot > 0 && fromSnapshot === last;
    last = fromSnapshot;
    return settled ? fromSnapshot : undefined;
  });
});
afterAll(async () => {
  await server?.stop();
});

describe('the recorded history', () => {
  it('has every event type, an account opened late, one closed, and a few hundred events at most', () => {
    const types = new Set(log.map((r) => r.event.type));
    expect([...types].sort()).toEqual(['CLOSED', 'DEPOSITED', 'OPENED', 'TRANSFERRED', 'WITHDRAWN']);
    expect(expectedAccount(LATE, head)!.openedSequence).toBeGreaterThan(10);
    expect(expectedAccount('q-close', head)!.status).toBe('CLOSED');
    expect(head).toBeGreaterThan(100); // more than the default page of events
    expect(head).toBeLessThan(400);
  });
});

describe('point-in-time reads agree with replay and with the recorded history', () => {
  it('account(atSequence: S), accounts(atSequence: S), ledger(atSequence: S) and replay(toSequence: S) at every S', async () => {
    expect(ALL_IDS).toHaveLength(8); // the PointInTime documents ask for eight accounts
    const ids = Object.fromEntries(ALL_IDS.map((id, i) => [`id${i}`, id])) as Record<`id${0 | 1 | 2 | 3 | 4 | 5 | 6 | 7}`, string>;
    const snapshotsUsed = new Set<number>();
    await mapLimit(
      Array.from({ length: head + 1 }, (_, at) => at),
      4,
      async (at) => {
        const [r, { replay }] = await Promise.all([
          server.data(PointInTimeIndexedDocument, { at, ...ids }),
          server.data(PointInTimeReplayedDocument, { at, ...ids }),
        ]);
        const indexed = [r.a0, r.a1, r.a2, r.a3, r.a4, r.a5, r.a6, r.a7];
        const replayed = [replay.r0, replay.r1, replay.r2, replay.r3, replay.r4, replay.r5, replay.r6, replay.r7];
        ALL_IDS.forEach((id, i) => {
          expect(indexed[i], `account ${id} at ${at}`).toEqual(expectedAccount(id, at));
          expect(replayed[i], `replayed account ${id} at ${at}`).toEqual(expectedAccount(id, at));
        });
        expect(r.accounts.nodes, `accounts at ${at}`).toEqual([...states[at]!.values()].sort((x, y) => (x.id < y.id ? -1 : 1)));
        expect(r.ledger, `ledger at ${at}`).toEqual(expectedLedger(at));
        expect(replay.ledger, `replayed ledger at ${at}`).toEqual(expectedLedger(at));
        expect(replay.fromSnapshot, `at ${at}`).toBeLessThanOrEqual(at);
        expect(replay.eventsReplayed, `at ${at}`).toBe(at - replay.fromSnapshot);
        snapshotsUsed.add(replay.fromSnapshot);
      },
    );
    // Replay really started from several snapshots, not always from the start of the log.
    expect([...snapshotsUsed].filter((s) => s > 0).length).toBeGreaterThan(2);
  });

  it('account is null before it was opened, and its state at its own opening after', async () => {
    const opened = expectedAccount(LATE, head)!.openedSequence;
    expect((await server.data(AccountDocument, { id: LATE, atSequence: opened - 1 })).account).toBeNull();
    expect((await server.data(AccountDocument, { id: LATE, atSequence: opened })).account).toEqual(expectedAccount(LATE, opened));
    expect((await server.data(AccountDocument, { id: LATE, atSequence: 0 })).account).toBeNull();
    expect((await server.data(AccountDocument, { id: NEVER })).account).toBeNull();
  });

  it('account with neither argument, and past the head, is the account now', async () => {
    for (const id of ALL_IDS) {
      expect((await server.data(AccountDocument, { id })).account).toEqual(expectedAccount(id, head));
      expect((await server.data(AccountDocument, { id, atSequence: head + 1_000 })).account).toEqual(expectedAccount(id, head));
    }
  });

  it('ledger now and in the past', async () => {
    expect((await server.data(LedgerDocument, {})).ledger).toEqual(expectedLedger(head));
    expect((await server.data(LedgerDocument, { atSequence: 0 })).ledger).toEqual({ sequence: 0, head, accountCount: 0, totals: [] });
    expect((await server.data(LedgerDocument, { atSequence: head + 5 })).ledger).toEqual(expectedLedger(head));
    const mid = Math.floor(head / 2);
    expect((await server.data(LedgerDocument, { atSequence: mid })).ledger).toEqual(expectedLedger(mid));
  });

  it('atTime lands on the last sequence committed at or before that instant', async () => {
    const instants = [...new Set(log.map((r) => r.event.timestamp))];
    const probes = instants.flatMap((iso) => [Date.parse(iso), Date.parse(iso) - 1]);
    await mapLimit(probes, 8, async (ms) => {
      const at = lastAtOrBefore(ms);
      const atTime = new Date(ms).toISOString();
      const r = await server.data(AtTimeDocument, { id: 'q-a', atTime });
      expect(r.ledger, atTime).toEqual(expectedLedger(at));
      expect(r.account, atTime).toEqual(expectedAccount('q-a', at));
    });
    // Events of one batch share a timestamp: atTime gives the end of the batch, never its middle.
    const shared = log.find((r, i) => i > 0 && log[i - 1]!.event.timestamp === r.event.timestamp);
    expect(shared, 'no two events shared a commit time').toBeDefined();
    // Another zone offset names the same instant.
    const t = timestampOf(Math.floor(head / 2));
    const offset = new Date(t + 2 * 3_600_000).toISOString().replace('Z', '+02:00');
    expect((await server.data(LedgerDocument, { atTime: offset })).ledger.sequence).toBe(lastAtOrBefore(t));
    // Before the first event: nothing; far in the future: now.
    const before = (await server.data(AtTimeDocument, { id: 'q-a', atTime: new Date(timestampOf(1) - 60_000).toISOString() }));
    expect(before.ledger).toEqual(expectedLedger(0));
    expect(before.account).toBeNull();
    const future = await server.data(AtTimeDocument, { id: 'q-a', atTime: '2999-01-01T00:00:00Z' });
    expect(future.ledger).toEqual(expectedLedger(head));
    expect(future.account).toEqual(expectedAccount('q-a', head));
  });
});

describe('accounts (Relay connection)', () => {
  async function walk(first: number, atSequence?: number) {
    const pages: Awaited<ReturnType<typeof page>>[] = [];
    const page = async (after: string | null) => (await server.data(AccountsDocument, { first, after, ...(atSequence === undefined ? {} : { atSequence }) })).accounts;
    let after: string | null = null;
    for (let i = 0; i < 100; i++) {
      const p = await page(after);
      pages.push(p);
      if (!p.pageInfo.hasNextPage) break;
      after = p.pageInfo.endCursor;
    }
    return pages;
  }

  const sortedAt = (at: number) => [...states[at]!.values()].sort((x, y) => (x.id < y.id ? -1 : 1));

  it('pages through every account in id order with first/after, hasNextPage and cursors', async () => {
    const all = sortedAt(head);
    expect(all.length).toBeGreaterThan(5);
    const pages = await walk(3);
    expect(pages).toHaveLength(Math.ceil(all.length / 3));
    expect(pages.flatMap((p) => p.edges.map((e) => e.node))).toEqual(all);
    const cursors = pages.flatMap((p) => p.edges.map((e) => e.cursor));
    expect(new Set(cursors).size).toBe(cursors.length);
    pages.forEach((p, i) => {
      expect(p.nodes.map((n) => n.id)).toEqual(p.edges.map((e) => e.node.id));
      expect(p.pageInfo.hasNextPage).toBe(i < pages.length - 1);
      expect(p.pageInfo.hasPreviousPage).toBe(i > 0);
      expect(p.pageInfo.startCursor).toBe(p.edges[0]!.cursor);
      expect(p.pageInfo.endCursor).toBe(p.edges[p.edges.length - 1]!.cursor);
    });
  });

  it('hasNextPage is exact at the boundary, and the default page holds everything here', async () => {
    const n = sortedAt(head).length;
    expect((await server.data(AccountsDocument, { first: n })).accounts.pageInfo.hasNextPage).toBe(false);
    expect((await server.data(AccountsDocument, { first: n - 1 })).accounts.pageInfo.hasNextPage).toBe(true);
    const all = (await server.data(AccountsDocument, {})).accounts;
    expect(all.edges.map((e) => e.node)).toEqual(sortedAt(head));
    expect(all.pageInfo.hasNextPage).toBe(false);
  });

  it('atSequence pages through the accounts as they were then', async () => {
    const opened = expectedAccount(LATE, head)!.openedSequence;
    for (const at of [1, 3, opened - 1, opened, Math.floor(head * 0.75)]) {
      const pages = await walk(2, at);
      expect(pages.flatMap((p) => p.edges.map((e) => e.node)), `at ${at}`).toEqual(sortedAt(at));
    }
    const empty = (await server.data(AccountsDocument, { atSequence: 0 })).accounts;
    expect(empty.edges).toEqual([]);
    expect(empty.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null });
  });
});

describe('events (Relay connection, cursor = sequence)', () => {
  async function walk(vars: Omit<EventsQueryVariables, 'after'>) {
    const edges: { cursor: string; node: EventFieldsFragment }[] = [];
    let after: string | null = null;
    for (let i = 0; i < 1_000; i++) {
      const page: EventsQuery['events'] = (await server.data(EventsDocument, { ...vars, after })).events;
      expect(page.pageInfo.hasPreviousPage).toBe(i > 0 || (vars.afterSequence ?? 0) > 0);
      edges.push(...page.edges);
      if (!page.pageInfo.hasNextPage) break;
      expect(page.pageInfo.endCursor).toBe(page.edges[page.edges.length - 1]!.cursor);
      after = page.pageInfo.endCursor;
    }
    return edges;
  }

  it('pages through the whole log in sequence order, each event as its mutation returned it', async () => {
    const edges = await walk({ first: 17 });
    expect(edges.map((e) => e.node)).toEqual(log.map((r) => r.event));
    expect(edges.map((e) => e.cursor)).toEqual(log.map((r) => String(r.sequence)));
  });

  it('afterSequence starts after it; past the head is empty', async () => {
    const page = (await server.data(EventsDocument, { afterSequence: 10, first: 5 })).events;
    expect(page.edges.map((e) => e.node.sequence)).toEqual([11, 12, 13, 14, 15]);
    expect(page.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true, startCursor: '11', endCursor: '15' });
    const rest = await walk({ afterSequence: head - 4, first: 2 });
    expect(rest.map((e) => e.node.sequence)).toEqual([head - 3, head - 2, head - 1, head]);
    const none = (await server.data(EventsDocument, { afterSequence: head })).events;
    expect(none.edges).toEqual([]);
    expect(none.pageInfo.hasNextPage).toBe(false);
  });

  it('the default page is 100 events', async () => {
    const page = (await server.data(EventsDocument, {})).events;
    expect(page.edges.map((e) => e.node)).toEqual(log.slice(0, 100).map((r) => r.event));
    expect(page.pageInfo.hasNextPage).toBe(true);
  });

  it('accountId gives that account’s stream (both sides of transfers), paged', async () => {
    for (const id of ALL_IDS) {
      const expected = log.filter((r) => r.event.accountIds.includes(id)).map((r) => r.event);
      expect((await walk({ accountId: id, first: 7 })).map((e) => e.node), id).toEqual(expected);
    }
  });

  it('types filters by event type, alone and with accountId and afterSequence', async () => {
    const cases: { types: EventType[]; accountId?: string; afterSequence?: number }[] = [
      { types: ['TRANSFERRED'] },
      { types: ['DEPOSITED', 'WITHDRAWN'] },
      { types: ['OPENED', 'CLOSED'] },
      { types: ['TRANSFERRED'], accountId: 'q-b' },
      { types: ['WITHDRAWN', 'CLOSED'], accountId: 'q-close' },
      { types: ['DEPOSITED'], accountId: 'q-a', afterSequence: Math.floor(head / 2) },
    ];
    for (const c of cases) {
      const expected = log
        .filter((r) => c.types.includes(r.event.type) && (!c.accountId || r.event.accountIds.includes(c.accountId)) && r.sequence > (c.afterSequence ?? 0))
        .map((r) => r.event);
      expect(expected.length, JSON.stringify(c)).toBeGreaterThan(0);
      expect((await walk({ ...c, first: 5 })).map((e) => e.node), JSON.stringify(c)).toEqual(expected);
    }
  });
});

describe('replay', () => {
  it('starts from the nearest snapshot at or below the target and replays the rest', async () => {
    const now = (await server.data(ReplayDocument, { toSequence: head, id: 'q-a' })).replay;
    expect(now.fromSnapshot).toBeGreaterThan(0);
    expect(now.eventsReplayed).toBe(head - now.fromSnapshot);
    expect(now.ledger).toEqual(expectedLedger(head));
    expect(now.account).toEqual(expectedAccount('q-a', head));
    // Right at a snapshot, nothing is replayed.
    const at = (await server.data(ReplayDocument, { toSequence: now.fromSnapshot, id: 'q-a' })).replay;
    expect(at).toMatchObject({ fromSnapshot: now.fromSnapshot, eventsReplayed: 0 });
    expect(at.ledger).toEqual(expectedLedger(now.fromSnapshot));
  });

  it('to 0 is the empty ledger; past the head is clamped to the head', async () => {
    const zero = (await server.data(ReplayDocument, { toSequence: 0, id: 'q-a' })).replay;
    expect(zero).toEqual({ fromSnapshot: 0, eventsReplayed: 0, ledger: { sequence: 0, head, accountCount: 0, totals: [] }, account: null });
    const past = (await server.data(ReplayDocument, { toSequence: head + 1_000, id: 'q-a' })).replay;
    expect(past.ledger).toEqual(expectedLedger(head));
    expect(past.eventsReplayed).toBe(head - past.fromSnapshot);
  });

  it('below the first snapshot it replays from the start of the log', async () => {
    const r = (await server.data(ReplayDocument, { toSequence: 5, id: 'q-a' })).replay;
    expect(r).toMatchObject({ fromSnapshot: 0, eventsReplayed: 5 });
    expect(r.ledger).toEqual(expectedLedger(5));
    expect(r.account).toEqual(expectedAccount('q-a', 5));
  });
});
