// Every mutation over real HTTP against a real server and store: the success payloads (sequence, event,
// account state after it), every ErrorCode a client can get back, idempotent retries (also across a
// restart on the same data dir), optimistic concurrency, submitCommands with and without `atomic`,
// and OVERLOADED under a flood at a tiny queue bound — with nothing half-applied anywhere.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../src/domain/errors.ts';
import { buildApp } from '../../src/server/app.ts';
import { DEFAULT_CONFIG } from '../../src/server/config.ts';
import {
  AccountDocument,
  CloseAccountDocument,
  DepositDocument,
  EventsDocument,
  HeadDocument,
  OpenAccountDocument,
  SubmitCommandsDocument,
  TransferDocument,
  WithdrawDocument,
  type AccountFieldsFragment,
  type CloseAccountInput,
  type Command,
  type DepositInput,
  type EventsQuery,
  type OpenAccountInput,
  type SubmitCommandsMutation,
  type TransferInput,
  type WithdrawInput,
} from '../generated/graphql.ts';
import { as, clientFor, expectHeadUnmoved, headOf } from '../support/api.ts';
import { tempDir } from '../support/tempStore.ts';
import { startTServer, type TServer } from '../support/testServer.ts';

const MAX = Number.MAX_SAFE_INTEGER;
let server: TServer;

beforeAll(async () => {
  server = await startTServer();
});
afterAll(async () => {
  await server?.stop();
});

// --- typed calls -------------------------------------------------------------------------------------

const openAccount = async (input: OpenAccountInput) => (await server.data(OpenAccountDocument, { input })).openAccount;
const deposit = async (input: DepositInput) => (await server.data(DepositDocument, { input })).deposit;
const withdraw = async (input: WithdrawInput) => (await server.data(WithdrawDocument, { input })).withdraw;
const transfer = async (input: TransferInput) => (await server.data(TransferDocument, { input })).transfer;
const closeAccount = async (input: CloseAccountInput) => (await server.data(CloseAccountDocument, { input })).closeAccount;
const submit = async (commands: Command[], atomic?: boolean) =>
  (await server.data(SubmitCommandsDocument, { input: { commands, ...(atomic === undefined ? {} : { atomic }) } })).submitCommands;
const account = async (id: string) => (await server.data(AccountDocument, { id })).account;

const open = async (accountId: string, currency = 'EUR', initialBalance = 0) => as(await openAccount({ accountId, currency, initialBalance }), 'OpenAccountSuccess');

/** Every ErrorCode a test got back over HTTP; the last test checks none is missing. */
const seen = new Set<ErrorCode>();

/** The error `typename` with `code`, recorded as covered, after checking the head did not move. */
async function refused<T extends { __typename: string }, N extends T['__typename']>(run: () => Promise<T>, typename: N, code: ErrorCode) {
  const result = await expectHeadUnmoved(server, run);
  const error = as(result, typename) as Extract<T, { __typename: N }> & { code: ErrorCode; message: string };
  expect(error.code).toBe(code);
  expect(error.message.length).toBeGreaterThan(10);
  seen.add(code);
  return error;
}

const isoNear = (timestamp: string) => {
  expect(timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  expect(Math.abs(Date.parse(timestamp) - Date.now())).toBeLessThan(60_000);
};

// --- success payloads --------------------------------------------------------------------------------

describe('openAccount', () => {
  it('appends AccountOpened at head + 1 and returns the new account', async () => {
    const head = await headOf(server);
    const opened = await open('open-1', 'EUR', 1_250);
    expect(opened.sequence).toBe(head + 1);
    expect(opened.replayed).toBe(false);
    expect(opened.event).toMatchObject({
      __typename: 'AccountOpened',
      sequence: head + 1,
      type: 'OPENED',
      accountId: 'open-1',
      currency: 'EUR',
      initialBalance: 1_250,
      accountIds: ['open-1'],
      transactionId: null,
    });
    expect(opened.event.id).toMatch(/\S{8,}/);
    expect(opened.event.schemaVersion).toBeGreaterThanOrEqual(1);
    isoNear(opened.event.timestamp);
    const expected: AccountFieldsFragment = {
      id: 'open-1',
      currency: 'EUR',
      balance: 1_250,
      status: 'OPEN',
      version: 1,
      lastSequence: head + 1,
      openedSequence: head + 1,
    };
    expect(opened.account).toEqual(expected);
    expect(await account('open-1')).toEqual(expected);
    expect(await headOf(server)).toBe(head + 1);
  });

  it('defaults initialBalance to 0', async () => {
    const opened = as((await server.data(OpenAccountDocument, { input: { accountId: 'open-default', currency: 'JPY' } })).openAccount, 'OpenAccountSuccess');
    expect(opened.account.balance).toBe(0);
    expect(opened.event.initialBalance).toBe(0);
  });

  it('refuses an id that exists with ACCOUNT_ALREADY_EXISTS, whatever the currency', async () => {
    await open('open-twice', 'EUR', 10);
    const same = await refused(() => openAccount({ accountId: 'open-twice', currency: 'EUR', initialBalance: 10 }), 'AccountAlreadyExistsError', 'ACCOUNT_ALREADY_EXISTS');
    expect(same.accountId).toBe('open-twice');
    expect(same.message).toContain('open-twice');
    await refused(() => openAccount({ accountId: 'open-twice', currency: 'USD' }), 'AccountAlreadyExistsError', 'ACCOUNT_ALREADY_EXISTS');
    expect((await account('open-twice'))!.balance).toBe(10);
  });
});

describe('deposit', () => {
  it('appends MoneyDeposited and returns the account right after it', async () => {
    const opened = await open('dep-1', 'EUR', 100);
    const head = await headOf(server);
    const d = as(await deposit({ accountId: 'dep-1', amount: 250, transactionId: 'dep-1-a' }), 'DepositSuccess');
    expect(d.sequence).toBe(head + 1);
    expect(d.replayed).toBe(false);
    expect(d.event).toMatchObject({
      __typename: 'MoneyDeposited',
      sequence: d.sequence,
      type: 'DEPOSITED',
      accountId: 'dep-1',
      amount: 250,
      accountIds: ['dep-1'],
      transactionId: 'dep-1-a',
    });
    isoNear(d.event.timestamp);
    expect(d.account).toEqual({ ...opened.account, balance: 350, version: 2, lastSequence: d.sequence });
    expect(await account('dep-1')).toEqual(d.account);
  });

  it('takes the largest safe amount when the balance allows it', async () => {
    await open('dep-max', 'KRW');
    const d = as(await deposit({ accountId: 'dep-max', amount: MAX, transactionId: 'dep-max' }), 'DepositSuccess');
    expect(d.account.balance).toBe(MAX);
    expect(d.event.amount).toBe(MAX);
  });

  it('refuses an unknown account with ACCOUNT_NOT_FOUND', async () => {
    const e = await refused(() => deposit({ accountId: 'nobody', amount: 1, transactionId: 'dep-nobody' }), 'AccountNotFoundError', 'ACCOUNT_NOT_FOUND');
    expect(e.accountId).toBe('nobody');
    expect(await account('nobody')).toBeNull();
  });
});

describe('withdraw', () => {
  it('appends MoneyWithdrawn and returns the account right after it', async () => {
    await open('wd-1', 'USD', 500);
    const w = as(await withdraw({ accountId: 'wd-1', amount: 120, transactionId: 'wd-1-a' }), 'WithdrawSuccess');
    expect(w.replayed).toBe(false);
    expect(w.event).toMatchObject({ __typename: 'MoneyWithdrawn', type: 'WITHDRAWN', accountId: 'wd-1', amount: 120, sequence: w.sequence, transactionId: 'wd-1-a' });
    expect(w.account).toMatchObject({ id: 'wd-1', balance: 380, version: 2, lastSequence: w.sequence });
    // Down to exactly zero is allowed.
    const all = as(await withdraw({ accountId: 'wd-1', amount: 380, transactionId: 'wd-1-b' }), 'WithdrawSuccess');
    expect(all.account.balance).toBe(0);
  });

  it('refuses more than the balance with INSUFFICIENT_FUNDS, naming balance and amount', async () => {
    await open('wd-poor', 'USD', 30);
    const e = await refused(() => withdraw({ accountId: 'wd-poor', amount: 31, transactionId: 'wd-poor' }), 'InsufficientFundsError', 'INSUFFICIENT_FUNDS');
    expect(e).toMatchObject({ accountId: 'wd-poor', balance: 30, requested: 31 });
    expect((await account('wd-poor'))!).toMatchObject({ balance: 30, version: 1 });
  });

  it('refuses an unknown account with ACCOUNT_NOT_FOUND', async () => {
    await refused(() => withdraw({ accountId: 'nobody', amount: 1, transactionId: 'wd-nobody' }), 'AccountNotFoundError', 'ACCOUNT_NOT_FOUND');
  });
});

describe('transfer', () => {
  it('appends one MoneyTransferred and returns both accounts right after it', async () => {
    const a = await open('tr-a', 'GBP', 1_000);
    const b = await open('tr-b', 'GBP', 5);
    const head = await headOf(server);
    const t = as(await transfer({ fromAccountId: 'tr-a', toAccountId: 'tr-b', amount: 400, transactionId: 'tr-1' }), 'TransferSuccess');
    expect(t.sequence).toBe(head + 1);
    expect(await headOf(server)).toBe(head + 1);
    expect(t.event).toMatchObject({
      __typename: 'MoneyTransferred',
      type: 'TRANSFERRED',
      fromAccountId: 'tr-a',
      toAccountId: 'tr-b',
      amount: 400,
      accountIds: ['tr-a', 'tr-b'],
      sequence: t.sequence,
      transactionId: 'tr-1',
    });
    expect(t.from).toEqual({ ...a.account, balance: 600, version: 2, lastSequence: t.sequence });
    expect(t.to).toEqual({ ...b.account, balance: 405, version: 2, lastSequence: t.sequence });
    expect(await account('tr-a')).toEqual(t.from);
    expect(await account('tr-b')).toEqual(t.to);
  });

  it('refuses each broken rule with its own error and moves nothing', async () => {
    await open('tr-eur', 'EUR', 100);
    await open('tr-usd', 'USD', 100);
    await open('tr-eur2', 'EUR', 0);
    const same = await refused(() => transfer({ fromAccountId: 'tr-eur', toAccountId: 'tr-eur', amount: 1, transactionId: 'tr-same' }), 'SameAccountTransferError', 'SAME_ACCOUNT_TRANSFER');
    expect(same.accountId).toBe('tr-eur');
    const mismatch = await refused(() => transfer({ fromAccountId: 'tr-eur', toAccountId: 'tr-usd', amount: 1, transactionId: 'tr-mix' }), 'CurrencyMismatchError', 'CURRENCY_MISMATCH');
    expect(mismatch).toMatchObject({ accountId: 'tr-usd', expectedCurrency: 'EUR', actualCurrency: 'USD' });
    const poor = await refused(() => transfer({ fromAccountId: 'tr-eur', toAccountId: 'tr-eur2', amount: 101, transactionId: 'tr-poor' }), 'InsufficientFundsError', 'INSUFFICIENT_FUNDS');
    expect(poor).toMatchObject({ accountId: 'tr-eur', balance: 100, requested: 101 });
    const noFrom = await refused(() => transfer({ fromAccountId: 'tr-ghost', toAccountId: 'tr-eur', amount: 1, transactionId: 'tr-g1' }), 'AccountNotFoundError', 'ACCOUNT_NOT_FOUND');
    expect(noFrom.accountId).toBe('tr-ghost');
    const noTo = await refused(() => transfer({ fromAccountId: 'tr-eur', toAccountId: 'tr-ghost', amount: 1, transactionId: 'tr-g2' }), 'AccountNotFoundError', 'ACCOUNT_NOT_FOUND');
    expect(noTo.accountId).toBe('tr-ghost');
    expect((await account('tr-eur'))!).toMatchObject({ balance: 100, version: 1 });
    expect((await account('tr-eur2'))!).toMatchObject({ balance: 0, version: 1 });
    expect((await account('tr-usd'))!).toMatchObject({ balance: 100, version: 1 });
  });
});

describe('closeAccount', () => {
  it('needs a zero balance, then closes, and a closed account refuses every command', async () => {
    await open('cl-1', 'SEK', 70);
    await open('cl-peer', 'SEK', 70);
    const notZero = await refused(() => closeAccount({ accountId: 'cl-1', reason: 'too early' }), 'BalanceNotZeroError', 'BALANCE_NOT_ZERO');
    expect(notZero).toMatchObject({ accountId: 'cl-1', balance: 70 });
    as(await withdraw({ accountId: 'cl-1', amount: 70, transactionId: 'cl-1-empty' }), 'WithdrawSuccess');

    const closed = as(await closeAccount({ accountId: 'cl-1', reason: 'customer left' }), 'CloseAccountSuccess');
    expect(closed.replayed).toBe(false);
    expect(closed.event).toMatchObject({ __typename: 'AccountClosed', type: 'CLOSED', accountId: 'cl-1', reason: 'customer left', sequence: closed.sequence, transactionId: null });
    expect(closed.account).toMatchObject({ id: 'cl-1', status: 'CLOSED', balance: 0, version: 3, lastSequence: closed.sequence });
    expect(await account('cl-1')).toEqual(closed.account);

    const onDeposit = await refused(() => deposit({ accountId: 'cl-1', amount: 1, transactionId: 'cl-1-d' }), 'AccountClosedError', 'ACCOUNT_CLOSED');
    expect(onDeposit.accountId).toBe('cl-1');
    await refused(() => withdraw({ accountId: 'cl-1', amount: 1, transactionId: 'cl-1-w' }), 'AccountClosedError', 'ACCOUNT_CLOSED');
    await refused(() => closeAccount({ accountId: 'cl-1' }), 'AccountClosedError', 'ACCOUNT_CLOSED');
    const into = await refused(() => transfer({ fromAccountId: 'cl-peer', toAccountId: 'cl-1', amount: 1, transactionId: 'cl-1-t1' }), 'AccountClosedError', 'ACCOUNT_CLOSED');
    expect(into.accountId).toBe('cl-1');
    await refused(() => transfer({ fromAccountId: 'cl-1', toAccountId: 'cl-peer', amount: 1, transactionId: 'cl-1-t2' }), 'AccountClosedError', 'ACCOUNT_CLOSED');
    expect((await account('cl-peer'))!.balance).toBe(70);
  });

  it('defaults the reason to empty and refuses an unknown account', async () => {
    await open('cl-2', 'SEK');
    const closed = as(await closeAccount({ accountId: 'cl-2' }), 'CloseAccountSuccess');
    expect(closed.event.reason).toBe('');
    await refused(() => closeAccount({ accountId: 'cl-ghost', reason: 'x' }), 'AccountNotFoundError', 'ACCOUNT_NOT_FOUND');
  });
});

describe('BALANCE_LIMIT_EXCEEDED', () => {
  it('refuses a credit that would take an account or its currency past 2^53-1', async () => {
    // CHF is used by no other test, so its total is exactly what this test puts in.
    await open('lim-1', 'CHF', MAX - 10);
    const e = await refused(() => deposit({ accountId: 'lim-1', amount: 11, transactionId: 'lim-1-over' }), 'BalanceLimitExceededError', 'BALANCE_LIMIT_EXCEEDED');
    expect(e).toMatchObject({ accountId: 'lim-1', currency: 'CHF' });
    as(await deposit({ accountId: 'lim-1', amount: 10, transactionId: 'lim-1-fill' }), 'DepositSuccess');
    expect((await account('lim-1'))!.balance).toBe(MAX);
    // A second CHF account: its own balance is fine, but the currency's total would overflow.
    const byTotal = await refused(() => openAccount({ accountId: 'lim-2', currency: 'CHF', initialBalance: 1 }), 'BalanceLimitExceededError', 'BALANCE_LIMIT_EXCEEDED');
    expect(byTotal).toMatchObject({ accountId: 'lim-2', currency: 'CHF' });
    expect(await account('lim-2')).toBeNull();
  });
});

// --- optimistic concurrency --------------------------------------------------------------------------

describe('expectedVersion', () => {
  it('succeeds at the current version and fails with expected and actual otherwise', async () => {
    await open('ver-1', 'EUR', 100); // version 1
    const d = as(await deposit({ accountId: 'ver-1', amount: 5, transactionId: 'ver-1-a', expectedVersion: 1 }), 'DepositSuccess');
    expect(d.account.version).toBe(2);

    const stale = await refused(() => deposit({ accountId: 'ver-1', amount: 5, transactionId: 'ver-1-b', expectedVersion: 1 }), 'WrongExpectedVersionError', 'WRONG_EXPECTED_VERSION');
    expect(stale).toMatchObject({ accountId: 'ver-1', expectedVersion: 1, actualVersion: 2 });
    const ahead = await refused(() => withdraw({ accountId: 'ver-1', amount: 5, transactionId: 'ver-1-c', expectedVersion: 7 }), 'WrongExpectedVersionError', 'WRONG_EXPECTED_VERSION');
    expect(ahead).toMatchObject({ expectedVersion: 7, actualVersion: 2 });

    const w = as(await withdraw({ accountId: 'ver-1', amount: 105, transactionId: 'ver-1-d', expectedVersion: 2 }), 'WithdrawSuccess');
    expect(w.account).toMatchObject({ version: 3, balance: 0 });
    const close = await refused(() => closeAccount({ accountId: 'ver-1', expectedVersion: 2 }), 'WrongExpectedVersionError', 'WRONG_EXPECTED_VERSION');
    expect(close).toMatchObject({ expectedVersion: 2, actualVersion: 3 });
    const closed = as(await closeAccount({ accountId: 'ver-1', expectedVersion: 3 }), 'CloseAccountSuccess');
    expect(closed.account.version).toBe(4);
    // A failed command whose transactionId was never stored can be sent again and succeed.
    await refused(() => deposit({ accountId: 'ver-1', amount: 1, transactionId: 'ver-1-b' }), 'AccountClosedError', 'ACCOUNT_CLOSED');
  });

  it('lets exactly one of two concurrent writers at the same version win', async () => {
    await open('ver-race', 'EUR', 0);
    const results = await Promise.all(
      ['x', 'y', 'z'].map((tag) => deposit({ accountId: 'ver-race', amount: 1, transactionId: `ver-race-${tag}`, expectedVersion: 1 })),
    );
    const names = results.map((r) => r.__typename).sort();
    expect(names).toEqual(['DepositSuccess', 'WrongExpectedVersionError', 'WrongExpectedVersionError']);
    expect((await account('ver-race'))!).toMatchObject({ version: 2, balance: 1 });
  });
});

// --- idempotency ------------------------------------------------------------------------------------

describe('idempotent retry', () => {
  it('returns the original result with replayed: true and appends nothing', async () => {
    await open('idem-a', 'EUR', 1_000);
    await open('idem-b', 'EUR', 0);
    const d = as(await deposit({ accountId: 'idem-a', amount: 40, transactionId: 'idem-d' }), 'DepositSuccess');
    const w = as(await withdraw({ accountId: 'idem-a', amount: 15, transactionId: 'idem-w' }), 'WithdrawSuccess');
    const t = as(await transfer({ fromAccountId: 'idem-a', toAccountId: 'idem-b', amount: 25, transactionId: 'idem-t' }), 'TransferSuccess');
    // Later activity: a retry still returns the accounts as they were right after the original.
    as(await deposit({ accountId: 'idem-a', amount: 1, transactionId: 'idem-later' }), 'DepositSuccess');

    const d2 = as(await expectHeadUnmoved(server, () => deposit({ accountId: 'idem-a', amount: 40, transactionId: 'idem-d' })), 'DepositSuccess');
    expect(d2).toEqual({ ...d, replayed: true });
    const w2 = as(await expectHeadUnmoved(server, () => withdraw({ accountId: 'idem-a', amount: 15, transactionId: 'idem-w' })), 'WithdrawSuccess');
    expect(w2).toEqual({ ...w, replayed: true });
    const t2 = as(await expectHeadUnmoved(server, () => transfer({ fromAccountId: 'idem-a', toAccountId: 'idem-b', amount: 25, transactionId: 'idem-t' })), 'TransferSuccess');
    expect(t2).toEqual({ ...t, replayed: true });
    // expectedVersion is not part of "the same command": a retry after a lost reply has a stale one.
    const d3 = as(await expectHeadUnmoved(server, () => deposit({ accountId: 'idem-a', amount: 40, transactionId: 'idem-d', expectedVersion: 1 })), 'DepositSuccess');
    expect(d3).toEqual({ ...d, replayed: true });
    // Through submitCommands too.
    const bulk = await expectHeadUnmoved(server, () => submit([{ deposit: { accountId: 'idem-a', amount: 40, transactionId: 'idem-d' } }]));
    expect(as(bulk.results[0]!, 'DepositSuccess')).toEqual({ ...d, replayed: true });

    expect((await account('idem-a'))!.balance).toBe(1_000 + 40 - 15 - 25 + 1);
  });

  it('refuses the same transactionId with other content as DUPLICATE_TRANSACTION', async () => {
    await open('dup-a', 'EUR', 500);
    await open('dup-b', 'EUR', 500);
    const d = as(await deposit({ accountId: 'dup-a', amount: 10, transactionId: 'dup-1' }), 'DepositSuccess');
    const amount = await refused(() => deposit({ accountId: 'dup-a', amount: 11, transactionId: 'dup-1' }), 'DuplicateTransactionError', 'DUPLICATE_TRANSACTION');
    expect(amount).toMatchObject({ transactionId: 'dup-1', originalSequence: d.sequence });
    expect(amount.message).toContain('dup-1');
    await refused(() => deposit({ accountId: 'dup-b', amount: 10, transactionId: 'dup-1' }), 'DuplicateTransactionError', 'DUPLICATE_TRANSACTION');
    await refused(() => withdraw({ accountId: 'dup-a', amount: 10, transactionId: 'dup-1' }), 'DuplicateTransactionError', 'DUPLICATE_TRANSACTION');
    const asTransfer = await refused(() => transfer({ fromAccountId: 'dup-a', toAccountId: 'dup-b', amount: 10, transactionId: 'dup-1' }), 'DuplicateTransactionError', 'DUPLICATE_TRANSACTION');
    expect(asTransfer.originalSequence).toBe(d.sequence);
    expect((await account('dup-a'))!.balance).toBe(510);
    expect((await account('dup-b'))!.balance).toBe(500);
  });

  it('replays a repeat inside one submitCommands list against the pending first use', async () => {
    await open('idem-bulk', 'EUR');
    const head = await headOf(server);
    const { results } = await submit([
      { deposit: { accountId: 'idem-bulk', amount: 7, transactionId: 'idem-bulk-1' } },
      { deposit: { accountId: 'idem-bulk', amount: 7, transactionId: 'idem-bulk-1' } },
      { deposit: { accountId: 'idem-bulk', amount: 8, transactionId: 'idem-bulk-1' } },
    ]);
    const first = as(results[0]!, 'DepositSuccess');
    expect(first).toMatchObject({ sequence: head + 1, replayed: false });
    expect(as(results[1]!, 'DepositSuccess')).toEqual({ ...first, replayed: true });
    expect(as(results[2]!, 'DuplicateTransactionError')).toMatchObject({ code: 'DUPLICATE_TRANSACTION', originalSequence: head + 1 });
    expect(await headOf(server)).toBe(head + 1);
    expect((await account('idem-bulk'))!.balance).toBe(7);
  });

  it('still replays after a restart on the same data dir (buildApp, same dataDir)', async () => {
    const { dir, remove } = await tempDir('evledger-restart-');
    try {
      const config = { ...DEFAULT_CONFIG, port: 0, dataDir: dir, logLevel: 'silent' as const };
      const first = await buildApp(config).start();
      let original: Extract<Awaited<ReturnType<typeof deposit>>, { __typename: 'DepositSuccess' }>;
      let originalTransfer: Extract<Awaited<ReturnType<typeof transfer>>, { __typename: 'TransferSuccess' }>;
      try {
        const c = clientFor(`${first.url}/graphql`);
        as((await c.data(OpenAccountDocument, { input: { accountId: 'rs-a', currency: 'EUR', initialBalance: 100 } })).openAccount, 'OpenAccountSuccess');
        as((await c.data(OpenAccountDocument, { input: { accountId: 'rs-b', currency: 'EUR' } })).openAccount, 'OpenAccountSuccess');
        original = as((await c.data(DepositDocument, { input: { accountId: 'rs-a', amount: 9, transactionId: 'rs-dep' } })).deposit, 'DepositSuccess');
        originalTransfer = as(
          (await c.data(TransferDocument, { input: { fromAccountId: 'rs-a', toAccountId: 'rs-b', amount: 50, transactionId: 'rs-tr' } })).transfer,
          'TransferSuccess',
        );
      } finally {
        await first.stop();
      }

      const second = await buildApp(config).start();
      try {
        const c = clientFor(`${second.url}/graphql`);
        const head = (await c.data(HeadDocument)).ledger.head;
        expect(head).toBe(4);
        const again = as((await c.data(DepositDocument, { input: { accountId: 'rs-a', amount: 9, transactionId: 'rs-dep' } })).deposit, 'DepositSuccess');
        expect(again).toEqual({ ...original, replayed: true });
        const againTransfer = as(
          (await c.data(TransferDocument, { input: { fromAccountId: 'rs-a', toAccountId: 'rs-b', amount: 50, transactionId: 'rs-tr' } })).transfer,
          'TransferSuccess',
        );
        expect(againTransfer).toEqual({ ...originalTransfer, replayed: true });
        const other = as((await c.data(DepositDocument, { input: { accountId: 'rs-a', amount: 10, transactionId: 'rs-dep' } })).deposit, 'DuplicateTransactionError');
        expect(other.originalSequence).toBe(original.sequence);
        expect((await c.data(HeadDocument)).ledger.head).toBe(head);
        expect((await c.data(AccountDocument, { id: 'rs-a' })).account).toMatchObject({ balance: 59, version: 3 });
      } finally {
        await second.stop();
      }
    } finally {
      await remove();
    }
  });
});

// --- submitCommands ----------------------------------------------------------------------------------

type Result = SubmitCommandsMutation['submitCommands']['results'][number];
const typenames = (results: Result[]) => results.map((r) => r.__typename);

describe('submitCommands', () => {
  it('runs each of the five Command kinds, one result per command in order (atomic: false)', async () => {
    await open('bulk-peer', 'NOK', 0);
    await open('bulk-empty', 'NOK', 0);
    const head = await headOf(server);
    const { results, head: after } = await submit([
      { openAccount: { accountId: 'bulk-1', currency: 'NOK', initialBalance: 10 } },
      { deposit: { accountId: 'bulk-1', amount: 90, transactionId: 'bulk-1-d' } },
      { withdraw: { accountId: 'bulk-1', amount: 1_000, transactionId: 'bulk-1-w-too-much' } },
      { withdraw: { accountId: 'bulk-1', amount: 30, transactionId: 'bulk-1-w' } },
      { transfer: { fromAccountId: 'bulk-1', toAccountId: 'bulk-peer', amount: 20, transactionId: 'bulk-1-t' } },
      { closeAccount: { accountId: 'bulk-empty', reason: 'bulk' } },
      { deposit: { accountId: 'bulk-ghost', amount: 1, transactionId: 'bulk-ghost' } },
    ]);
    expect(typenames(results)).toEqual([
      'OpenAccountSuccess',
      'DepositSuccess',
      'InsufficientFundsError',
      'WithdrawSuccess',
      'TransferSuccess',
      'CloseAccountSuccess',
      'AccountNotFoundError',
    ]);
    const successes = [results[0], results[1], results[3], results[4], results[5]].map((r) => (r as { sequence: number }).sequence);
    expect(successes).toEqual([head + 1, head + 2, head + 3, head + 4, head + 5]);
    expect(after).toBe(head + 5);
    expect(await headOf(server)).toBe(head + 5);
    expect(as(results[2]!, 'InsufficientFundsError')).toMatchObject({ accountId: 'bulk-1', balance: 100, requested: 1_000 });
    const tr = as(results[4]!, 'TransferSuccess');
    expect(tr.from).toMatchObject({ id: 'bulk-1', balance: 50, version: 4 });
    expect(tr.to).toMatchObject({ id: 'bulk-peer', balance: 20, version: 2 });
    expect(as(results[5]!, 'CloseAccountSuccess').account.status).toBe('CLOSED');
    expect((await account('bulk-1'))!).toMatchObject({ balance: 50, version: 4 });
  });

  it('commits an atomic list whole, each command seeing the ones before it', async () => {
    const head = await headOf(server);
    const { results, head: after } = await submit(
      [
        { openAccount: { accountId: 'atom-1', currency: 'DKK', initialBalance: 0 } },
        { openAccount: { accountId: 'atom-2', currency: 'DKK', initialBalance: 0 } },
        { deposit: { accountId: 'atom-1', amount: 100, transactionId: 'atom-1-d' } },
        { transfer: { fromAccountId: 'atom-1', toAccountId: 'atom-2', amount: 100, transactionId: 'atom-1-t' } },
        { closeAccount: { accountId: 'atom-1', expectedVersion: 3 } },
      ],
      true,
    );
    expect(typenames(results)).toEqual(['OpenAccountSuccess', 'OpenAccountSuccess', 'DepositSuccess', 'TransferSuccess', 'CloseAccountSuccess']);
    expect(results.map((r) => (r as { sequence: number }).sequence)).toEqual([1, 2, 3, 4, 5].map((i) => head + i));
    expect(after).toBe(head + 5);
    expect((await account('atom-2'))!.balance).toBe(100);
    expect((await account('atom-1'))!.status).toBe('CLOSED');
  });

  it('fails an atomic list whole: the failing command has its error, the others ABORTED, nothing appended', async () => {
    await open('atom-x', 'DKK', 50);
    const commands: Command[] = [
      { deposit: { accountId: 'atom-x', amount: 10, transactionId: 'atom-x-d' } },
      { openAccount: { accountId: 'atom-never', currency: 'DKK', initialBalance: 5 } },
      { withdraw: { accountId: 'atom-x', amount: 61, transactionId: 'atom-x-w' } },
      { closeAccount: { accountId: 'atom-x' } },
    ];
    const { results } = await expectHeadUnmoved(server, () => submit(commands, true));
    expect(typenames(results)).toEqual(['AbortedError', 'AbortedError', 'InsufficientFundsError', 'AbortedError']);
    for (const i of [0, 1, 3]) {
      const aborted = as(results[i]!, 'AbortedError');
      expect(aborted).toMatchObject({ code: 'ABORTED', failedIndex: 2, commandCount: 4, reason: 'INSUFFICIENT_FUNDS' });
      expect(aborted.message).toBe('Not applied: command 3 of 4 (index 2) of this atomic list failed: INSUFFICIENT_FUNDS');
    }
    seen.add('ABORTED');
    expect(as(results[2]!, 'InsufficientFundsError')).toMatchObject({ balance: 60, requested: 61 });
    expect((await account('atom-x'))!).toMatchObject({ balance: 50, version: 1 });
    expect(await account('atom-never')).toBeNull();
    // Nothing was stored under the aborted transaction ids: the same list without the bad command commits.
    const retry = await submit([commands[0]!, commands[1]!], true);
    expect(typenames(retry.results)).toEqual(['DepositSuccess', 'OpenAccountSuccess']);
    expect(as(retry.results[0]!, 'DepositSuccess').replayed).toBe(false);
  });

  it('names a failed second command as "command 2 of 3 (index 1)", never "command 1"', async () => {
    await open('atom-2nd', 'DKK', 10);
    const { results } = await expectHeadUnmoved(server, () =>
      submit(
        [
          { deposit: { accountId: 'atom-2nd', amount: 5, transactionId: 'atom-2nd-d' } },
          { withdraw: { accountId: 'atom-2nd', amount: 100, transactionId: 'atom-2nd-w' } },
          { deposit: { accountId: 'atom-2nd', amount: 5, transactionId: 'atom-2nd-d2' } },
        ],
        true,
      ),
    );
    expect(typenames(results)).toEqual(['AbortedError', 'InsufficientFundsError', 'AbortedError']);
    for (const i of [0, 2]) {
      expect(as(results[i]!, 'AbortedError')).toMatchObject({
        failedIndex: 1,
        commandCount: 3,
        reason: 'INSUFFICIENT_FUNDS',
        message: 'Not applied: command 2 of 3 (index 1) of this atomic list failed: INSUFFICIENT_FUNDS',
      });
    }
  });

  it('the same list without atomic applies the good commands around the bad one', async () => {
    await open('atom-y', 'DKK', 50);
    const { results } = await submit(
      [
        { deposit: { accountId: 'atom-y', amount: 10, transactionId: 'atom-y-d' } },
        { withdraw: { accountId: 'atom-y', amount: 61, transactionId: 'atom-y-w' } },
        { withdraw: { accountId: 'atom-y', amount: 60, transactionId: 'atom-y-w2' } },
      ],
      false,
    );
    expect(typenames(results)).toEqual(['DepositSuccess', 'InsufficientFundsError', 'WithdrawSuccess']);
    expect((await account('atom-y'))!).toMatchObject({ balance: 0, version: 3 });
  });
});

// --- OVERLOADED --------------------------------------------------------------------------------------

describe('OVERLOADED', () => {
  it('refuses what does not fit a tiny queue as OverloadedError with retryAfterMs, half-applying nothing', async () => {
    const tiny = await startTServer({ queueLimit: 1 });
    try {
      as((await tiny.data(OpenAccountDocument, { input: { accountId: 'ov', currency: 'EUR', initialBalance: 0 } })).openAccount, 'OpenAccountSuccess');

      const acked = new Set<string>();
      const overloaded: DepositInput[] = [];
      let bulkOverloaded = 0;
      let singleOverloaded = 0;
      for (let round = 0; round < 20 && (bulkOverloaded === 0 || singleOverloaded === 0); round++) {
        const singles = Array.from({ length: 40 }, (_, i): DepositInput => ({ accountId: 'ov', amount: 1, transactionId: `ov-${round}-${i}` }));
        const lists = Array.from({ length: 6 }, (_, j) =>
          Array.from({ length: 5 }, (_, k): DepositInput => ({ accountId: 'ov', amount: 1, transactionId: `ov-${round}-l${j}-${k}` })),
        );
        const [singleResults, listResults] = await Promise.all([
          Promise.all(singles.map(async (input) => ({ input, result: (await tiny.data(DepositDocument, { input })).deposit }))),
          Promise.all(lists.map(async (inputs) => ({ inputs, results: (await tiny.data(SubmitCommandsDocument, { input: { commands: inputs.map((deposit) => ({ deposit })) } })).submitCommands.results }))),
        ]);
        for (const { input, result } of singleResults) {
          if (result.__typename === 'OverloadedError') {
            expect(result.code).toBe('OVERLOADED');
            expect(result.retryAfterMs).toBeGreaterThan(0);
            expect(result.message).toMatch(/retry/i);
            overloaded.push(input);
            singleOverloaded++;
          } else {
            as(result, 'DepositSuccess');
            acked.add(input.transactionId as string);
          }
        }
        for (const { inputs, results } of listResults) {
          // A list is queued whole or refused whole: never some of its commands.
          const kinds = new Set(typenames(results));
          expect(kinds.size, JSON.stringify(results)).toBe(1);
          if (kinds.has('OverloadedError')) {
            for (const r of results) expect(as(r, 'OverloadedError').retryAfterMs).toBeGreaterThan(0);
            overloaded.push(...inputs);
            bulkOverloaded++;
          } else {
            for (const [k, r] of results.entries()) {
              as(r, 'DepositSuccess');
              acked.add(inputs[k]!.transactionId as string);
            }
          }
        }
      }
      expect(singleOverloaded, 'no single deposit was refused as OVERLOADED').toBeGreaterThan(0);
      expect(bulkOverloaded, 'no submitCommands list was refused as OVERLOADED').toBeGreaterThan(0);
      seen.add('OVERLOADED');

      // The store holds exactly the acknowledged deposits: none of the refused ones, nothing twice.
      const check = async (expected: Set<string>) => {
        const a = (await tiny.data(AccountDocument, { id: 'ov' })).account!;
        expect(a.balance).toBe(expected.size);
        expect(a.version).toBe(1 + expected.size);
        expect((await tiny.data(HeadDocument)).ledger.head).toBe(1 + expected.size);
        const logged: string[] = [];
        let after: string | null = null;
        for (;;) {
          const page: EventsQuery = await tiny.data(EventsDocument, { accountId: 'ov', types: ['DEPOSITED'], first: 1000, after });
          logged.push(...page.events.edges.map((e) => e.node.transactionId!));
          if (!page.events.pageInfo.hasNextPage) break;
          after = page.events.pageInfo.endCursor;
        }
        expect(logged.length).toBe(expected.size);
        expect(new Set(logged)).toEqual(expected);
      };
      await check(acked);

      // Retryable: the same commands sent again (one at a time) are applied, for the first time.
      for (const input of overloaded) {
        const again = as((await tiny.data(DepositDocument, { input })).deposit, 'DepositSuccess');
        expect(again.replayed).toBe(false);
        acked.add(input.transactionId as string);
      }
      await check(acked);
    } finally {
      await tiny.stop();
    }
  });
});

describe('coverage', () => {
  it('every ErrorCode of the schema came back over HTTP in the tests above', () => {
    expect([...seen].sort()).toEqual([...ERROR_CODES].sort());
  });
});
