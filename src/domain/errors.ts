// Domain failures are values, not exceptions: each has a stable code (the GraphQL ErrorCode) and the
// facts a client needs to react (current version, balance, …).
import type { AccountId, Money, Sequence } from './types.ts';

export type DomainError =
  | { code: 'ACCOUNT_NOT_FOUND'; accountId: AccountId }
  | { code: 'ACCOUNT_ALREADY_EXISTS'; accountId: AccountId }
  | { code: 'ACCOUNT_CLOSED'; accountId: AccountId }
  | { code: 'INSUFFICIENT_FUNDS'; accountId: AccountId; balance: Money; requested: Money }
  | { code: 'WRONG_EXPECTED_VERSION'; accountId: AccountId; expectedVersion: number; actualVersion: number }
  | { code: 'DUPLICATE_TRANSACTION'; transactionId: string; originalSequence: Sequence }
  | { code: 'CURRENCY_MISMATCH'; accountId: AccountId; expectedCurrency: string; actualCurrency: string }
  | { code: 'SAME_ACCOUNT_TRANSFER'; accountId: AccountId }
  | { code: 'BALANCE_NOT_ZERO'; accountId: AccountId; balance: Money }
  | { code: 'BALANCE_LIMIT_EXCEEDED'; accountId: AccountId; currency: string }
  | { code: 'OVERLOADED'; retryAfterMs: number }
  /**
   * A command of an atomic list that was fine on its own but not applied because another one failed:
   * the one at `failedIndex` (0-based) of the `commandCount` in the list.
   */
  | { code: 'ABORTED'; failedIndex: number; commandCount: number; reason: ErrorCode };

export type ErrorCode = DomainError['code'];

export const ERROR_CODES: readonly ErrorCode[] = [
  'ACCOUNT_NOT_FOUND',
  'ACCOUNT_ALREADY_EXISTS',
  'ACCOUNT_CLOSED',
  'INSUFFICIENT_FUNDS',
  'WRONG_EXPECTED_VERSION',
  'DUPLICATE_TRANSACTION',
  'CURRENCY_MISMATCH',
  'SAME_ACCOUNT_TRANSFER',
  'BALANCE_NOT_ZERO',
  'BALANCE_LIMIT_EXCEEDED',
  'OVERLOADED',
  'ABORTED',
];

export function errorMessage(error: DomainError): string {
  switch (error.code) {
    case 'ACCOUNT_NOT_FOUND':
      return `Account ${error.accountId} does not exist`;
    case 'ACCOUNT_ALREADY_EXISTS':
      return `Account ${error.accountId} already exists`;
    case 'ACCOUNT_CLOSED':
      return `Account ${error.accountId} is closed`;
    case 'INSUFFICIENT_FUNDS':
      return `Account ${error.accountId} has ${error.balance}, less than the ${error.requested} requested`;
    case 'WRONG_EXPECTED_VERSION':
      return `Account ${error.accountId} is at version ${error.actualVersion}, not the expected ${error.expectedVersion}`;
    case 'DUPLICATE_TRANSACTION':
      return `Transaction ${error.transactionId} was already used (sequence ${error.originalSequence}) for a different command`;
    case 'CURRENCY_MISMATCH':
      return `Account ${error.accountId} holds ${error.actualCurrency}, not ${error.expectedCurrency}`;
    case 'SAME_ACCOUNT_TRANSFER':
      return `Cannot transfer from account ${error.accountId} to itself`;
    case 'BALANCE_NOT_ZERO':
      return `Account ${error.accountId} still holds ${error.balance}; only a zero balance can be closed`;
    case 'BALANCE_LIMIT_EXCEEDED':
      return `Crediting account ${error.accountId} would take a ${error.currency} balance past 2^53-1 minor units`;
    case 'OVERLOADED':
      return `The ledger is overloaded; retry in ${error.retryAfterMs} ms`;
    case 'ABORTED':
      // Counted from 1 in words and from 0 as the index, both named: "command 1" alone was read both ways.
      return `Not applied: command ${error.failedIndex + 1} of ${error.commandCount} (index ${error.failedIndex}) of this atomic list failed: ${error.reason}`;
  }
}
