// Prometheus metrics for one app: a registry of its own (tests build several apps in one process), fed
// by the store's commit feed, read from the store and the live hub at scrape time, and timed around
// command batches, replays and GraphQL operations.
import { getOperationAST, type DocumentNode, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Viewer } from '../graphql/access.ts';
import type { Telemetry } from '../graphql/builder.ts';
import type { LiveHub } from '../live/liveHub.ts';
import type { LedgerStore } from '../store/ledgerStore.ts';
import type { ClusterNode } from '../cluster/clusterNode.ts';

/** Seconds: from a fast fsync'd batch (~1 ms) to a writer stalled behind a full queue. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Events per committed batch: the writer batches up to thousands under load. */
const BATCH_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000];
/** Seconds: a replay from a nearby snapshot is milliseconds, from the start of a big log much longer. */
const REPLAY_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface Metrics {
  readonly registry: Registry;
  /** What the GraphQL layer reports through the context. */
  readonly telemetry: Telemetry;
  /** Counts and times each GraphQL operation, and logs its completion with the request id. */
  readonly plugin: Plugin;
  /** Detaches from the store's commit feed. */
  close(): void;
}

export interface MetricsDeps {
  readonly store: LedgerStore;
  readonly live: LiveHub;
  readonly logger: Logger;
  /** The request id of an operation's context (set per HTTP request by the app). */
  readonly requestIdOf: (context: unknown) => string | undefined;
  /** This node of a cluster, or null. */
  readonly cluster?: ClusterNode | null;
}

export function createMetrics({ store, live, logger, requestIdOf, cluster = null }: MetricsDeps): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  if (cluster) clusterMetrics(registry, cluster);

  const appendLatency = new Histogram({
    name: 'evledger_append_latency_seconds',
    help: 'Seconds from submitting a batch of commands (one store.execute call) to its acknowledgement.',
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const batchEvents = new Histogram({
    name: 'evledger_batch_events',
    help: 'Events per committed write batch.',
    buckets: BATCH_BUCKETS,
    registers: [registry],
  });
  const eventsTotal = new Counter({
    name: 'evledger_events_total',
    help: 'Events committed since the server started, by type.',
    labelNames: ['type'],
    registers: [registry],
  });
  new Gauge({
    name: 'evledger_queue_depth',
    help: 'Commands waiting for the writer.',
    registers: [registry],
    collect() {
      this.set(store.queueDepth);
    },
  });
  new Gauge({
    name: 'evledger_head_sequence',
    help: 'Sequence of the last committed event.',
    registers: [registry],
    collect() {
      this.set(store.head);
    },
  });
  new Gauge({
    name: 'evledger_subscribers',
    help: 'Live subscriptions (GraphQL subscriptions on HTTP or WebSocket).',
    registers: [registry],
    collect() {
      this.set(live.subscriberCount);
    },
  });
  new Gauge({
    name: 'evledger_subscription_lag_events',
    help: 'Head minus the lowest sequence delivered to a live subscriber (0 without subscribers).',
    registers: [registry],
    collect() {
      const lowest = live.lowestDelivered();
      this.set(lowest === null ? 0 : Math.max(0, store.head - lowest));
    },
  });
  const replayDuration = new Histogram({
    name: 'evledger_replay_duration_seconds',
    help: 'Seconds spent rebuilding the projection for a `replay` query.',
    buckets: REPLAY_BUCKETS,
    registers: [registry],
  });
  const operations = new Counter({
    name: 'evledger_graphql_operations_total',
    help: 'GraphQL operations by type and outcome (ok, error: a result with errors, invalid: failed validation).',
    labelNames: ['operation_type', 'status'],
    registers: [registry],
  });
  const operationDuration = new Histogram({
    name: 'evledger_graphql_duration_seconds',
    help: 'Seconds to execute a query or mutation, or to set up a subscription.',
    labelNames: ['operation_type'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });

  const stopFeed = store.onCommit((commit) => {
    batchEvents.observe(commit.events.length);
    for (const event of commit.events) eventsTotal.inc({ type: event.type });
  });

  const finished = (context: unknown, document: DocumentNode, operationName: string | null | undefined, startedAt: number, status: string) => {
    const seconds = (performance.now() - startedAt) / 1_000;
    const operation = getOperationAST(document, operationName);
    const type = operation?.operation ?? 'unknown';
    operations.inc({ operation_type: type, status });
    if (status !== 'invalid') operationDuration.observe({ operation_type: type }, seconds);
    logger.info(
      { requestId: requestIdOf(context), subject: (context as { viewer?: Viewer } | null)?.viewer?.subject ?? undefined, operationType: type, operationName: operation?.name?.value ?? operationName ?? null, status, durationMs: Math.round(seconds * 1e6) / 1e3 },
      'graphql operation',
    );
  };
  const statusOf = (result: ExecutionResult) => (result.errors?.length ? 'error' : 'ok');

  const plugin: Plugin = {
    onValidate({ params, context }) {
      const startedAt = performance.now();
      return ({ valid }) => {
        if (!valid) finished(context, params.documentAST, undefined, startedAt, 'invalid');
      };
    },
    onExecute({ args }) {
      const startedAt = performance.now();
      return {
        onExecuteDone({ result }) {
          // An incremental (@defer/@stream) result is not used here; count it as ok once it starts.
          finished(args.contextValue, args.document, args.operationName, startedAt, Symbol.asyncIterator in result ? 'ok' : statusOf(result));
        },
      };
    },
    onSubscribe({ args }) {
      const startedAt = performance.now();
      return {
        onSubscribeResult({ result }) {
          finished(args.contextValue, args.document, args.operationName, startedAt, Symbol.asyncIterator in result ? 'ok' : statusOf(result));
        },
      };
    },
  };

  const telemetry: Telemetry = {
    appendLatency: (seconds) => appendLatency.observe(seconds),
    replayDuration: (seconds) => replayDuration.observe(seconds),
    subscriptionStarted: (context, document, operationName, startedAt, ok) => finished(context, document, operationName, startedAt, ok ? 'ok' : 'error'),
    failure: (message, err) => logger.error({ err }, message),
  };

  return { registry, telemetry, plugin, close: stopFeed };
}

/** Replication: how far this replica is behind the stream, whether it writes, and what forwarding costs. */
function clusterMetrics(registry: Registry, cluster: ClusterNode): void {
  new Gauge({
    name: 'evledger_replication_lag_batches',
    help: "Batches the stream holds that this node has not applied yet (the stream's tail minus the applied position).",
    registers: [registry],
    collect() {
      const { tail, applied } = cluster.status;
      this.set(Math.max(0, tail - applied));
    },
  });
  new Gauge({
    name: 'evledger_log_position',
    help: 'Batches of the replicated log applied on this node (the stream sequence of the last).',
    registers: [registry],
    collect() {
      this.set(cluster.status.applied);
    },
  });
  new Gauge({
    name: 'evledger_writer',
    help: '1 while this node holds the writer role, else 0.',
    registers: [registry],
    collect() {
      this.set(cluster.status.role === 'writer' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'evledger_nats_connected',
    help: '1 while this node is connected to NATS, else 0.',
    registers: [registry],
    collect() {
      this.set(cluster.status.connected ? 1 : 0);
    },
  });
  const forwarded = new Histogram({
    name: 'evledger_command_round_trip_seconds',
    help: 'Seconds from taking commands on this node to their results applied here: through the writer (forwarded, or decided here when this node writes).',
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  cluster.onForwarded = (seconds) => forwarded.observe(seconds);
}
