// Snapshots of the whole projection every N events, so replay to any S starts near S. Taken from the
// in-memory ledger at a batch boundary (account states are immutable, so copying the references is a
// consistent picture) and written after the commit, off the writer's path. Chunks go first and the
// header last, in one atomic batch: a snapshot is either whole or absent.
import { LedgerState } from '../domain/ledger.ts';
import { sequence, type AccountState, type Sequence } from '../domain/types.ts';
import { decodeAccounts, decodeSnapshotHeader, encodeAccounts, encodeSnapshotHeader, type SnapshotHeader } from '../store/codec.ts';
import { SNAPSHOTS_START, snapshotChunkKey, snapshotKey } from '../store/keys.ts';
import type { LedgerStore } from '../store/ledgerStore.ts';
import type { BatchOp } from '../store/rocks.ts';

const ACCOUNTS_PER_CHUNK = 1_000;

export class Snapshotter {
  private lastSnapshot = 0;
  private writing: Promise<Sequence> | null = null;
  private readonly unsubscribe: () => void;
  /** The last failure to write a snapshot; snapshots are an optimisation, so it does not stop the ledger. */
  lastError: unknown = null;

  private constructor(
    private readonly store: LedgerStore,
    /** Events between snapshots. */
    readonly interval: number,
  ) {
    this.unsubscribe = store.onCommit(() => this.maybeSnapshot());
  }

  static async start(store: LedgerStore, interval: number): Promise<Snapshotter> {
    const snapshotter = new Snapshotter(store, interval);
    snapshotter.lastSnapshot = (await findSnapshot(store, store.head))?.sequence ?? 0;
    return snapshotter;
  }

  /**
   * Takes a snapshot of the ledger now, unless the head already has one or one is being written;
   * resolves with the sequence of that snapshot once it is stored.
   */
  snapshotNow(): Promise<Sequence> {
    if (!this.writing && this.store.head > this.lastSnapshot) {
      const state = this.store.state;
      const header = { ...state.summary(), timestamp: state.lastTimestamp };
      const accounts = [...state.accounts()];
      const previous = this.lastSnapshot;
      this.lastSnapshot = header.sequence;
      this.writing = this.write(header, accounts)
        .then(() => header.sequence)
        .catch((err: unknown) => {
          this.lastSnapshot = previous; // the next commit tries again
          throw err;
        })
        .finally(() => {
          this.writing = null;
        });
    }
    return this.writing ?? Promise.resolve(sequence(this.lastSnapshot));
  }

  async stop(): Promise<void> {
    this.unsubscribe();
    await this.writing?.catch(() => {}); // its failure is in lastError
  }

  private maybeSnapshot(): void {
    if (this.store.head - this.lastSnapshot >= this.interval) {
      this.snapshotNow().then(
        () => (this.lastError = null),
        (err: unknown) => (this.lastError = err),
      );
    }
  }

  private async write(summary: Omit<SnapshotHeader, 'chunks'>, accounts: AccountState[]): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve)); // let the commit that triggered us finish first
    const ops: BatchOp[] = [];
    for (let i = 0; i * ACCOUNTS_PER_CHUNK < accounts.length; i++) {
      const chunk = accounts.slice(i * ACCOUNTS_PER_CHUNK, (i + 1) * ACCOUNTS_PER_CHUNK);
      ops.push({ type: 'put', key: snapshotChunkKey(summary.sequence, i), value: encodeAccounts(chunk) });
    }
    ops.push({ type: 'put', key: snapshotKey(summary.sequence), value: encodeSnapshotHeader({ ...summary, chunks: ops.length }) });
    await this.store.rocks.write(ops, false);
  }
}

/** The header of the latest snapshot at or below `seq`. */
export async function findSnapshot(store: LedgerStore, seq: number): Promise<SnapshotHeader | undefined> {
  const entry = await store.rocks.last(SNAPSHOTS_START, snapshotKey(seq));
  return entry ? decodeSnapshotHeader(entry[1]) : undefined;
}

export async function loadSnapshot(store: LedgerStore, header: SnapshotHeader): Promise<LedgerState> {
  const accounts: AccountState[] = [];
  const values = await store.rocks.getMany(Array.from({ length: header.chunks }, (_, i) => snapshotChunkKey(header.sequence, i)));
  for (const value of values) {
    if (!value) throw new Error(`snapshot ${header.sequence} is missing a chunk`);
    for (const a of decodeAccounts(value)) accounts.push(a);
  }
  return LedgerState.from(header, accounts, header.timestamp);
}

export async function listSnapshots(store: LedgerStore): Promise<Sequence[]> {
  const out: Sequence[] = [];
  for await (const [, value] of store.rocks.range({ gte: SNAPSHOTS_START, lt: snapshotKey(Number.MAX_SAFE_INTEGER) })) {
    out.push(decodeSnapshotHeader(value).sequence);
  }
  return out;
}
