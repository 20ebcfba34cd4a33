// Emmett-style given / when / then for the account decider: the given events are folded with the
// ledger's own fold (LedgerState.apply) into the ledger state that `decide` reads, exactly as the
// writer builds it from the in-memory ledger.
import { expect } from 'vitest';
import type { Command } from '../../src/domain/commands.ts';
import { fingerprintOfEvent } from '../../src/domain/commands.ts';
import { decide, type Decision, type PriorTransaction } from '../../src/domain/decider.ts';
import type { DomainError, ErrorCode } from '../../src/domain/errors.ts';
import { CURRENT_SCHEMA_VERSION, type DomainEvent, type RecordedEvent } from '../../src/domain/events.ts';
import { LedgerState } from '../../src/domain/ledger.ts';
import { money, sequence, type AccountId } from '../../src/domain/types.ts';

// --- event builders ------------------------------------------------------------------------------

export const opened = (accountId: AccountId, currency: string, initialBalance: number): DomainEvent => ({
  type: 'OPENED',
  data: { accountId, currency, initialBalance: money(initialBalance) },
});
export const deposited = (accountId: AccountId, amount: number): DomainEvent => ({ type: 'DEPOSITED', data: { accountId, amount: money(amount) } });
export const withdrawn = (accountId: AccountId, amount: number): DomainEvent => ({ type: 'WITHDRAWN', data: { accountId, amount: money(amount) } });
export const transferred = (fromAccountId: AccountId, toAccountId: AccountId, amount: number): DomainEvent => ({
  type: 'TRANSFERRED',
  data: { fromAccountId, toAccountId, amount: money(amount) },
});
export const closed = (accountId: AccountId, reason: string): DomainEvent => ({ type: 'CLOSED', data: { accountId, reason } });

/** A domain event with the transaction id it was committed under (the fold ignores it; idempotency does not). */
export const withTx = (event: DomainEvent, transactionId: string) => ({ event, transactionId });

type HistoryItem = DomainEvent | { event: DomainEvent; transactionId: string };

/** A log: the events in order as sequences 1, 2, 3… with deterministic ids and timestamps. */
export function history(...items: HistoryItem[]): RecordedEvent[] {
  return items.map((item, i) => {
    const { event, transactionId } = 'event' in item ? item : { event: item, transactionId: null };
    return {
      ...event,
      sequence: sequence(i + 1),
      id: `event-${i + 1}`,
      timestamp: 1_700_000_000_000 + i,
      schemaVersion: CURRENT_SCHEMA_VERSION[event.type],
      transactionId,
    } as RecordedEvent;
  });
}

// --- the specification ---------------------------------------------------------------------------

/** Every code a spec in this process saw a command rejected with: lets a suite prove it covered them all. */
export const rejectedCodes = new Set<ErrorCode>();

export interface WhenOptions {
  /**
   * The earlier use of the command's transaction id. By default it is found in the given events, the
   * way the store finds it in its idempotency index; pass it to state it outright (or `null` for none).
   */
  prior?: PriorTransaction | null;
}

export interface Then {
  readonly decision: Decision;
  /** The command was accepted into exactly this event. */
  then(expected: DomainEvent): Then;
  /** The command was refused with this code, or an error matching these fields. */
  thenRejects(expected: ErrorCode | (Partial<DomainError> & { code: ErrorCode })): Then;
  /** The command is a repeat of the one committed at `seq`: nothing new to append. */
  thenReplays(seq: number): Then;
}

export function given(events: readonly RecordedEvent[]) {
  const state = new LedgerState();
  for (const event of events) state.apply(event);
  return {
    state,
    when(command: Command, options: WhenOptions = {}): Then {
      const prior = 'prior' in options ? (options.prior ?? undefined) : priorIn(events, command);
      const decision = decide(command, state, prior);
      const spec: Then = {
        decision,
        then(expected) {
          expect(decision).toEqual({ outcome: 'accepted', event: expected });
          return spec;
        },
        thenRejects(expected) {
          expect(decision.outcome, `expected a rejection, got ${JSON.stringify(decision)}`).toBe('rejected');
          const error = (decision as { error: DomainError }).error;
          rejectedCodes.add(error.code);
          if (typeof expected === 'string') expect(error.code).toBe(expected);
          else expect(error).toMatchObject(expected);
          return spec;
        },
        thenReplays(seq) {
          expect(decision).toEqual({ outcome: 'replayed', sequence: seq });
          return spec;
        },
      };
      return spec;
    },
  };
}

function priorIn(events: readonly RecordedEvent[], command: Command): PriorTransaction | undefined {
  if (!('transactionId' in command)) return undefined;
  const earlier = events.find((e) => e.transactionId === command.transactionId);
  return earlier ? { fingerprint: fingerprintOfEvent(earlier), sequence: earlier.sequence } : undefined;
}
