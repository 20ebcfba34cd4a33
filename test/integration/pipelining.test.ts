// The writer decides the next batch while the previous one is written: it must commit on top of it
// when that write succeeds, and be decided again from the real state when it fails.
import { afterEach, describe, expect, it } from 'vitest';
import type { Command } from '../../src/domain/commands.ts';
import { money } from '../../src/domain/types.ts';
import { verify } from '../../src/projection/verify.ts';
import type { BatchOp } from '../../src/store/rocks.ts';
import { tempStore } from '../support/tempStore.ts';

const open = (accountId: string, initialBalance = 0): Command => ({ type: 'OpenAccount', accountId, currency: 'EUR', initialBalance: money(initialBalance) });
const deposit = (accountId: string, amount: number, transactionId: string): Command => ({ type: 'Deposit', accountId, amount: money(amount), transactionId });
const withdraw = (accountId: string, amount: number, transactionId: string): Command => ({ type: 'Withdraw', accountId, amount: money(amount), transactionId });

/** A beforeWrite hook that holds write number `n` (1-based) until released, then succeeds or fails it. */
function holdWrite(n: number) {
  let release!: (fail: boolean) => void;
  const released = new Promise<boolean>((resolve) => (release = resolve));
  let held!: () => void;
  const isHeld = new Promise<void>((resolve) => (held = resolve));
  let writes = 0;
  return {
    isHeld,
    release,
    hook: async (_ops: readonly BatchOp[]) => {
      if (++writes !== n) return;
      held();
      if (await released) throw new Error('disk full');
    },
  };
}

describe('the writer decides the next batch during a write', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => cleanup?.());

  it('commits the next batch on top of the one being written', async () => {
    const hold = holdWrite(1);
    const t = await tempStore({ beforeWrite: hold.hook });
    cleanup = t.cleanup;
    const first = t.store.execute([open('a'), deposit('a', 100, 't1')]);
    await hold.isHeld;
    // Decided while the first batch is still unwritten: it needs the first batch's deposit and sees its transaction id.
    const second = t.store.execute([withdraw('a', 60, 't2'), deposit('a', 100, 't1')]);
    await new Promise((r) => setTimeout(r, 20));
    hold.release(false);
    expect((await first).map((r) => r.ok)).toEqual([true, true]);
    const [w, retry] = await second;
    expect(w).toMatchObject({ ok: true, sequence: 3, accounts: [{ balance: 40, version: 3 }] });
    expect(retry).toMatchObject({ ok: true, sequence: 2, replayed: true });
    expect(t.store.head).toBe(3);
    expect((await verify(t.store)).ok).toBe(true);
  });

  it('decides the next batch again from the real state when the write under it fails', async () => {
    const hold = holdWrite(2);
    const t = await tempStore({ beforeWrite: hold.hook });
    cleanup = t.cleanup;
    await t.store.execute([open('a', 10)]);
    const failing = t.store.execute([deposit('a', 100, 't1')]);
    await hold.isHeld;
    // Decided on top of the held deposit, this withdrawal would pass; on the real state it must not.
    const second = t.store.execute([withdraw('a', 50, 't2')]);
    await new Promise((r) => setTimeout(r, 20));
    hold.release(true);
    await expect(failing).rejects.toThrow(/disk full/);
    const [w] = await second;
    expect(w).toMatchObject({ ok: false, error: { code: 'INSUFFICIENT_FUNDS', balance: 10, requested: 50 } });
    expect(t.store.head).toBe(1);
    expect(t.store.state.account('a')).toMatchObject({ balance: 10, version: 1 });
    // The failed deposit's transaction id was never committed: retrying it appends it now.
    expect(await t.store.executeOne(deposit('a', 100, 't1'))).toMatchObject({ ok: true, sequence: 2, replayed: false });
    expect((await verify(t.store)).ok).toBe(true);
  });

  it('decides a batch while its transaction ids are looked up, and decides it again when one was committed before', async () => {
    const t = await tempStore();
    cleanup = t.cleanup;
    await t.store.execute([open('a', 10), deposit('a', 100, 't1')]);
    const store = await t.reopen(); // nothing recent in memory: only the on-disk index knows t1
    cleanup = async () => {
      await store.close();
      await t.cleanup();
    };
    const rocks = store.rocks;
    const getMany = rocks.getMany.bind(rocks);
    rocks.getMany = async (keys) => {
      await new Promise((r) => setTimeout(r, 20)); // answers long after the batch was decided
      return getMany(keys);
    };
    const [retry, fresh] = await store.execute([deposit('a', 100, 't1'), withdraw('a', 30, 't2')]);
    expect(retry).toMatchObject({ ok: true, replayed: true, sequence: 2 });
    expect(fresh).toMatchObject({ ok: true, replayed: false, sequence: 3, accounts: [{ balance: 80, version: 3 }] });
    expect(store.head).toBe(3);
    expect((await verify(store)).ok).toBe(true);
  });

  it('fails the commands whose transaction lookup failed, changes nothing, and goes on', async () => {
    const t = await tempStore();
    cleanup = t.cleanup;
    await t.store.execute([open('a', 10)]);
    const rocks = t.store.rocks;
    const getMany = rocks.getMany.bind(rocks);
    rocks.getMany = async () => {
      rocks.getMany = getMany;
      throw new Error('read error');
    };
    await expect(t.store.executeOne(deposit('a', 100, 't1'))).rejects.toThrow(/read error/);
    expect(t.store.head).toBe(1);
    expect(await t.store.executeOne(deposit('a', 100, 't1'))).toMatchObject({ ok: true, replayed: false, sequence: 2 });
    expect((await verify(t.store)).ok).toBe(true);
  });
});
