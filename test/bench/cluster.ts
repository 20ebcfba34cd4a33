// The cluster bench (DESIGN §7, issue 11): in one run, over a real 3-node NATS JetStream cluster on
// loopback (R3, file storage) and in-process ClusterNodes —
//   ceiling   raw fenced JetStream publishes of the same bytes as the engine's log blocks;
//   single    the embedded store: bulk append and 64 concurrent callers (as engine.ts measures them);
//   cluster   2 ClusterNodes, each on its own thread (clusterPeer.ts): bulk through the writer, 64 callers split 32/32;
//   catch-up  an empty node joining: events/s applied until it reaches the stream's tail;
//   failover  3 SIGKILLs of the stream leader under a retrying writer: the longest gap between acks.
// Everything runs in this order; the later parts rest on the earlier ones, so there are no parts to pick.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { DiscardPolicy, RetentionPolicy, StorageType, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import type { Command } from '../../src/domain/commands.ts';
import { ClusterNode } from '../../src/cluster/clusterNode.ts';
import { HEADER, connectNats, streamTail } from '../../src/cluster/streamLog.ts';
import { LOG_START } from '../../src/store/keys.ts';
import { LedgerStore, type CommandResult } from '../../src/store/ledgerStore.ts';
import type { BatchOp } from '../../src/store/rocks.ts';
import { startNatsCluster, type NatsCluster } from '../support/natsCluster.ts';
import type { PeerData, PeerReply, PeerRequest } from './clusterPeer.ts';
import { Bench, now, percentile, progress, timed, type Section } from './report.ts';
import { appendInChunks, chunksOf, openCommands, workCommands } from './workload.ts';

const ACCOUNTS = 1_000;
const BULK = Number(process.env.BENCH_CLUSTER_BULK ?? 60_000);
const CONCURRENT_SINGLE = 20_000;
const CONCURRENT_CLUSTER = Number(process.env.BENCH_CLUSTER_CONCURRENT ?? 12_000);
const CEILING_MS = 3_000;
const STREAM = 'evledger-bench';
const CEILING_STREAM = 'evledger-bench-ceiling';
const FAILOVERS = 3;
/** A failover sample gives up when writes have not resumed this long after the kill. */
const RESUME_LIMIT_MS = 30_000;

type Execute = (commands: readonly Command[]) => Promise<CommandResult[]>;
/** appendInChunks only calls execute: a ClusterNode's execute stands in for the store's. */
const asStore = (execute: Execute) => ({ execute }) as unknown as LedgerStore;

const section: Section = {
  name: 'cluster',
  description: 'replicated log on a 3-node NATS JetStream cluster (R3): the publish ceiling, bulk and 64 callers vs the single node, catch-up, leader failover',
  async run(bench, parts) {
    if (parts.length > 0) throw new Error('the cluster section has no parts: its steps build on each other');
    const work = await mkdtemp(join(tmpdir(), 'evledger-bench-cluster-'));
    const started = now();
    let nats: NatsCluster | undefined;
    const nodes: ClusterNode[] = [];
    const peers: Peer[] = [];
    let nc: NatsConnection | undefined;
    const nodeLog: string[] = [];
    try {
      // --- single node --------------------------------------------------------------------------
      progress('  single node: bulk and 64 callers …');
      const blocks = { bulk: null as Buffer | null, bulkEvents: 0, small: null as Buffer | null, smallEvents: 0 };
      let capture: 'bulk' | 'small' | null = null;
      const single = await LedgerStore.open(join(work, 'single'), {
        beforeWrite: (ops) => {
          if (!capture) return;
          const block = logBlockOf(ops);
          if (!block) return;
          const events = block.readUInt32BE(1);
          if (capture === 'bulk' && events > blocks.bulkEvents) Object.assign(blocks, { bulk: Buffer.from(block), bulkEvents: events });
          // The 64-event block: the one nearest 64 events among the 64 callers' batches.
          if (capture === 'small' && Math.abs(events - 64) < Math.abs(blocks.smallEvents - 64)) Object.assign(blocks, { small: Buffer.from(block), smallEvents: events });
        },
      });
      const cpu = { singleBulk: NO_CPU, singleConcurrent: NO_CPU, clusterBulk: NO_CPU, clusterConcurrent: NO_CPU };
      let singleBulk: number;
      let singleConcurrent: number;
      try {
        await appendInChunks(single, chunksOf(openCommands(ACCOUNTS), 1_000), 1);
        await appendInChunks(single, chunksOf(workCommands(10_000, ACCOUNTS, 1), 1_000), 8); // warm-up
        capture = 'bulk';
        const bCpu = cpuNow(undefined);
        const b = await timed(() => appendInChunks(single, chunksOf(workCommands(BULK, ACCOUNTS, 2), 1_000), 8));
        cpu.singleBulk = cpuPerEvent(bCpu, undefined, b.result);
        singleBulk = b.result / b.seconds;
        capture = 'small';
        const cCpu = cpuNow(undefined);
        const c = await timed(() => callers([(cmds) => single.execute(cmds)], workCommands(CONCURRENT_SINGLE, ACCOUNTS, 3), 64));
        cpu.singleConcurrent = cpuPerEvent(cCpu, undefined, c.result);
        capture = null;
        singleConcurrent = c.result / c.seconds;
      } finally {
        await single.close();
      }
      if (!blocks.bulk || !blocks.small) throw new Error('captured no log blocks from the single-node runs');

      // --- the NATS cluster and the publish ceiling ---------------------------------------------
      progress('  starting 3 nats-servers …');
      nats = await startNatsCluster();
      nc = await connectNats(nats.urls, 'evledger bench', 15_000);
      const jsm = await jetstreamManager(nc, { timeout: 5_000 });
      const ceiling = await publishCeiling(nc, jsm, { bulk: blocks.bulk, small: blocks.small });

      // --- cluster: bulk and 64 callers --------------------------------------------------------
      progress('  cluster: 2 nodes, bulk and 64 callers …');
      const open = (id: string) =>
        ClusterNode.open(join(work, id), {}, {
          urls: nats!.urls,
          stream: STREAM,
          replicas: 3,
          nodeId: id,
          log: (level, message, details) => {
            if (level === 'info') return;
            const line = `node ${id} ${level}: ${message} ${details ? JSON.stringify(details) : ''}`;
            nodeLog.push(line);
            progress(`    [${line}]`);
          },
        });
      const a = await open('a');
      nodes.push(a);
      await until(() => a.status.role === 'writer', 20_000, 'node a to become the writer');
      const b = await startPeer(join(work, 'b'), { urls: nats.urls, stream: STREAM, replicas: 3, nodeId: 'b' }, (line) => {
        nodeLog.push(line);
        progress(`    [${line}]`);
      });
      peers.push(b);
      await appendInChunks(asStore((c) => a.execute(c)), chunksOf(openCommands(ACCOUNTS), 1_000), 1);
      await appendInChunks(asStore((c) => a.execute(c)), chunksOf(workCommands(10_000, ACCOUNTS, 11), 1_000), 8); // warm-up
      let at = { head: a.store.head, position: a.store.logPosition };
      const cbCpu = cpuNow(nats);
      const cb = await timed(() => appendInChunks(asStore((c) => a.execute(c)), chunksOf(workCommands(BULK, ACCOUNTS, 12), 1_000), 8));
      cpu.clusterBulk = cpuPerEvent(cbCpu, nats, cb.result);
      const clusterBulk = cb.result / cb.seconds;
      const bulkPerBatch = (a.store.head - at.head) / (a.store.logPosition - at.position);
      at = { head: a.store.head, position: a.store.logPosition };
      // 32 loops on each node, each node on its own thread, taking the next command from one shared
      // counter: 64 callers until the commands run out. (Half the commands each measured the faster
      // node's callers finishing first and 32 callers from then on.)
      const latencies: number[] = [];
      const forwarded: number[] = [];
      const work64 = workCommands(CONCURRENT_CLUSTER, ACCOUNTS, 13);
      const taken = new Int32Array(new SharedArrayBuffer(4));
      await b.load(work64, taken);
      const ccCpu = cpuNow(nats);
      const cc = await timed(async () => {
        const [onA, onB] = await Promise.all([
          callers([async (cmds: readonly Command[]) => {
            const t = now();
            const r = await a.execute(cmds);
            latencies.push(now() - t);
            return r;
          }], work64, 32, taken),
          b.callers(32),
        ]);
        forwarded.push(...onB.latencies);
        return onA + onB.appended;
      });
      const clusterConcurrent = cc.result / cc.seconds;
      cpu.clusterConcurrent = cpuPerEvent(ccCpu, nats, cc.result);
      const concurrentPerBatch = (a.store.head - at.head) / (a.store.logPosition - at.position);
      // Where the 64-caller time goes: the same 64 loops all on the writer node (no forwarding, no wait on a follower).
      const cw = await timed(() => callers([(cmds) => a.execute(cmds)], workCommands(CONCURRENT_CLUSTER / 2, ACCOUNTS, 14), 64));
      const writerConcurrent = cw.result / cw.seconds;
      latencies.sort((x, y) => x - y);
      forwarded.sort((x, y) => x - y);

      const ev = (value: number) => ({ value, unit: 'ev/s' });
      const g = bench.group('append: 2 ClusterNodes over JetStream R3 vs the embedded single node (same run, durability fsync)');
      bench.row(g, { measurement: 'cluster bulk: writer.execute(1,000 commands) ×8 in flight', figure: ev(clusterBulk), baselineName: 'single node bulk: store.execute(1,000) ×8', baseline: ev(singleBulk), ratio: 'percent', target: { on: 'ratio', op: '>=', value: 0.5 } });
      bench.row(g, { measurement: 'cluster bulk', figure: ev(clusterBulk), baselineName: `ceiling: fenced publishes of a ${kb(blocks.bulk)} block (implied)`, baseline: ev(ceiling.bulk.msgs * blocks.bulkEvents), ratio: 'percent' });
      bench.row(g, { measurement: 'cluster 64 callers (32 per node) execute([one])', figure: ev(clusterConcurrent), baselineName: 'single node: 64 loops of executeOne', baseline: ev(singleConcurrent), ratio: 'percent', target: { on: 'ratio', op: '>=', value: 0.5 } });
      bench.row(g, { measurement: 'cluster 64 callers', figure: ev(clusterConcurrent), baselineName: `ceiling: fenced publishes of a ${blocks.smallEvents}-event block (implied)`, baseline: ev(ceiling.small.msgs * blocks.smallEvents), ratio: 'percent' });
      bench.row(g, { measurement: 'cluster 64 callers, all 64 on the writer node', figure: ev(writerConcurrent), baselineName: 'single node: 64 loops of executeOne', baseline: ev(singleConcurrent), ratio: 'percent' });
      bench.row(g, { measurement: 'single node bulk', figure: ev(singleBulk), baselineName: `ceiling: fenced publishes of a ${kb(blocks.bulk)} block (implied)`, baseline: ev(ceiling.bulk.msgs * blocks.bulkEvents), ratio: 'percent' });
      bench.note(g, `events per published batch: bulk ${bulkPerBatch.toFixed(0)}, 64 callers ${concurrentPerBatch.toFixed(1)}; 64-caller latency p50/p99 on the writer ${percentile(latencies, 50).toFixed(1)}/${percentile(latencies, 99).toFixed(1)} ms, forwarded from the other node ${percentile(forwarded, 50).toFixed(1)}/${percentile(forwarded, 99).toFixed(1)} ms`);
      const us = (c: CpuPerEvent) => `${(c.own + c.nats).toFixed(1)} µs (${c.own.toFixed(1)} in the API nodes, ${c.nats.toFixed(1)} in the nats-servers)`;
      bench.note(g, `CPU per event, every process summed: bulk ${us(cpu.clusterBulk)} vs the single node's ${us(cpu.singleBulk)}; 64 callers ${us(cpu.clusterConcurrent)} vs ${us(cpu.singleConcurrent)}. All of it shares these ${availableParallelism()} cores`);
      bench.note(g, `per run: bulk ${BULK.toLocaleString('en-US')} commands, 64 callers ${CONCURRENT_SINGLE.toLocaleString('en-US')} (single) / ${CONCURRENT_CLUSTER.toLocaleString('en-US')} (cluster); ${ACCOUNTS} accounts; one round each (NATS runs on the same 2 cores)`);

      const gc = bench.group(`ceiling: raw fenced JetStream publishes (R3, file storage), sequential, expect.lastSequence + msgID, ${CEILING_MS / 1000} s each`);
      const msgs = (value: number) => ({ value, unit: 'msg/s' });
      const mbs = (value: number) => ({ value, unit: 'MB/s' });
      bench.row(gc, { measurement: `publish: bulk block (${kb(blocks.bulk)}, ${blocks.bulkEvents} events)`, figure: msgs(ceiling.bulk.msgs), baselineName: `publish: 64-caller block (${kb(blocks.small)}, ${blocks.smallEvents} events)`, baseline: msgs(ceiling.small.msgs), ratio: 'times' });
      bench.row(gc, { measurement: 'publish: bulk block, bytes', figure: mbs((ceiling.bulk.msgs * blocks.bulk.length) / 1e6), baselineName: 'publish: 64-caller block, bytes', baseline: mbs((ceiling.small.msgs * blocks.small.length) / 1e6), ratio: 'times' });
      bench.row(gc, { measurement: 'publish: bulk block, implied events', figure: ev(ceiling.bulk.msgs * blocks.bulkEvents), baselineName: 'single node bulk', baseline: ev(singleBulk), ratio: 'times' });
      bench.row(gc, { measurement: 'publish: 64-caller block, implied events', figure: ev(ceiling.small.msgs * blocks.smallEvents), baselineName: 'single node: 64 loops of executeOne', baseline: ev(singleConcurrent), ratio: 'times' });
      bench.note(gc, `publish latency p50/p99: bulk block ${ceiling.bulk.p50.toFixed(2)}/${ceiling.bulk.p99.toFixed(2)} ms, 64-caller block ${ceiling.small.p50.toFixed(2)}/${ceiling.small.p99.toFixed(2)} ms; the same headers as the StreamLog's (format, first, last, hash)`);

      // --- catch-up ----------------------------------------------------------------------------
      progress('  catch-up: an empty node joins …');
      const tail = await streamTail(jsm, STREAM);
      const read = await timed(() => readStream(nc!, STREAM, tail));
      let openedAt = 0;
      let positionAtOpen = 0;
      let headAtOpen = 0;
      const joined = await timed(async () => {
        const c = await open('c');
        openedAt = now();
        positionAtOpen = c.store.logPosition;
        headAtOpen = c.store.head;
        nodes.push(c);
        await until(() => c.store.logPosition >= tail, 120_000, 'node c to catch up', 5);
        return c;
      });
      const afterOpen = (now() - openedAt) / 1000;
      const joinedEvents = joined.result.store.head;
      const gu = bench.group(`catch-up: an empty ClusterNode joins a stream of ${tail.toLocaleString('en-US')} batches (${joinedEvents.toLocaleString('en-US')} events)`);
      bench.row(gu, {
        measurement: 'ClusterNode.open(empty dir) until logPosition = stream tail',
        figure: ev(joinedEvents / joined.seconds),
        baselineName: 'raw: an ordered consumer reading the stream',
        baseline: ev(read.result / read.seconds),
        ratio: 'percent',
        target: { on: 'figure', op: '>=', value: 50_000 },
      });
      bench.row(gu, { measurement: 'the same, from open() returning until the tail', figure: ev((joinedEvents - headAtOpen) / afterOpen), baselineName: 'raw: an ordered consumer reading the stream', baseline: ev(read.result / read.seconds), ratio: 'percent' });
      bench.note(gu, `${joined.seconds.toFixed(2)} s from open to the tail (includes connecting, the stream check and the lease), of which ${(joined.seconds - afterOpen).toFixed(2)} s in open() (${positionAtOpen} batches applied when it returned); the raw read took ${read.seconds.toFixed(2)} s; ${joined.result.store.headHash.equals(a.store.headHash) ? 'same head hash as the writer' : '!!! the head hash differs from the writer'}`);

      // --- failover ----------------------------------------------------------------------------
      const outages: number[] = [];
      let steadyGap = 0;
      const gf = bench.group(`failover: SIGKILL the stream leader ${FAILOVERS}× while one caller submits (retrying the same command on error)`);
      for (let i = 0; i <= FAILOVERS; i++) {
        const kill = i > 0;
        progress(kill ? `  failover ${i}/${FAILOVERS} …` : '  failover: a window without a kill, for the baseline …');
        const r = await outage(nats, a, kill, workCommands(50_000, ACCOUNTS, 100 + i));
        if (r.stuck) {
          outages.push(r.gap);
          bench.note(gf, `!!! kill ${i}: leader ${r.killed} killed; writes did not resume within ${RESUME_LIMIT_MS / 1000} s (${r.errors} errors retried, first: ${r.firstError ?? 'none'}); the remaining kills were not run. Node log: ${nodeLog.join(' | ') || '(nothing)'}`);
          break;
        }
        if (!kill) steadyGap = r.gap;
        else {
          outages.push(r.gap);
          bench.note(gf, `kill ${i}: leader ${r.killed} killed (then led by ${r.leaderAfter}); longest gap between acks ${r.gap.toFixed(0)} ms; ${r.errors} errors retried (${r.firstError ?? 'none'}); ${r.acks} acks; killed server back and caught up in ${r.rejoin.toFixed(1)} s`);
        }
      }
      if (outages.length === 0) outages.push(NaN);
      const sorted = [...outages].sort((x, y) => x - y);
      const s = (value: number) => ({ value: value / 1000, unit: 's' });
      for (const [k, o] of outages.entries()) bench.row(gf, { measurement: `outage, leader kill ${k + 1}`, figure: s(o), baselineName: 'longest ack gap, no kill', baseline: s(steadyGap), ratio: 'times' });
      bench.row(gf, { measurement: `outage median of ${outages.length} kill(s) (${FAILOVERS} planned)`, figure: s(sorted[Math.floor(sorted.length / 2)]!), baselineName: 'longest ack gap, no kill', baseline: s(steadyGap), ratio: 'times', target: { on: 'figure', op: '<', value: 10 } });
      bench.note(gf, `outage = the longest gap between two acknowledgements from 1 s before the kill until 2 s after writes resumed; a.execute on node ${a.nodeId} (the writer before the kills); whole section ${((now() - started) / 1000).toFixed(0)} s`);
    } finally {
      for (const peer of peers) await peer.close().catch((err) => progress(`  closing a peer: ${(err as Error).message}`));
      for (const node of nodes.reverse()) await node.close().catch((err) => progress(`  closing ${node.nodeId}: ${(err as Error).message}`));
      await nc?.close().catch(() => {});
      await nats?.close();
      await rm(work, { recursive: true, force: true });
    }
  },
};
export default section;

// --- pieces --------------------------------------------------------------------------------------

interface CpuPerEvent {
  /** µs per event in this process (the API nodes, their threads) and in the nats-servers. */
  readonly own: number;
  readonly nats: number;
}
const NO_CPU: CpuPerEvent = { own: NaN, nats: NaN };

/** CPU seconds so far: this process's, and the nats-servers' (from /proc, in clock ticks of 10 ms). */
function cpuNow(nats: NatsCluster | undefined): { own: NodeJS.CpuUsage; nats: number } {
  let ticks = 0;
  for (const node of nats?.nodes ?? []) {
    try {
      const fields = readFileSync(`/proc/${node.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // not running
    }
  }
  return { own: process.cpuUsage(), nats: ticks / 100 };
}

function cpuPerEvent(from: ReturnType<typeof cpuNow>, nats: NatsCluster | undefined, events: number): CpuPerEvent {
  const now = cpuNow(nats);
  const own = process.cpuUsage(from.own);
  return { own: (own.user + own.system) / events, nats: ((now.nats - from.nats) * 1e6) / events };
}

interface Peer {
  /** Hands the peer the commands and the counter its callers take them by (shared with this thread's). */
  load(commands: readonly Command[], taken: Int32Array<ArrayBufferLike>): Promise<void>;
  callers(lanes: number): Promise<{ appended: number; latencies: number[] }>;
  close(): Promise<void>;
}

/** A ClusterNode in a worker thread (clusterPeer.ts), once it has opened. */
async function startPeer(dataDir: string, cluster: PeerData['cluster'], log: (line: string) => void): Promise<Peer> {
  // A worker does not inherit tsx's loader: its first module registers it, then loads the peer.
  const boot = `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))}; register(); await import(${JSON.stringify(new URL('./clusterPeer.ts', import.meta.url).href)});`;
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { workerData: { dataDir, cluster } satisfies PeerData });
  let waiting: { resolve: (reply: PeerReply) => void; reject: (err: Error) => void } | null = null;
  const next = () => new Promise<PeerReply>((resolve, reject) => (waiting = { resolve, reject }));
  worker.on('message', (reply: PeerReply) => {
    if (reply.type === 'log') return log(reply.line);
    if (reply.type === 'failed') waiting?.reject(new Error(`peer ${cluster.nodeId}: ${reply.message}`));
    else waiting?.resolve(reply);
  });
  worker.on('error', (err) => waiting?.reject(err));
  await next();
  return {
    async load(commands, taken) {
      const reply = next();
      worker.postMessage({ type: 'load', commands, taken } satisfies PeerRequest);
      if ((await reply).type !== 'loaded') throw new Error(`peer ${cluster.nodeId} did not load the commands`);
    },
    async callers(lanes) {
      const reply = next();
      worker.postMessage({ type: 'callers', lanes } satisfies PeerRequest);
      const r = await reply;
      if (r.type !== 'callers') throw new Error(`peer ${cluster.nodeId} answered ${r.type}`);
      return r;
    },
    async close() {
      const reply = next();
      worker.postMessage({ type: 'close' } satisfies PeerRequest);
      await reply;
      await worker.terminate();
    },
  };
}

/** The log block of one of the engine's batches (the one L key's value), or null. */
function logBlockOf(ops: readonly BatchOp[]): Buffer | null {
  for (const op of ops) if (op.type === 'put' && op.key[0] === LOG_START[0] && op.key.length === LOG_START.length) return op.value;
  return null;
}

const kb = (b: Buffer) => `${(b.length / 1024).toFixed(0)} KiB`;

/**
 * `lanes` loops split evenly over `executes`, each awaiting one command at a time until the commands
 * run out; the next one is `taken`'s count, when another thread's callers share the commands.
 */
async function callers(executes: readonly Execute[], commands: readonly Command[], lanes: number, taken: Int32Array<ArrayBufferLike> = new Int32Array(1)): Promise<number> {
  let appended = 0;
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      const execute = executes[lane % executes.length]!;
      for (let i = Atomics.add(taken, 0, 1); i < commands.length; i = Atomics.add(taken, 0, 1)) {
        const [result] = await execute([commands[i]!]);
        if (!result!.ok) throw new Error(`bench workload refused: ${JSON.stringify(result!.error)}`);
        appended++;
      }
    }),
  );
  return appended;
}

interface PublishRate {
  msgs: number;
  p50: number;
  p99: number;
}

/** Sequential fenced publishes of each block for CEILING_MS, into a stream of its own. */
async function publishCeiling(nc: NatsConnection, jsm: JetStreamManager, blocks: { bulk: Buffer; small: Buffer }): Promise<{ bulk: PublishRate; small: PublishRate }> {
  const subject = `${CEILING_STREAM}.log`;
  await until(
    async () =>
      jsm.streams
        .add({ name: CEILING_STREAM, subjects: [subject], storage: StorageType.File, num_replicas: 3, retention: RetentionPolicy.Limits, discard: DiscardPolicy.New, duplicate_window: 120e9 })
        .then(() => true)
        .catch(() => false),
    20_000,
    'the ceiling stream',
  );
  const js = jetstream(nc, { timeout: 5_000 });
  let last = 0;
  const run = async (block: Buffer): Promise<PublishRate> => {
    const lat: number[] = [];
    // Warm-up, then the timed window.
    for (const ms of [500, CEILING_MS]) {
      lat.length = 0;
      const start = now();
      while (now() - start < ms) {
        const h = headers();
        h.set(HEADER.format, '1');
        h.set(HEADER.first, String(last * 1000 + 1));
        h.set(HEADER.last, String(last * 1000 + 1000));
        h.set(HEADER.hash, randomBytes(32).toString('hex'));
        const t = now();
        const ack = await js.publish(subject, block, { msgID: h.get(HEADER.hash), expect: { lastSequence: last }, headers: h, timeout: 5_000 });
        lat.push(now() - t);
        last = ack.seq;
      }
    }
    const seconds = lat.reduce((x, y) => x + y, 0) / 1000;
    lat.sort((x, y) => x - y);
    return { msgs: lat.length / seconds, p50: percentile(lat, 50), p99: percentile(lat, 99) };
  };
  progress('  ceiling: fenced publishes …');
  const bulk = await run(blocks.bulk);
  const small = await run(blocks.small);
  await jsm.streams.delete(CEILING_STREAM).catch(() => {});
  return { bulk, small };
}

/** Reads the whole stream with an ordered consumer; returns the events it holds (from the Last header). */
async function readStream(nc: NatsConnection, stream: string, tail: number): Promise<number> {
  const js = jetstream(nc, { timeout: 5_000 });
  const consumer = await js.consumers.get(stream);
  const messages = await consumer.consume({ max_messages: 512 });
  let events = 0;
  for await (const m of messages) {
    events = Number(m.headers?.get(HEADER.last) ?? events);
    if (m.seq >= tail) break;
  }
  messages.stop();
  return events;
}

/**
 * One caller submitting one command at a time through `node`, retrying the same command on any error;
 * with `kill`, the stream leader is SIGKILLed after a second of steady acks, then restarted once writes
 * resumed, and waited for until it is a current replica again.
 */
async function outage(nats: NatsCluster, node: ClusterNode, kill: boolean, commands: readonly Command[]) {
  const acks: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let stop = false;
  const writer = (async () => {
    for (const command of commands) {
      if (stop) return;
      for (;;) {
        try {
          const [r] = await node.execute([command]);
          if (!r!.ok) throw new Error(`bench workload refused: ${JSON.stringify(r!.error)}`);
          acks.push(now());
          break;
        } catch (err) {
          if (String((err as Error).message).startsWith('bench workload refused')) throw err;
          errors++;
          firstError ??= (err as Error).message.slice(0, 120);
          if (stop) return;
          await sleep(20);
        }
      }
    }
  })();
  await sleep(1_000);
  // Writes must be flowing before anything is killed: the cluster may still be settling from the kill before.
  await until(() => acks.length >= 20 && now() - acks[acks.length - 1]! < 100, RESUME_LIMIT_MS, 'steady writes before the kill', 10);
  const from = now();
  errors = 0;
  firstError = undefined;
  let killed = '-';
  let leaderAfter = '-';
  let rejoin = 0;
  if (kill) {
    const leader = await nats.streamLeader(STREAM);
    killed = leader.name;
    const killedAt = now();
    await leader.kill('SIGKILL');
    const resumed = await until(() => acks.length > 0 && acks[acks.length - 1]! > killedAt, RESUME_LIMIT_MS, 'writes to resume after the leader kill').then(
      () => true,
      () => false,
    );
    if (!resumed) {
      const gap = now() - Math.max(killedAt, acks[acks.length - 1] ?? killedAt);
      stop = true;
      await leader.restart().catch(() => {});
      await Promise.race([writer, sleep(20_000)]);
      return { gap, errors, firstError, acks: acks.length, killed, leaderAfter, rejoin: 0, stuck: true };
    }
    await sleep(2_000);
    stop = true;
    await writer;
    leaderAfter = (await nats.streamLeader(STREAM)).name;
    const back = now();
    await leader.restart();
    await nats.waitForJetStream();
    await until(() => replicasCurrent(nats), 60_000, `${leader.name} to catch up`);
    rejoin = (now() - back) / 1000;
  } else {
    await sleep(3_000);
    stop = true;
    await writer;
  }
  // From the last ack before the window on: a caller already stuck when the window opened counts too.
  const firstIn = acks.findIndex((t) => t >= from - 1_000);
  const window = firstIn < 0 ? acks.slice(-1) : acks.slice(Math.max(0, firstIn - 1));
  let gap = 0;
  for (let i = 1; i < window.length; i++) gap = Math.max(gap, window[i]! - window[i - 1]!);
  return { gap, errors, firstError, acks: window.length, killed, leaderAfter, rejoin, stuck: false };
}

/** The stream has a leader and every other replica is current. */
async function replicasCurrent(nats: NatsCluster): Promise<boolean> {
  let nc: NatsConnection | undefined;
  try {
    nc = await connectNats(nats.urls, 'evledger bench probe', 2_000);
    const jsm = await jetstreamManager(nc, { timeout: 1_000, checkAPI: false });
    const cluster = (await jsm.streams.info(STREAM)).cluster;
    return !!cluster?.leader && (cluster.replicas ?? []).length === nats.nodes.length - 1 && (cluster.replicas ?? []).every((r) => r.current);
  } catch {
    return false;
  } finally {
    await nc?.close().catch(() => {});
  }
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
