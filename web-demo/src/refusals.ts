// Domain errors in words a person reads next to a form: what went wrong, the facts, and what to do.
import type { RefusalFragment } from './generated/graphql.ts';
import { formatMoney } from './money.ts';

export interface Readable {
  title: string;
  detail: string;
  code: string;
}

/** `currencyOf` finds an account's currency so amounts read as money, not minor units. */
export function describeRefusal(error: RefusalFragment, currencyOf: (accountId: string) => string | undefined): Readable {
  const money = (minor: number, accountId: string) => formatMoney(minor, currencyOf(accountId));
  const code = error.code;
  switch (error.__typename) {
    case 'AccountNotFoundError':
      return { code, title: 'No such account', detail: `There is no account “${error.accountId}”. Check the id, or open it first.` };
    case 'AccountAlreadyExistsError':
      return { code, title: 'Account already exists', detail: `An account “${error.accountId}” is already open. Pick another id.` };
    case 'AccountClosedError':
      return { code, title: 'Account closed', detail: `Account “${error.accountId}” is closed: it takes no more money in or out.` };
    case 'InsufficientFundsError':
      return {
        code,
        title: 'Insufficient funds',
        detail: `${error.accountId} has ${money(error.balance, error.accountId)}, less than the ${money(error.requested, error.accountId)} requested.`,
      };
    case 'WrongExpectedVersionError':
      return {
        code,
        title: 'The account changed meanwhile',
        detail: `${error.accountId} is at version ${error.actualVersion}, not the expected ${error.expectedVersion}. Look at its latest state and try again.`,
      };
    case 'DuplicateTransactionError':
      return {
        code,
        title: 'Transaction id already used',
        detail: `“${error.transactionId}” was used for a different command (sequence ${error.originalSequence}). Use a new transaction id.`,
      };
    case 'CurrencyMismatchError':
      return {
        code,
        title: 'Different currencies',
        detail: `${error.accountId} holds ${error.actualCurrency}, not ${error.expectedCurrency}. Transfers move money within one currency.`,
      };
    case 'SameAccountTransferError':
      return { code, title: 'Same account', detail: `A transfer needs two different accounts; both sides are ${error.accountId}.` };
    case 'BalanceNotZeroError':
      return {
        code,
        title: 'Balance not zero',
        detail: `${error.accountId} still holds ${money(error.balance, error.accountId)}. Only an account with a zero balance can be closed.`,
      };
    case 'BalanceLimitExceededError':
      return { code, title: 'Balance too large', detail: `That would take ${error.accountId} past the largest ${error.currency} balance the ledger holds.` };
    case 'OverloadedError':
      return { code, title: 'Ledger busy', detail: `Too many commands are waiting. Try again in ${error.retryAfterMs} ms (same transaction id).` };
    case 'AbortedError':
      return { code, title: 'Not applied', detail: `Command ${error.failedIndex + 1} of the list failed (${error.reason}), so none was applied.` };
  }
}
