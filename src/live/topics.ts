// What each subscription delivers, computed two ways that must agree: from a live batch (in memory,
// as it commits) and from the log (catch-up after `afterSequence`, or after falling behind).
import { accountIdsOf, type EventType, type RecordedEvent } from '../domain/events.ts';
import type { AccountState, AccountStatus, CurrencyTotal, Money } from '../domain/types.ts';
import { decodeBlock } from '../store/codec.ts';
import type { LedgerStore } from '../store/ledgerStore.ts';
import type { LiveBatch } from './changeFeed.ts';

/**
 * One message of a subscription. `sequence` is where a client resumes from (`afterSequence`) once it
 * has it; `part` orders the two messages one transfer can make for accountUpdates.
 */
export interface Item<P> {
  readonly sequence: number;
  readonly part: number;
  readonly payload: P;
  /** The message executed once and shared by every subscriber of the same operation (graphql-ws). */
  result?: unknown;
}

export interface Topic<P> {
  /** Accounts whose batches matter (the change-feed index); null for every batch. */
  readonly accountIds: ReadonlySet<string> | null;
  fromBatch(batch: LiveBatch): Item<P>[];
  /** Messages for the log with after < sequence ≤ to, in order. */
  readLog(after: number, to: number): AsyncIterable<Item<P>>;
  /** Merges pending messages into one (ledgerUpdates); topics without it fall back to the log. */
  coalesce?(items: Item<P>[]): Item<P>;
}

export interface AccountUpdate {
  readonly sequence: number;
  readonly accountId: string;
  /** Signed effect of the event on this account's balance. */
  readonly change: number;
  readonly balance: Money;
  readonly version: number;
  readonly status: AccountStatus;
  readonly event: RecordedEvent;
  readonly head: number;
}

export interface AccountChange {
  readonly accountId: string;
  readonly change: number;
  readonly balance: Money;
  readonly version: number;
  readonly status: AccountStatus;
}

export interface LedgerUpdate {
  readonly fromSequence: number;
  readonly toSequence: number;
  readonly accounts: readonly AccountChange[];
  readonly totals: readonly CurrencyTotal[];
  readonly accountCount: number;
  /** How many committed batches this message covers (more than one when a slow subscriber's were merged). */
  readonly batches: number;
  readonly head: number;
}

export interface EventFilter {
  readonly accountIds: ReadonlySet<string> | null;
  readonly types: ReadonlySet<EventType> | null;
}

/** The signed change an event makes to one of its accounts' balance. */
export function changeOf(event: RecordedEvent, accountId: string): number {
  switch (event.type) {
    case 'OPENED':
      return event.data.initialBalance;
    case 'DEPOSITED':
      return event.data.amount;
    case 'WITHDRAWN':
      return -event.data.amount;
    case 'TRANSFERRED':
      return accountId === event.data.fromAccountId ? -event.data.amount : event.data.amount;
    case 'CLOSED':
      return 0;
  }
}

/** How many history entries or events one catch-up read fetches at a time. */
const CHUNK = 512;

// --- accountUpdates ------------------------------------------------------------------------------

export function accountUpdatesTopic(store: LedgerStore, accountIds: ReadonlySet<string>): Topic<AccountUpdate> {
  const update = (event: RecordedEvent, part: number, id: string, after: { balance: Money; version: number; status: AccountStatus }, head: number): Item<AccountUpdate> => ({
    sequence: event.sequence,
    part,
    payload: { sequence: event.sequence, accountId: id, change: changeOf(event, id), balance: after.balance, version: after.version, status: after.status, event, head },
  });
  return {
    accountIds,
    fromBatch(batch) {
      const items: Item<AccountUpdate>[] = [];
      let at = 0;
      for (const event of batch.events) {
        const ids = accountIdsOf(event);
        ids.forEach((id, part) => {
          if (accountIds.has(id)) items.push(update(event, part, id, batch.eventAccounts[at + part]!, batch.toSequence));
        });
        at += ids.length;
      }
      return items;
    },
    async *readLog(after, to) {
      // Each account's history index holds balance and version after each of its events: merge them
      // by sequence, then read the events themselves a chunk at a time.
      const cursors = [...accountIds].map((id) => ({ id, after, buffer: [] as { sequence: number; balance: Money; version: number; status: AccountStatus }[], done: false }));
      for (;;) {
        for (const c of cursors) {
          if (c.buffer.length === 0 && !c.done) {
            c.buffer = await store.accountHistory(c.id, c.after, CHUNK, to);
            c.done = c.buffer.length < CHUNK;
            if (c.buffer.length > 0) c.after = c.buffer[c.buffer.length - 1]!.sequence;
          }
        }
        const entries: { id: string; h: { sequence: number; balance: Money; version: number; status: AccountStatus } }[] = [];
        while (entries.length < CHUNK) {
          let next: (typeof cursors)[number] | undefined;
          for (const c of cursors) if (c.buffer.length > 0 && (!next || c.buffer[0]!.sequence < next.buffer[0]!.sequence)) next = c;
          if (!next) break;
          entries.push({ id: next.id, h: next.buffer.shift()! });
          if (next.buffer.length === 0 && !next.done) break; // refill before merging further
        }
        // Never end a chunk between the two sides of a transfer: the seam guard would take the second
        // side delivered first as the later one and drop the other.
        const lastTaken = entries[entries.length - 1]?.h.sequence;
        for (const c of cursors) if (lastTaken !== undefined && c.buffer[0]?.sequence === lastTaken) entries.push({ id: c.id, h: c.buffer.shift()! });
        if (entries.length === 0) return;
        const events = await store.eventsAt(entries.map((e) => e.h.sequence));
        const head = store.head;
        const items = entries.map(({ id, h }, i) => update(events[i]!, accountIdsOf(events[i]!).indexOf(id), id, h, head));
        // Both sides of a transfer between two listed accounts: from before to, as live.
        items.sort((a, b) => a.sequence - b.sequence || a.part - b.part);
        yield* items;
      }
    },
  };
}

// --- ledgerUpdates -------------------------------------------------------------------------------

function ledgerUpdate(events: readonly RecordedEvent[], scope: ReadonlySet<string> | null, finalState: (id: string) => AccountState | { balance: Money; version: number; status: AccountStatus }, totals: readonly CurrencyTotal[], accountCount: number, head: number): Item<LedgerUpdate> | null {
  const net = new Map<string, number>();
  for (const event of events) {
    for (const id of accountIdsOf(event)) if (!scope || scope.has(id)) net.set(id, (net.get(id) ?? 0) + changeOf(event, id));
  }
  if (net.size === 0) return null;
  const accounts = [...net].map(([accountId, change]) => {
    const a = finalState(accountId);
    return { accountId, change, balance: a.balance, version: a.version, status: a.status };
  });
  const toSequence = events[events.length - 1]!.sequence;
  return {
    sequence: toSequence,
    part: 0,
    payload: { fromSequence: events[0]!.sequence, toSequence, accounts, totals, accountCount, batches: 1, head },
  };
}

/**
 * One message per committed batch. With a `scope`, only batches touching those accounts, only their
 * changes, and no totals (`totals` and `accountCount` are the whole ledger's; the reader computes the
 * scope's own at `toSequence`).
 */
export function ledgerUpdatesTopic(store: LedgerStore, scope: ReadonlySet<string> | null = null): Topic<LedgerUpdate> {
  return {
    accountIds: scope,
    fromBatch(batch) {
      const byId = new Map(batch.accounts.map((a) => [a.id, a]));
      const item = ledgerUpdate(batch.events, scope, (id) => byId.get(id)!, scope ? [] : batch.totals, scope ? 0 : batch.accountCount, batch.toSequence);
      return item ? [item] : [];
    },
    async *readLog(after, to) {
      // One message per committed batch, as live subscribers saw them: a block is a batch.
      for await (const { block } of store.readBlocks(after + 1)) {
        const events = decodeBlock(block).filter((e) => e.sequence > after);
        if (events.length === 0) continue;
        const last = events[events.length - 1]!.sequence;
        if (last > to) return;
        const lastOf = new Map<string, number>();
        for (const e of events) for (const id of accountIdsOf(e)) if (!scope || scope.has(id)) lastOf.set(id, e.sequence);
        if (lastOf.size > 0) {
          const points = [...lastOf].map(([id, sequence]) => ({ id, sequence }));
          const states = await store.accountsAfter(points);
          const byId = new Map(points.map((p, i) => [p.id, states[i]!]));
          const checkpoint = scope ? undefined : await store.checkpointAt(last);
          yield ledgerUpdate(events, scope, (id) => byId.get(id)!, checkpoint?.checkpoint.totals ?? [], checkpoint?.checkpoint.accountCount ?? 0, store.head)!;
        }
        if (last === to) return;
      }
    },
    coalesce(items) {
      const accounts = new Map<string, AccountChange>();
      for (const { payload } of items) {
        for (const a of payload.accounts) {
          const before = accounts.get(a.accountId);
          accounts.set(a.accountId, before ? { ...a, change: before.change + a.change } : a);
        }
      }
      const first = items[0]!.payload;
      const last = items[items.length - 1]!;
      return {
        sequence: last.sequence,
        part: 0,
        payload: {
          ...last.payload,
          fromSequence: first.fromSequence,
          accounts: [...accounts.values()],
          batches: items.reduce((n, i) => n + i.payload.batches, 0),
        },
      };
    },
  };
}

// --- events --------------------------------------------------------------------------------------

export function eventsTopic(store: LedgerStore, filter: EventFilter): Topic<RecordedEvent> {
  const wanted = (e: RecordedEvent) =>
    (!filter.types || filter.types.has(e.type)) && (!filter.accountIds || accountIdsOf(e).some((id) => filter.accountIds!.has(id)));
  const item = (event: RecordedEvent): Item<RecordedEvent> => ({ sequence: event.sequence, part: 0, payload: event });
  return {
    accountIds: filter.accountIds,
    fromBatch: (batch) => batch.events.filter(wanted).map(item),
    async *readLog(after, to) {
      if (!filter.accountIds) {
        for await (const event of store.readEvents(after + 1, to)) if (wanted(event)) yield item(event);
        return;
      }
      // Only the listed accounts' streams: their sequences from the history index, merged.
      const cursors = [...filter.accountIds].map((id) => ({ id, after }));
      for (;;) {
        const batches = await Promise.all(cursors.map((c) => store.accountSequences(c.id, c.after, CHUNK)));
        // Everything up to the smallest "last fetched" of the cursors still fetching is complete.
        let bound = to;
        batches.forEach((b) => {
          if (b.length === CHUNK) bound = Math.min(bound, b[b.length - 1]!);
        });
        const sequences = [...new Set(batches.flat().filter((s) => s <= bound))].sort((a, b) => a - b);
        if (sequences.length === 0) return;
        for (const event of await store.eventsAt(sequences)) if (event && wanted(event)) yield item(event);
        if (bound >= to || sequences[sequences.length - 1]! >= to) return;
        for (const c of cursors) c.after = bound;
      }
    },
  };
}
