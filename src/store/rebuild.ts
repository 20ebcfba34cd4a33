// Rebuilds every derived row (history, idempotency keys, projection rows, checkpoints, time index,
// head) from the log alone. Runs when a store's projection format is older than this build's — a store
// written before the projection existed, or before its layout last changed — never on a normal start.
import { fingerprintOfEvent } from '../domain/commands.ts';
import { accountIdsOf } from '../domain/events.ts';
import { LedgerState } from '../domain/ledger.ts';
import { GENESIS_HASH, blockEntries, decodeEvent } from './codec.ts';
import { DerivedRows } from './derivedRows.ts';
import { LOG_END, LOG_START, metaKey } from './keys.ts';
import type { Rocks } from './rocks.ts';

export const PROJECTION_FORMAT = 1;

/** Key ranges holding derived rows: A, C, H, S/s, T, W (everything but the log and meta). */
const DERIVED_RANGES: [string, string][] = [
  ['A', 'B'],
  ['C', 'D'],
  ['H', 'I'],
  ['S', 'U'],
  ['W', 'X'],
  ['s', 't'],
];

export async function rebuildProjection(rocks: Rocks): Promise<void> {
  for (const [from, to] of DERIVED_RANGES) await rocks.clear(Buffer.from(from), Buffer.from(to));
  const state = new LedgerState();
  let hash = GENESIS_HASH;
  let blocks = 0;
  for await (const [, block] of rocks.range({ gte: LOG_START, lte: LOG_END })) {
    const rows = new DerivedRows();
    for (const entry of blockEntries(block)) {
      const event = decodeEvent(entry.bytes);
      state.apply(event);
      rows.add(event, accountIdsOf(event).map((id) => state.account(id)!), event.transactionId === null ? null : fingerprintOfEvent(event));
      hash = entry.hash;
    }
    await rocks.write(rows.ops(state, hash, ++blocks), false);
  }
  const version = Buffer.alloc(4);
  version.writeUInt32BE(PROJECTION_FORMAT);
  // Synced last: until this lands, a crash leaves the old format marker and the rebuild runs again.
  await rocks.write([{ type: 'put', key: metaKey('projection'), value: version }], true);
}
