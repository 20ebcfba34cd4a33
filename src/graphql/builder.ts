// The Pothos builder and its generics: the request context and how our scalars look in TypeScript.
import SchemaBuilder from '@pothos/core';
import type { DocumentNode } from 'graphql';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import ErrorsPlugin from '@pothos/plugin-errors';
import type { LiveHub } from '../live/liveHub.ts';
import type { PointInTime } from '../projection/pointInTime.ts';
import type { Snapshotter } from '../projection/snapshots.ts';
import type { CommandResult, LedgerStore } from '../store/ledgerStore.ts';
import type { Command } from '../domain/commands.ts';
import type { Viewer } from './access.ts';

/** Where mutations send commands: the store itself, or a cluster node that forwards them to the writer. */
export interface CommandSink {
  execute(commands: readonly Command[], options?: { atomic?: boolean }): Promise<CommandResult[]>;
}

export interface Context {
  readonly store: LedgerStore;
  /** Where commands go; absent: straight to `store`. */
  readonly commands?: CommandSink;
  /** In a cluster: the store is a replica, which may not have applied yet a sequence that another node has. */
  readonly replica?: boolean;
  readonly pointInTime: PointInTime;
  readonly live: LiveHub;
  /** Who is asking: their role and the accounts they may see. */
  readonly viewer: Viewer;
  /** For `createSnapshot`; absent in tests that build a bare context. */
  readonly snapshotter?: Snapshotter;
  /** Where resolvers report timings and server-side failures; absent in tests that build a bare context. */
  readonly telemetry?: Telemetry;
}

/** What the schema reports to the server's metrics and log, without depending on them. */
export interface Telemetry {
  /** Seconds from submitting a batch of commands to the store until it is acknowledged. */
  appendLatency(seconds: number): void;
  /** Seconds one `replay` query spent rebuilding the projection. */
  replayDuration(seconds: number): void;
  /** A subscription the server set up itself (shared execution over graphql-ws), past the envelop hooks that count the rest. */
  subscriptionStarted(context: unknown, document: DocumentNode, operationName: string | null | undefined, startedAt: number, ok: boolean): void;
  /** A server-side failure that the client only sees as a generic error. */
  failure(message: string, err: unknown): void;
}

export const builder = new SchemaBuilder<{
  Context: Context;
  DefaultFieldNullability: false;
  Scalars: {
    Sequence: { Input: number; Output: number };
    Money: { Input: number; Output: number };
    DateTime: { Input: Date; Output: Date | number };
    ID: { Input: string; Output: string };
  };
}>({
  plugins: [ErrorsPlugin, DataloaderPlugin],
  defaultFieldNullability: false,
  errors: { directResult: true },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
