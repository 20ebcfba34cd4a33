// Every rule of the account decider, as given / when / then.
import { describe, expect, it } from 'vitest';
import { fingerprintOf, type CloseAccount, type Deposit, type OpenAccount, type Transfer, type Withdraw } from '../../src/domain/commands.ts';
import { evolve } from '../../src/domain/decider.ts';
import { ERROR_CODES } from '../../src/domain/errors.ts';
import { LedgerState } from '../../src/domain/ledger.ts';
import { money, sequence, type AccountState } from '../../src/domain/types.ts';
import { closed, deposited, given, history, opened, rejectedCodes, transferred, withTx, withdrawn } from '../support/deciderSpec.ts';

const MAX = Number.MAX_SAFE_INTEGER;

const open = (accountId: string, currency: string, initialBalance: number): OpenAccount => ({
  type: 'OpenAccount',
  accountId,
  currency,
  initialBalance: money(initialBalance),
});
const deposit = (accountId: string, amount: number, transactionId: string, expectedVersion?: number | null): Deposit => ({
  type: 'Deposit',
  accountId,
  amount: money(amount),
  transactionId,
  expectedVersion,
});
const withdraw = (accountId: string, amount: number, transactionId: string, expectedVersion?: number | null): Withdraw => ({
  type: 'Withdraw',
  accountId,
  amount: money(amount),
  transactionId,
  expectedVersion,
});
const transfer = (fromAccountId: string, toAccountId: string, amount: number, transactionId: string): Transfer => ({
  type: 'Transfer',
  fromAccountId,
  toAccountId,
  amount: money(amount),
  transactionId,
});
const close = (accountId: string, reason = 'customer request', expectedVersion?: number | null): CloseAccount => ({
  type: 'CloseAccount',
  accountId,
  reason,
  expectedVersion,
});

describe('decide: OpenAccount', () => {
  it('opens a new account with its currency and initial balance', () => {
    given([]).when(open('alice', 'EUR', 1_000)).then(opened('alice', 'EUR', 1_000));
  });

  it('opens an account with a zero initial balance', () => {
    given([]).when(open('alice', 'USD', 0)).then(opened('alice', 'USD', 0));
  });

  it('refuses an id that is already open: ACCOUNT_ALREADY_EXISTS', () => {
    given(history(opened('alice', 'USD', 10)))
      .when(open('alice', 'EUR', 0))
      .thenRejects({ code: 'ACCOUNT_ALREADY_EXISTS', accountId: 'alice' });
  });

  it('refuses the id of a closed account: a closed account still exists', () => {
    given(history(opened('alice', 'USD', 0), closed('alice', 'bye')))
      .when(open('alice', 'USD', 0))
      .thenRejects({ code: 'ACCOUNT_ALREADY_EXISTS', accountId: 'alice' });
  });

  it('refuses an initial balance that takes the currency total past 2^53-1: BALANCE_LIMIT_EXCEEDED', () => {
    const rich = history(opened('whale', 'USD', MAX - 5));
    given(rich).when(open('minnow', 'USD', 6)).thenRejects({ code: 'BALANCE_LIMIT_EXCEEDED', accountId: 'minnow', currency: 'USD' });
    given(rich).when(open('minnow', 'USD', 5)).then(opened('minnow', 'USD', 5));
  });

  it('counts the limit per currency', () => {
    given(history(opened('whale', 'USD', MAX))).when(open('minnow', 'EUR', 6)).then(opened('minnow', 'EUR', 6));
  });

  it('has no transaction id, so an earlier use of one does not concern it', () => {
    given([])
      .when(open('alice', 'USD', 1), { prior: { fingerprint: 'Deposit|alice|1', sequence: sequence(1) } })
      .then(opened('alice', 'USD', 1));
  });
});

describe('decide: Deposit', () => {
  const aliceAt2 = history(opened('alice', 'USD', 100), deposited('alice', 50)); // version 2, balance 150

  it('deposits into an open account', () => {
    given(aliceAt2).when(deposit('alice', 25, 't1')).then(deposited('alice', 25));
  });

  it('refuses an unknown account: ACCOUNT_NOT_FOUND', () => {
    given(aliceAt2).when(deposit('bob', 25, 't1')).thenRejects({ code: 'ACCOUNT_NOT_FOUND', accountId: 'bob' });
  });

  it('refuses a closed account: ACCOUNT_CLOSED', () => {
    given(history(opened('alice', 'USD', 0), closed('alice', 'moved away')))
      .when(deposit('alice', 25, 't1'))
      .thenRejects({ code: 'ACCOUNT_CLOSED', accountId: 'alice' });
  });

  it('refuses a stale expectedVersion and says which version the account is at: WRONG_EXPECTED_VERSION', () => {
    given(aliceAt2)
      .when(deposit('alice', 25, 't1', 1))
      .thenRejects({ code: 'WRONG_EXPECTED_VERSION', accountId: 'alice', expectedVersion: 1, actualVersion: 2 });
    given(aliceAt2)
      .when(deposit('alice', 25, 't1', 3))
      .thenRejects({ code: 'WRONG_EXPECTED_VERSION', accountId: 'alice', expectedVersion: 3, actualVersion: 2 });
    given(aliceAt2)
      .when(deposit('alice', 25, 't1', 0))
      .thenRejects({ code: 'WRONG_EXPECTED_VERSION', expectedVersion: 0, actualVersion: 2 });
  });

  it('accepts the current expectedVersion, and no expectedVersion (null or absent) at all', () => {
    given(aliceAt2).when(deposit('alice', 25, 't1', 2)).then(deposited('alice', 25));
    given(aliceAt2).when(deposit('alice', 25, 't1', null)).then(deposited('alice', 25));
    given(aliceAt2).when(deposit('alice', 25, 't1', undefined)).then(deposited('alice', 25));
  });

  it('reports a missing account before a version mismatch', () => {
    given([]).when(deposit('ghost', 1, 't1', 5)).thenRejects({ code: 'ACCOUNT_NOT_FOUND', accountId: 'ghost' });
  });

  it('reports a closed account at the expected version as closed', () => {
    given(history(opened('alice', 'USD', 0), closed('alice', 'done')))
      .when(deposit('alice', 1, 't1', 2))
      .thenRejects({ code: 'ACCOUNT_CLOSED', accountId: 'alice' });
  });

  it('reports a stale expectedVersion on a closed account as the version mismatch', () => {
    given(history(opened('alice', 'USD', 0), closed('alice', 'done')))
      .when(deposit('alice', 1, 't1', 1))
      .thenRejects({ code: 'WRONG_EXPECTED_VERSION', expectedVersion: 1, actualVersion: 2 });
  });

  it('credits up to exactly 2^53-1 and refuses one more: BALANCE_LIMIT_EXCEEDED', () => {
    const nearlyFull = history(opened('alice', 'USD', MAX - 10));
    given(nearlyFull).when(deposit('alice', 10, 't1')).then(deposited('alice', 10));
    given(nearlyFull).when(deposit('alice', 11, 't1')).thenRejects({ code: 'BALANCE_LIMIT_EXCEEDED', accountId: 'alice', currency: 'USD' });
  });

  it('refuses a deposit that keeps the account safe but takes its currency total past 2^53-1', () => {
    const full = history(opened('whale', 'USD', MAX - 10), opened('alice', 'USD', 10));
    given(full).when(deposit('alice', 1, 't1')).thenRejects({ code: 'BALANCE_LIMIT_EXCEEDED', accountId: 'alice', currency: 'USD' });
    // The same deposit in another currency is fine: totals are per currency.
    given(history(opened('whale', 'USD', MAX - 10), opened('alice', 'EUR', 10))).when(deposit('alice', 1, 't1')).then(deposited('alice', 1));
  });
});

describe('decide: Withdraw', () => {
  const alice = history(opened('alice', 'USD', 100)); // version 1, balance 100

  it('withdraws from an open account', () => {
    given(alice).when(withdraw('alice', 40, 't1')).then(withdrawn('alice', 40));
  });

  it('allows withdrawing the exact balance', () => {
    given(alice).when(withdraw('alice', 100, 't1')).then(withdrawn('alice', 100));
  });

  it('refuses to overdraw, by even one unit: INSUFFICIENT_FUNDS', () => {
    given(alice)
      .when(withdraw('alice', 101, 't1'))
      .thenRejects({ code: 'INSUFFICIENT_FUNDS', accountId: 'alice', balance: money(100), requested: money(101) });
  });

  it('refuses anything from an empty account', () => {
    given(history(opened('alice', 'USD', 0)))
      .when(withdraw('alice', 1, 't1'))
      .thenRejects({ code: 'INSUFFICIENT_FUNDS', balance: money(0), requested: money(1) });
  });

  it('sees the balance the history left, not the initial one', () => {
    const afterActivity = history(opened('alice', 'USD', 100), withdrawn('alice', 30), deposited('alice', 5)); // 75
    given(afterActivity).when(withdraw('alice', 75, 't1')).then(withdrawn('alice', 75));
    given(afterActivity).when(withdraw('alice', 76, 't1')).thenRejects({ code: 'INSUFFICIENT_FUNDS', balance: money(75) });
  });

  it('refuses an unknown account: ACCOUNT_NOT_FOUND', () => {
    given(alice).when(withdraw('bob', 1, 't1')).thenRejects({ code: 'ACCOUNT_NOT_FOUND', accountId: 'bob' });
  });

  it('refuses a closed account: ACCOUNT_CLOSED', () => {
    given(history(opened('alice', 'USD', 0), closed('alice', 'x')))
      .when(withdraw('alice', 1, 't1'))
      .thenRejects({ code: 'ACCOUNT_CLOSED', accountId: 'alice' });
  });

  it('checks expectedVersion: WRONG_EXPECTED_VERSION', () => {
    given(alice)
      .when(withdraw('alice', 1, 't1', 2))
      .thenRejects({ code: 'WRONG_EXPECTED_VERSION', accountId: 'alice', expectedVersion: 2, actualVersion: 1 });
    given(alice).when(withdraw('alice', 1, 't1', 1)).then(withdrawn('alice', 1));
  });

  it('reports a version mismatch before insufficient funds', () => {
    given(alice).when(withdraw('alice', 1_000, 't1', 7)).thenRejects('WRONG_EXPECTED_VERSION');
  });
});

describe('decide: Transfer', () => {
  const pair = history(opened('alice', 'USD', 100), opened('bob', 'USD', 5));

  it('moves money between two accounts of one currency, as one event', () => {
    given(pair).when(transfer('alice', 'bob', 60, 't1')).then(transferred('alice', 'bob', 60));
  });

  it('allows transferring the exact balance', () => {
    given(pair).when(transfer('alice', 'bob', 100, 't1')).then(transferred('alice', 'bob', 100));
  });

  it('refuses to overdraw the source: INSUFFICIENT_FUNDS', () => {
    given(pair)
      .when(transfer('alice', 'bob', 101, 't1'))
      .thenRejects({ code: 'INSUFFICIENT_FUNDS', accountId: 'alice', balance: money(100), requested: money(101) });
    given(pair).when(transfer('bob', 'alice', 6, 't1')).thenRejects({ code: 'INSUFFICIENT_FUNDS', accountId: 'bob', balance: money(5) });
  });

  it('refuses a transfer to the same account, whether or not it exists: SAME_ACCOUNT_TRANSFER', () => {
    given(pair).when(transfer('alice', 'alice', 1, 't1')).thenRejects({ code: 'SAME_ACCOUNT_TRANSFER', accountId: 'alice' });
    given([]).when(transfer('ghost', 'ghost', 1, 't1')).thenRejects({ code: 'SAME_ACCOUNT_TRANSFER', accountId: 'ghost' });
  });

  it('refuses an unknown source or destination: ACCOUNT_NOT_FOUND names the missing one', () => {
    given(pair).when(transfer('carol', 'bob', 1, 't1')).thenRejects({ code: 'ACCOUNT_NOT_FOUND', accountId: 'carol' });
    given(pair).when(transfer('alice', 'carol', 1, 't1')).thenRejects({ code: 'ACCOUNT_NOT_FOUND', accountId: 'carol' });
    given([]).when(transfer('carol', 'dave', 1, 't1')).thenRejects({ code: 'ACCOUNT_NOT_FOUND', accountId: 'carol' });
  });

  it('refuses a closed source or destination: ACCOUNT_CLOSED names the closed one', () => {
    const bobClosed = history(opened('alice', 'USD', 100), opened('bob', 'USD', 0), closed('bob', 'x'));
    given(bobClosed).when(transfer('alice', 'bob', 1, 't1')).thenRejects({ code: 'ACCOUNT_CLOSED', accountId: 'bob' });
    given(bobClosed).when(transfer('bob', 'alice', 1, 't1')).thenRejects({ code: 'ACCOUNT_CLOSED', accountId: 'bob' });
  });

  it('refuses accounts of different currencies: CURRENCY_MISMATCH', () => {
    given(history(opened('alice', 'USD', 100), opened('eve', 'EUR', 0)))
      .when(transfer('alice', 'eve', 1, 't1'))
      .thenRejects({ code: 'CURRENCY_MISMATCH', accountId: 'eve', expectedCurrency: 'USD', actualCurrency: 'EUR' });
  });

  it('reports a currency mismatch before insufficient funds', () => {
    given(history(opened('alice', 'USD', 0), opened('eve', 'EUR', 0))).when(transfer('alice', 'eve', 1, 't1')).thenRejects('CURRENCY_MISMATCH');
  });

  it('refuses to credit the destination past 2^53-1: BALANCE_LIMIT_EXCEEDED', () => {
    // A log the fold accepts though no decider would write it: the rule must hold on its own.
    given(history(opened('alice', 'USD', 10), opened('whale', 'USD', MAX)))
      .when(transfer('alice', 'whale', 1, 't1'))
      .thenRejects({ code: 'BALANCE_LIMIT_EXCEEDED', accountId: 'whale', currency: 'USD' });
  });
});

describe('decide: CloseAccount', () => {
  it('closes an account with a zero balance', () => {
    given(history(opened('alice', 'USD', 0))).when(close('alice', 'customer request')).then(closed('alice', 'customer request'));
  });

  it('closes an account that was emptied', () => {
    given(history(opened('alice', 'USD', 30), withdrawn('alice', 30))).when(close('alice', 'empty')).then(closed('alice', 'empty'));
    given(history(opened('alice', 'USD', 30), opened('bob', 'USD', 0), transferred('alice', 'bob', 30)))
      .when(close('alice', 'empty'))
      .then(closed('alice', 'empty'));
  });

  it('refuses a non-zero balance: BALANCE_NOT_ZERO', () => {
    given(history(opened('alice', 'USD', 1)))
      .when(close('alice'))
      .thenRejects({ code: 'BALANCE_NOT_ZERO', accountId: 'alice', balance: money(1) });
  });

  it('refuses an unknown account: ACCOUNT_NOT_FOUND', () => {
    given([]).when(close('alice')).thenRejects({ code: 'ACCOUNT_NOT_FOUND', accountId: 'alice' });
  });

  it('refuses to close twice: ACCOUNT_CLOSED', () => {
    given(history(opened('alice', 'USD', 0), closed('alice', 'x'))).when(close('alice')).thenRejects({ code: 'ACCOUNT_CLOSED', accountId: 'alice' });
  });

  it('checks expectedVersion: WRONG_EXPECTED_VERSION', () => {
    const twoEvents = history(opened('alice', 'USD', 10), withdrawn('alice', 10));
    given(twoEvents)
      .when(close('alice', 'x', 1))
      .thenRejects({ code: 'WRONG_EXPECTED_VERSION', accountId: 'alice', expectedVersion: 1, actualVersion: 2 });
    given(twoEvents).when(close('alice', 'x', 2)).then(closed('alice', 'x'));
  });

  it('has no transaction id, so an earlier use of one does not concern it', () => {
    given(history(opened('alice', 'USD', 0)))
      .when(close('alice', 'x'), { prior: { fingerprint: 'CloseAccount|alice|x', sequence: sequence(1) } })
      .then(closed('alice', 'x'));
  });
});

describe('decide: transaction ids', () => {
  const log = history(opened('alice', 'USD', 100), opened('bob', 'USD', 0), withTx(deposited('alice', 50), 't1'), withTx(transferred('alice', 'bob', 20), 't2'));

  it('replays the same command under the same transaction id: nothing new, the original sequence', () => {
    given(log).when(deposit('alice', 50, 't1')).thenReplays(3);
    given(log).when(transfer('alice', 'bob', 20, 't2')).thenReplays(4);
  });

  it('replays even with a different expectedVersion: a retry after a lost reply must succeed', () => {
    given(log).when(deposit('alice', 50, 't1', 2)).thenReplays(3); // the version the first attempt saw
    given(log).when(deposit('alice', 50, 't1', 99)).thenReplays(3);
    given(log).when(deposit('alice', 50, 't1', null)).thenReplays(3);
  });

  it('replays even when the rules would now refuse the command', () => {
    const emptiedAndClosed = history(
      opened('alice', 'USD', 100),
      opened('bob', 'USD', 0),
      withTx(deposited('alice', 50), 't1'),
      withTx(transferred('alice', 'bob', 20), 't2'),
      withdrawn('alice', 130),
      closed('alice', 'gone'),
    );
    given(emptiedAndClosed).when(deposit('alice', 50, 't1')).thenReplays(3);
    given(emptiedAndClosed).when(transfer('alice', 'bob', 20, 't2')).thenReplays(4);
  });

  it('refuses the same transaction id with a different amount: DUPLICATE_TRANSACTION', () => {
    given(log).when(deposit('alice', 51, 't1')).thenRejects({ code: 'DUPLICATE_TRANSACTION', transactionId: 't1', originalSequence: sequence(3) });
  });

  it('refuses the same transaction id for another account, another kind of command, or another direction', () => {
    given(log).when(deposit('bob', 50, 't1')).thenRejects({ code: 'DUPLICATE_TRANSACTION', transactionId: 't1' });
    given(log).when(withdraw('alice', 50, 't1')).thenRejects({ code: 'DUPLICATE_TRANSACTION', transactionId: 't1' });
    given(log).when(transfer('bob', 'alice', 20, 't2')).thenRejects({ code: 'DUPLICATE_TRANSACTION', transactionId: 't2', originalSequence: sequence(4) });
    given(log).when(deposit('bob', 20, 't2')).thenRejects({ code: 'DUPLICATE_TRANSACTION', transactionId: 't2' });
  });

  it('decides on the earlier use it is given (one pending in the same batch) before anything else', () => {
    const pending = { fingerprint: fingerprintOf(withdraw('ghost', 5, 't9')), sequence: sequence(7) };
    given([]).when(withdraw('ghost', 5, 't9'), { prior: pending }).thenReplays(7);
    given([]).when(withdraw('ghost', 6, 't9'), { prior: pending }).thenRejects({ code: 'DUPLICATE_TRANSACTION', originalSequence: sequence(7) });
  });

  it('treats an unused transaction id as new', () => {
    given(log).when(deposit('alice', 50, 't3'), { prior: null }).then(deposited('alice', 50));
  });
});

describe('evolve', () => {
  const [open1, dep2, wd3, tr4, cl5] = history(
    opened('alice', 'EUR', 100),
    deposited('alice', 20),
    withdrawn('alice', 30),
    transferred('alice', 'bob', 90),
    closed('alice', 'done'),
  );

  it('starts an account at version 1 with the opening balance', () => {
    expect(evolve(undefined, open1!, 'alice')).toEqual({
      id: 'alice',
      currency: 'EUR',
      balance: 100,
      status: 'OPEN',
      version: 1,
      lastSequence: 1,
      openedSequence: 1,
    });
  });

  it('moves balance, version and lastSequence on with each event, and keeps currency and openedSequence', () => {
    const s1 = evolve(undefined, open1!, 'alice');
    const s2 = evolve(s1, dep2!, 'alice');
    expect(s2).toEqual({ ...s1, balance: 120, version: 2, lastSequence: 2 });
    const s3 = evolve(s2, wd3!, 'alice');
    expect(s3).toEqual({ ...s1, balance: 90, version: 3, lastSequence: 3 });
    const s4 = evolve(s3, tr4!, 'alice');
    expect(s4).toEqual({ ...s1, balance: 0, version: 4, lastSequence: 4 });
    const s5 = evolve(s4, cl5!, 'alice');
    expect(s5).toEqual({ ...s1, balance: 0, version: 5, lastSequence: 5, status: 'CLOSED' });
  });

  it('credits the destination of a transfer and debits its source', () => {
    const bob: AccountState = { id: 'bob', currency: 'EUR', balance: money(7), status: 'OPEN', version: 3, lastSequence: sequence(2), openedSequence: sequence(1) };
    expect(evolve(bob, tr4!, 'bob')).toEqual({ ...bob, balance: 97, version: 4, lastSequence: 4 });
  });

  it('keeps the balance when closing', () => {
    const state: AccountState = { id: 'alice', currency: 'EUR', balance: money(0), status: 'OPEN', version: 4, lastSequence: sequence(4), openedSequence: sequence(1) };
    expect(evolve(state, cl5!, 'alice')).toMatchObject({ status: 'CLOSED', balance: 0, version: 5 });
  });

  it('never mutates the state it is given', () => {
    const s1 = Object.freeze(evolve(undefined, open1!, 'alice'));
    const copy = { ...s1 };
    evolve(s1, dep2!, 'alice');
    expect(s1).toEqual(copy);
  });

  it('refuses an event for an account that was never opened', () => {
    expect(() => evolve(undefined, dep2!, 'alice')).toThrow(/never opened/);
  });
});

describe('LedgerState fold', () => {
  it('keeps per-currency totals and an account count: transfers and closes leave totals alone', () => {
    const state = new LedgerState();
    for (const e of history(
      opened('a', 'USD', 100),
      opened('b', 'USD', 0),
      opened('c', 'EUR', 7),
      transferred('a', 'b', 40),
      withdrawn('b', 40),
      closed('b', 'x'),
      deposited('c', 3),
    )) {
      state.apply(e);
    }
    expect(state.summary()).toEqual({
      sequence: 7,
      accountCount: 3,
      totals: [
        { currency: 'EUR', balance: 10, accounts: 1 },
        { currency: 'USD', balance: 60, accounts: 2 },
      ],
    });
    expect(state.account('b')).toMatchObject({ balance: 0, status: 'CLOSED', version: 4 });
  });

  it('refuses events out of order', () => {
    const state = new LedgerState();
    const [first, second] = history(opened('a', 'USD', 1), deposited('a', 1));
    expect(() => state.apply(second!)).toThrow(/in order/);
    state.apply(first!);
    expect(() => state.apply(first!)).toThrow(/in order/);
  });

  it('leaves the parent untouched until a draft is merged', () => {
    const root = new LedgerState();
    const [first, second] = history(opened('a', 'USD', 1), deposited('a', 4));
    root.apply(first!);
    const draft = root.draft();
    draft.apply(second!);
    expect(root.account('a')!.balance).toBe(1);
    expect(root.summary()).toMatchObject({ sequence: 1, totals: [{ currency: 'USD', balance: 1 }] });
    expect(draft.account('a')!.balance).toBe(5);
    draft.merge();
    expect(root.account('a')!.balance).toBe(5);
    expect(root.summary()).toMatchObject({ sequence: 2, totals: [{ currency: 'USD', balance: 5 }] });
  });
});

// Last, so it sees every spec above (tests in a file run in order): each code the decider can produce
// has one. OVERLOADED and ABORTED are the writer's, not the decider's.
it('has a spec for every error code the decider can produce', () => {
  const writerCodes: readonly string[] = ['OVERLOADED', 'ABORTED'];
  expect([...rejectedCodes].sort()).toEqual(ERROR_CODES.filter((c) => !writerCodes.includes(c)).sort());
});
