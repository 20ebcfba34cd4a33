// The store on a disk that really fills up (test/support/fullDisk.ts: a tmpfs taken up by a ballast
// file where mount is permitted, and this process's RLIMIT_FSIZE at 0 everywhere), under a real server.
// The write that hits the full disk fails with the retryable STORE_UNAVAILABLE; nothing of it is stored
// and the head stays put; reads go on being served, a read already under way when the store is
// reopened included; once there is room, writes go on where the log left off, and a restart finds every
// acknowledged command. And when the failed write turns out to have been stored after all, the writer
// adopts it, and its retry gets the original result.
import type { ExecutionResult } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../../src/domain/commands.ts';
import { money } from '../../src/domain/types.ts';
import { verify } from '../../src/projection/verify.ts';
import { LedgerStore, type Commit } from '../../src/store/ledgerStore.ts';
import {
  AccountDocument,
  DepositDocument,
  EventsDocument,
  LedgerDocument,
  OpenAccountDocument,
  TransferDocument,
} from '../generated/graphql.ts';
import { as, headOf } from '../support/api.ts';
import { availableDisks, makeDisk, type DiskKind, type FullDisk } from '../support/fullDisk.ts';
import { failNextDatasync } from '../support/strace.ts';
import { tempDir } from '../support/tempStore.ts';
import { startTServer, type TServer } from '../support/testServer.ts';

const DISKS: DiskKind[] = await availableDisks();

const deposit = (server: TServer, accountId: string, amount: number, transactionId: string) =>
  server.request(DepositDocument, { input: { accountId, amount, transactionId } });
const depositCommand = (accountId: string, amount: number, transactionId: string): Command => ({ type: 'Deposit', accountId, amount: money(amount), transactionId });
const sequences = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function expectStoreUnavailable(result: ExecutionResult<unknown>): void {
  expect(result.errors, `expected STORE_UNAVAILABLE, got ${JSON.stringify(result)}`).toHaveLength(1);
  expect(result.errors![0]).toMatchObject({
    message: expect.stringMatching(/could not store the command. Retry in \d+ ms with the same transactionId/),
    extensions: { code: 'STORE_UNAVAILABLE', retryAfterMs: expect.any(Number) },
  });
  expect((result.errors![0]!.extensions as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
}

/** Sends `request` again while it is refused with STORE_UNAVAILABLE, waiting retryAfterMs each time, as a client should. */
async function retryWhileUnavailable<R>(request: () => Promise<ExecutionResult<R>>, giveUpAfterMs = 10_000): Promise<ExecutionResult<R>> {
  const deadline = Date.now() + giveUpAfterMs;
  for (;;) {
    const result = await request();
    const error = result.errors?.[0];
    if (error?.extensions?.code !== 'STORE_UNAVAILABLE' || Date.now() > deadline) return result;
    await new Promise((resolve) => setTimeout(resolve, error.extensions!.retryAfterMs as number));
  }
}

describe.each(DISKS)('a full disk (%s)', (kind) => {
  let disk: FullDisk | undefined;
  beforeAll(async () => {
    disk = await makeDisk(kind);
  });
  afterAll(async () => {
    await disk?.dispose(); // unmounts and puts the limit back, however the test ended
  });

  it('fails the write that hits it with a retryable error, stores nothing of it, keeps serving reads, and takes writes again once there is room', async () => {
    const server = await startTServer({ dataDir: disk!.dataDir });
    let restarted: LedgerStore | undefined;
    try {
      const store = server.app.store;
      await server.data(OpenAccountDocument, { input: { accountId: 'alice', currency: 'EUR', initialBalance: 10_000 } });
      await server.data(OpenAccountDocument, { input: { accountId: 'bob', currency: 'EUR', initialBalance: 0 } });
      // Three batches of 400: log blocks far larger than one native iterator batch (16 KiB).
      for (let b = 0; b < 3; b++) await store.execute(Array.from({ length: 400 }, (_, i) => depositCommand('alice', 1, `h-${b}-${i}`)));
      // A read under way across everything below: it holds a native iterator mid-log.
      const reader = store.readEvents(1)[Symbol.asyncIterator]();
      expect((await reader.next()).value).toMatchObject({ sequence: 1 });
      const start = await headOf(server);
      expect(start).toBe(1_202);

      await disk!.fill();
      // A tmpfs may still have room for a few records in the WAL's last page: write until one fails.
      const acked: { tx: string; sequence: number }[] = [];
      let failed: { tx: string; result: ExecutionResult<unknown> } | undefined;
      for (let i = 0; i < 200 && !failed; i++) {
        const tx = `full-${i}`;
        const result = await deposit(server, 'alice', 1, tx);
        if (result.errors) failed = { tx, result };
        else acked.push({ tx, sequence: as(result.data!.deposit, 'DepositSuccess').sequence });
      }
      expect(failed, 'no write failed on the full disk').toBeDefined();
      expectStoreUnavailable(failed!.result);
      const head = start + acked.length;
      expect(acked.map((a) => a.sequence)).toEqual(sequences(start + 1, head));
      const alice = 10_000 + 1_200 + acked.length;

      // While the disk is full, every write is refused the same way. The first of these tries to reopen the
      // store, with reads that need RocksDB in flight: with no room to open it again (a writable open writes
      // a new MANIFEST), the old handle stays open and serves them.
      const pastRead = { id: 'alice', atSequence: 2 };
      const [transfer, ...reads] = await Promise.all([
        server.request(TransferDocument, { input: { fromAccountId: 'alice', toAccountId: 'bob', amount: 5, transactionId: 'full-t' } }),
        ...Array.from({ length: 10 }, () => server.data(AccountDocument, pastRead)),
        ...Array.from({ length: 10 }, () => server.data(EventsDocument, { afterSequence: start - 5, first: 5 })),
      ]);
      expectStoreUnavailable(transfer);
      for (const read of reads) {
        if ('account' in read) expect(read.account).toMatchObject({ balance: 10_000, version: 1 });
        else expect(read.events.edges.map((e) => e.node.sequence)).toEqual(sequences(start - 4, start));
      }
      expectStoreUnavailable(await server.request(OpenAccountDocument, { input: { accountId: 'carol', currency: 'EUR', initialBalance: 1 } }));
      expectStoreUnavailable(await deposit(server, 'bob', 7, 'full-b'));

      // Nothing of the failed writes is stored, nothing moved, and everything reads as before.
      expect(await headOf(server)).toBe(head);
      expect(store.head).toBe(head);
      expect((await server.data(AccountDocument, { id: 'alice' })).account).toMatchObject({ balance: alice, version: 1 + 1_200 + acked.length, lastSequence: head });
      expect((await server.data(AccountDocument, { id: 'bob' })).account).toMatchObject({ balance: 0, version: 1 });
      expect((await server.data(AccountDocument, { id: 'carol' })).account).toBeNull();
      expect((await server.data(LedgerDocument, {})).ledger).toMatchObject({ sequence: head, head, accountCount: 2, totals: [{ currency: 'EUR', balance: alice, accounts: 2 }] });
      expect((await server.data(LedgerDocument, { atSequence: start })).ledger).toMatchObject({ sequence: start, totals: [{ currency: 'EUR', balance: 11_200 }] });
      const logged = await server.data(EventsDocument, { afterSequence: start, first: 1_000 });
      expect(logged.events.edges.map((e) => e.node.transactionId)).toEqual(acked.map((a) => a.tx));
      expect(await verify(store)).toEqual({ ok: true, head, events: head });

      await disk!.free();
      // The client retries the failed command as it was told to. RocksDB never stores a record whose
      // write failed part-way (rocks.ts): so the retry is stored now, right after the head, not replayed.
      const retried = await retryWhileUnavailable(() => deposit(server, 'alice', 1, failed!.tx));
      expect(as(retried.data!.deposit, 'DepositSuccess')).toMatchObject({ sequence: head + 1, replayed: false });
      const after: number[] = [];
      for (let i = 0; i < 3; i++) after.push(as((await deposit(server, 'bob', 1, `after-${i}`)).data!.deposit, 'DepositSuccess').sequence);
      expect(after).toEqual(sequences(head + 2, head + 4));
      expect(await verify(store)).toEqual({ ok: true, head: head + 4, events: head + 4 });

      // The read begun before it all went on across the reopen, from where it was, and saw the log as
      // it stood then: nothing skipped, nothing twice.
      const rest: number[] = [];
      for (let r = await reader.next(); !r.done; r = await reader.next()) rest.push(r.value.sequence);
      expect([1, ...rest]).toEqual(sequences(1, head));

      // A restart finds every acknowledged command, at the sequence it was acknowledged with.
      await server.app.stop();
      restarted = await LedgerStore.open(disk!.dataDir);
      expect(restarted.head).toBe(head + 4);
      expect(await verify(restarted)).toEqual({ ok: true, head: head + 4, events: head + 4 });
      const stored = new Map<string, number>();
      for await (const e of restarted.readEvents(start + 1)) stored.set(e.transactionId!, e.sequence);
      expect(stored).toEqual(
        new Map([...acked.map((a): [string, number] => [a.tx, a.sequence]), [failed!.tx, head + 1], ['after-0', head + 2], ['after-1', head + 3], ['after-2', head + 4]]),
      );
      expect(restarted.state.account('alice')?.balance).toBe(alice + 1);
      expect(restarted.state.account('bob')?.balance).toBe(3);
    } finally {
      await restarted?.close();
      await server.stop();
    }
  });
});

describe('a write that failed but was stored after all', () => {
  // The record reached the WAL file whole, but its fdatasync failed (EIO, injected by strace): RocksDB
  // reports the write failed, and the reopen that the next write triggers finds the record and replays it.
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  /** `meanwhile` runs after the failed write, before the write that adopts it. */
  async function adoptsTheFailedWrite(dataDir: string, meanwhile?: (server: TServer) => Promise<void>): Promise<void> {
    const server = await startTServer({ dataDir });
    let restarted: LedgerStore | undefined;
    try {
      const store = server.app.store;
      await server.data(OpenAccountDocument, { input: { accountId: 'alice', currency: 'EUR', initialBalance: 100 } });
      const head = await headOf(server);
      const commits: Commit[] = [];
      store.onCommit((commit) => commits.push(commit));

      const strace = await failNextDatasync();
      expectStoreUnavailable(await deposit(server, 'alice', 10, 'lost-1'));
      expect(await strace.stop()).toMatchObject({ injected: 1 });
      expect(store.head).toBe(head);
      await meanwhile?.(server);

      const next = await retryWhileUnavailable(() => deposit(server, 'alice', 1, 'next-1'));
      expect(as(next.data!.deposit, 'DepositSuccess')).toMatchObject({ sequence: head + 2, replayed: false, account: { balance: 111, version: 3 } });
      expect(commits.map((c) => [c.fromSequence, c.toSequence, c.events.map((e) => e.transactionId)])).toEqual([
        [head + 1, head + 1, ['lost-1']],
        [head + 2, head + 2, ['next-1']],
      ]);
      const retried = await deposit(server, 'alice', 10, 'lost-1');
      expect(as(retried.data!.deposit, 'DepositSuccess')).toMatchObject({ sequence: head + 1, replayed: true, account: { balance: 110, version: 2 } });
      expect(await verify(store)).toEqual({ ok: true, head: head + 2, events: head + 2 });

      await server.app.stop();
      restarted = await LedgerStore.open(dataDir);
      expect(restarted.head).toBe(head + 2);
      expect(restarted.state.account('alice')).toMatchObject({ balance: 111, version: 3 });
      expect(await verify(restarted)).toEqual({ ok: true, head: head + 2, events: head + 2 });
    } finally {
      await restarted?.close();
      await server.stop();
    }
  }

  it('is adopted when the store is reopened: the head moves on by it, the feed publishes it, and its retry gets the original result', async () => {
    const dir = await tempDir('evledger-eio-');
    cleanups.push(dir.remove);
    await adoptsTheFailedWrite(dir.dir);
  });

  it('is adopted too when the disk fills up before the store can be reopened: the write refused meanwhile confirms nothing', async () => {
    const disk = await makeDisk('RLIMIT_FSIZE');
    cleanups.push(() => disk.dispose());
    await adoptsTheFailedWrite(disk.dataDir, async (server) => {
      await disk.fill();
      // No room to reopen: the old handle stays, still without the failed batch (it never reached the memtable).
      expectStoreUnavailable(await deposit(server, 'alice', 1, 'while-full'));
      expect((await server.data(AccountDocument, { id: 'alice' })).account).toMatchObject({ balance: 100, version: 1 });
      await disk.free();
    });
  });
});
