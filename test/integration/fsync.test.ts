// Acknowledged means fsynced, counted where it happens: strace attached to this process counts the
// fdatasync calls that reach the kernel while commands commit. A binding upgrade (or an option) that
// stopped syncing the write-ahead log would fail here, whatever the binding's documentation says.
import { describe, expect, it } from 'vitest';
import type { Command } from '../../src/domain/commands.ts';
import { money } from '../../src/domain/types.ts';
import { traceSyncs } from '../support/strace.ts';
import { tempStore } from '../support/tempStore.ts';

const deposit = (i: number): Command => ({ type: 'Deposit', accountId: 'a', amount: money(1), transactionId: `tx-${i}` });
const BATCHES = 40;

/** Commits BATCHES batches one after another (each waits for the one before) and counts the syncs meanwhile. */
async function syncsPerBatch(durability: 'fsync' | 'none', commandsPerBatch: number) {
  const t = await tempStore({ durability });
  try {
    await t.store.executeOne({ type: 'OpenAccount', accountId: 'a', currency: 'EUR', initialBalance: money(0) });
    const commits: number[] = [];
    t.store.onCommit((c) => commits.push(c.toSequence));
    const strace = await traceSyncs();
    let i = 0;
    for (let b = 0; b < BATCHES; b++) {
      const results = await t.store.execute(Array.from({ length: commandsPerBatch }, () => deposit(i++)));
      expect(results.every((r) => r.ok)).toBe(true);
    }
    const seen = await strace.stop();
    expect(commits).toHaveLength(BATCHES); // one batch per execute: nothing was merged
    return (seen.fdatasync + seen.fsync) / BATCHES;
  } finally {
    await t.cleanup();
  }
}

describe('durability', () => {
  it('fsyncs the write-ahead log once for every committed batch, whatever its size', async () => {
    // RocksDB may add a sync of its own now and then (a new WAL, a MANIFEST), never one per batch.
    for (const size of [1, 500]) {
      const perBatch = await syncsPerBatch('fsync', size);
      expect(perBatch, `${size}-command batches`).toBeGreaterThanOrEqual(1);
      expect(perBatch, `${size}-command batches`).toBeLessThan(1.5);
    }
  });

  it('does not sync per batch with DURABILITY=none, so the count above is the fsync of each commit', async () => {
    expect(await syncsPerBatch('none', 1)).toBeLessThan(0.25);
  });
});
