// The seam between deciding a batch and committing it. The append pipeline decides batches the same
// way everywhere; a BatchLog makes one durable. The embedded store commits straight to RocksDB; a
// clustered node (src/cluster/) first publishes the batch to the replicated log, then commits it here.
import type { Sequence } from '../domain/types.ts';
import type { BatchOp, FilledBatch, Rocks } from './rocks.ts';

/** A decided batch: the log block and everything derived from it, as RocksDB ops. */
export interface DecidedBatch {
  /** Every op for this node's RocksDB, the log block among them. */
  readonly ops: BatchOp[];
  /** The ops already packed for the write thread, or null. */
  readonly filled: FilledBatch | null;
  /** The log block: the batch's events with their chained hashes (codec.ts BlockWriter). */
  readonly block: Buffer;
  /** The batch's place in the log (1 = the first batch): the stream sequence it must get in a cluster. */
  readonly position: number;
  readonly firstSequence: Sequence;
  readonly lastSequence: Sequence;
  /** The hash chain's head after the batch. */
  readonly hash: Buffer;
}

export interface BatchLog {
  /**
   * Resolves once the batch is durable and written to this node's RocksDB; rejects if it is not
   * committed. `previous` is the commit of the batch before while that is still in flight, which only
   * a pipelined log is given: it must not write this batch here before that one, nor at all if it fails.
   */
  commit(batch: DecidedBatch, previous: Promise<void> | null): Promise<void>;
  /**
   * Whether a batch may go out before the one before it is committed. RocksDB's writes must not
   * (a batch written after a failed one would follow a gap); a stream's publishes may, fenced on the
   * batch before, so the round trip to the log overlaps the local write of the batch before.
   */
  readonly pipelined: boolean;
}

/** The embedded store's log: one RocksDB WriteBatch, fsynced unless durability is `none`. */
export const localLog = (rocks: Rocks, sync: boolean): BatchLog => ({
  commit: (batch) => rocks.writeFilled(batch.filled ?? rocks.fill(batch.ops), sync),
  pipelined: false,
});
