// A store written by the first build (v1 OPENED without currency, no projection) opens with this one:
// the projection is rebuilt from the log, old events read through the upcasters, and the ledger goes on.
import { afterEach, describe, expect, it } from 'vitest';
import type { Command } from '../../src/domain/commands.ts';
import type { RecordedEvent } from '../../src/domain/events.ts';
import { LedgerState } from '../../src/domain/ledger.ts';
import { money } from '../../src/domain/types.ts';
import { PointInTime } from '../../src/projection/pointInTime.ts';
import { replay } from '../../src/projection/replay.ts';
import { verify } from '../../src/projection/verify.ts';
import { blockEntries, decodeHead, unpack } from '../../src/store/codec.ts';
import { ACCOUNTS_END, ACCOUNTS_START, LOG_END, LOG_START, metaKey } from '../../src/store/keys.ts';
import { LedgerStore } from '../../src/store/ledgerStore.ts';
import { PROJECTION_FORMAT, rebuildProjection } from '../../src/store/rebuild.ts';
import { Rocks } from '../../src/store/rocks.ts';
import { tempDir, tempStore } from '../support/tempStore.ts';
import { V1_LEDGER, v1Opened, writeV1Store, type WrittenFixture } from '../support/v1Fixture.ts';

const ACCOUNTS = ['alice', 'bob', 'carol', 'dave'];

/** The same history as V1_LEDGER, as commands of today, batch for batch. */
const V1_LEDGER_AS_COMMANDS: Command[][] = [
  [
    { type: 'OpenAccount', accountId: 'alice', currency: 'USD', initialBalance: money(1_000) },
    { type: 'OpenAccount', accountId: 'bob', currency: 'USD', initialBalance: money(0) },
  ],
  [
    { type: 'Deposit', accountId: 'alice', amount: money(500), transactionId: 'legacy-dep-1' },
    { type: 'Transfer', fromAccountId: 'alice', toAccountId: 'bob', amount: money(300), transactionId: 'legacy-tr-1' },
  ],
  [
    { type: 'OpenAccount', accountId: 'carol', currency: 'USD', initialBalance: money(50) },
    { type: 'Withdraw', accountId: 'alice', amount: money(200), transactionId: 'legacy-wd-1' },
  ],
  [
    { type: 'Transfer', fromAccountId: 'bob', toAccountId: 'carol', amount: money(100), transactionId: 'legacy-tr-2' },
    { type: 'Deposit', accountId: 'carol', amount: money(25), transactionId: 'legacy-dep-2' },
    { type: 'OpenAccount', accountId: 'dave', currency: 'USD', initialBalance: money(0) },
    { type: 'CloseAccount', accountId: 'dave', reason: 'migrated' },
  ],
];

async function collect(events: AsyncIterable<RecordedEvent>): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

async function rawLog(rocks: Rocks): Promise<Buffer[]> {
  const blocks: Buffer[] = [];
  for await (const [, block] of rocks.range({ gte: LOG_START, lte: LOG_END })) blocks.push(Buffer.from(block));
  return blocks;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A v1 store in a temp dir, not yet opened by this build. */
async function v1Store(): Promise<{ dir: string; fixture: WrittenFixture }> {
  const { dir, remove } = await tempDir('evledger-v1-');
  cleanups.push(remove);
  const fixture = await writeV1Store(dir);
  return { dir, fixture };
}

async function openStore(dir: string): Promise<LedgerStore> {
  const store = await LedgerStore.open(dir);
  cleanups.push(() => store.close());
  return store;
}

describe('a store written with v1 events', () => {
  it('is what an old build left: a log and a head, no projection', async () => {
    const { dir, fixture } = await v1Store();
    const rocks = await Rocks.open(dir);
    try {
      expect(fixture.head).toBe(10);
      expect(await rocks.get(metaKey('projection'))).toBeUndefined();
      expect(await rocks.get(metaKey('head'))).toBeDefined();
      const rows = [];
      for await (const row of rocks.range({ gte: ACCOUNTS_START, lt: ACCOUNTS_END })) rows.push(row);
      expect(rows).toHaveLength(0);
      expect(await rawLog(rocks)).toHaveLength(V1_LEDGER.length);
      // Everything but the log and the meta keys is absent.
      const other = [];
      for await (const [key] of rocks.range({})) if (key[0] !== 0x4c && key[0] !== 0x4d) other.push(key);
      expect(other).toHaveLength(0);
    } finally {
      await rocks.close();
    }
  });

  it('opens: the projection is rebuilt from the log and its accounts read as USD', async () => {
    const { dir } = await v1Store();
    const store = await openStore(dir);

    expect(store.head).toBe(10);
    expect(store.state.summary()).toEqual({ sequence: 10, accountCount: 4, totals: [{ currency: 'USD', balance: 1_375, accounts: 4 }] });
    expect(store.state.account('alice')).toEqual({ id: 'alice', currency: 'USD', balance: 1_000, status: 'OPEN', version: 4, lastSequence: 6, openedSequence: 1 });
    expect(store.state.account('bob')).toEqual({ id: 'bob', currency: 'USD', balance: 200, status: 'OPEN', version: 3, lastSequence: 7, openedSequence: 2 });
    expect(store.state.account('carol')).toEqual({ id: 'carol', currency: 'USD', balance: 175, status: 'OPEN', version: 3, lastSequence: 8, openedSequence: 5 });
    expect(store.state.account('dave')).toEqual({ id: 'dave', currency: 'USD', balance: 0, status: 'CLOSED', version: 2, lastSequence: 10, openedSequence: 9 });

    const marker = await store.rocks.get(metaKey('projection'));
    expect(marker?.readUInt32BE(0)).toBe(PROJECTION_FORMAT);
    expect((await verify(store)).ok).toBe(true);
  });

  it('reads its events back in the current shape, with the schema version they were written in', async () => {
    const { dir, fixture } = await v1Store();
    const store = await openStore(dir);
    const events = await collect(store.readEvents(1));

    expect(events.map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(events.every((e) => e.schemaVersion === 1)).toBe(true);
    expect(events[0]).toEqual({
      type: 'OPENED',
      data: { accountId: 'alice', currency: 'USD', initialBalance: 1_000 },
      sequence: 1,
      id: fixture.tuples[0]![3],
      timestamp: fixture.tuples[0]![4],
      schemaVersion: 1,
      transactionId: null,
    });
    expect(events.filter((e) => e.type === 'OPENED').map((e) => e.data)).toEqual([
      { accountId: 'alice', currency: 'USD', initialBalance: 1_000 },
      { accountId: 'bob', currency: 'USD', initialBalance: 0 },
      { accountId: 'carol', currency: 'USD', initialBalance: 50 },
      { accountId: 'dave', currency: 'USD', initialBalance: 0 },
    ]);
    expect(events[3]).toMatchObject({ type: 'TRANSFERRED', data: { fromAccountId: 'alice', toAccountId: 'bob', amount: 300 }, transactionId: 'legacy-tr-1' });
    expect(await store.eventsAt([5, 1])).toEqual([events[4], events[0]]);
  });

  it('never rewrites the old events: the log bytes stay exactly as the old build wrote them', async () => {
    const { dir } = await v1Store();
    const before = await (async () => {
      const rocks = await Rocks.open(dir);
      try {
        return await rawLog(rocks);
      } finally {
        await rocks.close();
      }
    })();
    const store = await openStore(dir);
    const after = await rawLog(store.rocks);
    expect(after).toHaveLength(before.length);
    after.forEach((block, i) => expect(block.equals(before[i]!)).toBe(true));
    const firstStored = unpack([...blockEntries(after[0]!)][0]!.bytes);
    expect(firstStored[2]).toBe(1);
    expect(firstStored[6]).toEqual({ accountId: 'alice', initialBalance: 1_000 });
  });

  it('answers point-in-time reads, replay and the time index the same as a fold of its log, at every sequence', async () => {
    const { dir, fixture } = await v1Store();
    const store = await openStore(dir);
    const pit = new PointInTime(store);
    const fold = new LedgerState();
    const events = await collect(store.readEvents(1));
    for (let s = 0; s <= store.head; s++) {
      if (s > 0) fold.apply(events[s - 1]!);
      const replayed = await replay(store, s);
      expect(await pit.ledgerAt(s)).toEqual(fold.summary());
      expect(replayed.state.summary()).toEqual(fold.summary());
      for (const id of ACCOUNTS) {
        const expected = fold.account(id) ?? null;
        expect(await pit.accountAt(id, s), `${id} at ${s}`).toEqual(expected);
        expect(replayed.state.account(id) ?? null, `${id} replayed to ${s}`).toEqual(expected);
      }
    }
    // The time index was rebuilt too: each event's timestamp maps back to its sequence.
    for (const [seq, , , , timestamp] of fixture.tuples) {
      expect(await store.sequenceAtTime(timestamp)).toBe(seq);
      expect(await store.sequenceAtTime(timestamp - 1)).toBe(seq - 1);
    }
  });

  it('derives exactly what the live writer derives from the same history written today', async () => {
    const { dir } = await v1Store();
    const old = await openStore(dir);
    const twin = await tempStore();
    cleanups.push(twin.cleanup);
    for (const batch of V1_LEDGER_AS_COMMANDS) {
      const results = await twin.store.execute(batch);
      expect(results.every((r) => r.ok)).toBe(true);
    }

    expect(old.state.summary()).toEqual(twin.store.state.summary());
    const oldPit = new PointInTime(old);
    const twinPit = new PointInTime(twin.store);
    for (let s = 0; s <= 10; s++) {
      expect(await oldPit.ledgerAt(s)).toEqual(await twinPit.ledgerAt(s));
      for (const id of ACCOUNTS) expect(await oldPit.accountAt(id, s)).toEqual(await twinPit.accountAt(id, s));
    }
    const strip = (e: RecordedEvent) => ({ type: e.type, data: e.data, sequence: e.sequence, transactionId: e.transactionId });
    expect((await collect(old.readEvents(1))).map(strip)).toEqual((await collect(twin.store.readEvents(1))).map(strip));
  });

  it('takes new commands on top, and keeps the old transaction ids idempotent', async () => {
    const { dir } = await v1Store();
    let store = await LedgerStore.open(dir);
    try {
      // The idempotency index was rebuilt from the log: an old transaction replays…
      const retried = await store.executeOne({ type: 'Transfer', fromAccountId: 'alice', toAccountId: 'bob', amount: money(300), transactionId: 'legacy-tr-1' });
      expect(retried).toMatchObject({ ok: true, replayed: true, sequence: 4, event: { type: 'TRANSFERRED', schemaVersion: 1 } });
      if (!retried.ok) throw new Error('unreachable');
      expect(retried.accounts.map((a) => [a.id, a.balance, a.version])).toEqual([
        ['alice', 1_200, 3],
        ['bob', 300, 2],
      ]);
      // …and a different command under an old transaction id is refused.
      expect(await store.executeOne({ type: 'Deposit', accountId: 'alice', amount: money(1), transactionId: 'legacy-dep-1' })).toEqual({
        ok: false,
        error: { code: 'DUPLICATE_TRANSACTION', transactionId: 'legacy-dep-1', originalSequence: 3 },
      });
      expect(store.head).toBe(10);

      const results = await store.execute([
        { type: 'Deposit', accountId: 'alice', amount: money(50), transactionId: 'new-1', expectedVersion: 4 },
        { type: 'OpenAccount', accountId: 'eve', currency: 'EUR', initialBalance: money(10) },
        { type: 'Transfer', fromAccountId: 'alice', toAccountId: 'eve', amount: money(1), transactionId: 'new-2' },
        { type: 'Transfer', fromAccountId: 'alice', toAccountId: 'carol', amount: money(1_050), transactionId: 'new-3' },
        { type: 'OpenAccount', accountId: 'alice', currency: 'USD', initialBalance: money(0) },
        { type: 'Deposit', accountId: 'dave', amount: money(1), transactionId: 'new-4' },
        { type: 'CloseAccount', accountId: 'alice', reason: 'emptied', expectedVersion: 6 },
      ]);
      expect(results.map((r) => (r.ok ? r.sequence : r.error.code))).toEqual([
        11,
        12,
        'CURRENCY_MISMATCH',
        13,
        'ACCOUNT_ALREADY_EXISTS',
        'ACCOUNT_CLOSED',
        14,
      ]);
      expect(results[1]).toMatchObject({ ok: true, event: { type: 'OPENED', schemaVersion: 2, data: { currency: 'EUR' } } });
      expect(results[0]).toMatchObject({ ok: true, event: { type: 'DEPOSITED', schemaVersion: 1 } });

      const expectedAccounts = ACCOUNTS.concat('eve').map((id) => store.state.account(id));
      const expectedSummary = store.state.summary();
      expect(expectedSummary).toEqual({
        sequence: 14,
        accountCount: 5,
        totals: [
          { currency: 'EUR', balance: 10, accounts: 1 },
          { currency: 'USD', balance: 1_425, accounts: 4 },
        ],
      });
      expect((await verify(store)).ok).toBe(true);

      await store.close();
      store = await LedgerStore.open(dir);
      expect(store.state.summary()).toEqual(expectedSummary);
      expect(ACCOUNTS.concat('eve').map((id) => store.state.account(id))).toEqual(expectedAccounts);
      const events = await collect(store.readEvents(1));
      expect(events.map((e) => e.schemaVersion)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1]);
      expect(await verify(store)).toEqual({ ok: true, head: 14, events: 14 });
    } finally {
      await store.close();
    }
  });

  it('opens after a crash in the middle of its projection rebuild', async () => {
    const { dir, fixture } = await v1Store();
    // The rebuild writes derived rows and the head block by block, unsynced, and its marker last. Cut it
    // short after two blocks, as a kill would: the head record is left at block 2's end, the log runs on.
    const rocks = await Rocks.open(dir);
    const write = rocks.write.bind(rocks);
    let writes = 0;
    rocks.write = (ops, sync) => (++writes > 2 ? Promise.reject(new Error('killed')) : write(ops, sync));
    await expect(rebuildProjection(rocks)).rejects.toThrow('killed');
    // The rebuild's head also counts the blocks (the log's position), which v1 heads did not.
    expect(decodeHead((await rocks.get(metaKey('head')))!)).toEqual({ ...fixture.blockHeads[1], blocks: 2 });
    expect(await rocks.get(metaKey('projection'))).toBeUndefined();
    await rocks.close();

    const store = await openStore(dir);
    expect(store.head).toBe(10);
    expect(store.headHash.equals(fixture.headHash)).toBe(true);
    expect(store.state.summary()).toEqual({ sequence: 10, accountCount: 4, totals: [{ currency: 'USD', balance: 1_375, accounts: 4 }] });
    expect((await verify(store)).ok).toBe(true);
    expect(await store.executeOne({ type: 'Deposit', accountId: 'bob', amount: money(1), transactionId: 'after-crash' })).toMatchObject({ ok: true, sequence: 11 });
    expect((await verify(store)).ok).toBe(true);
  });

  it('refuses to open a log holding an event newer than this build knows, and leaves it as it was', async () => {
    const { dir, remove } = await tempDir('evledger-v1-');
    cleanups.push(remove);
    await writeV1Store(dir, [[v1Opened('alice', 1)], [{ type: 'OPENED', schemaVersion: 3, data: { accountId: 'bob', currency: 'EUR', initialBalance: 0, tier: 'gold' } }]]);

    await expect(LedgerStore.open(dir)).rejects.toThrow(/OPENED event has schema version 3, newer than this build knows/);
    // The failed open released the store and did not mark a projection as built.
    const rocks = await Rocks.open(dir);
    try {
      expect(await rocks.get(metaKey('projection'))).toBeUndefined();
      expect(await rawLog(rocks)).toHaveLength(2);
    } finally {
      await rocks.close();
    }
  });
});
