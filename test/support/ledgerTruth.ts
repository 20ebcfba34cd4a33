// What the log says each subscriber should have received, worked out independently of src/live: the
// log is read block by block (a block is a committed batch) and folded by hand into balances, versions
// and totals. The expected lists and the normalised received messages have the same shape, so a test
// compares them with one toEqual.
import type { EventType, RecordedEvent } from '../../src/domain/events.ts';
import { decodeBlock } from '../../src/store/codec.ts';
import type { LedgerStore } from '../../src/store/ledgerStore.ts';
import type { AccountUpdatesSubSubscription, EventsSubSubscription, LedgerUpdatesSubSubscription } from '../generated/graphql.ts';

export interface AccountAfter {
  readonly balance: number;
  readonly version: number;
  readonly status: 'OPEN' | 'CLOSED';
}

export interface Truth {
  readonly head: number;
  /** events[s - 1] is the event at sequence s. */
  readonly events: readonly RecordedEvent[];
  /** Each event's accounts right after it, in accountIdsOf order (from, to). */
  readonly eventAccounts: readonly (readonly { id: string; after: AccountAfter }[])[];
  readonly batches: readonly { from: number; to: number }[];
  /** Every account's state and the totals right after each batch, by its last sequence. */
  readonly afterBatch: ReadonlyMap<number, { accounts: ReadonlyMap<string, AccountAfter>; totals: readonly Total[]; accountCount: number }>;
}

export interface Total {
  readonly currency: string;
  readonly balance: number;
  readonly accounts: number;
}

export function accountsOf(event: RecordedEvent): string[] {
  return event.type === 'TRANSFERRED' ? [event.data.fromAccountId, event.data.toAccountId] : [event.data.accountId];
}

function signedChange(event: RecordedEvent, id: string): number {
  switch (event.type) {
    case 'OPENED':
      return event.data.initialBalance;
    case 'DEPOSITED':
      return event.data.amount;
    case 'WITHDRAWN':
      return -event.data.amount;
    case 'TRANSFERRED':
      return id === event.data.fromAccountId ? -event.data.amount : event.data.amount;
    case 'CLOSED':
      return 0;
  }
}

/** The log up to `upTo` (the head now by default), folded. */
export async function readTruth(store: LedgerStore, upTo: number = store.head): Promise<Truth> {
  const events: RecordedEvent[] = [];
  const eventAccounts: { id: string; after: AccountAfter }[][] = [];
  const batches: { from: number; to: number }[] = [];
  const afterBatch = new Map<number, { accounts: Map<string, AccountAfter>; totals: Total[]; accountCount: number }>();
  const accounts = new Map<string, AccountAfter & { currency: string }>();
  for await (const { block } of store.readBlocks(1)) {
    const decoded = decodeBlock(block);
    if (decoded[0]!.sequence > upTo) break;
    for (const event of decoded) {
      if (event.sequence !== events.length + 1) throw new Error(`the log skips from ${events.length} to ${event.sequence}`);
      events.push(event);
      eventAccounts.push(
        accountsOf(event).map((id) => {
          const before = accounts.get(id);
          const change = signedChange(event, id);
          const after =
            event.type === 'OPENED'
              ? { currency: event.data.currency, balance: change, version: 1, status: 'OPEN' as const }
              : { ...before!, balance: before!.balance + change, version: before!.version + 1, status: event.type === 'CLOSED' ? ('CLOSED' as const) : before!.status };
          accounts.set(id, after);
          return { id, after: { balance: after.balance, version: after.version, status: after.status } };
        }),
      );
    }
    const to = decoded[decoded.length - 1]!.sequence;
    batches.push({ from: decoded[0]!.sequence, to });
    const totals = new Map<string, Total>();
    for (const a of accounts.values()) {
      const t = totals.get(a.currency) ?? { currency: a.currency, balance: 0, accounts: 0 };
      totals.set(a.currency, { ...t, balance: t.balance + a.balance, accounts: t.accounts + 1 });
    }
    afterBatch.set(to, {
      accounts: new Map([...accounts].map(([id, a]) => [id, { balance: a.balance, version: a.version, status: a.status }])),
      totals: sortTotals([...totals.values()]),
      accountCount: accounts.size,
    });
    if (to >= upTo) break;
  }
  return { head: events.length, events, eventAccounts, batches, afterBatch };
}

const sortTotals = (totals: readonly Total[]) => [...totals].sort((a, b) => a.currency.localeCompare(b.currency));

// --- accountUpdates --------------------------------------------------------------------------------------

export interface AccountUpdateShape {
  readonly sequence: number;
  readonly accountId: string;
  readonly change: number;
  readonly balance: number;
  readonly version: number;
  readonly status: string;
  readonly type: EventType;
}

export function expectedAccountUpdates(truth: Truth, accountIds: readonly string[], after: number, upTo = truth.head): AccountUpdateShape[] {
  const watched = new Set(accountIds);
  const out: AccountUpdateShape[] = [];
  for (let s = after + 1; s <= upTo; s++) {
    const event = truth.events[s - 1]!;
    for (const { id, after: a } of truth.eventAccounts[s - 1]!) {
      if (watched.has(id)) out.push({ sequence: s, accountId: id, change: signedChange(event, id), balance: a.balance, version: a.version, status: a.status, type: event.type });
    }
  }
  return out;
}

export function receivedAccountUpdate(u: AccountUpdatesSubSubscription['accountUpdates']): AccountUpdateShape {
  if (u.event.sequence !== u.sequence) throw new Error(`accountUpdate ${u.sequence} carries event ${u.event.sequence}`);
  return { sequence: u.sequence, accountId: u.accountId, change: u.change, balance: u.balance, version: u.version, status: u.status, type: u.event.type };
}

// --- ledgerUpdates ---------------------------------------------------------------------------------------

export interface LedgerUpdateShape {
  readonly fromSequence: number;
  readonly toSequence: number;
  readonly accounts: readonly { accountId: string; change: number; balance: number; version: number; status: string }[];
  readonly totals: readonly Total[];
  readonly accountCount: number;
}

/** The update covering events from..to (a batch, the tail of one, or several merged). */
export function ledgerUpdateOver(truth: Truth, from: number, to: number): LedgerUpdateShape {
  const state = truth.afterBatch.get(to);
  if (!state) throw new Error(`${to} does not end a batch`);
  const net = new Map<string, number>();
  for (let s = from; s <= to; s++) {
    const event = truth.events[s - 1]!;
    for (const id of accountsOf(event)) net.set(id, (net.get(id) ?? 0) + signedChange(event, id));
  }
  const accounts = [...net]
    .map(([accountId, change]) => ({ accountId, change, ...state.accounts.get(accountId)! }))
    .sort((a, b) => a.accountId.localeCompare(b.accountId));
  return { fromSequence: from, toSequence: to, accounts, totals: state.totals, accountCount: state.accountCount };
}

/** One update per batch ending after `after` (the first one cut to the events after it). */
export function expectedLedgerUpdates(truth: Truth, after: number, upTo = truth.head): LedgerUpdateShape[] {
  return truth.batches.filter((b) => b.to > after && b.to <= upTo).map((b) => ledgerUpdateOver(truth, Math.max(b.from, after + 1), b.to));
}

export function receivedLedgerUpdate(u: LedgerUpdatesSubSubscription['ledgerUpdates']): LedgerUpdateShape {
  return {
    fromSequence: u.fromSequence,
    toSequence: u.toSequence,
    accounts: [...u.accounts].map((a) => ({ accountId: a.accountId, change: a.change, balance: a.balance, version: a.version, status: a.status })).sort((a, b) => a.accountId.localeCompare(b.accountId)),
    totals: sortTotals(u.totals.map((t) => ({ currency: t.currency, balance: t.balance, accounts: t.accounts }))),
    accountCount: u.accountCount,
  };
}

// --- events ----------------------------------------------------------------------------------------------

export interface EventShape {
  readonly sequence: number;
  readonly type: EventType;
  readonly accountIds: readonly string[];
  readonly id: string;
}

export interface EventFilterSpec {
  readonly accountIds?: readonly string[] | null;
  readonly types?: readonly EventType[] | null;
}

export function expectedEvents(truth: Truth, filter: EventFilterSpec, after: number, upTo = truth.head): EventShape[] {
  const ids = filter.accountIds?.length ? new Set(filter.accountIds) : null;
  const types = filter.types?.length ? new Set(filter.types) : null;
  return truth.events
    .slice(after, upTo)
    .filter((e) => (!types || types.has(e.type)) && (!ids || accountsOf(e).some((id) => ids.has(id))))
    .map((e) => ({ sequence: e.sequence, type: e.type, accountIds: accountsOf(e), id: e.id }));
}

export function receivedEvent(e: EventsSubSubscription['events']): EventShape {
  return { sequence: e.sequence, type: e.type, accountIds: [...e.accountIds], id: e.id };
}
