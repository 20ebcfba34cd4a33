// The storage boundary's own promises, on a real RocksDB: a range reads one snapshot however many
// native batches it takes and whatever commits meanwhile; writes are atomic; a second opener of a
// store is refused with STORE_LOCKED, and an open that must find a store creates none.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LedgerStore } from '../../src/store/ledgerStore.ts';
import { Rocks, type BatchOp } from '../../src/store/rocks.ts';
import { tempDir } from '../support/tempStore.ts';

const key = (i: number) => Buffer.from(`k${String(i).padStart(6, '0')}`);
const value = (generation: number) => Buffer.alloc(100, generation);
const puts = (from: number, to: number, generation: number): BatchOp[] =>
  Array.from({ length: to - from }, (_, i) => ({ type: 'put', key: key(from + i), value: value(generation) }));

describe('Rocks', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  async function open(): Promise<{ rocks: Rocks; dir: string }> {
    const d = await tempDir('evledger-rocks-');
    const rocks = await Rocks.open(d.dir);
    cleanups.push(d.remove, () => rocks.close());
    return { rocks, dir: d.dir };
  }

  it('reads a range from the snapshot taken when it began, across many native batches, while writes commit', async () => {
    const { rocks } = await open();
    await rocks.write(puts(0, 5_000, 1), true); // 500 KB: many more than one native batch (16 KiB)
    const reader = rocks.range({ gte: key(0), lt: key(10_000) })[Symbol.asyncIterator]();
    const first = await reader.next();
    expect(first.value![0]).toEqual(key(0));

    // Every row rewritten, rows added after the range's end and inside it, one deleted: none of it is seen.
    await rocks.write(puts(0, 5_000, 2), true);
    await rocks.write([...puts(5_000, 6_000, 2), { type: 'del', key: key(4_999) }], true);

    let rows = 1;
    for (let r = await reader.next(); !r.done; r = await reader.next()) {
      expect(r.value[1].equals(value(1)), `row ${r.value[0].toString()} read as rewritten`).toBe(true);
      rows++;
    }
    expect(rows).toBe(5_000);
    // A range begun now sees the writes.
    let now = 0;
    for await (const [, v] of rocks.range({ gte: key(0), lt: key(10_000) })) {
      expect(v.equals(value(2))).toBe(true);
      now++;
    }
    expect(now).toBe(5_999);
  });

  it('writes a batch atomically: a reader sees all of it or none of it', async () => {
    const { rocks } = await open();
    const reads: number[] = [];
    const writing = (async () => {
      for (let g = 1; g <= 20; g++) await rocks.write(puts(0, 200, g), true);
    })();
    while (reads.length < 200) {
      const seen = new Set<number>();
      for await (const [, v] of rocks.range({ gte: key(0), lt: key(200) })) seen.add(v[0]!);
      expect(seen.size, `one range saw generations ${[...seen].join(', ')}`).toBeLessThanOrEqual(1);
      reads.push(seen.size);
      if (reads.length % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await writing;
  });

  it('refuses a second opener with STORE_LOCKED, and a store that must exist and does not with STORE_MISSING, creating nothing', async () => {
    const { dir } = await open();
    await expect(Rocks.open(dir)).rejects.toMatchObject({ code: 'STORE_LOCKED' });
    const missing = join(dir, 'nothing-here');
    await expect(LedgerStore.open(missing, { existing: true })).rejects.toMatchObject({ code: 'STORE_MISSING' });
    expect(existsSync(missing)).toBe(false);
    await expect(Rocks.open(missing, { createIfMissing: false })).rejects.toMatchObject({ code: 'STORE_MISSING' });
  });
});
