// The API served by a cluster (DESIGN §7): in-process API nodes (startTServer with `cluster`) over a
// real 3-node NATS JetStream cluster (R3), each test on a stream of its own. What is held to the log:
// every acknowledged command is in it exactly once, on every node, with the same hash chain; no
// overdraft whichever node a command came through; subscriptions on one node see writes made through
// another, and resume by sequence on any node with no gap and no repeat; read-your-writes across
// nodes with Evledger-Min-Sequence; an empty node catching up from the stream; /readyz and /metrics
// of a writer and a follower; and start-up failures that are clear errors in bounded time.
import { cp } from 'node:fs/promises';
import fc from 'fast-check';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DiscardPolicy, jetstreamManager, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClusterError } from '../../src/cluster/clusterError.ts';
import { verify } from '../../src/projection/verify.ts';
import { MIN_SEQUENCE_WAIT_MS } from '../../src/server/app.ts';
import type { Command } from '../../src/domain/commands.ts';
import { AccountDocument, AccountUpdatesSubDocument, EventsSubDocument, type AccountUpdatesSubSubscription, type EventsSubSubscription } from '../generated/graphql.ts';
import { expectedAccountUpdates, expectedEvents, readTruth, receivedAccountUpdate, receivedEvent, type Truth } from '../support/ledgerTruth.ts';
import { deposit, open as openCommand, transfer, viaHttp, withdraw } from '../support/liveWorkload.ts';
import { prng } from '../support/api.ts';
import { NATS_SERVER, startNatsCluster, type NatsCluster } from '../support/natsCluster.ts';
import { wsClient, type Collected } from '../support/subscriptionClients.ts';
import { startTServer, type TServer } from '../support/testServer.ts';
import {
  Nodes,
  accountsOf,
  blocksOf,
  converged,
  deadPort,
  eventsOf,
  foldAcked,
  ownDir,
  plainNats,
  readyz,
  sample,
  scrape,
  send,
  silentServer,
  sleep,
  statusOf,
  until,
  waitForWriter,
  type Op,
  type Outcome,
} from '../support/clusterApi.ts';

/** ClusterNode's default start-up timeout (connectTimeoutMs): the server's config has no field for it. */
const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;

const balancesOf = (truth: Truth): Map<string, number> => new Map([...(truth.afterBatch.get(truth.head)?.accounts ?? new Map())].map(([id, a]) => [id, a.balance]));
const balancesOn = async (server: TServer) => new Map([...(await accountsOf(server))].map(([id, a]) => [id, a.balance]));
const sorted = <T>(m: Map<string, T>) => new Map([...m].sort(([a], [b]) => a.localeCompare(b)));

/** Both nodes hold the same log: blocks, events (as the store and the `events` query have them), head and hash; verify passes on each. */
async function expectSameLog(servers: readonly TServer[]): Promise<Truth> {
  const { head, position } = await converged(servers);
  const [first, ...rest] = servers;
  const truth = await readTruth(first!.app.store);
  expect(truth.head).toBe(head);
  const blocks = await blocksOf(first!);
  expect(blocks).toHaveLength(position);
  const events = await eventsOf(first!);
  expect(events.map((e) => e.sequence)).toEqual(truth.events.map((e) => e.sequence));
  for (const other of rest) {
    expect(other.app.store.headHash.toString('hex'), 'head hash').toBe(first!.app.store.headHash.toString('hex'));
    expect((await blocksOf(other)).map((b) => b.toString('hex'))).toEqual(blocks.map((b) => b.toString('hex')));
    expect((await readTruth(other.app.store)).events).toEqual(truth.events);
    expect(await eventsOf(other)).toEqual(events);
  }
  for (const server of servers) {
    const report = await verify(server.app.store);
    expect(report, `verify on ${statusOf(server).nodeId}`).toMatchObject({ ok: true, head, events: head });
  }
  return truth;
}

describe('cluster: API nodes over a 3-node NATS JetStream cluster', () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const nodes = new Nodes();

  beforeAll(async () => {
    nats = await startNatsCluster();
    nc = await connect({ servers: nats.urls.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    jsm = await jetstreamManager(nc, { timeout: 5_000 });
  }, 40_000);

  afterEach(async ({ task }) => {
    await nodes.stopAll();
    if (task.result?.state === 'fail') console.log(nats.logs(15));
  }, 30_000);

  afterAll(async () => {
    await nodes.stopAll();
    await nc?.close();
    await nats?.close();
  }, 30_000);

  /** A and B on `stream`, A the writer (started first and waited for), B a follower. */
  async function pair(stream: string, prefix: string): Promise<[TServer, TServer]> {
    const a = await nodes.start(nats.urls, stream, `${prefix}-a`);
    await waitForWriter(a);
    const b = await nodes.start(nats.urls, stream, `${prefix}-b`);
    expect(statusOf(b).role).toBe('follower');
    return [a, b];
  }

  it('32 concurrent writers over two nodes: every acknowledged command in the log once, at its sequence; the same log, head and hash on both; balances = the fold', { timeout: 60_000 }, async ({ annotate }) => {
    const [a, b] = await pair('cl-writers', 'w');
    const both = [a, b];
    const shared = Array.from({ length: 6 }, (_, i) => `shared-${i}`);
    const contested = Array.from({ length: 4 }, (_, i) => `contested-${i}`);
    const acked: { op: Op; sequence: number; payload: Record<string, unknown> }[] = [];
    const replays: { op: Op; outcome: Outcome; original: number }[] = [];
    const refused: { op: Op; outcome: Outcome & { kind: 'refused' } }[] = [];
    const failed: { op: Op; outcome: Outcome }[] = [];
    const record = (op: Op, outcome: Outcome) => {
      if (outcome.kind === 'acked') {
        if (outcome.replayed) failed.push({ op, outcome }); // a first send is never a replay: every transactionId is new
        else acked.push({ op, sequence: outcome.sequence, payload: outcome.payload! });
      } else if (outcome.kind === 'refused') refused.push({ op, outcome });
      else failed.push({ op, outcome });
      return outcome;
    };
    /** The same command sent to both nodes at once (a client retrying elsewhere before its first answer). */
    const inFlightTwice: [Outcome, Outcome][] = [];
    for (const [i, id] of shared.entries()) record({ type: 'open', accountId: id, initialBalance: 100 }, await send(both[i % 2]!, { type: 'open', accountId: id, initialBalance: 100 }));

    // B, a follower, is polled for readiness all along: under load it stays ready (it applies as the writer commits).
    let writing = true;
    const notReady: string[] = [];
    let probes = 0;
    const probing = (async () => {
      while (writing) {
        const res = await readyz(b);
        probes++;
        if (res.status !== 200) notReady.push(`${res.status} ${res.body.reason}`);
        await sleep(25);
      }
    })();
    const WRITERS = 32;
    const OPS = 8;
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, w) => {
        const r = prng(7_000 + w);
        const own = `own-${w}`;
        let tx = 0;
        const txId = () => `w${w}-${++tx}`;
        const pool = [own, ...shared, ...contested];
        for (let i = 0; i < OPS; i++) {
          const node = both[(w + i) % 2]!;
          let op: Op;
          if (i === 0) op = { type: 'open', accountId: own, initialBalance: r.int(0, 200) };
          else if (i === 1) op = { type: 'open', accountId: contested[w % contested.length]!, initialBalance: 50 }; // 8 racers each, one wins
          else {
            const roll = r.next();
            const from = r.pick(pool);
            let to = r.pick(pool);
            if (to === from) to = pool[(pool.indexOf(from) + 1) % pool.length]!;
            if (roll < 0.3) op = { type: 'deposit', accountId: from, amount: r.int(1, 100), transactionId: txId() };
            else if (roll < 0.6) op = { type: 'withdraw', accountId: from, amount: r.int(1, 150), transactionId: txId() };
            else op = { type: 'transfer', from, to, amount: r.int(1, 150), transactionId: txId() };
          }
          if (op.type !== 'open' && r.chance(0.15)) {
            const pair = (await Promise.all(both.map((n) => send(n, op)))) as [Outcome, Outcome];
            inFlightTwice.push(pair);
            // One of them is decided, the other gets its result (or, refused, is decided again: nothing of it was stored).
            const first = pair.find((o) => o.kind !== 'acked' || !o.replayed) ?? pair[0]!;
            record(op, first);
            for (const o of pair) if (o !== first && !(o.kind === 'acked' && o.replayed)) record(op, o);
            continue;
          }
          const outcome = record(op, await send(node, op));
          // A client retrying through the other node: the same result, nothing appended again.
          if (outcome.kind === 'acked' && op.type !== 'open' && r.chance(0.3)) {
            replays.push({ op, outcome: await send(both[(w + i + 1) % 2]!, op), original: outcome.sequence });
          }
        }
      }),
    );
    writing = false;
    await probing;
    expect(notReady, `readiness of the follower under load (${probes} probes)`).toEqual([]);

    expect(failed, 'commands without an answer, or replayed on their first send').toEqual([]);
    const codes = new Set(refused.map((r) => r.outcome.code));
    for (const code of codes) expect(['ACCOUNT_ALREADY_EXISTS', 'INSUFFICIENT_FUNDS', 'ACCOUNT_NOT_FOUND']).toContain(code);
    // The four contested accounts were opened by exactly one of their eight racers each.
    expect(refused.filter((r) => r.op.type === 'open').map((r) => r.outcome.code)).toEqual(Array(WRITERS - contested.length).fill('ACCOUNT_ALREADY_EXISTS'));
    expect(codes.has('INSUFFICIENT_FUNDS')).toBe(true);
    for (const { op, outcome, original } of replays) expect(outcome, `retry of ${JSON.stringify(op)}`).toEqual({ kind: 'acked', sequence: original, replayed: true });
    expect(replays.length).toBeGreaterThan(10);
    expect(inFlightTwice.length).toBeGreaterThan(10);
    for (const pair of inFlightTwice) {
      const appended = pair.filter((o) => o.kind === 'acked' && !o.replayed);
      expect(appended.length, JSON.stringify(pair)).toBeLessThanOrEqual(1);
      const sequences = new Set(pair.flatMap((o) => (o.kind === 'acked' ? [o.sequence] : [])));
      expect(sequences.size, JSON.stringify(pair)).toBeLessThanOrEqual(1);
      if (pair.every((o) => o.kind === 'acked')) expect(appended, JSON.stringify(pair)).toHaveLength(1);
      expect(pair.every((o) => o.kind !== 'failed')).toBe(true);
    }

    const truth = await expectSameLog(both);
    // Exactly the acknowledged commands, each once, each at the sequence it was acknowledged with.
    expect(acked.map((x) => x.sequence).sort((x, y) => x - y)).toEqual(truth.events.map((e) => e.sequence));
    const seen = new Map<string, number>();
    for (const e of truth.events) if (e.transactionId !== null) seen.set(e.transactionId, (seen.get(e.transactionId) ?? 0) + 1);
    for (const { op, sequence } of acked) {
      const event = truth.events[sequence - 1]!;
      if (op.type === 'open') expect(event).toMatchObject({ type: 'OPENED', data: { accountId: op.accountId, initialBalance: op.initialBalance } });
      else {
        expect(event.transactionId).toBe(op.transactionId);
        expect(seen.get(op.transactionId), op.transactionId).toBe(1);
        if (op.type === 'transfer') expect(event).toMatchObject({ type: 'TRANSFERRED', data: { fromAccountId: op.from, toAccountId: op.to, amount: op.amount } });
        else expect(event).toMatchObject({ type: op.type === 'deposit' ? 'DEPOSITED' : 'WITHDRAWN', data: { accountId: op.accountId, amount: op.amount } });
      }
    }
    // What each mutation answered (through the writer or forwarded): the event as the log has it, the accounts right after it.
    const logged = await eventsOf(b);
    for (const { op, sequence, payload } of acked) {
      expect(payload.event, `event of ${JSON.stringify(op)}`).toEqual(logged[sequence - 1]);
      const after = truth.eventAccounts[sequence - 1]!.map(({ id, after: state }) => ({ id, ...state }));
      const answered = (op.type === 'transfer' ? [payload.from, payload.to] : [payload.account]) as Record<string, unknown>[];
      expect(answered.map((acc) => ({ id: acc.id, balance: acc.balance, version: acc.version, status: acc.status })), `accounts of ${JSON.stringify(op)}`).toEqual(after);
    }
    // Balances: the acknowledged commands folded in sequence order = the log folded = what each node answers.
    const expected = sorted(foldAcked(acked));
    expect(sorted(balancesOf(truth))).toEqual(expected);
    expect(sorted(await balancesOn(a))).toEqual(expected);
    expect(sorted(await balancesOn(b))).toEqual(expected);
    await annotate(`${acked.length} appended (${truth.batches.length} batches), ${refused.length} refused, ${replays.length} retries replayed through the other node, ${inFlightTwice.length} sent to both at once; ${probes} readiness probes of the follower`);
  });

  it('no overdraft across nodes: concurrent conflicting withdrawals and transfers through both nodes (fast-check)', { timeout: 60_000 }, async ({ annotate }) => {
    const [a, b] = await pair('cl-overdraft', 'o');
    const both = [a, b];
    let run = 0;
    let refusals = 0;
    const opArb = fc.record({
      kind: fc.constantFrom('withdraw', 'withdraw', 'transfer', 'transfer', 'deposit'),
      from: fc.constantFrom(0, 1),
      amount: fc.integer({ min: 10, max: 90 }),
      node: fc.constantFrom(0, 1),
    });
    const scenario = fc.record({ funds: fc.tuple(fc.integer({ min: 30, max: 150 }), fc.integer({ min: 0, max: 100 })), ops: fc.array(opArb, { minLength: 8, maxLength: 16 }) });

    await fc.assert(
      fc.asyncProperty(scenario, async ({ funds, ops: specs }) => {
        const r = ++run;
        const ids = [`r${r}-x`, `r${r}-y`];
        let opened = 0;
        for (const [i, id] of ids.entries()) {
          const outcome = await send(both[i]!, { type: 'open', accountId: id, initialBalance: funds[i]! });
          expect(outcome).toMatchObject({ kind: 'acked' });
          opened = Math.max(opened, (outcome as { sequence: number }).sequence);
        }
        const ops: Op[] = specs.map((s, i) => {
          const transactionId = `r${r}-t${i}`;
          const from = ids[s.from]!;
          if (s.kind === 'deposit') return { type: 'deposit', accountId: from, amount: s.amount, transactionId };
          if (s.kind === 'withdraw') return { type: 'withdraw', accountId: from, amount: s.amount, transactionId };
          return { type: 'transfer', from, to: ids[1 - s.from]!, amount: s.amount, transactionId };
        });
        const outcomes = await Promise.all(ops.map((op, i) => send(both[specs[i]!.node]!, op)));
        const acked = ops.flatMap((op, i) => (outcomes[i]!.kind === 'acked' ? [{ op, sequence: (outcomes[i] as { sequence: number }).sequence }] : []));
        const last = Math.max(opened, ...acked.map((x) => x.sequence));
        await Promise.all(both.map((s) => s.app.store.waitForSequence(last, 10_000)));
        const [truth, truthB] = await Promise.all(both.map((s) => readTruth(s.app.store, last)));
        expect(truthB!.events).toEqual(truth!.events);

        // Every balance of every account after every event of the log: never negative.
        for (const [i, after] of truth!.eventAccounts.entries()) for (const { id, after: state } of after) expect(state.balance, `${id} after sequence ${i + 1}`).toBeGreaterThanOrEqual(0);
        // Each account's balances through the log (its states), for the refusals to be checked against.
        const history = new Map<string, number[]>(ids.map((id) => [id, []]));
        for (const after of truth!.eventAccounts) for (const { id, after: state } of after) history.get(id)?.push(state.balance);

        let outflow = 0;
        let inflow = funds[0]! + funds[1]!;
        let requested = 0;
        for (const [i, op] of ops.entries()) {
          const outcome = outcomes[i]!;
          if (op.type === 'deposit') {
            expect(outcome).toMatchObject({ kind: 'acked', replayed: false });
            inflow += op.amount;
            continue;
          }
          if (op.type === 'withdraw') requested += op.amount;
          if (outcome.kind === 'acked') {
            if (op.type === 'withdraw') outflow += op.amount;
            continue;
          }
          refusals++;
          if (op.type === 'open') throw new Error('no opens here');
          const from = op.type === 'withdraw' ? op.accountId : op.from;
          // The typed business error, with a balance the account really had and too small for the amount.
          expect(outcome).toMatchObject({ kind: 'refused', typename: 'InsufficientFundsError', code: 'INSUFFICIENT_FUNDS', fields: { accountId: from, requested: op.amount } });
          const balance = (outcome as { fields: Record<string, unknown> }).fields.balance as number;
          expect(balance).toBeLessThan(op.amount);
          expect(history.get(from)).toContain(balance);
        }
        expect(outflow, 'accepted withdrawals ≤ the money put in').toBeLessThanOrEqual(inflow);
        if (requested > inflow) expect(outcomes.some((o) => o.kind === 'refused')).toBe(true);
        // The final balances: the acknowledged commands folded in sequence order, the log folded, and both nodes' answers.
        const fromAcks = foldAcked([...ids.map((id, i) => ({ op: { type: 'open', accountId: id, initialBalance: funds[i]! } as Op, sequence: 0 })), ...acked]);
        const fromLog = balancesOf(truth!);
        for (const id of ids) {
          expect(fromLog.get(id), id).toBe(fromAcks.get(id));
          expect(fromAcks.get(id)!).toBeGreaterThanOrEqual(0);
          for (const server of both) expect((await server.data(AccountDocument, { id }))?.account?.balance, `${id} on ${statusOf(server).nodeId}`).toBe(fromAcks.get(id));
        }
      }),
      { numRuns: 6 },
    );
    expect(refusals, 'the runs had conflicts to refuse').toBeGreaterThan(0);
    await expectSameLog(both);
    await annotate(`${run} runs, ${refusals} withdrawals/transfers refused for insufficient funds`);
  });

  it('a subscriber on B sees writes made through A; resuming by sequence on A and on B gives the log after it, no gap, no repeat', { timeout: 60_000 }, async () => {
    const [a, b] = await pair('cl-subs', 's');
    const ws = wsClient(b.graphqlUrl);
    const wsA = wsClient(a.graphqlUrl);
    try {
      const [s1, s2] = ['sub-1', 'sub-2'];
      for (const id of [s1, s2]) expect(await send(a, { type: 'open', accountId: id!, initialBalance: 1_000 })).toMatchObject({ kind: 'acked' });
      const h0 = a.app.store.head;
      await b.app.store.waitForSequence(h0, 10_000);
      const events = ws.subscribe(EventsSubDocument, { afterSequence: h0 });
      const updates = ws.subscribe(AccountUpdatesSubDocument, { accountIds: [s1!], afterSequence: h0 });

      let n = 0;
      /** 4 lanes × `per` ops through `server`: deposits, withdrawals and transfers both ways, some in shared batches. */
      const write = (server: TServer, per: number) =>
        Promise.all(
          Array.from({ length: 4 }, async (_, lane) => {
            for (let i = 0; i < per; i++) {
              const k = ++n;
              const op: Op =
                k % 3 === 0
                  ? { type: 'deposit', accountId: lane % 2 ? s1! : s2!, amount: k, transactionId: `sub-${k}` }
                  : k % 3 === 1
                    ? { type: 'transfer', from: lane % 2 ? s1! : s2!, to: lane % 2 ? s2! : s1!, amount: 3, transactionId: `sub-${k}` }
                    : { type: 'withdraw', accountId: s1!, amount: 1, transactionId: `sub-${k}` };
              expect(await send(server, op)).toMatchObject({ kind: 'acked' });
            }
          }),
        );
      await write(a, 5);
      let truth = await readTruth(a.app.store);
      const want = expectedEvents(truth, {}, h0);
      expect(want).toHaveLength(20);
      await settle(events, want.length);
      expect(ev(events).map(receivedEvent)).toEqual(want);
      const wantUpdates = expectedAccountUpdates(truth, [s1!], h0);
      await settle(updates, wantUpdates.length);
      expect(au(updates).map(receivedAccountUpdate)).toEqual(wantUpdates);
      await events.close();
      await updates.close();

      // More while nobody listens, some through B; then resume from the middle of what was seen, on both nodes.
      await write(a, 2);
      await write(b, 2);
      const mid = want[9]!.sequence;
      const resumed = [ws.subscribe(EventsSubDocument, { afterSequence: mid }, { label: 'resumed on B' }), wsA.subscribe(EventsSubDocument, { afterSequence: mid }, { label: 'resumed on A' })];
      const resumedUpdates = [
        ws.subscribe(AccountUpdatesSubDocument, { accountIds: [s1!, s2!], afterSequence: mid }, { label: 'updates resumed on B' }),
        wsA.subscribe(AccountUpdatesSubDocument, { accountIds: [s1!, s2!], afterSequence: mid }, { label: 'updates resumed on A' }),
      ];
      // ...and live again, through both.
      await write(b, 2);
      await write(a, 2);
      await converged([a, b]);
      truth = await readTruth(a.app.store);
      const wantResumed = expectedEvents(truth, {}, mid);
      expect(wantResumed.length).toBe(truth.head - mid);
      const wantResumedUpdates = expectedAccountUpdates(truth, [s1!, s2!], mid);
      for (const sub of resumed) {
        await settle(sub, wantResumed.length);
        expect(ev(sub).map(receivedEvent), sub.label).toEqual(wantResumed);
      }
      for (const sub of resumedUpdates) {
        await settle(sub, wantResumedUpdates.length);
        expect(au(sub).map(receivedAccountUpdate), sub.label).toEqual(wantResumedUpdates);
      }

      // A sequence acknowledged by A, handed at once to B (which may not have applied it yet): after it, exactly.
      const acked = await send(a, { type: 'deposit', accountId: s2!, amount: 1, transactionId: 'sub-ahead' });
      expect(acked).toMatchObject({ kind: 'acked' });
      const at = (acked as { sequence: number }).sequence;
      const ahead = ws.subscribe(EventsSubDocument, { afterSequence: at }, { label: 'after a sequence from A, on B' });
      await sleep(100);
      await write(a, 1);
      await converged([a, b]);
      truth = await readTruth(a.app.store);
      const wantAhead = expectedEvents(truth, {}, at);
      expect(wantAhead).toHaveLength(4);
      await settle(ahead, wantAhead.length);
      expect(ev(ahead).map(receivedEvent)).toEqual(wantAhead);
    } finally {
      await ws.close();
      await wsA.close();
    }
  });

  it('read-your-writes: Evledger-Min-Sequence from one node answered on the other; a bad value is 400, a sequence never reached 503 after the bounded wait', { timeout: 40_000 }, async ({ annotate }) => {
    const [a, b] = await pair('cl-ryw', 'r');
    expect(await send(a, { type: 'open', accountId: 'ryw', initialBalance: 0 })).toMatchObject({ kind: 'acked' });
    let balance = 0;
    let behind = 0;
    for (let i = 1; i <= 20; i++) {
      // Alternately written through A (read on B) and through B (read on A).
      const [writer, reader] = i % 2 ? [a, b] : [b, a];
      const outcome = await send(writer, { type: 'deposit', accountId: 'ryw', amount: i, transactionId: `ryw-${i}` });
      expect(outcome).toMatchObject({ kind: 'acked' });
      const sequence = (outcome as { sequence: number }).sequence;
      balance += i;
      if (reader.app.store.head < sequence) behind++;
      const read = await reader.request(AccountDocument, { id: 'ryw' }, { 'Evledger-Min-Sequence': String(sequence) });
      expect(read.status).toBe(200);
      expect(read.errors).toBeUndefined();
      expect(read.data?.account, `read ${i} on ${statusOf(reader).nodeId}`).toMatchObject({ balance, lastSequence: sequence });
    }
    await annotate(`${behind} of 20 reads went to a node that had not applied the write when it was sent`);

    for (const bad of ['abc', '-1', '1.5', '12abc', '9007199254740993']) {
      const res = await b.request(AccountDocument, { id: 'ryw' }, { 'Evledger-Min-Sequence': bad });
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.errors?.[0]?.extensions?.code, JSON.stringify(bad)).toBe('BAD_USER_INPUT');
      expect(res.data ?? null).toBeNull();
    }

    const head = b.app.store.head;
    const startedAt = Date.now();
    const far = await b.request(AccountDocument, { id: 'ryw' }, { 'Evledger-Min-Sequence': String(head + 1_000_000) });
    const waited = Date.now() - startedAt;
    expect(far.status).toBe(503);
    expect(far.errors?.[0]?.extensions).toMatchObject({ code: 'SEQUENCE_NOT_REACHED', head });
    expect(far.data ?? null).toBeNull();
    expect(waited).toBeGreaterThanOrEqual(MIN_SEQUENCE_WAIT_MS - 50);
    expect(waited).toBeLessThan(MIN_SEQUENCE_WAIT_MS + 3_000);
    await annotate(`SEQUENCE_NOT_REACHED after ${waited} ms (MIN_SEQUENCE_WAIT_MS ${MIN_SEQUENCE_WAIT_MS})`);
  });

  it('Evledger-Min-Sequence: a value that is not a plain decimal ("", "0x1", "1e0", "+1") is refused with 400 too, not read as a number', { timeout: 30_000 }, async () => {
    const a = await nodes.start(nats.urls, 'cl-ryw-strict', 'rs-a');
    await waitForWriter(a);
    expect(await send(a, { type: 'open', accountId: 'strict', initialBalance: 0 })).toMatchObject({ kind: 'acked' });
    // Each of these is ≤ the head as Number() reads it, so a lenient parse answers at once, with no read-your-writes wait at all.
    const answered: string[] = [];
    for (const bad of ['', '0x1', '1e0', '+1', '0b1', '0o1']) {
      const res = await a.request(AccountDocument, { id: 'strict' }, { 'Evledger-Min-Sequence': bad });
      if (res.status !== 400 || res.errors?.[0]?.extensions?.code !== 'BAD_USER_INPUT') answered.push(`${JSON.stringify(bad)} → ${res.status}`);
    }
    expect(answered, 'header values taken as sequences').toEqual([]);
  });

  it('an empty node joins a cluster with history: catches up from the stream, then serves at head (same hash, verify, balances, /readyz)', { timeout: 60_000 }, async ({ annotate }) => {
    const [a, b] = await pair('cl-join', 'j');
    const accounts = Array.from({ length: 40 }, (_, i) => `join-${i}`);
    await viaHttp(a)(accounts.map((id) => openCommand(id, 10_000)));
    const r = prng(99);
    const batch = (): Command[] =>
      Array.from({ length: 100 }, () => {
        const x = r.pick(accounts);
        const roll = r.next();
        if (roll < 0.3) return deposit(x, r.int(1, 50));
        if (roll < 0.5) return withdraw(x, r.int(1, 60));
        let y = r.pick(accounts);
        if (y === x) y = accounts[(accounts.indexOf(x) + 1) % accounts.length]!;
        return transfer(x, y, r.int(1, 80));
      });
    const writers = [viaHttp(a), viaHttp(b)];
    await Promise.all(Array.from({ length: 4 }, async (_, lane) => {
      for (let i = 0; i < 8; i++) await writers[(lane + i) % 2]!(batch());
    }));
    const { head, position } = await converged([a, b]);
    expect(head).toBeGreaterThan(2_500);

    const startedAt = Date.now();
    const c = await nodes.start(nats.urls, 'cl-join', 'j-c');
    const opened = Date.now() - startedAt;
    expect(statusOf(c).role).toBe('follower');
    const ready = await until('C ready at the head', async () => {
      const res = await readyz(c);
      return res.status === 200 && c.app.store.head === head ? res : undefined;
    });
    const caughtUp = Date.now() - startedAt;
    expect(ready.body).toMatchObject({ status: 'ready', head, cluster: { role: 'follower', nodeId: 'j-c', connected: true, applied: position, tail: position, failure: null } });
    expect(ready.body.cluster?.tail).toBe((await jsm.streams.info('cl-join')).state.last_seq);
    const truth = await expectSameLog([a, c]);
    const expected = sorted(balancesOf(truth));
    expect(expected.size).toBe(accounts.length);
    expect(sorted(await balancesOn(c))).toEqual(expected);
    expect(sorted(await balancesOn(a))).toEqual(expected);

    // Serving at head: a write through C (forwarded to A) is the next sequence, read back on C at once and on A by header.
    const outcome = await send(c, { type: 'deposit', accountId: accounts[0]!, amount: 5, transactionId: 'join-after' });
    expect(outcome).toEqual({ kind: 'acked', sequence: head + 1, replayed: false });
    const want = expected.get(accounts[0]!)! + 5;
    expect((await c.data(AccountDocument, { id: accounts[0]! })).account?.balance).toBe(want);
    const onA = await a.request(AccountDocument, { id: accounts[0]! }, { 'Evledger-Min-Sequence': String(head + 1) });
    expect(onA.data?.account?.balance).toBe(want);
    await expectSameLog([a, b, c]);
    await annotate(`${head} events in ${position} batches: C opened in ${opened} ms, at the head and ready ${caughtUp} ms after starting`);
  });

  it('a node started on a copy of another node\'s store (a snapshot of a replica) resumes from its position, not from the stream\'s start', { timeout: 60_000 }, async ({ annotate }) => {
    const a = await nodes.start(nats.urls, 'cl-copy', 'k-a');
    await waitForWriter(a);
    const bDir = await ownDir('evledger-copied-');
    const copy = await ownDir('evledger-copy-');
    const b = await nodes.start(nats.urls, 'cl-copy', 'k-b', { dataDir: bDir.dir });
    const accounts = Array.from({ length: 20 }, (_, i) => `copy-${i}`);
    await viaHttp(a)(accounts.map((id) => openCommand(id, 10_000)));
    for (let i = 0; i < 20; i++) await viaHttp(i % 2 ? a : b)(accounts.map((id) => deposit(id, 1 + i)));
    const copiedAt = await converged([a, b]);
    // B stopped, its folder copied as an operator would (a file-system snapshot), B back on the original.
    await nodes.stop(b);
    try {
      await cp(bDir.dir, copy.dir, { recursive: true });
      const b2 = await nodes.start(nats.urls, 'cl-copy', 'k-b', { dataDir: bDir.dir });
      for (let i = 0; i < 5; i++) await viaHttp(a)(accounts.map((id) => deposit(id, 100 + i)));
      const c = await nodes.start(nats.urls, 'cl-copy', 'k-c', { dataDir: copy.dir });
      // Open already holds what the copy held: it reads on from there.
      const atOpen = c.app.store.logPosition;
      expect(atOpen).toBeGreaterThanOrEqual(copiedAt.position);
      const { head, position } = await converged([a, b2, c]);
      expect(position).toBe(copiedAt.position + 5);
      await expectSameLog([a, b2, c]);
      expect(sorted(await balancesOn(c))).toEqual(sorted(await balancesOn(a)));
      await annotate(`the copy held ${copiedAt.position} batches (${copiedAt.head} events); the node opened at ${atOpen} and read the other ${position - atOpen} from the stream, to ${head}`);
      await nodes.stop(c);
      await nodes.stop(b2);
    } finally {
      await copy.remove();
      await bDir.remove();
    }
  });

  it('/readyz and /metrics on the writer and on a follower, and after the writer leaves', { timeout: 40_000 }, async () => {
    const [a, b] = await pair('cl-metrics', 'm');
    expect(await send(a, { type: 'open', accountId: 'm-1', initialBalance: 10 })).toMatchObject({ kind: 'acked' });
    expect(await send(a, { type: 'deposit', accountId: 'm-1', amount: 5, transactionId: 'm-d1' })).toMatchObject({ kind: 'acked' });
    expect(await send(a, { type: 'withdraw', accountId: 'm-1', amount: 500, transactionId: 'm-w1' })).toMatchObject({ kind: 'refused', code: 'INSUFFICIENT_FUNDS' });
    expect(await send(b, { type: 'open', accountId: 'm-2', initialBalance: 0 })).toMatchObject({ kind: 'acked' });
    expect(await send(b, { type: 'transfer', from: 'm-1', to: 'm-2', amount: 3, transactionId: 'm-t1' })).toMatchObject({ kind: 'acked' });
    expect(await send(b, { type: 'withdraw', accountId: 'm-2', amount: 50, transactionId: 'm-w2' })).toMatchObject({ kind: 'refused', code: 'INSUFFICIENT_FUNDS' });
    expect(await send(b, { type: 'open', accountId: 'm-1', initialBalance: 0 })).toMatchObject({ kind: 'refused', code: 'ACCOUNT_ALREADY_EXISTS' });
    const { head, position } = await converged([a, b]);
    const lastSeq = (await jsm.streams.info('cl-metrics')).state.last_seq;
    expect(position).toBe(lastSeq);
    expect(head).toBe(4);

    const [ra, rb] = [await readyz(a), await readyz(b)];
    expect(ra).toEqual({ status: 200, body: { status: 'ready', head, cluster: { role: 'writer', nodeId: 'm-a', connected: true, tail: lastSeq, applied: lastSeq, failure: null } } });
    expect(rb).toEqual({ status: 200, body: { status: 'ready', head, cluster: { role: 'follower', nodeId: 'm-b', connected: true, tail: lastSeq, applied: lastSeq, failure: null } } });

    const ma = await scrape(a);
    const mb = await until('the follower to report no lag', async () => {
      const text = await scrape(b);
      return sample(text, 'evledger_replication_lag_batches') === 0 ? text : undefined;
    });
    expect(sample(ma, 'evledger_writer')).toBe(1);
    expect(sample(mb, 'evledger_writer')).toBe(0);
    for (const text of [ma, mb]) {
      expect(sample(text, 'evledger_nats_connected')).toBe(1);
      expect(sample(text, 'evledger_log_position')).toBe(lastSeq);
      expect(sample(text, 'evledger_replication_lag_batches')).toBe(0);
      expect(sample(text, 'evledger_head_sequence')).toBe(head);
    }
    // One round trip per mutation taken on that node (refused ones too): 3 on A, 4 on B.
    expect(sample(ma, 'evledger_command_round_trip_seconds_count')).toBe(3);
    expect(sample(mb, 'evledger_command_round_trip_seconds_count')).toBe(4);
    expect(sample(mb, 'evledger_command_round_trip_seconds_sum')).toBeGreaterThan(0);

    // The writer leaves (a clean stop gives the lease up): B takes over, says so, and decides commands itself.
    await nodes.stop(a);
    const leftAt = Date.now();
    await waitForWriter(b, 15_000);
    const takeover = Date.now() - leftAt;
    expect(takeover).toBeLessThan(10_000);
    expect(await send(b, { type: 'deposit', accountId: 'm-2', amount: 7, transactionId: 'm-d2' })).toEqual({ kind: 'acked', sequence: head + 1, replayed: false });
    const rb2 = await readyz(b);
    expect(rb2).toMatchObject({ status: 200, body: { status: 'ready', head: head + 1, cluster: { role: 'writer', nodeId: 'm-b', applied: lastSeq + 1, failure: null } } });
    const mb2 = await scrape(b);
    expect(sample(mb2, 'evledger_writer')).toBe(1);
    expect(sample(mb2, 'evledger_log_position')).toBe(lastSeq + 1);
    expect(sample(mb2, 'evledger_command_round_trip_seconds_count')).toBe(5);
  });

  it('a NATS server without JetStream: a ClusterError NATS_UNREACHABLE naming the URL and JetStream, in bounded time', { timeout: 30_000 }, async () => {
    const plain = await plainNats(NATS_SERVER);
    const { dir, remove } = await ownDir('evledger-cluster-nojs-');
    try {
      const startedAt = Date.now();
      const err = await startTServer({ dataDir: dir, cluster: { urls: plain.url, stream: 'cl-nojs', replicas: 1, nodeId: 'nojs' } }).then(
        async (server) => {
          await server.stop();
          return null;
        },
        (e: unknown) => e as Error,
      );
      // At once: the server says it has no JetStream when the client connects, no need to wait for it.
      const ms = Date.now() - startedAt;
      expect(ms).toBeLessThan(3_000);
      expect({ name: err?.name, code: (err as ClusterError | null)?.code, message: err?.message }).toMatchObject({
        name: 'ClusterError',
        code: 'NATS_UNREACHABLE',
        message: expect.stringMatching(/jetstream/i),
      });
      expect(err?.message).toContain(plain.url);
    } finally {
      await plain.close();
      await remove();
    }
  });

  it('a stream edited to expire or drop old batches (max_age, max_msgs with discard old) is refused with STREAM_FORMAT, not followed into a gap', { timeout: 40_000 }, async () => {
    // The stream as a node makes it, then edited the way an operator saving disk space might.
    const first = await nodes.start(nats.urls, 'cl-limits', 'l-a');
    await waitForWriter(first);
    expect(await send(first, { type: 'open', accountId: 'lim', initialBalance: 1 })).toMatchObject({ kind: 'acked' });
    await nodes.stop(first);
    const config = (await jsm.streams.info('cl-limits')).config;
    const edits = [
      { what: 'max_age 1 h', change: { max_age: 3_600e9 } },
      { what: 'max_msgs 2, discard old', change: { max_msgs: 2, discard: DiscardPolicy.Old } },
    ];
    const accepted: string[] = [];
    for (const { what, change } of edits) {
      await jsm.streams.update('cl-limits', { ...config, ...change });
      const startedAt = Date.now();
      const { dir, remove } = await ownDir('evledger-cluster-limits-');
      const outcome = await startTServer({ dataDir: dir, cluster: { urls: nats.urls, stream: 'cl-limits', replicas: 3, nodeId: 'l-b' } }).then(
        async (server) => {
          await server.stop();
          return null;
        },
        (err: unknown) => err as ClusterError,
      );
      await remove();
      expect(Date.now() - startedAt).toBeLessThan(10_000);
      if (outcome?.code !== 'STREAM_FORMAT') accepted.push(`${what}: ${outcome ? `${outcome.code} ${outcome.message}` : 'the node started on it'}`);
      await jsm.streams.update('cl-limits', config);
    }
    expect(accepted, 'streams that lose batches, taken as the log').toEqual([]);
  });

  it('start-up failures are clear errors in bounded time: NATS unreachable, a stream of another format, a store holding another log', { timeout: 60_000 }, async ({ annotate }) => {
    const dirs: { remove: () => Promise<void> }[] = [];
    const dir = async () => {
      const d = await ownDir('evledger-cluster-fail-');
      dirs.push(d);
      return d.dir;
    };
    /** Starts a node that must fail; returns the error and how long it took. */
    const failing = async (config: Parameters<typeof startTServer>[0]) => {
      const startedAt = Date.now();
      const err = await startTServer(config).then(
        async (server) => {
          await server.stop();
          return null;
        },
        (e: unknown) => e,
      );
      return { err: err as ClusterError | null, ms: Date.now() - startedAt };
    };
    // A server that takes the TCP connection and never speaks NATS: only the connect timeout ends that. The
    // server's config has no field for it (ClusterConfig: urls, stream, replicas, nodeId), so the default
    // (ClusterNode's connectTimeoutMs, 15 s) is what bounds it; it runs alongside the checks below.
    const silent = await silentServer();
    const hung = (async () => failing({ dataDir: await dir(), cluster: { urls: silent.url, stream: 'cl-silent', replicas: 3, nodeId: 'f-0' } }))();
    try {
      // NATS unreachable: ports nothing listens on (refused at once, no timeout needed).
      const ports = [await deadPort(), await deadPort()];
      const urls = ports.map((p) => `nats://127.0.0.1:${p}`);
      const unreachable = await failing({ dataDir: await dir(), cluster: { urls: urls.join(','), stream: 'cl-unreachable', replicas: 3, nodeId: 'f-1' } });
      expect(unreachable.err).toBeInstanceOf(ClusterError);
      expect(unreachable.err?.code).toBe('NATS_UNREACHABLE');
      for (const url of urls) expect(unreachable.err?.message).toContain(url);
      expect(unreachable.ms).toBeLessThan(DEFAULT_CONNECT_TIMEOUT_MS + 2_000);

      // A stream of the same name that is not an evledger log.
      await jsm.streams.add({ name: 'cl-format', subjects: ['cl-format.other'], storage: StorageType.File, num_replicas: 3 });
      const format = await failing({ dataDir: await dir(), cluster: { urls: nats.urls, stream: 'cl-format', replicas: 3, nodeId: 'f-2' } });
      expect(format.err).toBeInstanceOf(ClusterError);
      expect(format.err?.code).toBe('STREAM_FORMAT');
      expect(format.err?.message).toContain('cl-format');
      expect(format.ms).toBeLessThan(10_000);
      expect((await jsm.streams.info('cl-format')).config.subjects).toEqual(['cl-format.other']); // left as it was

      // A store written alone (no cluster), then pointed at a stream with a history of its own.
      const [w] = [await nodes.start(nats.urls, 'cl-mismatch', 'f-w')];
      await waitForWriter(w!);
      for (let i = 0; i < 3; i++) expect(await send(w!, { type: 'open', accountId: `mm-${i}`, initialBalance: i })).toMatchObject({ kind: 'acked' });
      const alone = await dir();
      const single = await startTServer({ dataDir: alone });
      for (let i = 0; i < 3; i++) expect(await send(single, { type: 'open', accountId: `other-${i}`, initialBalance: i })).toMatchObject({ kind: 'acked' });
      const aloneHead = single.app.store.head;
      await single.stop();
      const mismatch = await failing({ dataDir: alone, cluster: { urls: nats.urls, stream: 'cl-mismatch', replicas: 3, nodeId: 'f-3' } });
      expect(mismatch.err).toBeInstanceOf(ClusterError);
      expect(mismatch.err?.code).toBe('LOG_MISMATCH');
      expect(mismatch.err?.message).toContain(alone);
      expect(mismatch.err?.message).toContain('cl-mismatch');
      expect(mismatch.ms).toBeLessThan(10_000);
      // ...and against a stream with fewer batches than the store (a new, empty one).
      const fewer = await failing({ dataDir: alone, cluster: { urls: nats.urls, stream: 'cl-mismatch-empty', replicas: 3, nodeId: 'f-4' } });
      expect(fewer.err?.code).toBe('LOG_MISMATCH');
      expect(fewer.ms).toBeLessThan(10_000);
      // Refused, not touched: the store opens alone as it was, and the stream's writer goes on.
      const reopened = await startTServer({ dataDir: alone });
      expect(reopened.app.store.head).toBe(aloneHead);
      expect((await reopened.data(AccountDocument, { id: 'other-2' })).account?.balance).toBe(2);
      await reopened.stop();
      expect(await send(w!, { type: 'deposit', accountId: 'mm-1', amount: 1, transactionId: 'mm-after' })).toMatchObject({ kind: 'acked' });

      const timedOut = await hung;
      expect(timedOut.err).toBeInstanceOf(ClusterError);
      expect(timedOut.err?.code).toBe('NATS_UNREACHABLE');
      expect(timedOut.err?.message).toContain(silent.url);
      expect(timedOut.ms).toBeGreaterThanOrEqual(DEFAULT_CONNECT_TIMEOUT_MS - 100);
      expect(timedOut.ms).toBeLessThan(DEFAULT_CONNECT_TIMEOUT_MS + 3_000);
      await annotate(
        `NATS_UNREACHABLE after ${unreachable.ms} ms (refused port), ${timedOut.ms} ms (silent server: the default connect timeout); STREAM_FORMAT after ${format.ms} ms; LOG_MISMATCH after ${mismatch.ms} / ${fewer.ms} ms`,
      );
    } finally {
      await hung.catch(() => {});
      await silent.close();
      for (const d of dirs) await d.remove();
    }
  });
});

/** Waits for `n` messages; on timeout goes on, so the comparison that follows shows what is missing. */
async function settle(sub: Collected<unknown>, n: number, timeoutMs = 15_000): Promise<void> {
  await sub.waitFor(n, timeoutMs).catch(() => {});
  await sleep(100); // anything past n (a repeat) arrives too, and fails the comparison
}
const ev = (c: Collected<EventsSubSubscription>) => c.data.map((d) => d.events);
const au = (c: Collected<AccountUpdatesSubSubscription>) => c.data.map((d) => d.accountUpdates);
