// The invariants of DESIGN §3 as fast-check properties over random command sequences run against a
// real store: for every S, indexed point-in-time reads == replay to S == a fold of the log up to S;
// sequences and per-account versions are gapless; a restart gives the same state; idempotent retries
// never append; an atomic group that fails appends nothing. Outcomes are also held to a sequential
// model (the decider over one LedgerState), so batching and group commit never change a decision.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fingerprintOf, transactionIdOf, type Command } from '../../src/domain/commands.ts';
import { decide, type PriorTransaction } from '../../src/domain/decider.ts';
import type { DomainError } from '../../src/domain/errors.ts';
import { CURRENT_SCHEMA_VERSION, accountIdsOf, type DomainEvent, type RecordedEvent } from '../../src/domain/events.ts';
import { LedgerState, type LedgerSummary } from '../../src/domain/ledger.ts';
import { money, sequence, type AccountState } from '../../src/domain/types.ts';
import { PointInTime } from '../../src/projection/pointInTime.ts';
import { replay } from '../../src/projection/replay.ts';
import { Snapshotter, listSnapshots } from '../../src/projection/snapshots.ts';
import { verify } from '../../src/projection/verify.ts';
import { LedgerStore, type CommandResult } from '../../src/store/ledgerStore.ts';
import { tempStore } from '../support/tempStore.ts';

// Ids that are prefixes of one another, to hold the key layout to "one account's keys never run into
// another's"; listed in byte order, the order of the paged accounts read.
const IDS = ['a', 'a-1', 'a.b', 'ab', 'b'];
const CURRENCIES = ['USD', 'EUR'];
const TX_IDS = ['tx-0', 'tx-1', 'tx-2', 'tx-3'];
const NUM_RUNS = 30;
const NEAR_LIMIT = Number.MAX_SAFE_INTEGER - 100;

// --- generators ----------------------------------------------------------------------------------

const accountId = fc.constantFrom(...IDS);
/** Most commands get a transaction id of their own (FRESH, numbered when the scenario is built); some reuse one of a few. */
const FRESH = '<fresh>';
const txId = fc.oneof({ weight: 4, arbitrary: fc.constant(FRESH) }, { weight: 1, arbitrary: fc.constantFrom(...TX_IDS) });
// Few distinct amounts, so exact balances (withdraw all, close at zero) come up often.
const amount = fc.constantFrom(1, 5, 10, 50, 100, 150).map(money);
const expectedVersion = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 6 }) },
);

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('OpenAccount' as const),
      accountId,
      currency: fc.constantFrom(...CURRENCIES),
      initialBalance: fc.oneof({ weight: 20, arbitrary: fc.constantFrom(0, 0, 10, 50, 100) }, { weight: 1, arbitrary: fc.constant(NEAR_LIMIT) }).map(money),
    }),
  },
  { weight: 4, arbitrary: fc.record({ type: fc.constant('Deposit' as const), accountId, amount, transactionId: txId, expectedVersion }) },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('Withdraw' as const), accountId, amount, transactionId: txId, expectedVersion }) },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('Transfer' as const), fromAccountId: accountId, toAccountId: accountId, amount, transactionId: txId }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('CloseAccount' as const), accountId, reason: fc.constantFrom('done', 'moved'), expectedVersion }) },
);

/** A step is a new command, or a retry of an earlier one (same content, maybe another expectedVersion). */
type Step = { command: Command } | { retryOf: number; expectedVersion: number | null | undefined };
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: commandArb.map((command) => ({ command })) },
  { weight: 1, arbitrary: fc.record({ retryOf: fc.nat(), expectedVersion }) },
);

interface GroupSpec {
  readonly steps: Step[];
  readonly atomic: boolean;
  /** Submitted without waiting for the group before it, so both can share a batch. */
  readonly concurrent: boolean;
}
const groupArb: fc.Arbitrary<GroupSpec> = fc.record({
  steps: fc.array(stepArb, { minLength: 1, maxLength: 4 }),
  atomic: fc.constantFrom(false, false, true),
  concurrent: fc.boolean(),
});

const scenarioArb = fc.record({
  /** The accounts opened up front (the first `count` of IDS), so most commands have something to act on. */
  opening: fc.record({
    count: fc.constantFrom(3, 4, 5, 5),
    accounts: fc.array(fc.record({ currency: fc.constantFrom(...CURRENCIES), initialBalance: fc.constantFrom(0, 50, 100, 500).map(money) }), {
      minLength: IDS.length,
      maxLength: IDS.length,
    }),
  }),
  groups: fc.array(groupArb, { minLength: 1, maxLength: 40, size: 'max' }),
  maxBatch: fc.integer({ min: 1, max: 6 }),
  snapshotInterval: fc.integer({ min: 2, max: 8 }),
});

interface Group {
  readonly commands: Command[];
  readonly atomic: boolean;
  readonly concurrent: boolean;
}

/** Numbers the fresh transaction ids and turns retries into copies of the earlier command they name. */
function resolveSteps(specs: GroupSpec[]): Group[] {
  const earlier: Command[] = [];
  return specs.map(({ steps, atomic, concurrent }) => {
    const commands = steps.map((step): Command => {
      let command: Command;
      if ('command' in step) {
        const fresh = 'transactionId' in step.command && step.command.transactionId === FRESH;
        command = fresh ? ({ ...step.command, transactionId: `fresh-${earlier.length}` } as Command) : step.command;
      } else if (earlier.length === 0) {
        command = { type: 'OpenAccount', accountId: IDS[0]!, currency: 'USD', initialBalance: money(0) };
      } else {
        const original = earlier[step.retryOf % earlier.length]!;
        command = original.type === 'Deposit' || original.type === 'Withdraw' ? { ...original, expectedVersion: step.expectedVersion } : original;
      }
      earlier.push(command);
      return command;
    });
    return { commands, atomic, concurrent };
  });
}

// --- the sequential model --------------------------------------------------------------------------

type Expected =
  | { kind: 'appended'; event: DomainEvent & { sequence: number; transactionId: string | null }; accounts: AccountState[] }
  | { kind: 'replayed'; sequence: number }
  | { kind: 'rejected'; error: DomainError }
  /** Fine on its own, not applied because another command of its atomic group failed. */
  | { kind: 'aborted'; error: DomainError & { code: 'ABORTED' } };

class Model {
  readonly state = new LedgerState();
  private readonly transactions = new Map<string, PriorTransaction>();

  run(commands: readonly Command[], atomic: boolean): Expected[] {
    const target = atomic ? this.state.draft() : this.state;
    const pending = new Map<string, PriorTransaction>();
    const out: Expected[] = [];
    for (const [i, command] of commands.entries()) {
      const tx = transactionIdOf(command);
      const priorTransaction = tx === null ? undefined : (pending.get(tx) ?? this.transactions.get(tx));
      const decision = decide(command, target, priorTransaction);
      if (decision.outcome === 'accepted') {
        const seq = sequence(target.head + 1);
        const event = { ...decision.event, sequence: seq, id: `model-${seq}`, timestamp: 0, schemaVersion: CURRENT_SCHEMA_VERSION[decision.event.type], transactionId: tx } as RecordedEvent;
        target.apply(event);
        if (tx !== null) pending.set(tx, { fingerprint: fingerprintOf(command), sequence: seq });
        out.push({ kind: 'appended', event: { ...decision.event, sequence: seq, transactionId: tx }, accounts: accountIdsOf(event).map((id) => target.account(id)!) });
      } else if (decision.outcome === 'replayed') {
        out.push({ kind: 'replayed', sequence: decision.sequence });
      } else {
        out.push({ kind: 'rejected', error: decision.error });
        if (atomic) {
          const aborted: Expected = { kind: 'aborted', error: { code: 'ABORTED', failedIndex: i, commandCount: commands.length, reason: decision.error.code } };
          return commands.map((_, j) => (j === i ? out[i]! : aborted));
        }
      }
    }
    if (atomic) target.merge();
    for (const [tx, prior] of pending) this.transactions.set(tx, prior);
    return out;
  }
}

// --- helpers -------------------------------------------------------------------------------------

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function foldTo(store: LedgerStore, s: number): Promise<LedgerState> {
  const state = new LedgerState();
  for await (const event of store.readEvents(1, s)) state.apply(event);
  return state;
}

/** Accounts at `seq` through the paged read, two at a time. */
async function allAccountsAt(pit: PointInTime, seq: number): Promise<AccountState[]> {
  const out: AccountState[] = [];
  for (let after: string | null = null; ; ) {
    const page = await pit.accountsAt(seq, 2, after);
    out.push(...page.accounts);
    if (!page.hasNextPage) return out;
    after = page.accounts[page.accounts.length - 1]!.id;
  }
}

/** The command an event was decided from: retrying it must return the original result. */
function retryOf(event: RecordedEvent, expectedVersion: number | undefined): Command {
  const transactionId = event.transactionId!;
  switch (event.type) {
    case 'DEPOSITED':
      return { type: 'Deposit', accountId: event.data.accountId, amount: event.data.amount, transactionId, expectedVersion };
    case 'WITHDRAWN':
      return { type: 'Withdraw', accountId: event.data.accountId, amount: event.data.amount, transactionId, expectedVersion };
    case 'TRANSFERRED':
      return { type: 'Transfer', ...event.data, transactionId };
    default:
      throw new Error(`${event.type} has no transaction id`);
  }
}

/** Per S: the ledger and every account, as the fold of the log says. */
interface Truth {
  summary: LedgerSummary;
  accounts: (AccountState | null)[];
}

const stats = { runs: 0, events: 0, maxHead: 0, snapshots: 0, replayedFromSnapshot: 0, replayedFromScratch: 0, retriesInRun: 0, failedAtomicGroups: 0, rejected: new Set<string>() };

/** Every S from 0 to head: accountAt == replay == fold, ledgerAt == replay == fold; returns the fold. */
async function checkEverySequence(store: LedgerStore): Promise<Truth[]> {
  const pit = new PointInTime(store);
  const snapshots = await listSnapshots(store);
  stats.snapshots += snapshots.length;
  const truth: Truth[] = [];
  for (let s = 0; s <= store.head; s++) {
    const fold = await foldTo(store, s);
    expect(fold.head).toBe(s);
    const replayed = await replay(store, s);
    const nearest = Math.max(0, ...snapshots.filter((x) => x <= s));
    expect(replayed.fromSnapshot, `replay to ${s} starts at the nearest snapshot`).toBe(nearest);
    expect(replayed.fromSnapshot).toBeLessThanOrEqual(s);
    expect(replayed.eventsReplayed).toBe(s - replayed.fromSnapshot);
    if (replayed.fromSnapshot > 0) stats.replayedFromSnapshot++;
    else stats.replayedFromScratch++;

    const summary = fold.summary();
    expect(replayed.state.summary(), `replay summary at ${s}`).toEqual(summary);
    expect(await pit.ledgerAt(s), `ledgerAt(${s})`).toEqual(summary);

    const accounts: (AccountState | null)[] = [];
    for (const id of IDS) {
      const expected = fold.account(id) ?? null;
      expect(await pit.accountAt(id, s), `accountAt(${id}, ${s})`).toEqual(expected);
      expect(replayed.state.account(id) ?? null, `replay(${s}).account(${id})`).toEqual(expected);
      accounts.push(expected);
    }
    expect(await allAccountsAt(pit, s), `accountsAt(${s})`).toEqual(accounts.filter((a) => a !== null));
    truth.push({ summary, accounts });
  }
  return truth;
}

// --- the properties ------------------------------------------------------------------------------

describe('ledger invariants over random command sequences', () => {
  it('lists its account ids in byte order', () => {
    expect([...IDS].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))).toEqual(IDS);
  });

  it('indexed reads == replay == fold at every S; gapless; restart-stable; retries and failed atomic groups append nothing', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const opening: Group = {
          commands: scenario.opening.accounts.slice(0, scenario.opening.count).map((a, i) => ({ type: 'OpenAccount', accountId: IDS[i]!, ...a })),
          atomic: false,
          concurrent: false,
        };
        const groups = [opening, ...resolveSteps(scenario.groups)].filter((g) => g.commands.length > 0);
        const temp = await tempStore({ maxBatch: scenario.maxBatch });
        let store = temp.store;
        try {
          const snapshotter = await Snapshotter.start(store, scenario.snapshotInterval);

          // Submit: a group marked concurrent joins the wave before it; waves run one after another.
          const waves: Group[][] = [];
          for (const g of groups) {
            if (g.concurrent && waves.length > 0) waves[waves.length - 1]!.push(g);
            else waves.push([g]);
          }
          const results: CommandResult[][] = [];
          for (const wave of waves) {
            results.push(...(await Promise.all(wave.map((g) => store.execute(g.commands, { atomic: g.atomic })))));
          }
          await snapshotter.stop();
          expect(snapshotter.lastError).toBeNull();

          // Outcomes equal the sequential model's, however the writer batched them.
          const model = new Model();
          const appendedBy = new Map<number, CommandResult & { ok: true }>();
          const replays: [CommandResult & { ok: true }, number][] = [];
          groups.forEach((g, gi) => {
            const expected = model.run(g.commands, g.atomic);
            const got = results[gi]!;
            expect(got).toHaveLength(g.commands.length);
            if (expected.some((e) => e.kind === 'aborted') || (g.atomic && expected.some((e) => e.kind === 'rejected'))) {
              stats.failedAtomicGroups++;
              expect(got.every((r) => !r.ok), 'a failed atomic group has no successes').toBe(true);
            }
            expected.forEach((e, ci) => {
              const r = got[ci]!;
              const where = `group ${gi} command ${ci}: ${JSON.stringify(g.commands[ci])}`;
              switch (e.kind) {
                case 'appended':
                  expect(r, where).toMatchObject({ ok: true, replayed: false, sequence: e.event.sequence, event: e.event });
                  expect((r as { accounts: unknown }).accounts, where).toEqual(e.accounts);
                  expect(appendedBy.has(e.event.sequence), `sequence ${e.event.sequence} acknowledged twice`).toBe(false);
                  appendedBy.set(e.event.sequence, r as CommandResult & { ok: true });
                  break;
                case 'replayed':
                  expect(r, where).toMatchObject({ ok: true, replayed: true, sequence: e.sequence });
                  replays.push([r as CommandResult & { ok: true }, e.sequence]);
                  stats.retriesInRun++;
                  break;
                case 'rejected':
                  expect(r, where).toEqual({ ok: false, error: e.error });
                  stats.rejected.add(e.error.code);
                  break;
                case 'aborted':
                  expect(r, where).toEqual({ ok: false, error: e.error });
                  break;
              }
            });
          });
          expect(store.state.summary()).toEqual(model.state.summary());
          for (const id of IDS) expect(store.state.account(id)).toEqual(model.state.account(id));

          // The log: gapless 1..head, and every event in it acknowledged to exactly one command.
          const head = store.head;
          const events = await collect(store.readEvents(1));
          expect(events.map((e) => e.sequence)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
          expect([...appendedBy.keys()].sort((a, b) => a - b)).toEqual(events.map((e) => e.sequence));
          for (const e of events) expect(appendedBy.get(e.sequence)!.event).toEqual(e);
          const blocks = await collect(store.readBlocks(1));
          expect(blocks.length).toBeLessThanOrEqual(head);
          blocks.forEach((b, i) => i === 0 || expect(b.first).toBeGreaterThan(blocks[i - 1]!.first));
          expect(blocks[0]?.first ?? 1).toBe(1);
          // A retry answered with the original result: its event and accounts as they were then.
          for (const [r, seq] of replays) {
            const original = appendedBy.get(seq)!;
            expect(r.event).toEqual(original.event);
            expect(r.accounts).toEqual(original.accounts);
          }

          // Per-account versions are gapless: the k-th event of an account leaves it at version k.
          for (const id of IDS) {
            const own = events.filter((e) => accountIdsOf(e).includes(id)).map((e) => e.sequence);
            expect(await store.accountSequences(id, 0, 1_000)).toEqual(own);
            for (const [k, seq] of own.entries()) expect((await store.accountHistoryAt(id, seq))?.version, `${id} at ${seq}`).toBe(k + 1);
            expect(store.state.account(id)?.version ?? 0).toBe(own.length);
          }

          const truth = await checkEverySequence(store);
          expect((await verify(store)).ok).toBe(true);

          // Retrying every committed transaction, whatever expectedVersion it carries, appends nothing.
          const withTx = events.filter((e) => e.transactionId !== null);
          const retryResults = await store.execute(withTx.map((e, i) => retryOf(e, i % 2 === 0 ? undefined : 999)));
          expect(store.head).toBe(head);
          retryResults.forEach((r, i) => expect(r, `retry of ${withTx[i]!.transactionId}`).toMatchObject({ ok: true, replayed: true, sequence: withTx[i]!.sequence, event: withTx[i] }));

          // Restart: the same ledger, every account, every point in time; verify passes.
          const summary = store.state.summary();
          store = await temp.reopen({ maxBatch: scenario.maxBatch });
          expect(store.head).toBe(head);
          expect(store.state.summary()).toEqual(summary);
          for (const [i, id] of IDS.entries()) expect(store.state.account(id) ?? null).toEqual(truth[head]!.accounts[i]);
          expect((await verify(store)).ok).toBe(true);
          const pit = new PointInTime(store);
          for (let s = 0; s <= head; s++) {
            expect(await pit.ledgerAt(s)).toEqual(truth[s]!.summary);
            expect((await replay(store, s)).state.summary()).toEqual(truth[s]!.summary);
            for (const [i, id] of IDS.entries()) expect(await pit.accountAt(id, s)).toEqual(truth[s]!.accounts[i]);
          }
          // Idempotency keys are durable: retries after the restart still append nothing.
          if (withTx.length > 0) {
            const again = await store.execute(withTx.map((e) => retryOf(e, 0)), { atomic: true });
            expect(store.head).toBe(head);
            again.forEach((r, i) => expect(r).toMatchObject({ ok: true, replayed: true, sequence: withTx[i]!.sequence }));
          }

          stats.runs++;
          stats.events += head;
          stats.maxHead = Math.max(stats.maxHead, head);
        } finally {
          await store.close();
          await temp.cleanup();
        }
      }),
      { numRuns: NUM_RUNS },
    );

    // The generators must really reach the interesting cases, or the properties prove little.
    expect(stats.runs).toBe(NUM_RUNS);
    expect(stats.maxHead).toBeGreaterThanOrEqual(15);
    expect(stats.replayedFromSnapshot).toBeGreaterThan(0);
    expect(stats.replayedFromScratch).toBeGreaterThan(0);
    expect(stats.retriesInRun).toBeGreaterThan(0);
    expect(stats.failedAtomicGroups).toBeGreaterThan(0);
    for (const code of ['ACCOUNT_NOT_FOUND', 'ACCOUNT_ALREADY_EXISTS', 'INSUFFICIENT_FUNDS', 'WRONG_EXPECTED_VERSION', 'DUPLICATE_TRANSACTION', 'CURRENCY_MISMATCH', 'SAME_ACCOUNT_TRANSFER', 'BALANCE_NOT_ZERO', 'ACCOUNT_CLOSED']) {
      expect(stats.rejected, code).toContain(code);
    }
  }, 120_000); // measured 16–29 s on a 2-core box under heavy parallel load: room to spare there
});

describe('examples of the same invariants', () => {
  it('an atomic group with one failing command appends nothing, and commits in full once it is fixed', async () => {
    const { store, cleanup } = await tempStore();
    try {
      await store.execute([
        { type: 'OpenAccount', accountId: 'a', currency: 'USD', initialBalance: money(100) },
        { type: 'OpenAccount', accountId: 'b', currency: 'USD', initialBalance: money(0) },
      ]);
      const before = store.state.summary();
      const group: Command[] = [
        { type: 'Deposit', accountId: 'a', amount: money(10), transactionId: 'g-1' },
        { type: 'Transfer', fromAccountId: 'a', toAccountId: 'b', amount: money(500), transactionId: 'g-2' },
        { type: 'Withdraw', accountId: 'a', amount: money(1), transactionId: 'g-3' },
      ];
      const failed = await store.execute(group, { atomic: true });
      expect(failed).toEqual([
        { ok: false, error: { code: 'ABORTED', failedIndex: 1, commandCount: 3, reason: 'INSUFFICIENT_FUNDS' } },
        { ok: false, error: { code: 'INSUFFICIENT_FUNDS', accountId: 'a', balance: 110, requested: 500 } },
        { ok: false, error: { code: 'ABORTED', failedIndex: 1, commandCount: 3, reason: 'INSUFFICIENT_FUNDS' } },
      ]);
      expect(store.head).toBe(2);
      expect(store.state.summary()).toEqual(before);
      expect(await collect(store.readEvents(3))).toEqual([]);

      // Its transaction ids were not used up: the corrected group commits in full.
      const fixed = await store.execute([group[0]!, { ...group[1]!, amount: money(50) } as Command, group[2]!], { atomic: true });
      expect(fixed.map((r) => (r.ok ? r.sequence : r.error.code))).toEqual([3, 4, 5]);
      expect(store.state.account('a')?.balance).toBe(59);
      expect((await verify(store)).ok).toBe(true);
    } finally {
      await cleanup();
    }
  });

  it('a retried transaction returns the original result, before and after a restart, without appending', async () => {
    const temp = await tempStore();
    let store = temp.store;
    try {
      await store.executeOne({ type: 'OpenAccount', accountId: 'a', currency: 'EUR', initialBalance: money(0) });
      const deposit: Command = { type: 'Deposit', accountId: 'a', amount: money(25), transactionId: 'pay-1', expectedVersion: 1 };
      const first = await store.executeOne(deposit);
      expect(first).toMatchObject({ ok: true, replayed: false, sequence: 2 });
      // Same batch, same transaction id: the second is a replay of the first.
      const [inBatchA, inBatchB] = await Promise.all([
        store.executeOne({ type: 'Deposit', accountId: 'a', amount: money(5), transactionId: 'pay-2' }),
        store.executeOne({ type: 'Deposit', accountId: 'a', amount: money(5), transactionId: 'pay-2' }),
      ]);
      expect(inBatchA).toMatchObject({ ok: true, replayed: false, sequence: 3 });
      expect(inBatchB).toMatchObject({ ok: true, replayed: true, sequence: 3 });

      const retry = await store.executeOne(deposit); // expectedVersion 1 is stale now: still a replay
      expect(retry).toEqual({ ...first, replayed: true });
      expect(store.head).toBe(3);

      store = await temp.reopen();
      expect(await store.executeOne({ ...deposit, expectedVersion: 42 } as Command)).toEqual({ ...first, replayed: true });
      expect(await store.executeOne({ ...deposit, amount: money(26) } as Command)).toEqual({
        ok: false,
        error: { code: 'DUPLICATE_TRANSACTION', transactionId: 'pay-1', originalSequence: 2 },
      });
      expect(store.head).toBe(3);
    } finally {
      await store.close();
      await temp.cleanup();
    }
  });
});
