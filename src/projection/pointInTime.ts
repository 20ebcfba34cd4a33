// What was true at sequence S (or time T): accounts from one reverse seek in their history index,
// ledger totals from the checkpoint of the batch at or before S plus the few events after it.
import { summaryOf, totalChange, sortedTotals, type LedgerSummary } from '../domain/ledger.ts';
import { money, sequence, type AccountId, type AccountState, type CurrencyTotal, type Sequence } from '../domain/types.ts';
import { decodeAccount } from '../store/codec.ts';
import { ACCOUNTS_END, accountIdOfKey, accountKey, ACCOUNTS_START } from '../store/keys.ts';
import type { LedgerStore } from '../store/ledgerStore.ts';

/** A point of the log: a sequence, a time, or (neither) now. */
export interface At {
  readonly sequence?: number | null | undefined;
  readonly time?: Date | number | null | undefined;
}

export class PointInTime {
  constructor(private readonly store: LedgerStore) {}

  /** The sequence a point describes, clamped to the head: the future is now. */
  async resolve(at: At = {}): Promise<Sequence> {
    const head = this.store.head;
    if (at.sequence != null) return sequence(Math.min(at.sequence, head));
    if (at.time != null) return this.store.sequenceAtTime(typeof at.time === 'number' ? at.time : at.time.getTime());
    return head;
  }

  /** Account `id` as of `seq`, or null if it had not been opened by then. */
  async accountAt(id: AccountId, seq: number): Promise<AccountState | null> {
    const now = this.store.state.account(id);
    if (!now || now.openedSequence > seq) return null;
    if (now.lastSequence <= seq) return now;
    const past = await this.store.accountHistoryAt(id, seq);
    if (!past) return null;
    return { ...now, version: past.version, balance: past.balance, status: past.status, lastSequence: past.sequence };
  }

  async ledgerAt(seq: number): Promise<LedgerSummary> {
    if (seq >= this.store.head) return this.store.state.summary();
    const checkpoint = await this.store.checkpointAt(seq);
    const totals = new Map<string, CurrencyTotal>((checkpoint?.checkpoint.totals ?? []).map((t) => [t.currency, t]));
    let accountCount = checkpoint?.checkpoint.accountCount ?? 0;
    const currencyOf = (id: AccountId) => this.store.state.account(id)!.currency;
    for await (const event of this.store.readEvents((checkpoint?.sequence ?? 0) + 1, seq)) {
      const change = totalChange(event, currencyOf);
      if (!change) continue;
      const t = totals.get(change.currency);
      totals.set(change.currency, {
        currency: change.currency,
        balance: money((t?.balance ?? 0) + change.delta),
        accounts: (t?.accounts ?? 0) + change.newAccounts,
      });
      accountCount += change.newAccounts;
    }
    return { sequence: sequence(seq), accountCount, totals: sortedTotals(totals.values()) };
  }

  /** The ledger of only the accounts `ids` as of `seq` (those that existed then): one seek each. */
  async ledgerOf(ids: Iterable<AccountId>, seq: number): Promise<LedgerSummary> {
    const accounts = await Promise.all([...ids].map((id) => this.accountAt(id, seq)));
    return summaryOf(accounts.filter((a): a is AccountState => a !== null), sequence(seq));
  }

  /** Up to `first` of the accounts `ids` that existed at `seq`, in id order, after the id `after`. */
  async accountsAmong(ids: Iterable<AccountId>, seq: number, first: number, after: AccountId | null): Promise<{ accounts: AccountState[]; hasNextPage: boolean }> {
    const accounts: AccountState[] = [];
    for (const id of [...ids].filter((id) => after === null || id > after).sort()) {
      const a = await this.accountAt(id, seq);
      if (!a) continue;
      if (accounts.length === first) return { accounts, hasNextPage: true };
      accounts.push(a);
    }
    return { accounts, hasNextPage: false };
  }

  /** Up to `first` accounts that existed at `seq`, in id order, after the id `after`. */
  async accountsAt(seq: number, first: number, after: AccountId | null): Promise<{ accounts: AccountState[]; hasNextPage: boolean }> {
    const accounts: AccountState[] = [];
    const range = { gt: after === null ? ACCOUNTS_START : accountKey(after), lt: ACCOUNTS_END };
    for await (const [key, value] of this.store.rocks.range(range)) {
      const now = decodeAccount(accountIdOfKey(key), value);
      if (now.openedSequence > seq) continue;
      if (accounts.length === first) return { accounts, hasNextPage: true };
      accounts.push(now.lastSequence <= seq ? now : (await this.accountAt(now.id, seq))!);
    }
    return { accounts, hasNextPage: false };
  }
}
