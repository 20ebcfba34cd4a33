// Domain errors as GraphQL types: one class per ErrorCode, each an object type implementing the
// DomainError interface, so a mutation returns `XSuccess | XError | …` (Pothos errors plugin) and the
// client switches on __typename or reads `code` and `message` through the interface.
import { ERROR_CODES, errorMessage, type DomainError, type ErrorCode } from '../../domain/errors.ts';
import { builder } from '../builder.ts';

/**
 * What each code means to a client: when it happens and whether sending the command again can help.
 * A Record over ErrorCode, so a new code does not compile until it is described here.
 */
const ERROR_CODE_DESCRIPTIONS: Record<ErrorCode, string> = {
  ACCOUNT_NOT_FOUND: 'No account has this id (deposit, withdraw, transfer, closeAccount). Not retryable: open it first.',
  ACCOUNT_ALREADY_EXISTS: 'openAccount with an id that is taken; ids are never reused, not even after a close. Not retryable.',
  ACCOUNT_CLOSED: 'The account is closed: it takes no deposit, withdrawal, transfer or second close. Not retryable.',
  INSUFFICIENT_FUNDS: 'A withdrawal or transfer asks for more than the balance (balance and requested say how much). Retryable once funds arrive.',
  WRONG_EXPECTED_VERSION:
    'expectedVersion is not the account’s version: another command changed it since the caller read it (expectedVersion, actualVersion). Re-read, decide again, resend.',
  DUPLICATE_TRANSACTION:
    'The transactionId was already used for a different command (originalSequence, null when that command touched accounts outside the token’s). Not retryable: pick a new transactionId. The same command resent returns its original result instead.',
  CURRENCY_MISMATCH: 'A transfer between accounts of different currencies (expectedCurrency is the paying account’s, actualCurrency the receiving one’s). Not retryable.',
  SAME_ACCOUNT_TRANSFER: 'A transfer from an account to itself. Not retryable.',
  BALANCE_NOT_ZERO: 'closeAccount on an account whose balance is not zero (balance). Retryable once it is emptied.',
  BALANCE_LIMIT_EXCEEDED:
    'A credit would take the account’s balance, or the total of its currency, past 2^53−1 minor units, the largest exact JSON number. Not retryable as is.',
  OVERLOADED: 'The write queue is full. Retryable: send the same command (same transactionId) again after retryAfterMs.',
  ABORTED:
    'In an atomic submitCommands, this command was not applied because the command at failedIndex (of commandCount) failed with reason. Retryable: fix or drop that command and resend the list.',
};

export const ErrorCodeEnum = builder.enumType('ErrorCode', {
  description: 'Why a command was refused (DomainError.code). Errors of the request itself carry extensions.code instead; see the README.',
  values: Object.fromEntries(ERROR_CODES.map((code) => [code, { description: ERROR_CODE_DESCRIPTIONS[code] }])) as Record<ErrorCode, { description: string }>,
});

/**
 * Carries a DomainError value through the errors plugin, which catches it by class. Deliberately not
 * an Error subclass: graphql-js turns any Error inside a list into a field error, and submitCommands
 * returns domain errors as list items — they are data, not failures of the request.
 */
export class LedgerError {
  readonly name = 'LedgerError';
  readonly message: string;
  constructor(
    readonly error: DomainError,
    message = errorMessage(error),
  ) {
    this.message = message;
  }
  get code(): ErrorCode {
    return this.error.code;
  }
}

export const DomainErrorInterface = builder.interfaceRef<LedgerError>('DomainError').implement({
  description: 'A business rule refused the command. Nothing was appended.',
  fields: (t) => ({
    code: t.field({ type: ErrorCodeEnum, resolve: (e) => e.code }),
    message: t.exposeString('message'),
  }),
});

type Of<C extends ErrorCode> = Extract<DomainError, { code: C }>;
const field = <C extends ErrorCode>(e: LedgerError) => e.error as Of<C>;

class AccountNotFoundError extends LedgerError {}
class AccountAlreadyExistsError extends LedgerError {}
class AccountClosedError extends LedgerError {}
class InsufficientFundsError extends LedgerError {}
class WrongExpectedVersionError extends LedgerError {}
class DuplicateTransactionError extends LedgerError {
  /** Set when the original command is not the viewer's to see: it touched accounts outside its token. */
  originalHidden = false;
}
class CurrencyMismatchError extends LedgerError {}
class SameAccountTransferError extends LedgerError {}
class BalanceNotZeroError extends LedgerError {}
class BalanceLimitExceededError extends LedgerError {}
class OverloadedError extends LedgerError {}
class AbortedError extends LedgerError {}

const CLASSES: Record<ErrorCode, new (error: DomainError) => LedgerError> = {
  ACCOUNT_NOT_FOUND: AccountNotFoundError,
  ACCOUNT_ALREADY_EXISTS: AccountAlreadyExistsError,
  ACCOUNT_CLOSED: AccountClosedError,
  INSUFFICIENT_FUNDS: InsufficientFundsError,
  WRONG_EXPECTED_VERSION: WrongExpectedVersionError,
  DUPLICATE_TRANSACTION: DuplicateTransactionError,
  CURRENCY_MISMATCH: CurrencyMismatchError,
  SAME_ACCOUNT_TRANSFER: SameAccountTransferError,
  BALANCE_NOT_ZERO: BalanceNotZeroError,
  BALANCE_LIMIT_EXCEEDED: BalanceLimitExceededError,
  OVERLOADED: OverloadedError,
  ABORTED: AbortedError,
};

export const toLedgerError = (error: DomainError): LedgerError => new CLASSES[error.code](error);

/** A DUPLICATE_TRANSACTION that names neither where nor what the original was. */
export function withOriginalHidden(error: Of<'DUPLICATE_TRANSACTION'>): LedgerError {
  const hidden = new DuplicateTransactionError(error, `Transaction ${error.transactionId} was already used for a different command`);
  hidden.originalHidden = true;
  return hidden;
}

/** ACCOUNT_NOT_FOUND → AccountNotFoundError: the object type of each code. */
export const errorTypeName = (code: ErrorCode): string =>
  `${code.toLowerCase().replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase())}Error`;

/** The `accountId` of an error: read off its DomainError value (the LedgerError itself has none). */
const accountIdField = (t: any) => t.id({ resolve: (e: LedgerError) => (e.error as { accountId: string }).accountId });

builder.objectType(AccountNotFoundError, { name: 'AccountNotFoundError', interfaces: [DomainErrorInterface], fields: (t) => ({ accountId: accountIdField(t) }) });
builder.objectType(AccountAlreadyExistsError, { name: 'AccountAlreadyExistsError', interfaces: [DomainErrorInterface], fields: (t) => ({ accountId: accountIdField(t) }) });
builder.objectType(AccountClosedError, { name: 'AccountClosedError', interfaces: [DomainErrorInterface], fields: (t) => ({ accountId: accountIdField(t) }) });
builder.objectType(SameAccountTransferError, { name: 'SameAccountTransferError', interfaces: [DomainErrorInterface], fields: (t) => ({ accountId: accountIdField(t) }) });
builder.objectType(InsufficientFundsError, {
  name: 'InsufficientFundsError',
  interfaces: [DomainErrorInterface],
  fields: (t) => ({
    accountId: accountIdField(t),
    balance: t.field({ type: 'Money', resolve: (e) => field<'INSUFFICIENT_FUNDS'>(e).balance }),
    requested: t.field({ type: 'Money', resolve: (e) => field<'INSUFFICIENT_FUNDS'>(e).requested }),
  }),
});
builder.objectType(WrongExpectedVersionError, {
  name: 'WrongExpectedVersionError',
  interfaces: [DomainErrorInterface],
  fields: (t) => ({
    accountId: accountIdField(t),
    expectedVersion: t.int({ resolve: (e) => field<'WRONG_EXPECTED_VERSION'>(e).expectedVersion }),
    actualVersion: t.int({ resolve: (e) => field<'WRONG_EXPECTED_VERSION'>(e).actualVersion }),
  }),
});
builder.objectType(DuplicateTransactionError, {
  name: 'DuplicateTransactionError',
  interfaces: [DomainErrorInterface],
  fields: (t) => ({
    transactionId: t.id({ resolve: (e) => field<'DUPLICATE_TRANSACTION'>(e).transactionId }),
    originalSequence: t.field({
      type: 'Sequence',
      nullable: true,
      description: 'Null when the original command touched accounts outside the token’s.',
      resolve: (e) => ((e as DuplicateTransactionError).originalHidden ? null : field<'DUPLICATE_TRANSACTION'>(e).originalSequence),
    }),
  }),
});
builder.objectType(CurrencyMismatchError, {
  name: 'CurrencyMismatchError',
  interfaces: [DomainErrorInterface],
  fields: (t) => ({
    accountId: accountIdField(t),
    expectedCurrency: t.string({ resolve: (e) => field<'CURRENCY_MISMATCH'>(e).expectedCurrency }),
    actualCurrency: t.string({ resolve: (e) => field<'CURRENCY_MISMATCH'>(e).actualCurrency }),
  }),
});
builder.objectType(BalanceNotZeroError, {
  name: 'BalanceNotZeroError',
  interfaces: [DomainErrorInterface],
  fields: (t) => ({
    accountId: accountIdField(t),
    balance: t.field({ type: 'Money', resolve: (e) => field<'BALANCE_NOT_ZERO'>(e).balance }),
  }),
});
builder.objectType(BalanceLimitExceededError, {
  name: 'BalanceLimitExceededError',
  interfaces: [DomainErrorInterface],
  fields: (t) => ({
    accountId: accountIdField(t),
    currency: t.string({ resolve: (e) => field<'BALANCE_LIMIT_EXCEEDED'>(e).currency }),
  }),
});
builder.objectType(OverloadedError, {
  name: 'OverloadedError',
  description: 'The write queue is full. Retryable: send the same command (same transactionId) again after retryAfterMs.',
  interfaces: [DomainErrorInterface],
  fields: (t) => ({ retryAfterMs: t.int({ resolve: (e) => field<'OVERLOADED'>(e).retryAfterMs }) }),
});
builder.objectType(AbortedError, {
  name: 'AbortedError',
  description: 'In an atomic submitCommands, this command was not applied because another one failed.',
  interfaces: [DomainErrorInterface],
  fields: (t) => ({
    failedIndex: t.int({ description: 'The failed command’s position in the list, counted from 0.', resolve: (e) => field<'ABORTED'>(e).failedIndex }),
    commandCount: t.int({ description: 'How many commands the list held.', resolve: (e) => field<'ABORTED'>(e).commandCount }),
    reason: t.field({ type: ErrorCodeEnum, resolve: (e) => field<'ABORTED'>(e).reason }),
  }),
});

/** The error classes a command can end in, for the errors plugin's `types`. */
export const ERRORS = {
  openAccount: [AccountAlreadyExistsError, BalanceLimitExceededError, OverloadedError],
  deposit: [AccountNotFoundError, AccountClosedError, WrongExpectedVersionError, DuplicateTransactionError, BalanceLimitExceededError, OverloadedError],
  withdraw: [AccountNotFoundError, AccountClosedError, WrongExpectedVersionError, DuplicateTransactionError, InsufficientFundsError, OverloadedError],
  transfer: [
    AccountNotFoundError,
    AccountClosedError,
    DuplicateTransactionError,
    InsufficientFundsError,
    CurrencyMismatchError,
    SameAccountTransferError,
    BalanceLimitExceededError,
    OverloadedError,
  ],
  closeAccount: [AccountNotFoundError, AccountClosedError, WrongExpectedVersionError, BalanceNotZeroError, OverloadedError],
  any: Object.values(CLASSES),
};
