// Subscriptions: projection deltas pushed as events commit, resumable from any sequence. Over SSE
// (yoga) each subscriber is executed on its own; over graphql-ws the server shares execution between
// subscribers of one operation (see ../sharedSubscriptions.ts) — both take their topics from here.
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { EventType, RecordedEvent } from '../../domain/events.ts';
import { SubscriptionTooSlow } from '../../live/liveSubscription.ts';
import { accountUpdatesTopic, eventsTopic, ledgerUpdatesTopic, type AccountChange, type AccountUpdate, type LedgerUpdate, type Topic } from '../../live/topics.ts';
import type { LedgerSummary } from '../../domain/ledger.ts';
import { requireAccounts, tokenExpired, untilExpiry } from '../access.ts';
import { builder, type Context } from '../builder.ts';
import { AccountStatusEnum, CurrencyTotalRef, checkId } from './accounts.ts';
import { EventInterface, EventTypeEnum } from './events.ts';
import { badInput } from './scalars.ts';

/** Accounts one subscription may watch. */
export const MAX_SUBSCRIBED_ACCOUNTS = 100;

const AccountUpdateRef = builder.objectRef<AccountUpdate>('AccountUpdate').implement({
  description: 'One event touching a watched account.',
  fields: (t) => ({
    sequence: t.field({ type: 'Sequence', resolve: (u) => u.sequence }),
    accountId: t.exposeID('accountId'),
    change: t.field({ type: 'Money', description: 'Signed effect on the balance (negative for a debit).', resolve: (u) => u.change }),
    balance: t.field({ type: 'Money', resolve: (u) => u.balance }),
    version: t.exposeInt('version'),
    status: t.field({ type: AccountStatusEnum, resolve: (u) => u.status }),
    event: t.field({ type: EventInterface, resolve: (u) => u.event }),
    head: t.field({ type: 'Sequence', description: 'The head of the log when this was sent: equal to `sequence` once live.', resolve: (u) => u.head }),
  }),
});

const AccountChangeRef = builder.objectRef<AccountChange>('AccountChange').implement({
  fields: (t) => ({
    accountId: t.exposeID('accountId'),
    change: t.field({ type: 'Money', description: 'Net change over the batch (signed).', resolve: (a) => a.change }),
    balance: t.field({ type: 'Money', resolve: (a) => a.balance }),
    version: t.exposeInt('version'),
    status: t.field({ type: AccountStatusEnum, resolve: (a) => a.status }),
  }),
});

/** A token limited to some accounts gets their totals, read at the message's sequence (once per message). */
const scopedSummaries = new WeakMap<LedgerUpdate, Promise<LedgerSummary>>();
function scopedSummary(u: LedgerUpdate, ctx: Context): Promise<LedgerSummary> | null {
  const scope = ctx.viewer.accounts;
  if (!scope) return null;
  let summary = scopedSummaries.get(u);
  if (!summary) scopedSummaries.set(u, (summary = ctx.pointInTime.ledgerOf(scope, u.toSequence)));
  return summary;
}

const LedgerUpdateRef = builder.objectRef<LedgerUpdate>('LedgerUpdate').implement({
  description: 'One committed batch: every account it changed, once, and the new totals (only the token’s accounts, when it lists some).',
  fields: (t) => ({
    fromSequence: t.field({ type: 'Sequence', resolve: (u) => u.fromSequence }),
    toSequence: t.field({ type: 'Sequence', resolve: (u) => u.toSequence }),
    accounts: t.field({ type: [AccountChangeRef], resolve: (u) => [...u.accounts] }),
    totals: t.field({ type: [CurrencyTotalRef], resolve: async (u, _, ctx) => [...((await scopedSummary(u, ctx))?.totals ?? u.totals)] }),
    accountCount: t.int({ resolve: async (u, _, ctx) => (await scopedSummary(u, ctx))?.accountCount ?? u.accountCount }),
    batches: t.exposeInt('batches', { description: 'Committed batches covered: more than 1 when a slow subscriber’s pending batches were merged.' }),
    head: t.field({ type: 'Sequence', resolve: (u) => u.head }),
  }),
});

export interface TopicRequest {
  readonly topic: Topic<unknown>;
  readonly afterSequence: number | null;
}

function afterSequenceOf(value: number | null | undefined, ctx: Context): number | null {
  if (value == null) return null;
  // A replica behind the node that gave the client this sequence catches up to it, then goes on live.
  if (value > ctx.store.head && !ctx.replica) throw badInput(`afterSequence ${value} is past the head of the log (${ctx.store.head})`, { argument: 'afterSequence' });
  return value;
}

function accountSet(ids: readonly string[] | null | undefined, required: boolean): Set<string> | null {
  if (ids == null || (ids.length === 0 && !required)) return null;
  if (ids.length === 0 || ids.length > MAX_SUBSCRIBED_ACCOUNTS) {
    throw badInput(`accountIds must list 1 to ${MAX_SUBSCRIBED_ACCOUNTS} accounts, got ${ids.length}`, { argument: 'accountIds' });
  }
  return new Set(ids.map((id) => checkId('accountIds', id)));
}

/**
 * The topic and starting point a subscription field's arguments ask for, within the viewer's accounts;
 * throws BAD_USER_INPUT, or FORBIDDEN for an account outside them.
 */
export function topicFor(field: string, args: Record<string, any>, ctx: Context): TopicRequest {
  const afterSequence = afterSequenceOf(args.afterSequence, ctx);
  switch (field) {
    case 'accountUpdates': {
      const accountIds = accountSet(args.accountIds, true)!;
      requireAccounts(ctx.viewer, accountIds);
      return { topic: accountUpdatesTopic(ctx.store, accountIds) as Topic<unknown>, afterSequence };
    }
    case 'ledgerUpdates':
      return { topic: ledgerUpdatesTopic(ctx.store, ctx.viewer.accounts) as Topic<unknown>, afterSequence };
    case 'events': {
      const types = args.types?.length ? new Set<EventType>(args.types) : null;
      const accountIds = accountSet(args.accountIds, false);
      if (accountIds) requireAccounts(ctx.viewer, accountIds);
      return { topic: eventsTopic(ctx.store, { accountIds: accountIds ?? ctx.viewer.accounts, types }) as Topic<unknown>, afterSequence };
    }
    default:
      throw new Error(`no topic for subscription field ${field}`);
  }
}

/** The error a subscriber gets when it is stopped for falling too far behind. */
export const tooSlowError = (err: SubscriptionTooSlow) =>
  new GraphQLError(err.message, { extensions: { code: err.code, resumeAfterSequence: err.resumeAfterSequence } });

/**
 * Yoga plugin for the SSE path: the log head in every subscription message's `extensions`, as
 * sharedSubscribe gives graphql-ws (`events` has no `head` field: this is how its client knows it is live).
 */
export const subscriptionHeadPlugin: Plugin<Context> = {
  onSubscribe: () => ({
    onSubscribeResult: () => ({
      onNext: ({ args, result, setResult }) => setResult({ ...result, extensions: { ...result.extensions, head: args.contextValue.store.head } }),
    }),
  }),
};

/** Marks the end of a stream that failed: resolving it raises the error as the last message. */
class Failed {
  constructor(readonly error: GraphQLError) {}
}

/**
 * Payloads of a subscriber's own stream (SSE path); a too-slow failure becomes a last error message.
 * An iterator rather than an async generator: a generator's return() waits until it next yields, so a
 * client that left a quiet topic stayed subscribed (listener, queue) until a message came, if ever.
 */
function payloads(field: string, args: Record<string, any>, ctx: Context): AsyncIterableIterator<unknown> {
  const { topic, afterSequence } = topicFor(field, args, ctx);
  const subscription = ctx.live.subscribe(topic, afterSequence);
  return untilExpiry(ctx.viewer, streamOf(subscription), () => new Failed(tokenExpired()));
}

function streamOf(subscription: ReturnType<Context['live']['subscribe']>): AsyncIterableIterator<unknown> {
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      try {
        const r = await subscription.next();
        return r.done ? r : { done: false, value: r.value.payload };
      } catch (err) {
        await subscription.return();
        if (err instanceof SubscriptionTooSlow) return { done: false, value: new Failed(tooSlowError(err)) };
        throw err;
      }
    },
    return: () => subscription.return(),
  };
}

const unwrap = <T>(payload: unknown): T => {
  if (payload instanceof Failed) throw payload.error;
  return payload as T;
};

builder.subscriptionFields((t) => ({
  accountUpdates: t.field({
    type: AccountUpdateRef,
    description: 'One update per event touching a listed account. With afterSequence: the log after it first, then live, no gap, no repeat.',
    args: {
      accountIds: t.arg.idList({ required: true }),
      afterSequence: t.arg({ type: 'Sequence' }),
    },
    subscribe: (_, args, ctx) => payloads('accountUpdates', args, ctx),
    resolve: (payload) => unwrap<AccountUpdate>(payload),
  }),
  ledgerUpdates: t.field({
    type: LedgerUpdateRef,
    description: 'One update per committed batch (slow subscribers get pending batches merged into one).',
    args: { afterSequence: t.arg({ type: 'Sequence' }) },
    subscribe: (_, args, ctx) => payloads('ledgerUpdates', args, ctx),
    resolve: (payload) => unwrap<LedgerUpdate>(payload),
  }),
  events: t.field({
    type: EventInterface,
    description: 'Every matching event, in sequence order.',
    args: {
      afterSequence: t.arg({ type: 'Sequence' }),
      accountIds: t.arg.idList(),
      types: t.arg({ type: [EventTypeEnum] }),
    },
    subscribe: (_, args, ctx) => payloads('events', args, ctx),
    resolve: (payload) => unwrap<RecordedEvent>(payload),
  }),
}));
