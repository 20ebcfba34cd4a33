// The shape rules for input, shared by the GraphQL layer (which reports BAD_USER_INPUT) and the engine
// (which refuses to store anything that breaks them, whoever calls it).
import { ISO_4217_CODES } from './currencies.ts';
import type { Command } from './commands.ts';

/** Ids (accounts and transactions): 1–128 characters of letters, digits and `_ - . : @`. */
export const ID_PATTERN = /^[A-Za-z0-9_\-.:@]{1,128}$/;
export const MAX_ID_LENGTH = 128;
export const MAX_REASON_LENGTH = 500;

export const isValidId = (id: unknown): id is string => typeof id === 'string' && ID_PATTERN.test(id);
export const isCurrency = (code: unknown): code is string => typeof code === 'string' && ISO_4217_CODES.has(code);
/** A positive amount in minor units that a double holds exactly. */
export const isAmount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) > 0;
export const isBalance = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
export const isVersion = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

export function describeId(field: string, id: unknown): string | null {
  if (typeof id !== 'string') return `${field} must be a string`;
  if (id.length === 0) return `${field} must not be empty`;
  if (id.length > MAX_ID_LENGTH) return `${field} must be at most ${MAX_ID_LENGTH} characters (got ${id.length})`;
  if (!ID_PATTERN.test(id)) return `${field} may only contain letters, digits and _ - . : @`;
  return null;
}

// Module-level, not closures inside validateCommand: it runs for every command, twice on the API path.
const amount = (field: string, n: unknown) =>
  isAmount(n) ? null : `${field} must be a positive integer number of minor units no larger than 2^53-1`;
const version = (n: unknown) => (n == null || isVersion(n) ? null : 'expectedVersion must be a non-negative integer');

/** The first problem with a command's shape, or null when it is well-formed. */
export function validateCommand(command: Command): string | null {
  switch (command.type) {
    case 'OpenAccount':
      return (
        describeId('accountId', command.accountId) ??
        (isCurrency(command.currency) ? null : `currency must be an ISO 4217 code, got ${JSON.stringify(command.currency)}`) ??
        (isBalance(command.initialBalance) ? null : 'initialBalance must be a non-negative integer no larger than 2^53-1')
      );
    case 'Deposit':
    case 'Withdraw':
      return (
        describeId('accountId', command.accountId) ??
        amount('amount', command.amount) ??
        describeId('transactionId', command.transactionId) ??
        version(command.expectedVersion)
      );
    case 'Transfer':
      return (
        describeId('fromAccountId', command.fromAccountId) ??
        describeId('toAccountId', command.toAccountId) ??
        amount('amount', command.amount) ??
        describeId('transactionId', command.transactionId)
      );
    case 'CloseAccount':
      return (
        describeId('accountId', command.accountId) ??
        (typeof command.reason === 'string' && command.reason.length <= MAX_REASON_LENGTH
          ? null
          : `reason must be a string of at most ${MAX_REASON_LENGTH} characters`) ??
        version(command.expectedVersion)
      );
  }
}
