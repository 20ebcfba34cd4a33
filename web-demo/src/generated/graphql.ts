/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type AccountStatus =
  | 'CLOSED'
  | 'OPEN';

export type CloseAccountInput = {
  accountId: string | number;
  expectedVersion?: number | null | undefined;
  reason?: string | null | undefined;
};

/** Exactly one of the five commands. */
export type Command =
  {   closeAccount: CloseAccountInput; deposit?: never; openAccount?: never; transfer?: never; withdraw?: never; }
  |  { closeAccount?: never;   deposit: DepositInput; openAccount?: never; transfer?: never; withdraw?: never; }
  |  { closeAccount?: never; deposit?: never;   openAccount: OpenAccountInput; transfer?: never; withdraw?: never; }
  |  { closeAccount?: never; deposit?: never; openAccount?: never;   transfer: TransferInput; withdraw?: never; }
  |  { closeAccount?: never; deposit?: never; openAccount?: never; transfer?: never;   withdraw: WithdrawInput; };

export type DepositInput = {
  accountId: string | number;
  /** Positive, in minor units. */
  amount: number;
  /** Fail with WRONG_EXPECTED_VERSION unless the account is at this version. */
  expectedVersion?: number | null | undefined;
  /** Idempotency key: a retry with the same content returns the original result. */
  transactionId: string | number;
};

/** Why a command was refused (DomainError.code). Errors of the request itself carry extensions.code instead; see the README. */
export type ErrorCode =
  /** In an atomic submitCommands, this command was not applied because the command at failedIndex (of commandCount) failed with reason. Retryable: fix or drop that command and resend the list. */
  | 'ABORTED'
  /** openAccount with an id that is taken; ids are never reused, not even after a close. Not retryable. */
  | 'ACCOUNT_ALREADY_EXISTS'
  /** The account is closed: it takes no deposit, withdrawal, transfer or second close. Not retryable. */
  | 'ACCOUNT_CLOSED'
  /** No account has this id (deposit, withdraw, transfer, closeAccount). Not retryable: open it first. */
  | 'ACCOUNT_NOT_FOUND'
  /** A credit would take the account’s balance, or the total of its currency, past 2^53−1 minor units, the largest exact JSON number. Not retryable as is. */
  | 'BALANCE_LIMIT_EXCEEDED'
  /** closeAccount on an account whose balance is not zero (balance). Retryable once it is emptied. */
  | 'BALANCE_NOT_ZERO'
  /** A transfer between accounts of different currencies (expectedCurrency is the paying account’s, actualCurrency the receiving one’s). Not retryable. */
  | 'CURRENCY_MISMATCH'
  /** The transactionId was already used for a different command (originalSequence, null when that command touched accounts outside the token’s). Not retryable: pick a new transactionId. The same command resent returns its original result instead. */
  | 'DUPLICATE_TRANSACTION'
  /** A withdrawal or transfer asks for more than the balance (balance and requested say how much). Retryable once funds arrive. */
  | 'INSUFFICIENT_FUNDS'
  /** The write queue is full. Retryable: send the same command (same transactionId) again after retryAfterMs. */
  | 'OVERLOADED'
  /** A transfer from an account to itself. Not retryable. */
  | 'SAME_ACCOUNT_TRANSFER'
  /** expectedVersion is not the account’s version: another command changed it since the caller read it (expectedVersion, actualVersion). Re-read, decide again, resend. */
  | 'WRONG_EXPECTED_VERSION';

export type EventType =
  | 'CLOSED'
  | 'DEPOSITED'
  | 'OPENED'
  | 'TRANSFERRED'
  | 'WITHDRAWN';

export type OpenAccountInput = {
  /** 1–128 characters of letters, digits and _ - . : @ */
  accountId: string | number;
  /** ISO 4217 code, e.g. EUR. */
  currency: string;
  initialBalance?: number | null | undefined;
};

export type SubmitCommandsInput = {
  /** All commands commit together or none does. */
  atomic?: boolean | null | undefined;
  /** At most 1000. */
  commands: Array<Command>;
};

export type TransferInput = {
  amount: number;
  fromAccountId: string | number;
  toAccountId: string | number;
  transactionId: string | number;
};

export type WithdrawInput = {
  accountId: string | number;
  /** Positive, in minor units. */
  amount: number;
  /** Fail with WRONG_EXPECTED_VERSION unless the account is at this version. */
  expectedVersion?: number | null | undefined;
  /** Idempotency key: a retry with the same content returns the original result. */
  transactionId: string | number;
};

export type AcctFragment = { id: string, currency: string, balance: number, status: AccountStatus, version: number, lastSequence: number };

export type LedgerViewFragment = { sequence: number, head: number, accountCount: number, totals: Array<{ currency: string, balance: number, accounts: number }> };

type FeedEvent_AccountClosed_Fragment = { __typename: 'AccountClosed', accountId: string, reason: string, sequence: number, type: EventType, timestamp: string, transactionId: string | null };

type FeedEvent_AccountOpened_Fragment = { __typename: 'AccountOpened', accountId: string, currency: string, initialBalance: number, sequence: number, type: EventType, timestamp: string, transactionId: string | null };

type FeedEvent_MoneyDeposited_Fragment = { __typename: 'MoneyDeposited', accountId: string, amount: number, sequence: number, type: EventType, timestamp: string, transactionId: string | null };

type FeedEvent_MoneyTransferred_Fragment = { __typename: 'MoneyTransferred', fromAccountId: string, toAccountId: string, amount: number, sequence: number, type: EventType, timestamp: string, transactionId: string | null };

type FeedEvent_MoneyWithdrawn_Fragment = { __typename: 'MoneyWithdrawn', accountId: string, amount: number, sequence: number, type: EventType, timestamp: string, transactionId: string | null };

export type FeedEventFragment =
  | FeedEvent_AccountClosed_Fragment
  | FeedEvent_AccountOpened_Fragment
  | FeedEvent_MoneyDeposited_Fragment
  | FeedEvent_MoneyTransferred_Fragment
  | FeedEvent_MoneyWithdrawn_Fragment
;

type Refusal_AbortedError_Fragment = { __typename: 'AbortedError', failedIndex: number, reason: ErrorCode, code: ErrorCode, message: string };

type Refusal_AccountAlreadyExistsError_Fragment = { __typename: 'AccountAlreadyExistsError', accountId: string, code: ErrorCode, message: string };

type Refusal_AccountClosedError_Fragment = { __typename: 'AccountClosedError', accountId: string, code: ErrorCode, message: string };

type Refusal_AccountNotFoundError_Fragment = { __typename: 'AccountNotFoundError', accountId: string, code: ErrorCode, message: string };

type Refusal_BalanceLimitExceededError_Fragment = { __typename: 'BalanceLimitExceededError', accountId: string, currency: string, code: ErrorCode, message: string };

type Refusal_BalanceNotZeroError_Fragment = { __typename: 'BalanceNotZeroError', accountId: string, balance: number, code: ErrorCode, message: string };

type Refusal_CurrencyMismatchError_Fragment = { __typename: 'CurrencyMismatchError', accountId: string, expectedCurrency: string, actualCurrency: string, code: ErrorCode, message: string };

type Refusal_DuplicateTransactionError_Fragment = { __typename: 'DuplicateTransactionError', transactionId: string, originalSequence: number | null, code: ErrorCode, message: string };

type Refusal_InsufficientFundsError_Fragment = { __typename: 'InsufficientFundsError', accountId: string, balance: number, requested: number, code: ErrorCode, message: string };

type Refusal_OverloadedError_Fragment = { __typename: 'OverloadedError', retryAfterMs: number, code: ErrorCode, message: string };

type Refusal_SameAccountTransferError_Fragment = { __typename: 'SameAccountTransferError', accountId: string, code: ErrorCode, message: string };

type Refusal_WrongExpectedVersionError_Fragment = { __typename: 'WrongExpectedVersionError', accountId: string, expectedVersion: number, actualVersion: number, code: ErrorCode, message: string };

export type RefusalFragment =
  | Refusal_AbortedError_Fragment
  | Refusal_AccountAlreadyExistsError_Fragment
  | Refusal_AccountClosedError_Fragment
  | Refusal_AccountNotFoundError_Fragment
  | Refusal_BalanceLimitExceededError_Fragment
  | Refusal_BalanceNotZeroError_Fragment
  | Refusal_CurrencyMismatchError_Fragment
  | Refusal_DuplicateTransactionError_Fragment
  | Refusal_InsufficientFundsError_Fragment
  | Refusal_OverloadedError_Fragment
  | Refusal_SameAccountTransferError_Fragment
  | Refusal_WrongExpectedVersionError_Fragment
;

export type HeadQueryVariables = Exact<{ [key: string]: never; }>;


export type HeadQuery = { ledger: { head: number } };

export type SnapshotQueryVariables = Exact<{
  atSequence: number;
  eventAfter: number;
  after?: string | null | undefined;
}>;


export type SnapshotQuery = { ledger: { sequence: number, head: number, accountCount: number, totals: Array<{ currency: string, balance: number, accounts: number }> }, accounts: { nodes: Array<{ id: string, currency: string, balance: number, status: AccountStatus, version: number, lastSequence: number }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } }, point: { nodes: Array<
      | { sequence: number, timestamp: string }
      | { sequence: number, timestamp: string }
      | { sequence: number, timestamp: string }
      | { sequence: number, timestamp: string }
      | { sequence: number, timestamp: string }
    > } };

export type SequenceAtTimeQueryVariables = Exact<{
  atTime: string;
}>;


export type SequenceAtTimeQuery = { ledger: { sequence: number } };

export type AccountHistoryQueryVariables = Exact<{
  accountId: string | number;
  afterSequence: number;
}>;


export type AccountHistoryQuery = { events: { nodes: Array<
      | { sequence: number, account: { balance: number } | null }
      | { sequence: number, account: { balance: number } | null }
      | { sequence: number, account: { balance: number } | null }
      | { fromAccountId: string, sequence: number, from: { balance: number } | null, to: { balance: number } | null }
      | { sequence: number, account: { balance: number } | null }
    >, pageInfo: { hasNextPage: boolean } } };

export type RecentEventsQueryVariables = Exact<{
  afterSequence: number;
}>;


export type RecentEventsQuery = { events: { nodes: Array<
      | { __typename: 'AccountClosed', accountId: string, reason: string, sequence: number, type: EventType, timestamp: string, transactionId: string | null }
      | { __typename: 'AccountOpened', accountId: string, currency: string, initialBalance: number, sequence: number, type: EventType, timestamp: string, transactionId: string | null }
      | { __typename: 'MoneyDeposited', accountId: string, amount: number, sequence: number, type: EventType, timestamp: string, transactionId: string | null }
      | { __typename: 'MoneyTransferred', fromAccountId: string, toAccountId: string, amount: number, sequence: number, type: EventType, timestamp: string, transactionId: string | null }
      | { __typename: 'MoneyWithdrawn', accountId: string, amount: number, sequence: number, type: EventType, timestamp: string, transactionId: string | null }
    > } };

export type OpenAccountMutationVariables = Exact<{
  input: OpenAccountInput;
}>;


export type OpenAccountMutation = { openAccount:
    | { __typename: 'AccountAlreadyExistsError', accountId: string, code: ErrorCode, message: string }
    | { __typename: 'BalanceLimitExceededError', accountId: string, currency: string, code: ErrorCode, message: string }
    | { __typename: 'OpenAccountSuccess', sequence: number, account: { id: string, currency: string, balance: number, status: AccountStatus, version: number, lastSequence: number } }
    | { __typename: 'OverloadedError', retryAfterMs: number, code: ErrorCode, message: string }
   };

export type DepositMutationVariables = Exact<{
  input: DepositInput;
}>;


export type DepositMutation = { deposit:
    | { __typename: 'AccountClosedError', accountId: string, code: ErrorCode, message: string }
    | { __typename: 'AccountNotFoundError', accountId: string, code: ErrorCode, message: string }
    | { __typename: 'BalanceLimitExceededError', accountId: string, currency: string, code: ErrorCode, message: string }
    | { __typename: 'DepositSuccess', sequence: number, replayed: boolean, account: { id: string, currency: string, balance: number, status: AccountStatus, version: number, lastSequence: number } }
    | { __typename: 'DuplicateTransactionError', transactionId: string, originalSequence: number | null, code: ErrorCode, message: string }
    | { __typename: 'OverloadedError', retryAfterMs: number, code: ErrorCode, message: string }
    | { __typename: 'WrongExpectedVersionError', accountId: string, expectedVersion: number, actualVersion: number, code: ErrorCode, message: string }
   };

export type WithdrawMutationVariables = Exact<{
  input: WithdrawInput;
}>;


export type WithdrawMutation = { withdraw:
    | { __typename: 'AccountClosedError', accountId: string, code: ErrorCode, message: string }
    | { __typename: 'AccountNotFoundError', accountId: string, code: ErrorCode, message: string }
    | { __typename: 'DuplicateTransactionError', transactionId: string, originalSequence: number | null, code: ErrorCode, message: string }
    | { __typename: 'InsufficientFundsError', accountId: string, balance: number, requested: number, code: ErrorCode, message: string }
    | { __typename: 'OverloadedError', retryAfterMs: number, code: ErrorCode, message: string }
    | { __typename: 'WithdrawSuccess', sequence: number, replayed: boolean, account: { id: string, currency: string, balance: number, status: AccountStatus, version: number, lastSequence: number } }
    | { __typename: 'WrongExpectedVersionError', accountId: string, expectedVersion: number, actualVersion: number, code: ErrorCode, message: string }
   };

export type TransferMutationVariables = Exact<{
  input: TransferInput;
}>;


export type TransferMutation = { transfer:
    | { __typename: 'AccountClosedError', accountId: string, code: ErrorCode, message: string }
    | { __typename: 'AccountNotFoundError', accountId: string, code: ErrorCode, message: string }
    | { __typename: 'BalanceLimitExceededError', accountId: string, currency: string, code: ErrorCode, message: string }
    | { __typename: 'CurrencyMismatchError', accountId: string, expectedCurrency: string, actualCurrency: string, code: ErrorCode, message: string }
    | { __typename: 'DuplicateTransactionError', transactionId: string, originalSequence: number | null, code: ErrorCode, message: string }
    | { __typename: 'InsufficientFundsError', accountId: string, balance: number, requested: number, code: ErrorCode, message: string }
    | { __typename: 'OverloadedError', retryAfterMs: number, code: ErrorCode, message: string }
    | { __typename: 'SameAccountTransferError', accountId: string, code: ErrorCode, message: string }
    | { __typename: 'TransferSuccess', sequence: number, replayed: boolean, from: { id: string, currency: string, balance: number, status: AccountStatus, version: number, lastSequence: number }, to: { id: string, currency: string, balance: number, status: AccountStatus, version: number, lastSequence: number } }
   };

export type CloseAccountMutationVariables = Exact<{
  input: CloseAccountInput;
}>;


export type CloseAccountMutation = { closeAccount:
    | { __typename: 'AccountClosedError', accountId: string, code: ErrorCode, message: string }
    | { __typename: 'AccountNotFoundError', accountId: string, code: ErrorCode, message: string }
    | { __typename: 'BalanceNotZeroError', accountId: string, balance: number, code: ErrorCode, message: string }
    | { __typename: 'CloseAccountSuccess', sequence: number, account: { id: string, currency: string, balance: number, status: AccountStatus, version: number, lastSequence: number } }
    | { __typename: 'OverloadedError', retryAfterMs: number, code: ErrorCode, message: string }
    | { __typename: 'WrongExpectedVersionError', accountId: string, expectedVersion: number, actualVersion: number, code: ErrorCode, message: string }
   };

export type SubmitCommandsMutationVariables = Exact<{
  input: SubmitCommandsInput;
}>;


export type SubmitCommandsMutation = { submitCommands: { head: number, results: Array<
      | { __typename: 'AbortedError', failedIndex: number, reason: ErrorCode, code: ErrorCode, message: string }
      | { __typename: 'AccountAlreadyExistsError', accountId: string, code: ErrorCode, message: string }
      | { __typename: 'AccountClosedError', accountId: string, code: ErrorCode, message: string }
      | { __typename: 'AccountNotFoundError', accountId: string, code: ErrorCode, message: string }
      | { __typename: 'BalanceLimitExceededError', accountId: string, currency: string, code: ErrorCode, message: string }
      | { __typename: 'BalanceNotZeroError', accountId: string, balance: number, code: ErrorCode, message: string }
      | { __typename: 'CloseAccountSuccess' }
      | { __typename: 'CurrencyMismatchError', accountId: string, expectedCurrency: string, actualCurrency: string, code: ErrorCode, message: string }
      | { __typename: 'DepositSuccess' }
      | { __typename: 'DuplicateTransactionError', transactionId: string, originalSequence: number | null, code: ErrorCode, message: string }
      | { __typename: 'InsufficientFundsError', accountId: string, balance: number, requested: number, code: ErrorCode, message: string }
      | { __typename: 'OpenAccountSuccess' }
      | { __typename: 'OverloadedError', retryAfterMs: number, code: ErrorCode, message: string }
      | { __typename: 'SameAccountTransferError', accountId: string, code: ErrorCode, message: string }
      | { __typename: 'TransferSuccess' }
      | { __typename: 'WithdrawSuccess' }
      | { __typename: 'WrongExpectedVersionError', accountId: string, expectedVersion: number, actualVersion: number, code: ErrorCode, message: string }
    > } };

export type LedgerUpdatesSubscriptionVariables = Exact<{
  afterSequence?: number | null | undefined;
}>;


export type LedgerUpdatesSubscription = { ledgerUpdates: { fromSequence: number, toSequence: number, head: number, accountCount: number, accounts: Array<{ accountId: string, balance: number, status: AccountStatus, version: number }>, totals: Array<{ currency: string, balance: number, accounts: number }> } };

export type FeedEventsSubscriptionVariables = Exact<{
  afterSequence?: number | null | undefined;
}>;


export type FeedEventsSubscription = { events:
    | { __typename: 'AccountClosed', accountId: string, reason: string, sequence: number, type: EventType, timestamp: string, transactionId: string | null }
    | { __typename: 'AccountOpened', accountId: string, currency: string, initialBalance: number, sequence: number, type: EventType, timestamp: string, transactionId: string | null }
    | { __typename: 'MoneyDeposited', accountId: string, amount: number, sequence: number, type: EventType, timestamp: string, transactionId: string | null }
    | { __typename: 'MoneyTransferred', fromAccountId: string, toAccountId: string, amount: number, sequence: number, type: EventType, timestamp: string, transactionId: string | null }
    | { __typename: 'MoneyWithdrawn', accountId: string, amount: number, sequence: number, type: EventType, timestamp: string, transactionId: string | null }
   };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const AcctFragmentDoc = new TypedDocumentString(`
    fragment Acct on Account {
  id
  currency
  balance
  status
  version
  lastSequence
}
    `, {"fragmentName":"Acct"}) as unknown as TypedDocumentString<AcctFragment, unknown>;
export const LedgerViewFragmentDoc = new TypedDocumentString(`
    fragment LedgerView on Ledger {
  sequence
  head
  accountCount
  totals {
    currency
    balance
    accounts
  }
}
    `, {"fragmentName":"LedgerView"}) as unknown as TypedDocumentString<LedgerViewFragment, unknown>;
export const FeedEventFragmentDoc = new TypedDocumentString(`
    fragment FeedEvent on Event {
  __typename
  sequence
  type
  timestamp
  transactionId
  ... on AccountOpened {
    accountId
    currency
    initialBalance
  }
  ... on MoneyDeposited {
    accountId
    amount
  }
  ... on MoneyWithdrawn {
    accountId
    amount
  }
  ... on MoneyTransferred {
    fromAccountId
    toAccountId
    amount
  }
  ... on AccountClosed {
    accountId
    reason
  }
}
    `, {"fragmentName":"FeedEvent"}) as unknown as TypedDocumentString<FeedEventFragment, unknown>;
export const RefusalFragmentDoc = new TypedDocumentString(`
    fragment Refusal on DomainError {
  __typename
  code
  message
  ... on AccountNotFoundError {
    accountId
  }
  ... on AccountAlreadyExistsError {
    accountId
  }
  ... on AccountClosedError {
    accountId
  }
  ... on InsufficientFundsError {
    accountId
    balance
    requested
  }
  ... on WrongExpectedVersionError {
    accountId
    expectedVersion
    actualVersion
  }
  ... on DuplicateTransactionError {
    transactionId
    originalSequence
  }
  ... on CurrencyMismatchError {
    accountId
    expectedCurrency
    actualCurrency
  }
  ... on SameAccountTransferError {
    accountId
  }
  ... on BalanceNotZeroError {
    accountId
    balance
  }
  ... on BalanceLimitExceededError {
    accountId
    currency
  }
  ... on OverloadedError {
    retryAfterMs
  }
  ... on AbortedError {
    failedIndex
    reason
  }
}
    `, {"fragmentName":"Refusal"}) as unknown as TypedDocumentString<RefusalFragment, unknown>;
export const HeadDocument = new TypedDocumentString(`
    query Head {
  ledger {
    head
  }
}
    `) as unknown as TypedDocumentString<HeadQuery, HeadQueryVariables>;
export const SnapshotDocument = new TypedDocumentString(`
    query Snapshot($atSequence: Sequence!, $eventAfter: Sequence!, $after: String) {
  ledger(atSequence: $atSequence) {
    ...LedgerView
  }
  accounts(atSequence: $atSequence, first: 500, after: $after) {
    nodes {
      ...Acct
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
  point: events(afterSequence: $eventAfter, first: 1) {
    nodes {
      sequence
      timestamp
    }
  }
}
    fragment Acct on Account {
  id
  currency
  balance
  status
  version
  lastSequence
}
fragment LedgerView on Ledger {
  sequence
  head
  accountCount
  totals {
    currency
    balance
    accounts
  }
}`) as unknown as TypedDocumentString<SnapshotQuery, SnapshotQueryVariables>;
export const SequenceAtTimeDocument = new TypedDocumentString(`
    query SequenceAtTime($atTime: DateTime!) {
  ledger(atTime: $atTime) {
    sequence
  }
}
    `) as unknown as TypedDocumentString<SequenceAtTimeQuery, SequenceAtTimeQueryVariables>;
export const AccountHistoryDocument = new TypedDocumentString(`
    query AccountHistory($accountId: ID!, $afterSequence: Sequence!) {
  events(accountId: $accountId, afterSequence: $afterSequence, first: 250) {
    nodes {
      sequence
      ... on AccountOpened {
        account {
          balance
        }
      }
      ... on MoneyDeposited {
        account {
          balance
        }
      }
      ... on MoneyWithdrawn {
        account {
          balance
        }
      }
      ... on AccountClosed {
        account {
          balance
        }
      }
      ... on MoneyTransferred {
        fromAccountId
        from {
          balance
        }
        to {
          balance
        }
      }
    }
    pageInfo {
      hasNextPage
    }
  }
}
    `) as unknown as TypedDocumentString<AccountHistoryQuery, AccountHistoryQueryVariables>;
export const RecentEventsDocument = new TypedDocumentString(`
    query RecentEvents($afterSequence: Sequence!) {
  events(afterSequence: $afterSequence, first: 30) {
    nodes {
      ...FeedEvent
    }
  }
}
    fragment FeedEvent on Event {
  __typename
  sequence
  type
  timestamp
  transactionId
  ... on AccountOpened {
    accountId
    currency
    initialBalance
  }
  ... on MoneyDeposited {
    accountId
    amount
  }
  ... on MoneyWithdrawn {
    accountId
    amount
  }
  ... on MoneyTransferred {
    fromAccountId
    toAccountId
    amount
  }
  ... on AccountClosed {
    accountId
    reason
  }
}`) as unknown as TypedDocumentString<RecentEventsQuery, RecentEventsQueryVariables>;
export const OpenAccountDocument = new TypedDocumentString(`
    mutation OpenAccount($input: OpenAccountInput!) {
  openAccount(input: $input) {
    __typename
    ... on OpenAccountSuccess {
      sequence
      account {
        ...Acct
      }
    }
    ...Refusal
  }
}
    fragment Acct on Account {
  id
  currency
  balance
  status
  version
  lastSequence
}
fragment Refusal on DomainError {
  __typename
  code
  message
  ... on AccountNotFoundError {
    accountId
  }
  ... on AccountAlreadyExistsError {
    accountId
  }
  ... on AccountClosedError {
    accountId
  }
  ... on InsufficientFundsError {
    accountId
    balance
    requested
  }
  ... on WrongExpectedVersionError {
    accountId
    expectedVersion
    actualVersion
  }
  ... on DuplicateTransactionError {
    transactionId
    originalSequence
  }
  ... on CurrencyMismatchError {
    accountId
    expectedCurrency
    actualCurrency
  }
  ... on SameAccountTransferError {
    accountId
  }
  ... on BalanceNotZeroError {
    accountId
    balance
  }
  ... on BalanceLimitExceededError {
    accountId
    currency
  }
  ... on OverloadedError {
    retryAfterMs
  }
  ... on AbortedError {
    failedIndex
    reason
  }
}`) as unknown as TypedDocumentString<OpenAccountMutation, OpenAccountMutationVariables>;
export const DepositDocument = new TypedDocumentString(`
    mutation Deposit($input: DepositInput!) {
  deposit(input: $input) {
    __typename
    ... on DepositSuccess {
      sequence
      replayed
      account {
        ...Acct
      }
    }
    ...Refusal
  }
}
    fragment Acct on Account {
  id
  currency
  balance
  status
  version
  lastSequence
}
fragment Refusal on DomainError {
  __typename
  code
  message
  ... on AccountNotFoundError {
    accountId
  }
  ... on AccountAlreadyExistsError {
    accountId
  }
  ... on AccountClosedError {
    accountId
  }
  ... on InsufficientFundsError {
    accountId
    balance
    requested
  }
  ... on WrongExpectedVersionError {
    accountId
    expectedVersion
    actualVersion
  }
  ... on DuplicateTransactionError {
    transactionId
    originalSequence
  }
  ... on CurrencyMismatchError {
    accountId
    expectedCurrency
    actualCurrency
  }
  ... on SameAccountTransferError {
    accountId
  }
  ... on BalanceNotZeroError {
    accountId
    balance
  }
  ... on BalanceLimitExceededError {
    accountId
    currency
  }
  ... on OverloadedError {
    retryAfterMs
  }
  ... on AbortedError {
    failedIndex
    reason
  }
}`) as unknown as TypedDocumentString<DepositMutation, DepositMutationVariables>;
export const WithdrawDocument = new TypedDocumentString(`
    mutation Withdraw($input: WithdrawInput!) {
  withdraw(input: $input) {
    __typename
    ... on WithdrawSuccess {
      sequence
      replayed
      account {
        ...Acct
      }
    }
    ...Refusal
  }
}
    fragment Acct on Account {
  id
  currency
  balance
  status
  version
  lastSequence
}
fragment Refusal on DomainError {
  __typename
  code
  message
  ... on AccountNotFoundError {
    accountId
  }
  ... on AccountAlreadyExistsError {
    accountId
  }
  ... on AccountClosedError {
    accountId
  }
  ... on InsufficientFundsError {
    accountId
    balance
    requested
  }
  ... on WrongExpectedVersionError {
    accountId
    expectedVersion
    actualVersion
  }
  ... on DuplicateTransactionError {
    transactionId
    originalSequence
  }
  ... on CurrencyMismatchError {
    accountId
    expectedCurrency
    actualCurrency
  }
  ... on SameAccountTransferError {
    accountId
  }
  ... on BalanceNotZeroError {
    accountId
    balance
  }
  ... on BalanceLimitExceededError {
    accountId
    currency
  }
  ... on OverloadedError {
    retryAfterMs
  }
  ... on AbortedError {
    failedIndex
    reason
  }
}`) as unknown as TypedDocumentString<WithdrawMutation, WithdrawMutationVariables>;
export const TransferDocument = new TypedDocumentString(`
    mutation Transfer($input: TransferInput!) {
  transfer(input: $input) {
    __typename
    ... on TransferSuccess {
      sequence
      replayed
      from {
        ...Acct
      }
      to {
        ...Acct
      }
    }
    ...Refusal
  }
}
    fragment Acct on Account {
  id
  currency
  balance
  status
  version
  lastSequence
}
fragment Refusal on DomainError {
  __typename
  code
  message
  ... on AccountNotFoundError {
    accountId
  }
  ... on AccountAlreadyExistsError {
    accountId
  }
  ... on AccountClosedError {
    accountId
  }
  ... on InsufficientFundsError {
    accountId
    balance
    requested
  }
  ... on WrongExpectedVersionError {
    accountId
    expectedVersion
    actualVersion
  }
  ... on DuplicateTransactionError {
    transactionId
    originalSequence
  }
  ... on CurrencyMismatchError {
    accountId
    expectedCurrency
    actualCurrency
  }
  ... on SameAccountTransferError {
    accountId
  }
  ... on BalanceNotZeroError {
    accountId
    balance
  }
  ... on BalanceLimitExceededError {
    accountId
    currency
  }
  ... on OverloadedError {
    retryAfterMs
  }
  ... on AbortedError {
    failedIndex
    reason
  }
}`) as unknown as TypedDocumentString<TransferMutation, TransferMutationVariables>;
export const CloseAccountDocument = new TypedDocumentString(`
    mutation CloseAccount($input: CloseAccountInput!) {
  closeAccount(input: $input) {
    __typename
    ... on CloseAccountSuccess {
      sequence
      account {
        ...Acct
      }
    }
    ...Refusal
  }
}
    fragment Acct on Account {
  id
  currency
  balance
  status
  version
  lastSequence
}
fragment Refusal on DomainError {
  __typename
  code
  message
  ... on AccountNotFoundError {
    accountId
  }
  ... on AccountAlreadyExistsError {
    accountId
  }
  ... on AccountClosedError {
    accountId
  }
  ... on InsufficientFundsError {
    accountId
    balance
    requested
  }
  ... on WrongExpectedVersionError {
    accountId
    expectedVersion
    actualVersion
  }
  ... on DuplicateTransactionError {
    transactionId
    originalSequence
  }
  ... on CurrencyMismatchError {
    accountId
    expectedCurrency
    actualCurrency
  }
  ... on SameAccountTransferError {
    accountId
  }
  ... on BalanceNotZeroError {
    accountId
    balance
  }
  ... on BalanceLimitExceededError {
    accountId
    currency
  }
  ... on OverloadedError {
    retryAfterMs
  }
  ... on AbortedError {
    failedIndex
    reason
  }
}`) as unknown as TypedDocumentString<CloseAccountMutation, CloseAccountMutationVariables>;
export const SubmitCommandsDocument = new TypedDocumentString(`
    mutation SubmitCommands($input: SubmitCommandsInput!) {
  submitCommands(input: $input) {
    head
    results {
      __typename
      ...Refusal
    }
  }
}
    fragment Refusal on DomainError {
  __typename
  code
  message
  ... on AccountNotFoundError {
    accountId
  }
  ... on AccountAlreadyExistsError {
    accountId
  }
  ... on AccountClosedError {
    accountId
  }
  ... on InsufficientFundsError {
    accountId
    balance
    requested
  }
  ... on WrongExpectedVersionError {
    accountId
    expectedVersion
    actualVersion
  }
  ... on DuplicateTransactionError {
    transactionId
    originalSequence
  }
  ... on CurrencyMismatchError {
    accountId
    expectedCurrency
    actualCurrency
  }
  ... on SameAccountTransferError {
    accountId
  }
  ... on BalanceNotZeroError {
    accountId
    balance
  }
  ... on BalanceLimitExceededError {
    accountId
    currency
  }
  ... on OverloadedError {
    retryAfterMs
  }
  ... on AbortedError {
    failedIndex
    reason
  }
}`) as unknown as TypedDocumentString<SubmitCommandsMutation, SubmitCommandsMutationVariables>;
export const LedgerUpdatesDocument = new TypedDocumentString(`
    subscription LedgerUpdates($afterSequence: Sequence) {
  ledgerUpdates(afterSequence: $afterSequence) {
    fromSequence
    toSequence
    head
    accountCount
    accounts {
      accountId
      balance
      status
      version
    }
    totals {
      currency
      balance
      accounts
    }
  }
}
    `) as unknown as TypedDocumentString<LedgerUpdatesSubscription, LedgerUpdatesSubscriptionVariables>;
export const FeedEventsDocument = new TypedDocumentString(`
    subscription FeedEvents($afterSequence: Sequence) {
  events(afterSequence: $afterSequence) {
    ...FeedEvent
  }
}
    fragment FeedEvent on Event {
  __typename
  sequence
  type
  timestamp
  transactionId
  ... on AccountOpened {
    accountId
    currency
    initialBalance
  }
  ... on MoneyDeposited {
    accountId
    amount
  }
  ... on MoneyWithdrawn {
    accountId
    amount
  }
  ... on MoneyTransferred {
    fromAccountId
    toAccountId
    amount
  }
  ... on AccountClosed {
    accountId
    reason
  }
}`) as unknown as TypedDocumentString<FeedEventsSubscription, FeedEventsSubscriptionVariables>;