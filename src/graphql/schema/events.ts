// The log as GraphQL: an Event interface with one object type per event type, and the `events` query.
import { EVENT_TYPES, accountIdsOf, type EventType, type RecordedEvent } from '../../domain/events.ts';
import { eventsTopic } from '../../live/topics.ts';
import { inScope, requireAccounts } from '../access.ts';
import { builder, type Context } from '../builder.ts';
import { AccountRef, accountAfterKey, checkId, connection, connectionTypes, pageSize } from './accounts.ts';
import { badInput } from './scalars.ts';

export const EventTypeEnum = builder.enumType('EventType', { values: EVENT_TYPES });

export const EventInterface = builder.interfaceRef<RecordedEvent>('Event').implement({
  description: 'An immutable fact in the log.',
  resolveType: (e) => TYPE_NAMES[e.type],
  fields: (t) => ({
    sequence: t.field({ type: 'Sequence', resolve: (e) => e.sequence }),
    id: t.exposeID('id'),
    type: t.field({ type: EventTypeEnum, resolve: (e) => e.type }),
    timestamp: t.field({ type: 'DateTime', description: 'Commit time; non-decreasing with sequence.', resolve: (e) => e.timestamp }),
    schemaVersion: t.exposeInt('schemaVersion', { description: 'The version of the event shape it was written in; it reads as the current one.' }),
    accountIds: t.idList({ description: 'The account streams it belongs to (both sides of a transfer).', resolve: (e) => accountIdsOf(e) }),
    transactionId: t.id({ nullable: true, resolve: (e) => e.transactionId }),
  }),
});

const TYPE_NAMES: Record<EventType, string> = {
  OPENED: 'AccountOpened',
  DEPOSITED: 'MoneyDeposited',
  WITHDRAWN: 'MoneyWithdrawn',
  TRANSFERRED: 'MoneyTransferred',
  CLOSED: 'AccountClosed',
};

type Of<T extends EventType> = Extract<RecordedEvent, { type: T }>;

function eventType<T extends EventType>(type: T, fields: (t: any) => Record<string, any>) {
  return builder.objectRef<Of<T>>(TYPE_NAMES[type]).implement({
    interfaces: [EventInterface],
    isTypeOf: (e) => (e as RecordedEvent).type === type,
    fields,
  });
}

/**
 * The account `id` right after event `e`, through the shared Account loader; null for an account
 * outside the token's scope (a transfer's other side), whose balance is not this viewer's to see.
 */
const accountAfter = (t: any, id: (e: any) => string, description: string) =>
  t.field({
    type: AccountRef,
    nullable: true,
    description: `${description} Null when the token may not see that account.`,
    resolve: (e: RecordedEvent, _: unknown, ctx: Context) => (inScope(ctx.viewer, id(e)) ? accountAfterKey(id(e), e.sequence) : null),
  });

export const AccountOpenedRef = eventType('OPENED', (t) => ({
  accountId: t.id({ resolve: (e: Of<'OPENED'>) => e.data.accountId }),
  currency: t.string({ resolve: (e: Of<'OPENED'>) => e.data.currency }),
  initialBalance: t.field({ type: 'Money', resolve: (e: Of<'OPENED'>) => e.data.initialBalance }),
  account: accountAfter(t, (e) => e.data.accountId, 'The account right after this event.'),
}));
export const MoneyDepositedRef = eventType('DEPOSITED', (t) => ({
  accountId: t.id({ resolve: (e: Of<'DEPOSITED'>) => e.data.accountId }),
  amount: t.field({ type: 'Money', resolve: (e: Of<'DEPOSITED'>) => e.data.amount }),
  account: accountAfter(t, (e) => e.data.accountId, 'The account right after this event.'),
}));
export const MoneyWithdrawnRef = eventType('WITHDRAWN', (t) => ({
  accountId: t.id({ resolve: (e: Of<'WITHDRAWN'>) => e.data.accountId }),
  amount: t.field({ type: 'Money', resolve: (e: Of<'WITHDRAWN'>) => e.data.amount }),
  account: accountAfter(t, (e) => e.data.accountId, 'The account right after this event.'),
}));
export const MoneyTransferredRef = eventType('TRANSFERRED', (t) => ({
  fromAccountId: t.id({ resolve: (e: Of<'TRANSFERRED'>) => e.data.fromAccountId }),
  toAccountId: t.id({ resolve: (e: Of<'TRANSFERRED'>) => e.data.toAccountId }),
  amount: t.field({ type: 'Money', resolve: (e: Of<'TRANSFERRED'>) => e.data.amount }),
  from: accountAfter(t, (e) => e.data.fromAccountId, 'The paying account right after this event.'),
  to: accountAfter(t, (e) => e.data.toAccountId, 'The receiving account right after this event.'),
}));
export const AccountClosedRef = eventType('CLOSED', (t) => ({
  accountId: t.id({ resolve: (e: Of<'CLOSED'>) => e.data.accountId }),
  reason: t.string({ resolve: (e: Of<'CLOSED'>) => e.data.reason }),
  account: accountAfter(t, (e) => e.data.accountId, 'The account right after this event.'),
}));

const EventConnection = connectionTypes<RecordedEvent>('Event', EventInterface);

builder.queryFields((t) => ({
  events: t.field({
    type: EventConnection,
    description: 'The log in sequence order, optionally only one account’s stream and some types. The cursor is the sequence.',
    args: {
      first: t.arg.int(),
      after: t.arg.string({ description: 'A cursor from a previous page (the sequence of its last event).' }),
      afterSequence: t.arg({ type: 'Sequence', description: 'Start after this sequence.' }),
      accountId: t.arg.id(),
      types: t.arg({ type: [EventTypeEnum] }),
    },
    resolve: async (_, args, ctx) => {
      const size = pageSize(args.first);
      let start = args.afterSequence ?? 0;
      if (args.after != null) {
        if (!/^\d{1,16}$/.test(args.after)) throw badInput('after is not a cursor this API issued', { argument: 'after' });
        start = Math.max(start, Number(args.after));
      }
      const types = args.types?.length ? new Set<EventType>(args.types) : null;
      let accountIds = ctx.viewer.accounts;
      if (args.accountId != null) {
        accountIds = new Set([checkId('accountId', args.accountId)]);
        requireAccounts(ctx.viewer, accountIds);
      }
      // The same read as an `events` subscription's catch-up: the whole log, or the listed accounts'
      // streams merged (a token limited to some accounts sees only events touching them).
      const page: RecordedEvent[] = [];
      for await (const { payload } of eventsTopic(ctx.store, { accountIds, types }).readLog(start, ctx.store.head)) {
        if (page.push(payload) > size) break;
      }
      const hasNextPage = page.length > size;
      return connection(page.slice(0, size), (e) => String(e.sequence), hasNextPage, start > 0);
    },
  }),
}));
