// Replay: the projection rebuilt literally from the log, starting at the nearest snapshot at or below
// the target. It shares the fold (LedgerState.apply) with the live ledger, and tests hold it equal to
// the indexed point-in-time reads.
import { LedgerState } from '../domain/ledger.ts';
import { sequence, type Sequence } from '../domain/types.ts';
import { decodeBlock } from '../store/codec.ts';
import type { LedgerStore } from '../store/ledgerStore.ts';
import { findSnapshot, loadSnapshot } from './snapshots.ts';

export interface Replay {
  /** The snapshot replay started from; 0 when it started from the beginning of the log. */
  readonly fromSnapshot: Sequence;
  readonly eventsReplayed: number;
  /** The ledger at the target sequence (clamped to the head). */
  readonly state: LedgerState;
}

export async function replay(store: LedgerStore, toSequence: number, options: { fromScratch?: boolean } = {}): Promise<Replay> {
  const target = Math.min(toSequence, store.head);
  const snapshot = options.fromScratch ? undefined : await findSnapshot(store, target);
  const state = snapshot ? await loadSnapshot(store, snapshot) : new LedgerState();
  let eventsReplayed = 0;
  if (state.head < target) {
    outer: for await (const { block } of store.readBlocks(state.head + 1)) {
      for (const event of decodeBlock(block)) {
        if (event.sequence <= state.head) continue;
        if (event.sequence > target) break outer;
        state.apply(event);
        eventsReplayed++;
      }
    }
  }
  if (state.head !== target) throw new Error(`replay reached ${state.head}, not ${target}: the log has a gap`);
  return { fromSnapshot: sequence(snapshot?.sequence ?? 0), eventsReplayed, state };
}
