// The shape rules for input: ids, currencies, amounts, and whole commands.
import { describe, expect, it } from 'vitest';
import type { Command } from '../../src/domain/commands.ts';
import { money } from '../../src/domain/types.ts';
import {
  MAX_ID_LENGTH,
  MAX_REASON_LENGTH,
  describeId,
  isAmount,
  isBalance,
  isCurrency,
  isValidId,
  isVersion,
  validateCommand,
} from '../../src/domain/validation.ts';

describe('ids', () => {
  it('accepts 1 to 128 characters of letters, digits and _ - . : @', () => {
    for (const id of ['a', 'Z', '0', 'acct_1', 'a-b.c:d@e', 'user@example.com', '_-.:@', 'x'.repeat(MAX_ID_LENGTH)]) {
      expect(isValidId(id), id).toBe(true);
      expect(describeId('accountId', id), id).toBeNull();
    }
    expect(MAX_ID_LENGTH).toBe(128);
  });

  it('refuses the empty id and ids over 128 characters, saying which', () => {
    expect(isValidId('')).toBe(false);
    expect(describeId('accountId', '')).toMatch(/accountId must not be empty/);
    expect(isValidId('x'.repeat(129))).toBe(false);
    expect(describeId('transactionId', 'x'.repeat(129))).toMatch(/transactionId must be at most 128 characters \(got 129\)/);
  });

  it('refuses characters outside the charset', () => {
    for (const id of ['a b', 'a/b', 'a\\b', 'a#b', 'é', 'a\0b', 'tab\t', 'new\nline', '💰', 'a,b', "a'b", 'a"b']) {
      expect(isValidId(id), JSON.stringify(id)).toBe(false);
      expect(describeId('accountId', id), JSON.stringify(id)).toMatch(/may only contain/);
    }
  });

  it('refuses what is not a string', () => {
    for (const id of [undefined, null, 42, {}, ['a']]) {
      expect(isValidId(id)).toBe(false);
      expect(describeId('accountId', id)).toMatch(/must be a string/);
    }
  });
});

describe('currencies', () => {
  it('accepts active ISO 4217 codes', () => {
    for (const code of ['USD', 'EUR', 'GBP', 'JPY', 'CHF', 'BHD', 'CLP']) expect(isCurrency(code), code).toBe(true);
  });

  it('refuses lower case, wrong lengths, made-up codes, fund and metal codes, and non-strings', () => {
    for (const code of ['usd', 'Usd', 'US', 'USDD', '', 'ABC', 'XXX', 'XAU', 'XAG', 'XDR', ' USD', 'USD ', 840, null, undefined]) {
      expect(isCurrency(code), String(code)).toBe(false);
    }
  });
});

describe('amounts', () => {
  it('accepts positive safe integers, up to 2^53-1', () => {
    for (const n of [1, 2, 100, 1_000_000, Number.MAX_SAFE_INTEGER]) expect(isAmount(n), String(n)).toBe(true);
  });

  it('refuses 0, negatives, fractions, 2^53 and beyond, and non-numbers', () => {
    for (const n of [0, -0, -1, -100, 1.5, 0.1, 2 ** 53, 2 ** 53 + 2, Number.MAX_VALUE, Infinity, -Infinity, NaN, '5', null, undefined, 5n]) {
      expect(isAmount(n), String(n)).toBe(false);
    }
  });

  it('lets balances and versions be 0, but nothing negative, fractional or unsafe', () => {
    expect(isBalance(0)).toBe(true);
    expect(isVersion(0)).toBe(true);
    expect(isBalance(Number.MAX_SAFE_INTEGER)).toBe(true);
    for (const n of [-1, 1.5, 2 ** 53, NaN]) {
      expect(isBalance(n), String(n)).toBe(false);
      expect(isVersion(n), String(n)).toBe(false);
    }
  });
});

describe('validateCommand', () => {
  const valid: Command[] = [
    { type: 'OpenAccount', accountId: 'alice', currency: 'USD', initialBalance: money(0) },
    { type: 'Deposit', accountId: 'alice', amount: money(1), transactionId: 'tx-1' },
    { type: 'Deposit', accountId: 'alice', amount: money(1), transactionId: 'tx-1', expectedVersion: 0 },
    { type: 'Withdraw', accountId: 'alice', amount: money(Number.MAX_SAFE_INTEGER), transactionId: 'tx-1', expectedVersion: null },
    { type: 'Transfer', fromAccountId: 'alice', toAccountId: 'bob', amount: money(5), transactionId: 'tx-2' },
    { type: 'CloseAccount', accountId: 'alice', reason: '' },
    { type: 'CloseAccount', accountId: 'alice', reason: 'r'.repeat(MAX_REASON_LENGTH), expectedVersion: 3 },
  ];

  it('passes well-formed commands of every kind', () => {
    for (const c of valid) expect(validateCommand(c), JSON.stringify(c)).toBeNull();
  });

  it.each([0, -1, 1.5, 2 ** 53])('refuses a deposit, withdrawal or transfer of %s', (amount) => {
    const commands: Command[] = [
      { type: 'Deposit', accountId: 'alice', amount: money(amount), transactionId: 't' },
      { type: 'Withdraw', accountId: 'alice', amount: money(amount), transactionId: 't' },
      { type: 'Transfer', fromAccountId: 'alice', toAccountId: 'bob', amount: money(amount), transactionId: 't' },
    ];
    for (const c of commands) expect(validateCommand(c), c.type).toMatch(/amount must be a positive integer/);
  });

  it('lets an account open with 0 but not with a negative, fractional or unsafe balance', () => {
    for (const initialBalance of [-1, 1.5, 2 ** 53]) {
      expect(validateCommand({ type: 'OpenAccount', accountId: 'a', currency: 'USD', initialBalance: money(initialBalance) })).toMatch(/initialBalance/);
    }
  });

  it('refuses an unknown currency', () => {
    expect(validateCommand({ type: 'OpenAccount', accountId: 'a', currency: 'usd', initialBalance: money(1) })).toMatch(/currency must be an ISO 4217 code, got "usd"/);
  });

  it('names the bad id field', () => {
    expect(validateCommand({ type: 'OpenAccount', accountId: '', currency: 'USD', initialBalance: money(1) })).toMatch(/^accountId/);
    expect(validateCommand({ type: 'Deposit', accountId: 'a', amount: money(1), transactionId: 'x'.repeat(129) })).toMatch(/^transactionId/);
    expect(validateCommand({ type: 'Transfer', fromAccountId: 'a b', toAccountId: 'b', amount: money(1), transactionId: 't' })).toMatch(/^fromAccountId/);
    expect(validateCommand({ type: 'Transfer', fromAccountId: 'a', toAccountId: '', amount: money(1), transactionId: 't' })).toMatch(/^toAccountId/);
    expect(validateCommand({ type: 'CloseAccount', accountId: 'a/b', reason: '' })).toMatch(/^accountId/);
  });

  it('refuses a negative or fractional expectedVersion', () => {
    for (const expectedVersion of [-1, 1.5]) {
      expect(validateCommand({ type: 'Deposit', accountId: 'a', amount: money(1), transactionId: 't', expectedVersion })).toMatch(/expectedVersion/);
      expect(validateCommand({ type: 'Withdraw', accountId: 'a', amount: money(1), transactionId: 't', expectedVersion })).toMatch(/expectedVersion/);
      expect(validateCommand({ type: 'CloseAccount', accountId: 'a', reason: '', expectedVersion })).toMatch(/expectedVersion/);
    }
  });

  it('refuses a close reason over 500 characters', () => {
    expect(validateCommand({ type: 'CloseAccount', accountId: 'a', reason: 'r'.repeat(MAX_REASON_LENGTH + 1) })).toMatch(/reason/);
  });
});
