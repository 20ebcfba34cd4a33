// Commands: what a client asks for. Each one is decided into exactly one event or one DomainError.
import type { DomainEvent } from './events.ts';
import type { AccountId, Money } from './types.ts';

export type OpenAccount = {
  type: 'OpenAccount';
  accountId: AccountId;
  currency: string;
  initialBalance: Money;
};
export type Deposit = {
  type: 'Deposit';
  accountId: AccountId;
  amount: Money;
  transactionId: string;
  expectedVersion?: number | null;
};
export type Withdraw = {
  type: 'Withdraw';
  accountId: AccountId;
  amount: Money;
  transactionId: string;
  expectedVersion?: number | null;
};
export type Transfer = {
  type: 'Transfer';
  fromAccountId: AccountId;
  toAccountId: AccountId;
  amount: Money;
  transactionId: string;
};
export type CloseAccount = {
  type: 'CloseAccount';
  accountId: AccountId;
  reason: string;
  expectedVersion?: number | null;
};

export type Command = OpenAccount | Deposit | Withdraw | Transfer | CloseAccount;

/** The transaction id a command is deduplicated by, if it has one. */
export function transactionIdOf(command: Command): string | null {
  return 'transactionId' in command ? command.transactionId : null;
}

/** The accounts a command touches: both sides of a transfer. */
export const accountIdsOfCommand = (command: Command): string[] =>
  command.type === 'Transfer' ? [command.fromAccountId, command.toAccountId] : [command.accountId];

/**
 * What makes two uses of one transaction id "the same command": everything but expectedVersion,
 * because a retry after a lost reply must succeed even though the first attempt moved the version.
 */
export function fingerprintOf(command: Command): string {
  switch (command.type) {
    case 'Deposit':
    case 'Withdraw':
      return `${command.type}|${command.accountId}|${command.amount}`;
    case 'Transfer':
      return `Transfer|${command.fromAccountId}|${command.toAccountId}|${command.amount}`;
    case 'OpenAccount':
      return `OpenAccount|${command.accountId}|${command.currency}|${command.initialBalance}`;
    case 'CloseAccount':
      return `CloseAccount|${command.accountId}|${command.reason}`;
  }
}

/** The fingerprint of the command that produced `event`: equal to fingerprintOf(that command). */
export function fingerprintOfEvent(event: DomainEvent): string {
  switch (event.type) {
    case 'DEPOSITED':
      return `Deposit|${event.data.accountId}|${event.data.amount}`;
    case 'WITHDRAWN':
      return `Withdraw|${event.data.accountId}|${event.data.amount}`;
    case 'TRANSFERRED':
      return `Transfer|${event.data.fromAccountId}|${event.data.toAccountId}|${event.data.amount}`;
    case 'OPENED':
      return `OpenAccount|${event.data.accountId}|${event.data.currency}|${event.data.initialBalance}`;
    case 'CLOSED':
      return `CloseAccount|${event.data.accountId}|${event.data.reason}`;
  }
}

/**
 * The command that decides into `event` (for imports, which append recorded events through the
 * rules). Legacy events may have no transaction id; the decider treats null as none.
 */
export function commandFor(event: DomainEvent & { transactionId: string | null }): Command {
  const transactionId = event.transactionId as string;
  switch (event.type) {
    case 'OPENED':
      return { type: 'OpenAccount', ...event.data };
    case 'DEPOSITED':
      return { type: 'Deposit', ...event.data, transactionId };
    case 'WITHDRAWN':
      return { type: 'Withdraw', ...event.data, transactionId };
    case 'TRANSFERRED':
      return { type: 'Transfer', ...event.data, transactionId };
    case 'CLOSED':
      return { type: 'CloseAccount', ...event.data };
  }
}
