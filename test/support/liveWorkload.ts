// Commands for the subscription tests, and a writer that pours small batches into a store while
// subscribers come and go. Everything goes through the real store (store.execute), as the API does.
import type { Command } from '../../src/domain/commands.ts';
import { money } from '../../src/domain/types.ts';
import type { CommandResult, LedgerStore } from '../../src/store/ledgerStore.ts';
import { SubmitCommandsDocument, type Command as CommandInput } from '../generated/graphql.ts';
import { prng } from './api.ts';
import type { TServer } from './testServer.ts';

let tx = 0;
const txId = () => `sub-tx-${process.pid}-${++tx}`;

export const open = (accountId: string, initialBalance = 0, currency = 'EUR'): Command => ({ type: 'OpenAccount', accountId, currency, initialBalance: money(initialBalance) });
export const deposit = (accountId: string, amount: number): Command => ({ type: 'Deposit', accountId, amount: money(amount), transactionId: txId() });
export const withdraw = (accountId: string, amount: number): Command => ({ type: 'Withdraw', accountId, amount: money(amount), transactionId: txId() });
export const transfer = (fromAccountId: string, toAccountId: string, amount: number): Command => ({
  type: 'Transfer',
  fromAccountId,
  toAccountId,
  amount: money(amount),
  transactionId: txId(),
});
export const close = (accountId: string): Command => ({ type: 'CloseAccount', accountId, reason: 'test' });

export type Appended = CommandResult & { ok: true };

/** Executes `commands` as one batch (one call), failing unless every one of them appended an event. */
export async function commit(store: LedgerStore, commands: readonly Command[]): Promise<Appended[]> {
  const results = await store.execute(commands);
  results.forEach((r, i) => {
    if (!r.ok) throw new Error(`command ${i} (${JSON.stringify(commands[i])}) failed: ${JSON.stringify(r.error)}`);
  });
  return results as Appended[];
}

/** A random batch of 1..maxSize deposits, withdrawals and transfers among `accounts` (some may be refused). */
export function randomBatch(r: ReturnType<typeof prng>, accounts: readonly string[], maxSize = 4): Command[] {
  return Array.from({ length: r.int(1, maxSize) }, () => {
    const roll = r.next();
    const a = r.pick(accounts);
    if (roll < 0.35) return deposit(a, r.int(1, 50));
    if (roll < 0.5) return withdraw(a, r.int(1, 20));
    let b = r.pick(accounts);
    if (b === a) b = accounts[(accounts.indexOf(a) + 1) % accounts.length]!;
    return transfer(a, b, r.int(1, 30));
  });
}

/** Something that commits one batch of commands: the store itself, or the HTTP API. */
export type Submit = (commands: Command[]) => Promise<unknown>;

export const viaStore =
  (store: LedgerStore): Submit =>
  (commands) =>
    store.execute(commands);

/** submitCommands over HTTP (one request, one batch unless the writer merges it with others). */
export const viaHttp =
  (server: TServer): Submit =>
  (commands) =>
    server.data(SubmitCommandsDocument, { input: { commands: commands.map(toCommandInput) } });

function toCommandInput(c: Command): CommandInput {
  switch (c.type) {
    case 'OpenAccount':
      return { openAccount: { accountId: c.accountId, currency: c.currency, initialBalance: c.initialBalance } };
    case 'Deposit':
      return { deposit: { accountId: c.accountId, amount: c.amount, transactionId: c.transactionId } };
    case 'Withdraw':
      return { withdraw: { accountId: c.accountId, amount: c.amount, transactionId: c.transactionId } };
    case 'Transfer':
      return { transfer: { fromAccountId: c.fromAccountId, toAccountId: c.toAccountId, amount: c.amount, transactionId: c.transactionId } };
    case 'CloseAccount':
      return { closeAccount: { accountId: c.accountId, reason: c.reason } };
  }
}

export interface Writers {
  /** Batches committed so far (each lane's call, which the writer may have merged with others). */
  readonly batches: number;
  /** Resolves once `batches` reaches `n`. */
  reached(n: number): Promise<void>;
  /** Stops the lanes after their current batch; resolves with the batches sent (rejects if a lane failed). */
  stop(): Promise<number>;
}

/**
 * Starts one loop per lane, each committing random batches of `accounts` until stopped. Concurrent lanes
 * share the writer's batches, so batch sizes vary too.
 */
export function startWriters(lanes: readonly Submit[], seed: number, accounts: readonly string[], options: { pauseMs?: number } = {}): Writers {
  let batches = 0;
  let stopped = false;
  const waiting = new Set<{ n: number; resolve: () => void; reject: (err: unknown) => void }>();
  const done = Promise.all(
    lanes.map(async (submit, lane) => {
      const r = prng(seed * 31 + lane);
      while (!stopped) {
        await submit(randomBatch(r, accounts));
        batches++;
        for (const w of waiting) if (batches >= w.n) (waiting.delete(w), w.resolve());
        const pause = options.pauseMs ?? 0;
        await new Promise<void>((resolve) => (pause > 0 ? setTimeout(resolve, pause) : setImmediate(resolve)));
      }
    }),
  ).then(() => batches);
  done.catch((err) => {
    for (const w of waiting) w.reject(err); // and stop() reports it too
  });
  return {
    get batches() {
      return batches;
    },
    reached: (n) => (batches >= n ? Promise.resolve() : new Promise((resolve, reject) => waiting.add({ n, resolve, reject }))),
    stop() {
      stopped = true;
      return done;
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
