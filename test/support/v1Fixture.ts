// A store as the first build wrote it: OPENED at schema version 1 (no currency: the ledger was
// dollars only), and nothing but the format marker, the log and the head — no projection rows, no
// history or idempotency index, no projection format marker. Written byte by byte with the raw
// binding, the way that build did, so opening it exercises the upcasters and the projection rebuild.
import { randomUUID } from 'node:crypto';
import { BlockWriter, GENESIS_HASH, encodeHead, pack, type Head, type StoredEventTuple } from '../../src/store/codec.ts';
import { logKey, metaKey } from '../../src/store/keys.ts';
import { Rocks } from '../../src/store/rocks.ts';
import { STORE_FORMAT } from '../../src/store/ledgerStore.ts';
import type { EventType } from '../../src/domain/events.ts';
import { sequence } from '../../src/domain/types.ts';

/** One event as an old build stored it: its data at `schemaVersion`, exactly as written. */
export interface FixtureEvent {
  readonly type: EventType;
  readonly schemaVersion: number;
  readonly data: Record<string, unknown>;
  readonly transactionId?: string | null;
}

export const v1Opened = (accountId: string, initialBalance: number): FixtureEvent => ({
  type: 'OPENED',
  schemaVersion: 1,
  data: { accountId, initialBalance },
});
export const v1Deposited = (accountId: string, amount: number, transactionId: string): FixtureEvent => ({
  type: 'DEPOSITED',
  schemaVersion: 1,
  data: { accountId, amount },
  transactionId,
});
export const v1Withdrawn = (accountId: string, amount: number, transactionId: string): FixtureEvent => ({
  type: 'WITHDRAWN',
  schemaVersion: 1,
  data: { accountId, amount },
  transactionId,
});
export const v1Transferred = (fromAccountId: string, toAccountId: string, amount: number, transactionId: string): FixtureEvent => ({
  type: 'TRANSFERRED',
  schemaVersion: 1,
  data: { fromAccountId, toAccountId, amount },
  transactionId,
});
export const v1Closed = (accountId: string, reason: string): FixtureEvent => ({ type: 'CLOSED', schemaVersion: 1, data: { accountId, reason } });

/**
 * The first ledger, as committed batches (one log block each). Final state, all USD:
 * alice 1000 (v4), bob 200 (v3), carol 175 (v3), dave 0 CLOSED (v2); 4 accounts, total 1375.
 */
export const V1_LEDGER: readonly (readonly FixtureEvent[])[] = [
  [v1Opened('alice', 1_000), v1Opened('bob', 0)],
  [v1Deposited('alice', 500, 'legacy-dep-1'), v1Transferred('alice', 'bob', 300, 'legacy-tr-1')],
  [v1Opened('carol', 50), v1Withdrawn('alice', 200, 'legacy-wd-1')],
  [v1Transferred('bob', 'carol', 100, 'legacy-tr-2'), v1Deposited('carol', 25, 'legacy-dep-2'), v1Opened('dave', 0), v1Closed('dave', 'migrated')],
];

export const V1_START_TIME = Date.UTC(2019, 0, 1);

export interface WrittenFixture {
  readonly head: number;
  readonly headHash: Buffer;
  /** Every event as stored, in sequence order. */
  readonly tuples: readonly StoredEventTuple[];
  /** The head record as it stood after each block. */
  readonly blockHeads: readonly Head[];
}

/**
 * Writes `blocks` into a new store at `dir` as the old build did. Each event gets its own timestamp
 * (a second apart), so one block can span several times.
 */
export async function writeV1Store(dir: string, blocks: readonly (readonly FixtureEvent[])[] = V1_LEDGER): Promise<WrittenFixture> {
  const rocks = await Rocks.open(dir);
  try {
    const format = Buffer.alloc(4);
    format.writeUInt32BE(STORE_FORMAT);
    await rocks.write([{ type: 'put', key: metaKey('format'), value: format }], true);

    const tuples: StoredEventTuple[] = [];
    const blockHeads: Head[] = [];
    let hash = GENESIS_HASH;
    for (const events of blocks) {
      const first = tuples.length + 1;
      const writer = new BlockWriter(hash);
      for (const e of events) {
        const seq = tuples.length + 1;
        const tuple: StoredEventTuple = [seq, e.type, e.schemaVersion, randomUUID(), V1_START_TIME + seq * 1_000, e.transactionId ?? null, e.data];
        tuples.push(tuple);
        writer.addEncoded(pack(tuple));
      }
      hash = writer.lastHash;
      const head: Head = { sequence: sequence(tuples.length), hash, timestamp: tuples[tuples.length - 1]![4] };
      blockHeads.push(head);
      await rocks.write(
        [
          { type: 'put', key: logKey(first), value: Buffer.from(writer.finish()) },
          { type: 'put', key: metaKey('head'), value: encodeHead(head) },
        ],
        true,
      );
    }
    return { head: tuples.length, headHash: hash, tuples, blockHeads };
  } finally {
    await rocks.close();
  }
}
