// A page of 1,000 events that asks for every event's account (both accounts of a transfer) costs ONE
// batched store read, not one per event: the Account loader gathers every key of the page into a
// single multi-get of the history index. Counted by wrapping the store's own `rocks.getMany` (the
// real read still happens) and `rocks.get` (a per-account point read would show there).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EventsWithAccountsDocument,
  SubmitCommandsDocument,
  type AccountFieldsFragment,
  type Command,
  type EventsWithAccountsQuery,
} from '../generated/graphql.ts';
import { startTServer, type TServer } from '../support/testServer.ts';

const ACCOUNTS = 50;
const DEPOSITS = 475;
const TRANSFERS = 475;
const EVENTS = ACCOUNTS + DEPOSITS + TRANSFERS; // 1,000

let server: TServer;
/** The accounts right after each sequence, as the mutation payloads returned them. */
const after = new Map<number, AccountFieldsFragment[]>();

const id = (i: number) => `dl-${String(i).padStart(3, '0')}`;

async function submit(commands: Command[]): Promise<void> {
  const { results } = (await server.data(SubmitCommandsDocument, { input: { commands } })).submitCommands;
  for (const r of results) {
    if (r.__typename === 'OpenAccountSuccess' || r.__typename === 'DepositSuccess') after.set(r.sequence, [r.account]);
    else if (r.__typename === 'TransferSuccess') after.set(r.sequence, [r.from, r.to]);
    else throw new Error(`unexpected ${JSON.stringify(r)}`);
  }
}

beforeAll(async () => {
  server = await startTServer();
  await submit(Array.from({ length: ACCOUNTS }, (_, i) => ({ openAccount: { accountId: id(i), currency: 'EUR', initialBalance: 1_000 } })));
  await submit(Array.from({ length: DEPOSITS }, (_, i) => ({ deposit: { accountId: id(i % ACCOUNTS), amount: 1 + (i % 97), transactionId: `dl-d-${i}` } })));
  await submit(
    Array.from({ length: TRANSFERS }, (_, i) => ({
      transfer: { fromAccountId: id(i % ACCOUNTS), toAccountId: id((i * 7 + 3) % ACCOUNTS), amount: 1 + (i % 13), transactionId: `dl-t-${i}` },
    })).filter((c) => c.transfer.fromAccountId !== c.transfer.toAccountId),
  );
  // Top up with deposits so the log holds exactly EVENTS events (a few transfers were self-transfers).
  const missing = EVENTS - after.size;
  if (missing > 0) await submit(Array.from({ length: missing }, (_, i) => ({ deposit: { accountId: id(i), amount: 5, transactionId: `dl-x-${i}` } })));
  expect(after.size).toBe(EVENTS);
});
afterAll(async () => {
  await server?.stop();
});

/** Runs `fn` counting the store's multi-gets (and the keys in them) and single gets. */
async function countingReads<T>(fn: () => Promise<T>): Promise<{ result: T; getMany: number; keys: number; get: number }> {
  const rocks = server.app.store.rocks;
  const origGetMany = rocks.getMany;
  const origGet = rocks.get;
  const counts = { getMany: 0, keys: 0, get: 0 };
  rocks.getMany = (keys) => {
    counts.getMany++;
    counts.keys += keys.length;
    return origGetMany.call(rocks, keys);
  };
  rocks.get = (key) => {
    counts.get++;
    return origGet.call(rocks, key);
  };
  try {
    const result = await fn();
    return { result, ...counts };
  } finally {
    rocks.getMany = origGetMany;
    rocks.get = origGet;
  }
}

function accountsOf(node: EventsWithAccountsQuery['events']['nodes'][number]): (AccountFieldsFragment | null)[] {
  switch (node.__typename) {
    case 'MoneyTransferred':
      return [node.from, node.to];
    case 'AccountOpened':
    case 'MoneyDeposited':
    case 'MoneyWithdrawn':
    case 'AccountClosed':
      return [node.account];
  }
}

describe('the Account loader', () => {
  it('resolves every account of a 1,000-event page with one batched store read, with the right balances', async () => {
    const { result, getMany, keys, get } = await countingReads(() => server.data(EventsWithAccountsDocument, { first: 1_000 }));
    const nodes = result.events.nodes;
    expect(nodes).toHaveLength(EVENTS);
    expect(result.events.pageInfo.hasNextPage).toBe(false);
    const transfers = nodes.filter((n) => n.__typename === 'MoneyTransferred').length;
    expect(transfers).toBeGreaterThan(400);

    expect(getMany, 'multi-gets of the store for the page').toBe(1);
    expect(keys, 'one key per account field on the page').toBe(EVENTS + transfers);
    expect(get, 'single-key reads of the store for the page').toBe(0);

    for (const node of nodes) expect(accountsOf(node), `accounts after ${node.sequence}`).toEqual(after.get(node.sequence));
  });

  it('is per request: the same page again is one more batched read, not a stale cache', async () => {
    const first = await countingReads(() => server.data(EventsWithAccountsDocument, { first: 1_000 }));
    const second = await countingReads(() => server.data(EventsWithAccountsDocument, { first: 1_000 }));
    expect([first.getMany, second.getMany]).toEqual([1, 1]);
    expect(second.result).toEqual(first.result);
  });

  it('a smaller page later in the log is also one read', async () => {
    const { result, getMany } = await countingReads(() => server.data(EventsWithAccountsDocument, { first: 100, afterSequence: 700 }));
    expect(result.events.nodes.map((n) => n.sequence)).toEqual(Array.from({ length: 100 }, (_, i) => 701 + i));
    expect(getMany).toBe(1);
    for (const node of result.events.nodes) expect(accountsOf(node)).toEqual(after.get(node.sequence));
  });
});
