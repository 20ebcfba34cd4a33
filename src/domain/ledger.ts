// The whole-ledger fold: every account's state, totals per currency, and the head of the log.
// It is what the store keeps in memory, what snapshots hold and what replay rebuilds; one fold for all
// three is what makes "indexed read == replay == live" hold by construction.
//
// A draft is a LedgerState layered on a parent: it reads through to the parent and keeps only what it
// changed, so the writer can decide a batch (and an atomic group inside it) and then either merge the
// draft or drop it, leaving the parent exactly as it was.
import { evolve } from './decider.ts';
import { assertNever, type RecordedEvent } from './events.ts';
import { money, sequence, type AccountId, type AccountState, type CurrencyTotal, type Sequence } from './types.ts';

export interface LedgerSummary {
  readonly sequence: Sequence;
  readonly accountCount: number;
  readonly totals: readonly CurrencyTotal[];
}

export class LedgerState {
  private readonly accountMap = new Map<AccountId, AccountState>();
  private readonly totalMap = new Map<string, CurrencyTotal>();
  head: Sequence;
  /** Timestamp of the head event (ms); the next event may not be earlier. */
  lastTimestamp: number;
  accountCount: number;

  constructor(private parent?: LedgerState) {
    this.head = parent?.head ?? sequence(0);
    this.lastTimestamp = parent?.lastTimestamp ?? 0;
    this.accountCount = parent?.accountCount ?? 0;
  }

  static from(summary: LedgerSummary, accounts: Iterable<AccountState>, lastTimestamp: number): LedgerState {
    const state = new LedgerState();
    for (const a of accounts) state.accountMap.set(a.id, a);
    for (const t of summary.totals) state.totalMap.set(t.currency, t);
    state.head = summary.sequence;
    state.accountCount = summary.accountCount;
    state.lastTimestamp = lastTimestamp;
    return state;
  }

  account(id: AccountId): AccountState | undefined {
    return this.accountMap.get(id) ?? this.parent?.account(id);
  }

  total(currency: string): CurrencyTotal | undefined {
    return this.totalMap.get(currency) ?? this.parent?.total(currency);
  }

  currencyBalance(currency: string): number {
    return this.total(currency)?.balance ?? 0;
  }

  /** On a root state: every account. On a draft: the accounts the draft changed. */
  accounts(): IterableIterator<AccountState> {
    return this.accountMap.values();
  }

  /** On a root state: every currency total. On a draft: the totals the draft changed. */
  totals(): IterableIterator<CurrencyTotal> {
    return this.totalMap.values();
  }

  /** Every currency's total, drafts included, in currency order. */
  currencyTotals(): CurrencyTotal[] {
    if (!this.parent) return sortedTotals(this.totalMap.values());
    const merged = new Map(this.parent.currencyTotals().map((t) => [t.currency, t]));
    for (const [c, t] of this.totalMap) merged.set(c, t);
    return sortedTotals(merged.values());
  }

  summary(): LedgerSummary {
    return { sequence: this.head, accountCount: this.accountCount, totals: this.currencyTotals() };
  }

  draft(): LedgerState {
    return new LedgerState(this);
  }

  /**
   * Moves what this draft changed into its parent, or into `into`, an ancestor that already holds
   * everything of the drafts between (a batch decided on top of one that has since been merged).
   */
  merge(into: LedgerState | undefined = this.parent): void {
    const parent = into;
    if (!parent) throw new Error('merge() of a root state');
    for (const [id, a] of this.accountMap) parent.accountMap.set(id, a);
    for (const [c, t] of this.totalMap) parent.totalMap.set(c, t);
    parent.head = this.head;
    parent.lastTimestamp = this.lastTimestamp;
    parent.accountCount = this.accountCount;
  }

  /**
   * Makes `ancestor` this draft's parent, skipping drafts between that it already holds (they were
   * merged into it). Reads then stop there: a writer that always decides on top of the batch before
   * would otherwise read through one more layer with every batch, without end.
   */
  rebase(ancestor: LedgerState): void {
    this.parent = ancestor;
  }

  /** Folds the next event of the log into the state; events must arrive in sequence order, no gaps. */
  apply(event: RecordedEvent): void {
    if (event.sequence !== this.head + 1) {
      throw new Error(`event ${event.sequence} applied at head ${this.head}: the log must be folded in order`);
    }
    // Not accountIdsOf(event): this runs for every event of a replay, and that allocates an array.
    if (event.type === 'TRANSFERRED') {
      this.evolveAccount(event.data.fromAccountId, event);
      this.evolveAccount(event.data.toAccountId, event);
    } else {
      this.evolveAccount(event.data.accountId, event);
    }
    const change = totalChange(event, (id) => this.account(id)!.currency);
    if (change) {
      const t = this.total(change.currency);
      this.totalMap.set(change.currency, {
        currency: change.currency,
        balance: money((t?.balance ?? 0) + change.delta),
        accounts: (t?.accounts ?? 0) + change.newAccounts,
      });
      this.accountCount += change.newAccounts;
    }
    this.head = event.sequence;
    this.lastTimestamp = event.timestamp;
  }

  private evolveAccount(id: AccountId, event: RecordedEvent): void {
    this.accountMap.set(id, evolve(this.account(id), event, id));
  }
}

/** How an event moves its currency's total; null when it does not (a transfer, a close). */
export function totalChange(
  event: RecordedEvent,
  currencyOf: (id: AccountId) => string,
): { currency: string; delta: number; newAccounts: number } | null {
  switch (event.type) {
    case 'OPENED':
      return { currency: event.data.currency, delta: event.data.initialBalance, newAccounts: 1 };
    case 'DEPOSITED':
      return { currency: currencyOf(event.data.accountId), delta: event.data.amount, newAccounts: 0 };
    case 'WITHDRAWN':
      return { currency: currencyOf(event.data.accountId), delta: -event.data.amount, newAccounts: 0 };
    case 'TRANSFERRED': // both sides hold one currency
    case 'CLOSED': // only a zero balance closes
      return null;
    default:
      return assertNever(event);
  }
}

export const sortedTotals = (totals: Iterable<CurrencyTotal>): CurrencyTotal[] =>
  [...totals].sort((a, b) => (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0));

/** The summary of just these accounts (as of `at`): the ledger a viewer limited to them may see. */
export function summaryOf(accounts: Iterable<AccountState>, at: Sequence): LedgerSummary {
  const totals = new Map<string, CurrencyTotal>();
  let accountCount = 0;
  for (const a of accounts) {
    const t = totals.get(a.currency);
    totals.set(a.currency, { currency: a.currency, balance: money((t?.balance ?? 0) + a.balance), accounts: (t?.accounts ?? 0) + 1 });
    accountCount++;
  }
  return { sequence: at, accountCount, totals: sortedTotals(totals.values()) };
}
