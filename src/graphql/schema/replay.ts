// `replay`: the projection rebuilt literally from the log, for auditors who want to see it done rather
// than trust the indexes; it must agree with `account` and `ledger` at the same sequence.
import type { Replay } from '../../projection/replay.ts';
import { replay } from '../../projection/replay.ts';
import { summaryOf } from '../../domain/ledger.ts';
import type { AccountState } from '../../domain/types.ts';
import { requireAccounts } from '../access.ts';
import { builder } from '../builder.ts';
import { AccountRef, LedgerRef, checkId } from './accounts.ts';

const ReplayRef = builder.objectRef<Replay & { head: number }>('Replay').implement({
  fields: (t) => ({
    fromSnapshot: t.field({ type: 'Sequence', description: 'The snapshot replay started from; 0 = the start of the log.', resolve: (r) => r.fromSnapshot }),
    eventsReplayed: t.int({ resolve: (r) => r.eventsReplayed }),
    ledger: t.field({
      type: LedgerRef,
      description: 'Over the token’s accounts, when it lists some.',
      resolve: (r, _, ctx) => {
        const scope = ctx.viewer.accounts;
        if (!scope) return { ...r.state.summary(), head: r.head };
        const accounts = [...scope].map((id) => r.state.account(id)).filter((a): a is AccountState => a !== undefined);
        return { ...summaryOf(accounts, r.state.head), head: r.head };
      },
    }),
    account: t.field({
      type: AccountRef,
      nullable: true,
      args: { id: t.arg.id({ required: true }) },
      resolve: (r, { id }, ctx) => {
        requireAccounts(ctx.viewer, [checkId('id', id)]);
        return r.state.account(id) ?? null;
      },
    }),
  }),
});

builder.queryField('replay', (t) =>
  t.field({
    type: ReplayRef,
    description: 'Replays the log from the nearest snapshot at or below `toSequence` (clamped to the head).',
    args: { toSequence: t.arg({ type: 'Sequence', required: true }) },
    resolve: async (_, { toSequence }, ctx) => {
      const startedAt = performance.now();
      const result = await replay(ctx.store, toSequence);
      ctx.telemetry?.replayDuration((performance.now() - startedAt) / 1_000);
      return { ...result, head: ctx.store.head };
    },
  }),
);
