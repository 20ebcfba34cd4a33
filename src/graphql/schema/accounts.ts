// Accounts and the ledger: the balance projection now or at any past point of the log.
import type { LedgerSummary } from '../../domain/ledger.ts';
import type { At } from '../../projection/pointInTime.ts';
import type { AccountState, CurrencyTotal } from '../../domain/types.ts';
import { isValidId } from '../../domain/validation.ts';
import { requireAccounts } from '../access.ts';
import { builder, type Context } from '../builder.ts';
import { badInput } from './scalars.ts';

export const MAX_PAGE = 1_000;
export const DEFAULT_PAGE = 100;

export const AccountStatusEnum = builder.enumType('AccountStatus', { values: ['OPEN', 'CLOSED'] as const });

/** A key for Account's loader: the account right after one of its events, "<sequence>|<id>". */
export const accountAfterKey = (id: string, sequence: number) => `${sequence}|${id}`;

export const AccountRef = builder.loadableObject('Account', {
  description: 'An account as of some point of the log: now, or the point the query asked about.',
  // Accounts right after given events: every such field of a page shares this loader, so a page of
  // events costs one multi-get of the history index however many accounts it shows.
  load: async (keys: string[], ctx: Context) => {
    const points = keys.map((key) => {
      const bar = key.indexOf('|');
      return { sequence: Number(key.slice(0, bar)), id: key.slice(bar + 1) };
    });
    const found = await ctx.store.accountsAfter(points);
    return found.map((a, i) => a ?? new Error(`no history of account ${points[i]!.id} at ${points[i]!.sequence}`));
  },
  fields: (t) => ({
    id: t.exposeID('id'),
    currency: t.exposeString('currency', { description: 'ISO 4217 code.' }),
    balance: t.field({ type: 'Money', resolve: (a) => a.balance }),
    status: t.field({ type: AccountStatusEnum, resolve: (a) => a.status }),
    version: t.exposeInt('version', { description: 'How many events of this account up to this point: the value for expectedVersion.' }),
    lastSequence: t.field({ type: 'Sequence', description: 'The sequence of its last event up to this point.', resolve: (a) => a.lastSequence }),
    openedSequence: t.field({ type: 'Sequence', description: 'The sequence of the event that opened it.', resolve: (a) => a.openedSequence }),
  }),
});

export const CurrencyTotalRef = builder.objectRef<CurrencyTotal>('CurrencyTotal').implement({
  fields: (t) => ({
    currency: t.exposeString('currency'),
    balance: t.field({ type: 'Money', description: 'Sum of the balances of every account in this currency.', resolve: (c) => c.balance }),
    accounts: t.exposeInt('accounts', { description: 'Accounts ever opened in this currency (closed ones included).' }),
  }),
});

export type LedgerShape = LedgerSummary & { readonly head: number };

export const LedgerRef = builder.objectRef<LedgerShape>('Ledger').implement({
  description: 'The whole ledger at one point of the log.',
  fields: (t) => ({
    sequence: t.field({ type: 'Sequence', description: 'The point this describes.', resolve: (l) => l.sequence }),
    head: t.field({ type: 'Sequence', description: 'The last committed sequence when this was read.', resolve: (l) => l.head }),
    accountCount: t.exposeInt('accountCount', { description: 'Accounts opened up to this point (closed ones included).' }),
    totals: t.field({ type: [CurrencyTotalRef], resolve: (l) => [...l.totals] }),
  }),
});

export const PageInfoRef = builder
  .objectRef<{ hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null }>('PageInfo')
  .implement({
    fields: (t) => ({
      hasNextPage: t.exposeBoolean('hasNextPage'),
      hasPreviousPage: t.exposeBoolean('hasPreviousPage'),
      startCursor: t.exposeString('startCursor', { nullable: true }),
      endCursor: t.exposeString('endCursor', { nullable: true }),
    }),
  });

/** A Relay connection over `nodes` with the given cursors. */
export function connection<T>(nodes: T[], cursorOf: (node: T) => string, hasNextPage: boolean, hasPreviousPage: boolean) {
  const edges = nodes.map((node) => ({ node, cursor: cursorOf(node) }));
  return {
    edges,
    nodes,
    pageInfo: {
      hasNextPage,
      hasPreviousPage,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges[edges.length - 1]?.cursor ?? null,
    },
  };
}

export function connectionTypes<T extends object>(name: string, nodeRef: any) {
  const edge = builder.objectRef<{ node: T; cursor: string }>(`${name}Edge`).implement({
    fields: (t) => ({
      cursor: t.exposeString('cursor'),
      node: t.field({ type: nodeRef, resolve: (e) => e.node as never }),
    }),
  });
  return builder.objectRef<ReturnType<typeof connection<T>>>(`${name}Connection`).implement({
    fields: (t) => ({
      edges: t.field({ type: [edge], resolve: (c) => c.edges }),
      nodes: t.field({ type: [nodeRef], resolve: (c) => c.nodes as never }),
      pageInfo: t.field({ type: PageInfoRef, resolve: (c) => c.pageInfo }),
    }),
  });
}

/** `first` within 1..MAX_PAGE, defaulting to DEFAULT_PAGE. */
export function pageSize(first: number | null | undefined): number {
  if (first == null) return DEFAULT_PAGE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw badInput(`first must be between 1 and ${MAX_PAGE}, got ${first}`, { argument: 'first' });
  return first;
}

export function checkId(argument: string, id: string): string {
  if (!isValidId(id)) throw badInput(`${argument} must be 1–128 characters of letters, digits and _ - . : @`, { argument });
  return id;
}

/**
 * The point of the log a read asks about. `atSequence` and `atTime` each name one, and together they
 * could name two different ones: rather than pick one silently, the read is refused.
 */
export function pointOf(atSequence: number | null | undefined, atTime: Date | null | undefined): At {
  if (atSequence != null && atTime != null) {
    throw badInput('give atSequence or atTime, not both: they may name different points of the log', { arguments: ['atSequence', 'atTime'] });
  }
  return { sequence: atSequence, time: atTime };
}

const AccountConnection = connectionTypes<AccountState>('Account', AccountRef);

const accountCursor = (a: AccountState) => Buffer.from(`account:${a.id}`).toString('base64url');
function accountAfterCursor(cursor: string): string {
  const decoded = Buffer.from(cursor, 'base64url').toString();
  if (!decoded.startsWith('account:') || !isValidId(decoded.slice(8))) throw badInput('after is not a cursor this API issued', { argument: 'after' });
  return decoded.slice(8);
}

builder.queryFields((t) => ({
  account: t.field({
    type: AccountRef,
    nullable: true,
    description: 'The account now, or at `atSequence` or `atTime` (not both); null where it did not exist at that point.',
    args: {
      id: t.arg.id({ required: true }),
      atSequence: t.arg({ type: 'Sequence' }),
      atTime: t.arg({ type: 'DateTime' }),
    },
    resolve: async (_, { id, atSequence, atTime }, ctx) => {
      checkId('id', id);
      requireAccounts(ctx.viewer, [id]);
      const at = pointOf(atSequence, atTime);
      if (at.sequence == null && at.time == null) return ctx.store.state.account(id) ?? null;
      return ctx.pointInTime.accountAt(id, await ctx.pointInTime.resolve(at));
    },
  }),
  accounts: t.field({
    type: AccountConnection,
    description: 'Accounts in id order, as of now or `atSequence` (only the token’s accounts, when it lists some).',
    args: {
      first: t.arg.int({ description: `At most ${MAX_PAGE}; default ${DEFAULT_PAGE}.` }),
      after: t.arg.string(),
      atSequence: t.arg({ type: 'Sequence' }),
    },
    resolve: async (_, { first, after, atSequence }, ctx) => {
      const size = pageSize(first);
      const afterId = after == null ? null : accountAfterCursor(after);
      const at = await ctx.pointInTime.resolve({ sequence: atSequence });
      const scope = ctx.viewer.accounts;
      const page = scope ? await ctx.pointInTime.accountsAmong(scope, at, size, afterId) : await ctx.pointInTime.accountsAt(at, size, afterId);
      return connection(page.accounts, accountCursor, page.hasNextPage, afterId !== null);
    },
  }),
  ledger: t.field({
    type: LedgerRef,
    description: 'Totals and account count now, or at `atSequence` or `atTime` (not both; over the token’s accounts, when it lists some).',
    args: { atSequence: t.arg({ type: 'Sequence' }), atTime: t.arg({ type: 'DateTime' }) },
    resolve: async (_, { atSequence, atTime }, ctx) => {
      const point = pointOf(atSequence, atTime);
      const head = ctx.store.head;
      const at = await ctx.pointInTime.resolve(point);
      const scope = ctx.viewer.accounts;
      return { ...(await (scope ? ctx.pointInTime.ledgerOf(scope, at) : ctx.pointInTime.ledgerAt(at))), head };
    },
  }),
}));
