// The workloads the engine bench measures: commands over a fixed set of accounts, and ready-made
// recorded events of the shape the engine stores. Seeded, so every run measures the same mix.
import { randomUUID } from 'node:crypto';
import type { Command } from '../../src/domain/commands.ts';
import { CURRENT_SCHEMA_VERSION, type DomainEvent, type RecordedEvent } from '../../src/domain/events.ts';
import { money, sequence } from '../../src/domain/types.ts';
import type { LedgerStore } from '../../src/store/ledgerStore.ts';
import { seededRandom } from './report.ts';

const CURRENCIES = ['USD', 'EUR', 'GBP'];
export const INITIAL_BALANCE = 1_000_000_000;

export const accountId = (i: number) => `acct-${String(i).padStart(6, '0')}`;
const currencyOf = (i: number) => CURRENCIES[i % CURRENCIES.length]!;

export const openCommands = (accounts: number, first = 0): Command[] =>
  Array.from({ length: accounts }, (_, i) => ({
    type: 'OpenAccount',
    accountId: accountId(first + i),
    currency: currencyOf(first + i),
    initialBalance: money(INITIAL_BALANCE),
  }));

/**
 * Half deposits, half transfers between two accounts of one currency, each with a fresh UUID
 * transaction id (as a client would send), over accounts [first, first + accounts). Amounts are small
 * next to the opening balances, so every command is accepted.
 */
export function workCommands(count: number, accounts: number, seed: number, first = 0): Command[] {
  const rand = seededRandom(seed);
  const groups = CURRENCIES.length;
  const out: Command[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const from = rand(accounts);
    const amount = money(1 + rand(1000));
    if (i % 2 === 0) {
      out[i] = { type: 'Deposit', accountId: accountId(first + from), amount, transactionId: randomUUID() };
      continue;
    }
    // Another account of the same currency: the ids congruent to `from` modulo the number of currencies.
    const c = from % groups;
    const members = Math.floor((accounts - 1 - c) / groups) + 1;
    const to = c + groups * ((Math.floor(from / groups) + 1 + rand(members - 1)) % members);
    out[i] = { type: 'Transfer', fromAccountId: accountId(first + from), toAccountId: accountId(first + to), amount, transactionId: randomUUID() };
  }
  return out;
}

/**
 * Appends `commands` through `store.execute` in chunks, with `lanes` chunks in flight, so the writer
 * always finds a full queue and batches up to its maxBatch. Throws if any command was refused.
 */
export async function appendInChunks(store: LedgerStore, next: () => Command[] | undefined, lanes: number): Promise<number> {
  let appended = 0;
  const lane = async () => {
    for (let chunk = next(); chunk; chunk = next()) {
      for (const result of await store.execute(chunk)) {
        if (!result.ok) throw new Error(`bench workload refused: ${JSON.stringify(result.error)}`);
        if (!result.replayed) appended++;
      }
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  return appended;
}

export function chunksOf<T>(items: readonly T[], size: number): () => T[] | undefined {
  let at = 0;
  return () => (at < items.length ? items.slice(at, (at += size)) : undefined);
}

/** Recorded events as the pipeline would produce them, in a realistic mix of the five types. */
export function sampleEvents(count: number, seed = 7): RecordedEvent[] {
  const rand = seededRandom(seed);
  const t0 = Date.UTC(2025, 0, 1);
  const out: RecordedEvent[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const r = rand(100);
    const a = accountId(rand(10_000));
    const amount = money(1 + rand(100_000));
    const domain: DomainEvent =
      r < 5
        ? { type: 'OPENED', data: { accountId: a, currency: currencyOf(i), initialBalance: money(rand(1_000_000)) } }
        : r < 40
          ? { type: 'DEPOSITED', data: { accountId: a, amount } }
          : r < 55
            ? { type: 'WITHDRAWN', data: { accountId: a, amount } }
            : r < 99
              ? { type: 'TRANSFERRED', data: { fromAccountId: a, toAccountId: accountId(rand(10_000)), amount } }
              : { type: 'CLOSED', data: { accountId: a, reason: 'customer request' } };
    out[i] = {
      ...domain,
      sequence: sequence(i + 1),
      id: randomUUID(),
      timestamp: t0 + Math.floor(i / 50),
      schemaVersion: CURRENT_SCHEMA_VERSION[domain.type],
      transactionId: domain.type === 'OPENED' || domain.type === 'CLOSED' ? null : randomUUID(),
    } as RecordedEvent;
  }
  return out;
}
