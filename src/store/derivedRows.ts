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

  /**
   * The ops for the events added, given the draft (or state) they were folded into, the new head hash
   * and the log block (or null), in key order (keyspaces A C H L M T W, and sorted within each):
   * RocksDB inserts a batch into its memtable (a skip list) in the order given, and an insert next to
   * the previous one skips most of the search, which was most of the write thread's time. Bulk
   * batches (2,000 events) written raw took 14-17 % less time sorted; the sort costs the event loop
   * ~1 µs an event, and batches of a few dozen events gain nothing measurable either way.
   *
   * `projection`: whose projection rows (A) and head to write: this batch's accounts (the default);
   * none, for a batch that a later one in the same write supersedes; or the accounts of every batch
   * of that write, for its last (replicated batches applied many to a write, whose rows would
   * otherwise repeat every account each batch touches).
   */
  ops(folded: LedgerState, headHash: Buffer, blocks: number, block: BatchOp | null = null, projection: 'batch' | 'none' | ReadonlySet<string> = 'batch'): BatchOp[] {
    const ops: BatchOp[] = [];
    // Each touched account's states after its events, in sequence order; the accounts in id order.
    const byAccount = new Map<string, AccountState[]>();
    for (const a of this.history) {
      const states = byAccount.get(a.id);
      if (states) states.push(a);
      else byAccount.set(a.id, [a]);
    }
    const ids = [...byAccount.keys()].sort(); // ids are ASCII (domain/validation): string order is byte order
    const projected = projection === 'batch' ? ids : projection === 'none' ? [] : [...projection].sort();
    for (const id of projected) ops.push({ type: 'put', key: accountKey(id), value: encodeAccount(folded.account(id)!) });
    const last = folded.head;
    ops.push({ type: 'put', key: checkpointKey(last), value: encodeCheckpoint({ accountCount: folded.accountCount, totals: folded.currencyTotals() }) });
    for (const id of ids) for (const a of byAccount.get(id)!) ops.push({ type: 'put', key: historyKey(id, a.lastSequence), value: encodeHistory(a) });
    if (block) ops.push(block);
    if (projection !== 'none') ops.push({ type: 'put', key: metaKey('head'), value: encodeHead({ sequence: last, hash: headHash, timestamp: folded.lastTimestamp, blocks }) });
    for (const txId of [...this.transactions].sort()) {
      ops.push({ type: 'put', key: transactionKey(txId), value: encodeTransaction(this.pendingTransactions.get(txId)!) });
    }
    // One time-index entry per distinct timestamp (a batch written by the pipeline has just one).
    this.events.forEach((e, i) => {
      const next = this.events[i + 1];
      if (!next || next.timestamp !== e.timestamp) ops.push({ type: 'put', key: timeKey(e.timestamp, e.sequence), value: EMPTY });
    });
    return ops;
  }
}
