// The five account events, in their current schema version. Stored events of older versions are
// brought up to these shapes by the upcasters in ./upcasters.ts before anything else sees them.
import type { AccountId, Money, Sequence } from './types.ts';

export const EVENT_TYPES = ['OPENED', 'DEPOSITED', 'WITHDRAWN', 'TRANSFERRED', 'CLOSED'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export type AccountOpened = {
  type: 'OPENED';
  data: { accountId: AccountId; currency: string; initialBalance: Money };
};
export type MoneyDeposited = { type: 'DEPOSITED'; data: { accountId: AccountId; amount: Money } };
export type MoneyWithdrawn = { type: 'WITHDRAWN'; data: { accountId: AccountId; amount: Money } };
export type MoneyTransferred = {
  type: 'TRANSFERRED';
  data: { fromAccountId: AccountId; toAccountId: AccountId; amount: Money };
};
export type AccountClosed = { type: 'CLOSED'; data: { accountId: AccountId; reason: string } };

export type DomainEvent = AccountOpened | MoneyDeposited | MoneyWithdrawn | MoneyTransferred | AccountClosed;

/** Current schema version of every event type; bump one and add an upcaster when its shape changes. */
export const CURRENT_SCHEMA_VERSION: Record<EventType, number> = {
  OPENED: 2, // v1 had no currency
  DEPOSITED: 1,
  WITHDRAWN: 1,
  TRANSFERRED: 1,
  CLOSED: 1,
};

export interface EventMetadata {
  readonly sequence: Sequence;
  /** Unique id of the event (a UUID), stable across export and import. */
  readonly id: string;
  /** Commit time in epoch milliseconds; non-decreasing with sequence. */
  readonly timestamp: number;
  /** The schema version the event was written with (it is read at the current version). */
  readonly schemaVersion: number;
  readonly transactionId: string | null;
}

export type RecordedEvent = DomainEvent & EventMetadata;

/** The accounts whose streams an event belongs to: a transfer belongs to both sides. */
export function accountIdsOf(event: DomainEvent): AccountId[] {
  switch (event.type) {
    case 'TRANSFERRED':
      return [event.data.fromAccountId, event.data.toAccountId];
    case 'OPENED':
    case 'DEPOSITED':
    case 'WITHDRAWN':
    case 'CLOSED':
      return [event.data.accountId];
    default:
      return assertNever(event);
  }
}

export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}
