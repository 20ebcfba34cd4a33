// The in-process change feed: every committed batch, once, to every listener that cares. Listeners for
// particular accounts are found through an index (account → listeners), so a batch costs work in
// proportion to what it touched, not to how many subscribers there are.
import type { CurrencyTotal } from '../domain/types.ts';
import type { Commit, LedgerStore } from '../store/ledgerStore.ts';

/** A committed batch with the ledger totals right after it. */
export interface LiveBatch extends Commit {
  readonly totals: readonly CurrencyTotal[];
  readonly accountCount: number;
}

export type BatchListener = (batch: LiveBatch) => void;

interface Registration {
  readonly fn: BatchListener;
  /** The last batch (its toSequence) delivered, so a listener of several accounts hears a batch once. */
  seen: number;
}

export class ChangeFeed {
  private readonly everything = new Set<Registration>();
  private readonly byAccount = new Map<string, Set<Registration>>();
  private readonly unsubscribe: () => void;

  constructor(private readonly store: LedgerStore) {
    this.unsubscribe = store.onCommit((commit) => this.publish(commit));
  }

  get head(): number {
    return this.store.head;
  }

  /** Calls `fn` for every batch that touched one of `accountIds` (every batch when null). */
  listen(accountIds: ReadonlySet<string> | null, fn: BatchListener): () => void {
    const registration: Registration = { fn, seen: 0 };
    if (accountIds === null) {
      this.everything.add(registration);
      return () => this.everything.delete(registration);
    }
    for (const id of accountIds) {
      let set = this.byAccount.get(id);
      if (!set) this.byAccount.set(id, (set = new Set()));
      set.add(registration);
    }
    return () => {
      for (const id of accountIds) {
        const set = this.byAccount.get(id);
        set?.delete(registration);
        if (set?.size === 0) this.byAccount.delete(id);
      }
    };
  }

  close(): void {
    this.unsubscribe();
  }

  private publish(commit: Commit): void {
    const state = this.store.state;
    const batch: LiveBatch = { ...commit, totals: state.currencyTotals(), accountCount: state.accountCount };
    for (const r of this.everything) deliver(r, batch);
    if (this.byAccount.size === 0) return;
    for (const account of commit.accounts) {
      const set = this.byAccount.get(account.id);
      if (set) for (const r of set) if (r.seen !== batch.toSequence) deliver(r, batch);
    }
  }
}

function deliver(r: Registration, batch: LiveBatch): void {
  r.seen = batch.toSequence;
  try {
    r.fn(batch);
  } catch (err) {
    // A listener's failure is its own; the writer and the other subscribers go on.
    console.error('change feed listener failed', err);
  }
}
