// Everything derived from a run of events that is written in the same atomic batch as they are:
// account history, idempotency keys, projection rows, the ledger checkpoint, the time index and the
// head. The append pipeline uses it for each batch, and the projection rebuild for each stored block.
import type { PriorTransaction } from '../domain/decider.ts';
import type { RecordedEvent } from '../domain/events.ts';
import type { LedgerState } from '../domain/ledger.ts';
import type { AccountState } from '../domain/types.ts';
import { encodeAccount, encodeCheckpoint, encodeHead, encodeHistory, encodeTransaction } from './codec.ts';
import { accountKey, checkpointKey, historyKey, metaKey, timeKey, transactionKey } from './keys.ts';
import type { BatchOp } from './rocks.ts';

const EMPTY = Buffer.alloc(0);

export class DerivedRows {
  readonly events: RecordedEvent[] = [];
  /** Transaction ids used by this batch so far, so a second use inside the batch is caught too. */
  readonly pendingTransactions = new Map<string, PriorTransaction>();
  /** For each event in order, its accounts right after it. */
  readonly history: AccountState[] = [];
  private readonly transactions: string[] = [];

  mark() {
    return { events: this.events.length, history: this.history.length, transactions: this.transactions.length };
  }

  /** Forgets everything added since `mark` (an atomic group that failed). */
  rollback(mark: ReturnType<DerivedRows['mark']>): void {
    this.events.length = mark.events;
    this.history.length = mark.history;
    for (const txId of this.transactions.splice(mark.transactions)) this.pendingTransactions.delete(txId);
  }

  /** Adds an event with the states of its accounts right after it and its command's fingerprint. */
  add(event: RecordedEvent, accountsAfter: readonly AccountState[], fingerprint: string | null): void {
    this.events.push(event);
    for (const account of accountsAfter) this.history.push(account);
    if (event.transactionId !== null && fingerprint !== null) {
      this.transactions.push(event.transactionId);
      this.pendingTransactions.set(event.transactionId, { fingerprint, sequence: event.sequence });
    }
  }

  /** The ops for the events added, given the draft (or state) they were folded into and the new head hash. */
  ops(folded: LedgerState, headHash: Buffer): BatchOp[] {
    const ops: BatchOp[] = [];
    for (const a of this.history) ops.push({ type: 'put', key: historyKey(a.id, a.lastSequence), value: encodeHistory(a) });
    for (const txId of this.transactions) {
      ops.push({ type: 'put', key: transactionKey(txId), value: encodeTransaction(this.pendingTransactions.get(txId)!) });
    }
    for (const account of this.touchedAccounts(folded)) ops.push({ type: 'put', key: accountKey(account.id), value: encodeAccount(account) });
    const last = folded.head;
    ops.push({ type: 'put', key: checkpointKey(last), value: encodeCheckpoint({ accountCount: folded.accountCount, totals: folded.currencyTotals() }) });
    // One time-index entry per distinct timestamp (a batch written by the pipeline has just one).
    this.events.forEach((e, i) => {
      const next = this.events[i + 1];
      if (!next || next.timestamp !== e.timestamp) ops.push({ type: 'put', key: timeKey(e.timestamp, e.sequence), value: EMPTY });
    });
    ops.push({ type: 'put', key: metaKey('head'), value: encodeHead({ sequence: last, hash: headHash, timestamp: folded.lastTimestamp }) });
    return ops;
  }

  private touchedAccounts(folded: LedgerState): AccountState[] {
    const ids = new Set(this.history.map((a) => a.id));
    return [...ids].map((id) => folded.account(id)!);
  }
}
