// /metrics and the JSON log on a real server: after deposits, a query, a replay and a live subscription,
// the Prometheus text carries every evledger metric with values that agree with the ledger; each HTTP
// request gets an x-request-id (the client's if sane, else a fresh one), and the log line of each
// GraphQL operation carries it with the operation's name, type, status and duration.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { money } from '../../src/domain/types.ts';
import { LiveHub } from '../../src/live/liveHub.ts';
import { ledgerUpdatesTopic } from '../../src/live/topics.ts';
import { createMetrics } from '../../src/server/metrics.ts';
import { DepositDocument, HeadDocument, LedgerUpdatesSubDocument, OpenAccountDocument, ReplayDocument } from '../generated/graphql.ts';
import { as, sleep } from '../support/api.ts';
import { tempStore } from '../support/tempStore.ts';
import { wsClient } from '../support/subscriptionClients.ts';
import { startTServer, type TServer } from '../support/testServer.ts';

const DEPOSITS = 5;

/** The value of one sample line (`name{labels} value`), or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrape(server: TServer): Promise<string> {
  const res = await fetch(`${server.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

describe('metrics and logs', () => {
  let server: TServer;
  const logLines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line) logLines.push(JSON.parse(line));
        done();
      },
    });
    server = await startTServer({ logLevel: 'info' }, { logDestination: destination });
    as((await server.data(OpenAccountDocument, { input: { accountId: 'm1', currency: 'EUR', initialBalance: 0 } })).openAccount, 'OpenAccountSuccess');
    for (let i = 0; i < DEPOSITS; i++) {
      as((await server.data(DepositDocument, { input: { accountId: 'm1', amount: 100, transactionId: `m-${i}` } })).deposit, 'DepositSuccess');
    }
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('should serve every evledger metric with values that agree with the ledger', async () => {
    const { ledger } = await server.data(HeadDocument, {});
    await server.data(ReplayDocument, { toSequence: ledger.head, id: 'm1' });
    const text = await scrape(server);

    for (const name of [
      'evledger_append_latency_seconds',
      'evledger_batch_events',
      'evledger_queue_depth',
      'evledger_events_total',
      'evledger_head_sequence',
      'evledger_subscribers',
      'evledger_subscription_lag_events',
      'evledger_replay_duration_seconds',
      'evledger_graphql_operations_total',
      'evledger_graphql_duration_seconds',
      'process_cpu_seconds_total',
    ]) {
      expect(text, name).toContain(`# TYPE ${name} `);
    }
    expect(sample(text, 'evledger_events_total{type="DEPOSITED"}')).toBe(DEPOSITS);
    expect(sample(text, 'evledger_events_total{type="OPENED"}')).toBe(1);
    expect(sample(text, 'evledger_head_sequence')).toBe(ledger.head);
    expect(ledger.head).toBe(DEPOSITS + 1);
    // One execute call per mutation; batches hold at least every event appended.
    expect(sample(text, 'evledger_append_latency_seconds_count')).toBe(DEPOSITS + 1);
    expect(sample(text, 'evledger_append_latency_seconds_sum')).toBeGreaterThan(0);
    expect(sample(text, 'evledger_batch_events_sum')).toBe(DEPOSITS + 1);
    expect(sample(text, 'evledger_queue_depth')).toBe(0);
    expect(sample(text, 'evledger_replay_duration_seconds_count')).toBe(1);
    expect(sample(text, 'evledger_graphql_operations_total{operation_type="mutation",status="ok"}')).toBe(DEPOSITS + 1);
    expect(sample(text, 'evledger_graphql_operations_total{operation_type="query",status="ok"}')).toBe(2);
    expect(sample(text, 'evledger_graphql_duration_seconds_count{operation_type="query"}')).toBe(2);
    expect(sample(text, 'evledger_subscribers')).toBe(0);
    expect(sample(text, 'evledger_subscription_lag_events')).toBe(0);
  });

  it('should count live subscribers (and their operation) and their lag behind the head', async () => {
    const client = wsClient(server.graphqlUrl);
    try {
      const before = sample(await scrape(server), 'evledger_graphql_operations_total{operation_type="subscription",status="ok"}') ?? 0;
      const sub = client.subscribe(LedgerUpdatesSubDocument, { afterSequence: 0 });
      const head = (await server.data(HeadDocument, {})).ledger.head;
      await sub.until('caught up', (s) => s.messages.length > 0 && s.data.at(-1)!.ledgerUpdates.toSequence === head);
      let text = await scrape(server);
      expect(sample(text, 'evledger_subscribers')).toBe(1);
      expect(sample(text, 'evledger_graphql_operations_total{operation_type="subscription",status="ok"}')).toBe(before + 1);
      expect(sample(text, 'evledger_subscription_lag_events')).toBe(0);
      await sub.close();
      for (let i = 0; i < 50 && sample(text, 'evledger_subscribers') !== 0; i++) {
        await sleep(20);
        text = await scrape(server);
      }
      expect(sample(text, 'evledger_subscribers')).toBe(0);
    } finally {
      await client.close();
    }
  });

  it('should echo a sane x-request-id, replace an unsafe one, and log it with the operation', async () => {
    const given = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'client-req.42' },
      body: JSON.stringify({ query: 'query LogMe { ledger { head } }' }),
    });
    expect(given.status).toBe(200);
    expect(given.headers.get('x-request-id')).toBe('client-req.42');

    const generated = await fetch(`${server.url}/healthz`);
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const unsafe = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'bad id\twith "quotes"' } });
    expect(unsafe.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    const line = logLines.find((l) => l.requestId === 'client-req.42');
    expect(line).toMatchObject({ level: 30, msg: 'graphql operation', operationName: 'LogMe', operationType: 'query', status: 'ok', service: 'evledger' });
    expect(line!.durationMs).toBeGreaterThanOrEqual(0);
    // Bodies stay out of the log.
    expect(JSON.stringify(logLines)).not.toContain('ledger { head }');
  });

  it('should count an invalid operation and log it as invalid', async () => {
    const res = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', 'x-request-id': 'invalid-1' },
      body: JSON.stringify({ query: 'query Nope { noSuchField }' }),
    });
    expect(res.status).toBe(400);
    expect(sample(await scrape(server), 'evledger_graphql_operations_total{operation_type="query",status="invalid"}')).toBe(1);
    expect(logLines.find((l) => l.requestId === 'invalid-1')).toMatchObject({ operationName: 'Nope', status: 'invalid' });
  });
});

describe('subscription lag', () => {
  it('should be the head minus the lowest position delivered to a live subscriber', async () => {
    const { store, cleanup } = await tempStore();
    const live = new LiveHub(store);
    const metrics = createMetrics({ store, live, logger: pino({ level: 'silent' }), requestIdOf: () => undefined });
    try {
      await store.execute([{ type: 'OpenAccount', accountId: 'lag', currency: 'EUR', initialBalance: money(0) }]);
      for (let i = 0; i < 3; i++) await store.execute([{ type: 'Deposit', accountId: 'lag', amount: money(1), transactionId: `lag-${i}`, expectedVersion: null }]);
      // A subscriber from the start that has read nothing yet, and one that is live at the head.
      const behind = live.subscribe(ledgerUpdatesTopic(store), 0);
      const current = live.subscribe(ledgerUpdatesTopic(store), null);
      let text = await metrics.registry.metrics();
      expect(sample(text, 'evledger_subscribers')).toBe(2);
      expect(sample(text, 'evledger_subscription_lag_events')).toBe(4);
      await behind.next();
      expect(sample(await metrics.registry.metrics(), 'evledger_subscription_lag_events')).toBe(3);
      await behind.return!();
      text = await metrics.registry.metrics();
      expect(sample(text, 'evledger_subscribers')).toBe(1);
      expect(sample(text, 'evledger_subscription_lag_events')).toBe(0);
      await current.return!();
      expect(sample(await metrics.registry.metrics(), 'evledger_subscribers')).toBe(0);
    } finally {
      metrics.close();
      live.close();
      await cleanup();
    }
  });
});
