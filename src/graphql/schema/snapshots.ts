// Snapshots as an admin operation: take one now (before a long replay audit, say) and list them.
import { GraphQLError } from 'graphql';
import { listSnapshots } from '../../projection/snapshots.ts';
import { requireRole } from '../access.ts';
import { builder } from '../builder.ts';

builder.mutationField('createSnapshot', (t) =>
  t.field({
    type: 'Sequence',
    description: 'Snapshots the whole projection at the head now (admin); returns the snapshot’s sequence. `replay` starts from the nearest one.',
    resolve: async (_, __, ctx) => {
      requireRole(ctx.viewer, 'admin', 'createSnapshot');
      if (!ctx.snapshotter) throw new GraphQLError('snapshots are not available on this server', { extensions: { code: 'UNAVAILABLE' } });
      try {
        return await ctx.snapshotter.snapshotNow();
      } catch (err) {
        ctx.telemetry?.failure('a snapshot could not be written', err);
        throw new GraphQLError('The snapshot could not be written; the ledger is unaffected. Retry later.', { extensions: { code: 'STORE_UNAVAILABLE' } });
      }
    },
  }),
);

builder.queryField('snapshots', (t) =>
  t.field({
    type: ['Sequence'],
    description: 'The sequences that have a projection snapshot, ascending.',
    resolve: (_, __, ctx) => listSnapshots(ctx.store),
  }),
);
