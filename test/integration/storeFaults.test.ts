// The store under faults: a second opener (same process and another one), a failing write, a full
// queue, a store corrupted on purpose (verify must name the first bad sequence), and a head record
// that disagrees with the log (the store must refuse to open).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import type { Command } from '../../src/domain/commands.ts';
import type { RecordedEvent } from '../../src/domain/events.ts';
import { money, type AccountState } from '../../src/domain/types.ts';
import { verify } from '../../src/projection/verify.ts';
import { blockEntries, chainHash, decodeAccount, decodeHistory, encodeAccount, encodeCheckpoint, encodeHead, encodeHistory, encodeTransaction } from '../../src/store/codec.ts';
import { LOG_END, LOG_START, accountKey, checkpointKey, historyKey, logKey, metaKey, sequenceOfLogKey, transactionKey } from '../../src/store/keys.ts';
import { LedgerStore, type Commit } from '../../src/store/ledgerStore.ts';
import { Rocks, StoreError } from '../../src/store/rocks.ts';
import { tempStore } from '../support/tempStore.ts';

const run = promisify(execFile);
const tryOpenChild = fileURLToPath(new URL('../support/tryOpenStore.ts', import.meta.url));

const open = (accountId: string, initialBalance = 10_000): Command => ({ type: 'OpenAccount', accountId, currency: 'USD', initialBalance: money(initialBalance) });
const deposit = (accountId: string, amount: number, transactionId: string): Command => ({ type: 'Deposit', accountId, amount: money(amount), transactionId });
const withdraw = (accountId: string, amount: number, transactionId: string): Command => ({ type: 'Withdraw', accountId, amount: money(amount), transactionId });
const transfer = (fromAccountId: string, toAccountId: string, amount: number, transactionId: string): Command => ({
  type: 'Transfer',
  fromAccountId,
  toAccountId,
  amount: money(amount),
  transactionId,
});

/** Every key and value in RocksDB, as hex: two equal dumps mean nothing in the store changed. */
async function dump(store: LedgerStore): Promise<string[]> {
  const out: string[] = [];
  for await (const [key, value] of store.rocks.range({})) out.push(`${key.toString('hex')}=${value.toString('hex')}`);
  return out;
}

async function allEvents(store: LedgerStore, from = 1): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const event of store.readEvents(from)) out.push(event);
  return out;
}

async function blockStarts(store: LedgerStore): Promise<number[]> {
  const out: number[] = [];
  for await (const [key] of store.rocks.range({ gte: LOG_START, lte: LOG_END, values: false })) out.push(sequenceOfLogKey(key));
  return out;
}

const accountsOf = (store: LedgerStore): AccountState[] =>
  ['a', 'b', 'c', 'd'].map((id) => store.state.account(id)).filter((a): a is AccountState => a !== undefined);

async function tryOpenInAnotherProcess(dir: string): Promise<{ opened: boolean; head?: number; name?: string; code?: string; message?: string }> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', tryOpenChild, dir]);
  return JSON.parse(stdout.trim());
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('a second opener of an open store', () => {
  it('is refused with STORE_LOCKED, in this process and in another one, and the open store carries on unharmed', async () => {
    const { dir, store, cleanup } = await tempStore();
    try {
      await store.execute([open('a'), open('b')]);
      await store.executeOne(deposit('a', 100, 'tx-1'));
      const before = await dump(store);

      const inProcess = await LedgerStore.open(dir).then(
        () => null,
        (err: unknown) => err,
      );
      expect(inProcess).toBeInstanceOf(StoreError);
      expect(inProcess).toMatchObject({ code: 'STORE_LOCKED' });
      expect((inProcess as Error).message).toContain(dir);
      expect((inProcess as Error).message).toMatch(/already open in another process/);

      const otherProcess = await tryOpenInAnotherProcess(dir);
      expect(otherProcess).toMatchObject({ opened: false, name: 'StoreError', code: 'STORE_LOCKED' });
      expect(otherProcess.message).toContain(dir);
      expect(otherProcess.message).toMatch(/already open in another process/);

      // Nothing was touched, and the first store still writes and verifies.
      expect(await dump(store)).toEqual(before);
      expect(await store.executeOne(transfer('a', 'b', 30, 'tx-2'))).toMatchObject({ ok: true, sequence: 4 });
      expect(await verify(store)).toMatchObject({ ok: true, head: 4 });

      // Once it is closed, another process opens it and sees everything: the lock was the only obstacle.
      await store.close();
      expect(await tryOpenInAnotherProcess(dir)).toEqual({ opened: true, head: 4 });
    } finally {
      await cleanup();
    }
  });
});

describe('a failing write', () => {
  it('fails every command of its batch, changes nothing, and the next write continues the same chain', async () => {
    let fail = false;
    let writes = 0;
    const { store, reopen, cleanup } = await tempStore({
      beforeWrite: () => {
        writes++;
        if (fail) throw new Error('disk full');
      },
    });
    let reopened: LedgerStore | undefined;
    try {
      await store.execute([open('a', 1_000), open('b', 1_000)]);
      await store.executeOne(deposit('a', 100, 'tx-0'));
      const commits: Commit[] = [];
      store.onCommit((commit) => commits.push(commit));
      const before = {
        head: store.head,
        headHash: Buffer.from(store.headHash),
        accounts: accountsOf(store),
        summary: store.state.summary(),
        lastTimestamp: store.state.lastTimestamp,
        events: await allEvents(store),
        dump: await dump(store),
      };

      fail = true;
      const writesBefore = writes;
      const batch = [deposit('a', 5, 'f-1'), withdraw('b', 7, 'f-2'), transfer('a', 'b', 3, 'f-3'), open('c', 50)];
      // One execute() is one batch: every command in it fails with the write's error.
      await expect(store.execute(batch)).rejects.toThrow('disk full');
      // Concurrent single commands, however the writer groups them into batches, fail the same way.
      const singles = [1, 2, 3, 4, 5].map((i) => deposit('b', i, `s-${i}`));
      const settled = await Promise.allSettled(singles.map((c) => store.executeOne(c)));
      for (const s of settled) expect(s).toMatchObject({ status: 'rejected', reason: { message: 'disk full' } });
      expect(writes - writesBefore).toBeGreaterThanOrEqual(2);

      expect(store.head).toBe(before.head);
      expect(store.headHash.equals(before.headHash)).toBe(true);
      expect(accountsOf(store)).toEqual(before.accounts);
      expect(store.state.account('c')).toBeUndefined();
      expect(store.state.summary()).toEqual(before.summary);
      expect(store.state.lastTimestamp).toBe(before.lastTimestamp);
      expect(store.queueDepth).toBe(0);
      expect(commits).toEqual([]);
      expect(await dump(store)).toEqual(before.dump);
      expect(await allEvents(store)).toEqual(before.events);
      expect(await verify(store)).toMatchObject({ ok: true, head: before.head });

      fail = false;
      // The same transaction ids were never recorded, so they now append for real, right after the old head.
      const results = await store.execute(batch);
      expect(results.map((r) => r.ok && !r.replayed && r.sequence)).toEqual([1, 2, 3, 4].map((i) => before.head + i));
      for (const [i, command] of singles.entries()) {
        expect(await store.executeOne(command)).toMatchObject({ ok: true, replayed: false, sequence: before.head + 5 + i });
      }
      expect(store.state.account('b')?.balance).toBe(1_000 - 7 + 3 + 15);
      expect(commits.map((c) => [c.fromSequence, c.toSequence])).toEqual([
        [before.head + 1, before.head + 4],
        ...[5, 6, 7, 8, 9].map((i) => [before.head + i, before.head + i]),
      ]);

      // The first event after the failure chains onto the hash the store had before it.
      const firstNew = (await store.rocks.get(logKey(before.head + 1)))!;
      const [entry] = [...blockEntries(firstNew)];
      expect(entry!.hash.equals(chainHash(before.headHash, entry!.bytes))).toBe(true);
      const events = await allEvents(store);
      expect(events.slice(0, before.head)).toEqual(before.events);
      expect(events.map((e) => e.sequence)).toEqual(Array.from({ length: before.head + 9 }, (_, i) => i + 1));
      expect(await verify(store)).toMatchObject({ ok: true, head: before.head + 9 });

      const accountsNow = accountsOf(store);
      reopened = await reopen();
      expect(accountsOf(reopened)).toEqual(accountsNow);
      expect(reopened.head).toBe(before.head + 9);
      expect(await verify(reopened)).toMatchObject({ ok: true });
    } finally {
      await reopened?.close();
      await cleanup();
    }
  });
});

describe('a full queue', () => {
  it('refuses the overflow at once with a retryable OVERLOADED, holds no more than its limit, and commits what it accepted', async () => {
    const LIMIT = 8;
    const FLOOD = 5_000;
    let gate: ReturnType<typeof deferred> | null = null;
    let writes = 0;
    const { store, cleanup } = await tempStore({
      queueLimit: LIMIT,
      beforeWrite: async () => {
        writes++;
        if (gate) await gate.promise;
      },
    });
    try {
      await store.executeOne(open('a', 0));
      gate = deferred();
      const writesBefore = writes;
      // Hold the writer inside a write, with an empty queue behind it.
      const blocker = store.executeOne(deposit('a', 1, 'blocker'));
      await vi.waitFor(() => expect(writes).toBe(writesBefore + 1), { timeout: 10_000 });
      expect(store.queueDepth).toBe(0);
      const headBefore = store.head;

      let settled = 0;
      const pending = Array.from({ length: FLOOD }, (_, i) =>
        store.executeOne(deposit('a', 1, `q-${i}`)).then((r) => {
          settled++;
          return r;
        }),
      );
      expect(store.queueDepth).toBe(LIMIT);
      await new Promise((r) => setImmediate(r));
      // Everything beyond the limit was answered at once: nothing more is held while the writer is stuck.
      expect(settled).toBe(FLOOD - LIMIT);
      expect(store.queueDepth).toBe(LIMIT);
      expect(store.head).toBe(headBefore);
      // A list that does not fit is refused whole.
      const list = await store.execute([deposit('a', 1, 'l-1'), deposit('a', 1, 'l-2')]);
      expect(list.map((r) => !r.ok && r.error.code)).toEqual(['OVERLOADED', 'OVERLOADED']);

      gate.resolve();
      gate = null;
      expect(await blocker).toMatchObject({ ok: true, sequence: headBefore + 1 });
      const results = await Promise.all(pending);
      const accepted = results.flatMap((r, i) => (r.ok ? [[i, r.sequence]] : []));
      expect(accepted).toEqual(Array.from({ length: LIMIT }, (_, i) => [i, headBefore + 2 + i]));
      for (const r of results.slice(LIMIT)) {
        expect(r).toMatchObject({ ok: false, error: { code: 'OVERLOADED' } });
        expect((r as { error: { retryAfterMs: number } }).error.retryAfterMs).toBeGreaterThan(0);
      }
      expect(store.head).toBe(headBefore + 1 + LIMIT);
      expect(store.state.account('a')?.balance).toBe(1 + LIMIT);
      const logged = (await allEvents(store, headBefore + 1)).map((e) => e.transactionId);
      expect(logged).toEqual(['blocker', ...Array.from({ length: LIMIT }, (_, i) => `q-${i}`)]);

      // Retryable means retryable: the refused commands go through once there is room.
      for (const i of [LIMIT, 1_000, FLOOD - 1]) {
        expect(await store.executeOne(deposit('a', 1, `q-${i}`))).toMatchObject({ ok: true, replayed: false });
      }
      expect(await verify(store)).toMatchObject({ ok: true, head: headBefore + 1 + LIMIT + 3 });
    } finally {
      gate?.resolve();
      await cleanup();
    }
  });
});

/**
 * Five blocks of four events: 1–4 open a b c d; then for k = 0..3, at 5+4k: deposit a (d-k),
 * 6+4k: withdraw b (w-k), 7+4k: transfer c→d (t-k), 8+4k: deposit d (e-k). Head 20.
 */
async function fixture() {
  const t = await tempStore();
  await t.store.execute(['a', 'b', 'c', 'd'].map((id) => open(id)));
  for (let k = 0; k < 4; k++) {
    await t.store.execute([deposit('a', 100, `d-${k}`), withdraw('b', 50, `w-${k}`), transfer('c', 'd', 25, `t-${k}`), deposit('d', 10, `e-${k}`)]);
  }
  expect(await blockStarts(t.store)).toEqual([1, 5, 9, 13, 17]);
  expect(await verify(t.store)).toEqual({ ok: true, head: 20, events: 20 });
  return t;
}

const put = (store: LedgerStore, key: Buffer, value: Buffer) => store.rocks.write([{ type: 'put', key, value }], true);
const del = (store: LedgerStore, key: Buffer) => store.rocks.write([{ type: 'del', key }], true);

/** The block holding `seq`, and where that event's bytes and stored hash sit inside it. */
async function locate(store: LedgerStore, seq: number) {
  const [key, block] = (await store.rocks.last(LOG_START, logKey(seq)))!;
  const entry = [...blockEntries(block)][seq - sequenceOfLogKey(key)]!;
  const bytesAt = entry.bytes.byteOffset - block.byteOffset;
  return { key, block: Buffer.from(block), bytesAt, hashAt: bytesAt + entry.bytes.length, bytes: entry.bytes };
}

async function flipIdCharOfEvent(store: LedgerStore, seq: number): Promise<void> {
  const { key, block, bytesAt } = await locate(store, seq);
  const [event] = await store.eventsAt([seq]);
  const at = block.indexOf(Buffer.from(event!.id, 'latin1'), bytesAt);
  block[at] = block[at] === 0x30 ? 0x31 : 0x30; // another hex digit: still a well-formed event
  await put(store, key, block);
}

async function rewriteHistory(store: LedgerStore, id: string, seq: number, change: (a: AccountState) => AccountState): Promise<void> {
  const h = decodeHistory((await store.rocks.get(historyKey(id, seq)))!);
  const account = { ...store.state.account(id)!, ...h };
  await put(store, historyKey(id, seq), encodeHistory(change(account)));
}

const corruptions: { what: string; corrupt: (s: LedgerStore) => Promise<void>; sequence: number; message: RegExp }[] = [
  { what: 'one byte of an event inside a log block', corrupt: (s) => flipIdCharOfEvent(s, 10), sequence: 10, message: /hash chain broken/ },
  {
    what: 'an event inside a log block that no longer decodes',
    corrupt: async (s) => {
      const { key, block, bytesAt } = await locate(s, 10);
      block[bytesAt] = 0xc1; // a byte MessagePack never uses
      await put(s, key, block);
    },
    sequence: 10,
    message: /does not decode/,
  },
  {
    what: "one byte of an event's stored hash",
    corrupt: async (s) => {
      const { key, block, hashAt } = await locate(s, 11);
      block[hashAt] = block[hashAt]! ^ 0xff;
      await put(s, key, block);
    },
    sequence: 11,
    message: /hash chain broken/,
  },
  {
    what: 'a truncated log block',
    corrupt: async (s) => {
      const { key, block } = await locate(s, 13);
      await put(s, key, block.subarray(0, block.length - 10));
    },
    sequence: 13,
    message: /truncated/,
  },
  { what: 'a removed log block (a gap)', corrupt: (s) => del(s, logKey(13)), sequence: 13, message: /log jumps from 12 to a block starting at 17/ },
  { what: 'the last log block removed', corrupt: (s) => del(s, logKey(17)), sequence: 16, message: /head record says 20, the log ends at 16/ },
  { what: 'a deleted history entry', corrupt: (s) => del(s, historyKey('c', 15)), sequence: 15, message: /history index has no entry for account c/ },
  {
    what: 'a history entry with the wrong balance',
    corrupt: (s) => rewriteHistory(s, 'b', 14, (a) => ({ ...a, balance: money(a.balance + 1) })),
    sequence: 14,
    message: /history index says account b was/,
  },
  { what: 'a history entry that does not decode', corrupt: (s) => put(s, historyKey('b', 14), Buffer.from([1, 2, 3])), sequence: 14, message: /history index entry of account b does not decode/ },
  { what: 'a deleted idempotency key', corrupt: (s) => del(s, transactionKey('w-2')), sequence: 14, message: /idempotency key w-2 is missing/ },
  {
    what: 'an idempotency key pointing at another sequence',
    corrupt: (s) => put(s, transactionKey('t-2'), encodeTransaction({ sequence: 3 as never, fingerprint: 'Transfer|c|d|25' })),
    sequence: 15,
    message: /idempotency key t-2 points at 3/,
  },
  {
    what: 'a ledger checkpoint with the wrong account count',
    corrupt: (s) => put(s, checkpointKey(12), encodeCheckpoint({ accountCount: 5, totals: s.state.currencyTotals() })),
    sequence: 12,
    message: /checkpoint .* disagrees with the log/,
  },
  {
    what: 'a projection row with the wrong balance',
    corrupt: async (s) => {
      const row = decodeAccount('a', (await s.rocks.get(accountKey('a')))!);
      await put(s, accountKey('a'), encodeAccount({ ...row, balance: money(row.balance + 1) }));
    },
    sequence: 17, // account a's last event
    message: /projection row .*"id":"a".* disagrees with the log/,
  },
  {
    what: 'a projection row that does not decode',
    corrupt: async (s) => {
      const row = (await s.rocks.get(accountKey('b')))!;
      row[0] = 9; // an unknown row format
      await put(s, accountKey('b'), row);
    },
    sequence: 18, // account b's last event
    message: /projection row of account b does not decode/,
  },
  {
    what: 'two corruptions: the earlier one is reported',
    corrupt: async (s) => {
      await del(s, historyKey('a', 17));
      await flipIdCharOfEvent(s, 6);
    },
    sequence: 6,
    message: /hash chain broken/,
  },
];

describe('verify on a store corrupted on purpose', () => {
  it.each(corruptions)('names the first bad sequence after $what', async ({ corrupt, sequence, message }) => {
    const { store, cleanup } = await fixture();
    try {
      await corrupt(store);
      const report = await verify(store);
      expect(report.ok).toBe(false);
      expect(report.problem?.sequence).toBe(sequence);
      expect(report.problem?.message).toMatch(message);
    } finally {
      await cleanup();
    }
  });
});

describe('a head record that disagrees with the log', () => {
  const encode = (sequence: number, hash: Buffer) => encodeHead({ sequence: sequence as never, hash, timestamp: Date.now() });
  const variants: { what: string; head: (original: Buffer, hash: Buffer) => Buffer | null; problem: RegExp }[] = [
    { what: 'behind the log (the last block has no head)', head: (_, hash) => encode(16, hash), problem: /the log ends at 20 but the head says 16/ },
    { what: 'ahead of the log', head: (_, hash) => encode(25, hash), problem: /no checkpoint at head 25/ },
    { what: 'missing while the log has events', head: () => null, problem: /4 projection rows but the checkpoint counts 0/ },
  ];

  it.each(variants)('makes the store refuse to open when it is $what, naming npm run verify, and damages nothing', async ({ head, problem }) => {
    const { dir, store, cleanup } = await fixture();
    try {
      const original = (await store.rocks.get(metaKey('head')))!;
      const replacement = head(original, store.headHash);
      if (replacement) await put(store, metaKey('head'), replacement);
      else await del(store, metaKey('head'));
      await store.close();

      const err = await LedgerStore.open(dir).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreError);
      expect(err).toMatchObject({ code: 'STORE_CORRUPT' });
      expect((err as Error).message).toMatch(problem);
      expect((err as Error).message).toContain(`npm run verify -- --data ${dir}`);

      // The refusal released the store and wrote nothing: put the head back and it opens and verifies.
      const rocks = await Rocks.open(dir);
      await rocks.write([{ type: 'put', key: metaKey('head'), value: original }], true);
      await rocks.close();
      const restored = await LedgerStore.open(dir);
      try {
        expect(restored.head).toBe(20);
        expect(await verify(restored)).toEqual({ ok: true, head: 20, events: 20 });
      } finally {
        await restored.close();
      }
    } finally {
      await cleanup();
    }
  });
});
