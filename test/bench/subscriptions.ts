// The subscriptions bench: live fan-out over graphql-ws while the engine ingests.
//
//   (a) ledger    CLIENTS graphql-ws clients on the same `ledgerUpdates` operation, the writer running
//                 store.execute at LEDGER_RATE calls/s of LEDGER_COMMANDS commands each, up to
//                 LEDGER_IN_FLIGHT at once (one message per committed batch; calls the server cannot
//                 take are skipped and counted, "held back").
//   (b) account   CLIENTS clients, client i on `accountUpdates` for account i alone, the writer
//                 depositing ACCOUNT_EVENTS events/s round-robin over those accounts.
//   (c) baseline  the same as (a) against a stock server: graphql-yoga + graphql-ws (createYoga +
//                 useServer from graphql-ws/use/ws, as yoga's graphql-ws example) with a schema of the
//                 same LedgerUpdate shape whose subscription is yoga's createPubSub: the same ledger
//                 store and writer, and the same payloads published on each commit, executed once per
//                 subscriber per event (stock behaviour).
//
// Parts (`npm run bench -- subscriptions:ledger,baseline`): ledger, account, baseline. Env:
// BENCH_SUB_SECONDS (timed window per scenario, default 12), BENCH_SUB_CLIENTS (default 1000),
// BENCH_SUB_LEDGER_RATE (store.execute calls/s in (a)/(c), default 200), BENCH_SUB_ACCOUNT_EVENTS
// (deposits/s in (b), default 2000), BENCH_SUB_CPU_PROF (a directory: a .cpuprofile of the server
// process over each scenario's timed window, for Chrome DevTools or speedscope),
// BENCH_SUB_CLIENT_NODE_FLAGS (node flags for the clients' process).
//
// Servers and the writer run in this process (so `node --cpu-prof` on the bench profiles them); the
// clients run in a child process (subscriptionClients.ts), so their work is not the server's. Next to
// the rates, the server's main-thread CPU per delivered message (the writer's work included): on a
// shared machine the rates move with the share of a core each run gets, that figure much less. Delivery latency
// is receive time (child) − commit time (here: the moment the store announces the batch durable,
// taken before any subscriber's listener runs), both wall-clock on the same machine. A merged message
// counts from its oldest batch; what was committed in the window and never arrived counts as late as
// the moment the figures were asked for.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setMaxListeners } from 'node:events';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { GraphQLScalarType } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createPubSub, createSchema, createYoga } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { Command } from '../../src/domain/commands.ts';
import { money } from '../../src/domain/types.ts';
import { ChangeFeed } from '../../src/live/changeFeed.ts';
import { ledgerUpdatesTopic, type LedgerUpdate } from '../../src/live/topics.ts';
import { buildApp } from '../../src/server/app.ts';
import { DEFAULT_CONFIG } from '../../src/server/config.ts';
import { LedgerStore, type Commit } from '../../src/store/ledgerStore.ts';
import { Bench, fmt, progress, type Section } from './report.ts';
import type { ClientMode, ClientReport, ReportRequest } from './subscriptionClients.ts';
import { accountId, appendInChunks, chunksOf, openCommands, workCommands } from './workload.ts';

const SECONDS = Math.max(1, Number(process.env.BENCH_SUB_SECONDS ?? 12));
const CLIENTS = Math.max(1, Number(process.env.BENCH_SUB_CLIENTS ?? 1_000));
const LEDGER_RATE = Math.max(1, Number(process.env.BENCH_SUB_LEDGER_RATE ?? 200));
const LEDGER_COMMANDS = 10;
const ACCOUNT_EVENTS = Math.max(1, Number(process.env.BENCH_SUB_ACCOUNT_EVENTS ?? 2_000));
/** Deposits per store.execute call in (b): 2,000/s in 100 calls/s. */
const ACCOUNT_CHUNK = 20;
const ACCOUNTS = Math.max(1_000, CLIENTS);
const WARM_UP_MS = 2_000;
const DRAIN_MS = 5_000;
const TICK_MS = 5;
/**
 * Writer calls in flight before the writer holds back (skips calls: the server is behind). For
 * ledgerUpdates kept at 2, so group commit merges at most two calls into one batch: with more, a server
 * that falls behind gets ever bigger batches, so ever bigger messages, and falls further behind (and the
 * comparison with the baseline would depend on how far). For accountUpdates a message is an event
 * however batches merge, so more may be in flight to ride out a slow fsync.
 */
const LEDGER_IN_FLIGHT = 2;
const ACCOUNT_IN_FLIGHT = 8;
const NODE_FLAGS = (process.env.BENCH_SUB_CLIENT_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
/** A directory: write a CPU profile of this (the server) process for each scenario's timed window. */
const CPU_PROF_DIR = process.env.BENCH_SUB_CPU_PROF;
const PARTS = ['ledger', 'account', 'baseline'] as const;

const TARGET_LEDGER_P99_MS = 250;
const TARGET_ACCOUNT_P99_MS = 100;
const TARGET_RATIO = 5;

const section: Section = {
  name: 'subscriptions',
  description:
    `graphql-ws fan-out while ingesting, ${CLIENTS.toLocaleString('en-US')} clients × ${SECONDS} s: ledgerUpdates (one operation) vs a stock ` +
    `yoga + graphql-ws + createPubSub server, and accountUpdates (one account each) at ${ACCOUNT_EVENTS.toLocaleString('en-US')} events/s`,
  async run(bench, parts) {
    const unknown = parts.filter((p) => !(PARTS as readonly string[]).includes(p));
    if (unknown.length > 0) throw new Error(`unknown subscriptions part(s) ${unknown.join(', ')}; parts: ${PARTS.join(', ')}`);
    const wants = (p: (typeof PARTS)[number]) => parts.length === 0 || parts.includes(p);
    const work = await mkdtemp(join(tmpdir(), 'evledger-bench-sub-'));
    try {
      const ledger = wants('ledger') ? await withApp(join(work, 'ledger'), (app) => scenario('(a) ledgerUpdates, evledger', app, 'ledger', ledgerWriter)) : null;
      const account = wants('account') ? await withApp(join(work, 'account'), (app) => scenario('(b) accountUpdates, evledger', app, 'account', accountWriter)) : null;
      const baseline = wants('baseline') ? await withBaseline(join(work, 'baseline'), (app) => scenario('(c) ledgerUpdates, stock yoga + graphql-ws', app, 'ledger', ledgerWriter)) : null;
      report(bench, ledger, account, baseline);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  },
};
export default section;

// --- reporting -------------------------------------------------------------------------------------

function report(bench: Bench, a: Result | null, b: Result | null, c: Result | null): void {
  const ms = (value: number) => ({ value, unit: 'ms' });
  const rate = (value: number) => ({ value, unit: 'msg/s' });
  const us = (value: number) => ({ value, unit: 'µs' });
  if (a || c) {
    const g = bench.group(
      `ledgerUpdates: ${CLIENTS.toLocaleString('en-US')} graphql-ws clients on one operation, writer at ${LEDGER_RATE} store.execute calls/s × ${LEDGER_COMMANDS} commands`,
    );
    if (a && c) {
      bench.row(g, { measurement: '(a) evledger delivered messages/s', figure: rate(a.rate), baselineName: '(c) stock yoga + graphql-ws + pubsub', baseline: rate(c.rate), ratio: 'times', target: { on: 'ratio', op: '>=', value: TARGET_RATIO } });
      bench.row(g, { measurement: '(a) evledger delivery latency p50', figure: ms(a.client.p50), baselineName: '(c) stock yoga + graphql-ws + pubsub', baseline: ms(c.client.p50), ratio: 'times' });
      bench.row(g, { measurement: '(a) evledger delivery latency p99', figure: ms(a.client.p99), baselineName: '(c) stock yoga + graphql-ws + pubsub', baseline: ms(c.client.p99), ratio: 'times', target: { on: 'figure', op: '<', value: TARGET_LEDGER_P99_MS } });
      // Steadier than the rates on a shared machine: other work takes the core away, but adds nothing to this.
      bench.row(g, { measurement: '(a) server main-thread CPU per delivered message', figure: us(a.cpuPerMessage), baselineName: '(c) stock yoga + graphql-ws + pubsub', baseline: us(c.cpuPerMessage), ratio: 'times' });
    }
    for (const [name, r] of [['(a) evledger', a], ['(c) stock', c]] as const) {
      if (!r) continue;
      bench.row(g, { measurement: `${name} delivered messages/s`, figure: rate(r.rate), baselineName: 'offered: committed batches/s × clients', baseline: rate(r.offered), ratio: 'percent' });
      if (!(a && c)) {
        bench.row(g, { measurement: `${name} delivery latency p50`, figure: ms(r.client.p50), baselineName: 'writer store.execute p50', baseline: ms(r.writer.p50), ratio: 'times' });
        bench.row(g, { measurement: `${name} delivery latency p99`, figure: ms(r.client.p99), baselineName: 'writer store.execute p99', baseline: ms(r.writer.p99), ratio: 'times', ...(r === a ? { target: { on: 'figure' as const, op: '<' as const, value: TARGET_LEDGER_P99_MS } } : {}) });
      }
    }
    for (const r of [a, c]) if (r) for (const n of r.notes) bench.note(g, n);
  }
  if (b) {
    const g = bench.group(`accountUpdates: ${CLIENTS.toLocaleString('en-US')} graphql-ws clients, one account each, writer at ${ACCOUNT_EVENTS.toLocaleString('en-US')} deposits/s round-robin`);
    bench.row(g, { measurement: '(b) evledger delivered messages/s', figure: rate(b.rate), baselineName: 'offered: committed deposits/s', baseline: rate(b.offered), ratio: 'percent' });
    bench.row(g, { measurement: '(b) evledger delivery latency p50', figure: ms(b.client.p50), baselineName: 'writer store.execute p50 (same run)', baseline: ms(b.writer.p50), ratio: 'times' });
    bench.row(g, { measurement: '(b) evledger delivery latency p99', figure: ms(b.client.p99), baselineName: 'writer store.execute p99 (same run)', baseline: ms(b.writer.p99), ratio: 'times', target: { on: 'figure', op: '<', value: TARGET_ACCOUNT_P99_MS } });
    for (const n of b.notes) bench.note(g, n);
  }
}

// --- one scenario ----------------------------------------------------------------------------------

interface Target {
  readonly wsUrl: string;
  readonly store: LedgerStore;
}

interface Result {
  readonly client: ClientReport;
  /** Messages received in the window per second. */
  readonly rate: number;
  /** What the clients should have received per second: committed batches (or deposits) × their subscribers. */
  readonly offered: number;
  readonly writer: { p50: number; p99: number };
  /** Main-thread CPU of this (the server's) process per delivered message, in µs; includes the writer. */
  readonly cpuPerMessage: number;
  readonly notes: string[];
}

type WriterFactory = (call: number) => Command[];
interface WriterKind {
  readonly callsPerSecond: number;
  readonly maxInFlight: number;
  readonly make: WriterFactory;
  readonly describe: string;
}

const ledgerWriter: WriterKind = {
  callsPerSecond: LEDGER_RATE,
  maxInFlight: LEDGER_IN_FLIGHT,
  make: (call) => workCommands(LEDGER_COMMANDS, ACCOUNTS, 10_000 + call),
  describe: `${LEDGER_RATE} calls/s × ${LEDGER_COMMANDS} deposits/transfers`,
};

const accountWriter: WriterKind = {
  callsPerSecond: ACCOUNT_EVENTS / ACCOUNT_CHUNK,
  maxInFlight: ACCOUNT_IN_FLIGHT,
  make: (call) =>
    Array.from({ length: ACCOUNT_CHUNK }, (_, k) => ({
      type: 'Deposit' as const,
      accountId: accountId((call * ACCOUNT_CHUNK + k) % CLIENTS),
      amount: money(1 + ((call + k) % 1000)),
      transactionId: randomUUID(),
    })),
  describe: `${ACCOUNT_EVENTS / ACCOUNT_CHUNK} calls/s × ${ACCOUNT_CHUNK} deposits`,
};

const wallNow = () => performance.timeOrigin + performance.now();

async function scenario(name: string, target: Target, mode: ClientMode, kind: WriterKind): Promise<Result> {
  const { store } = target;
  progress(`  ${name}: opening ${ACCOUNTS.toLocaleString('en-US')} accounts`);
  await appendInChunks(store, chunksOf(openCommands(ACCOUNTS), 500), 1);

  // Commit times, taken first thing when the store announces a batch (before the live hub's listener).
  const batches = { from: [] as number[], to: [] as number[], at: [] as number[] };
  const events = { sequence: [] as number[], account: [] as number[], at: [] as number[] };
  const stopRecording = firstCommitListener(store, (commit) => {
    const at = wallNow();
    batches.from.push(commit.fromSequence);
    batches.to.push(commit.toSequence);
    batches.at.push(at);
    if (mode === 'account') {
      for (const e of commit.events) {
        if (e.type !== 'DEPOSITED') continue;
        events.sequence.push(e.sequence);
        events.account.push(Number(e.data.accountId.slice(e.data.accountId.lastIndexOf('-') + 1)));
        events.at.push(at);
      }
    }
  });

  const clients = await Clients.spawn(target.wsUrl, CLIENTS, mode);
  const writer = new PacedWriter(store, kind);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  try {
    await clients.subscribed;
    progress(`  ${name}: ${CLIENTS.toLocaleString('en-US')} clients subscribed; writer at ${kind.describe}`);
    writer.start();
    const live = await waitFor(async () => {
      const s = await clients.status();
      if (s.errors > 0) throw new Error(`clients failed: ${s.firstError}`);
      return s.clientsWithMessages === CLIENTS;
    }, 30_000);
    if (!live) {
      const s = await clients.status();
      throw new Error(`${name}: only ${s.clientsWithMessages} of ${CLIENTS} clients got a message within 30 s of the writer starting`);
    }
    await sleep(WARM_UP_MS);

    progress(`  ${name}: ${SECONDS} s timed`);
    clients.send({ type: 'mark' });
    writer.resetLatencies();
    loopDelay.enable();
    const profiler = CPU_PROF_DIR ? await startProfile() : null;
    const load0 = loadavg()[0]!;
    const cpu0 = await cpuTimes(process.pid);
    const heap0 = process.memoryUsage().heapUsed;
    const start = wallNow();
    const rss0 = process.memoryUsage().rss;
    await sleep(SECONDS * 1000);
    const end = wallNow();
    const cpu1 = await cpuTimes(process.pid);
    const load1 = loadavg()[0]!;
    if (profiler) await profiler.stop(join(CPU_PROF_DIR!, `${name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '')}.cpuprofile`));
    loopDelay.disable();
    const memory = process.memoryUsage();
    const writerStats = writer.latencies();
    await writer.stop();

    // Let what is in flight arrive: until the clients' count stops moving for a second, at most DRAIN_MS.
    const drainStart = Date.now();
    let last = -1;
    let stableSince = Date.now();
    while (Date.now() - drainStart < DRAIN_MS) {
      const { received } = await clients.status();
      if (received !== last) {
        last = received;
        stableSince = Date.now();
      } else if (Date.now() - stableSince >= 1_000) break;
      await sleep(100);
    }

    const inWindow = (t: number) => t >= start && t <= end;
    const windowBatches = batches.at.filter(inWindow).length;
    const windowEvents = { sequence: [] as number[], account: [] as number[] };
    events.at.forEach((t, i) => {
      if (!inWindow(t)) return;
      windowEvents.sequence.push(events.sequence[i]!);
      windowEvents.account.push(events.account[i]!);
    });
    const request: ReportRequest = { batches, windowStart: start, windowEnd: end, ...(mode === 'account' ? { windowEvents } : {}) };
    const client = await clients.report(request);
    const seconds = (end - start) / 1000;
    const rate = client.receivedInWindow / seconds;
    const windowSequences = (() => {
      const first = batches.at.findIndex(inWindow);
      const lastIdx = batches.at.findLastIndex(inWindow);
      return first < 0 ? 0 : batches.to[lastIdx]! - batches.from[first]! + 1;
    })();
    const offered = mode === 'ledger' ? (windowBatches * CLIENTS) / seconds : windowEvents.sequence.filter((_, i) => windowEvents.account[i]! < CLIENTS).length / seconds;

    const notes = [
      `${name}: ${client.receivedInWindow.toLocaleString('en-US')} messages in ${seconds.toFixed(1)} s; ${windowBatches.toLocaleString('en-US')} batches committed ` +
        `(${Math.round(windowBatches / seconds)}/s, ${Math.round(windowSequences / seconds).toLocaleString('en-US')} events/s, writer: ${kind.describe}` +
        `${writer.heldBack > 0 ? `, held back ${writer.heldBack} calls with ${kind.maxInFlight} in flight` : ''}); ` +
        `latency over ${client.samples.toLocaleString('en-US')} deliveries committed in the window: p50 ${fmt({ value: client.p50, unit: 'ms' })}, p99 ${fmt({ value: client.p99, unit: 'ms' })}, max ${fmt({ value: client.max, unit: 'ms' })}` +
        `${client.undelivered > 0 ? `; ${client.undelivered.toLocaleString('en-US')} never arrived within ${DRAIN_MS / 1000} s (counted as late as the report)` : ''}` +
        `${client.coalesced > 0 ? `; ${client.coalesced.toLocaleString('en-US')} merged messages (slow subscribers)` : ''}` +
        `${client.errors > 0 ? `; ${client.errors} client errors, first: ${client.firstError}` : ''}`,
      `${name}: server process main thread ${cpu0 && cpu1 ? `${Math.round(((cpu1.main - cpu0.main) / (end - start)) * 100)} %` : '?'} of a core ` +
        `(all threads ${cpu0 && cpu1 ? `${Math.round(((cpu1.process - cpu0.process) / (end - start)) * 100)} %` : '?'}), event-loop delay p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms, ` +
        `heap ${mb(heap0)} → ${mb(memory.heapUsed)} MiB, RSS ${mb(rss0)} → ${mb(memory.rss)} MiB; clients' process ${Math.round(client.cpuShare * 100)} % of a core; machine load average ${load0.toFixed(1)} → ${load1.toFixed(1)} on ${availableParallelism()} cores; ` +
        `writer store.execute p50 ${writerStats.p50.toFixed(1)} ms, p99 ${writerStats.p99.toFixed(1)} ms`,
    ];
    progress(`  ${notes.join('\n  ')}`);
    const cpuPerMessage = cpu0 && cpu1 && client.receivedInWindow > 0 ? ((cpu1.main - cpu0.main) * 1000) / client.receivedInWindow : NaN;
    return { client, rate, offered, writer: writerStats, cpuPerMessage, notes };
  } finally {
    loopDelay.disable();
    await writer.stop();
    await clients.close();
    stopRecording();
  }
}

/** A CPU profile of this process (the servers and the writer) from now to stop(). */
async function startProfile(): Promise<{ stop(file: string): Promise<void> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return {
    async stop(file) {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, JSON.stringify(profile));
      progress(`  CPU profile of the timed window: ${file}`);
    },
  };
}

const mb = (bytes: number) => Math.round(bytes / (1 << 20));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(100);
  }
  return false;
}

/**
 * Registers `fn` as the store's first commit listener, so the commit time it takes is not delayed by
 * the synchronous part of the live hub's fan-out (which registered first). Reorders the store's
 * listener set (a private field): a bench-only liberty, checked.
 */
function firstCommitListener(store: LedgerStore, fn: (commit: Commit) => void): () => void {
  const listeners = (store as unknown as { listeners?: unknown }).listeners;
  const unsubscribe = store.onCommit(fn);
  if (listeners instanceof Set) {
    const others = [...listeners].filter((l) => l !== fn);
    listeners.clear();
    listeners.add(fn);
    for (const l of others) listeners.add(l);
  } else {
    progress('  note: could not put the commit-time listener first (LedgerStore.listeners is not a Set); commit times include the live hub’s synchronous work');
  }
  return unsubscribe;
}

// --- the writer ------------------------------------------------------------------------------------

/** Calls store.execute at a steady rate, without waiting for earlier calls (they group-commit). */
class PacedWriter {
  private timer: NodeJS.Timeout | null = null;
  private issued = 0;
  private startedAt = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private times: number[] = [];
  heldBack = 0;
  failure: unknown = null;

  constructor(
    private readonly store: LedgerStore,
    private readonly kind: WriterKind,
  ) {}

  start(): void {
    this.startedAt = performance.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  private tick(): void {
    const due = Math.floor(((performance.now() - this.startedAt) / 1000) * this.kind.callsPerSecond);
    while (this.issued < due) {
      if (this.inFlight.size >= this.kind.maxInFlight) {
        // Too far behind: skip these calls rather than pile them up.
        this.heldBack += due - this.issued;
        this.issued = due;
        return;
      }
      const t0 = performance.now();
      const call: Promise<void> = this.store.execute(this.kind.make(this.issued++)).then(
        (results) => {
          this.times.push(performance.now() - t0);
          const refused = results.find((r) => !r.ok);
          if (refused) this.failure ??= new Error(`bench writer refused: ${JSON.stringify(refused)}`);
        },
        (err) => void (this.failure ??= err),
      );
      this.inFlight.add(call);
      void call.finally(() => this.inFlight.delete(call));
    }
  }

  resetLatencies(): void {
    this.times = [];
  }

  latencies(): { p50: number; p99: number } {
    const sorted = Float64Array.from(this.times).sort();
    const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN);
    return { p50: pct(50), p99: pct(99) };
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.inFlight]);
    if (this.failure) {
      const failure = this.failure;
      this.failure = null;
      throw failure;
    }
  }
}

// --- the clients' process --------------------------------------------------------------------------

const CLIENT_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'subscriptionClients.ts');

interface Status {
  clientsWithMessages: number;
  received: number;
  errors: number;
  firstError: string | null;
  closed: number;
}

class Clients {
  private readonly waiting = new Map<string, (message: any) => void>();
  private readonly exited: Promise<number | null>;
  private failure: Error | null = null;
  readonly subscribed: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    let subscribed!: () => void;
    let failed!: (err: Error) => void;
    this.subscribed = new Promise<void>((resolve, reject) => ((subscribed = resolve), (failed = reject)));
    this.subscribed.catch(() => {});
    const fail = (err: Error) => {
      this.failure ??= err;
      failed(err);
      for (const [, resolve] of this.waiting) resolve({ type: 'failed' });
      this.waiting.clear();
    };
    child.on('message', (message: { type: string; message?: string }) => {
      if (message.type === 'subscribed') return subscribed();
      if (message.type === 'failed') return fail(new Error(`clients' process: ${message.message}`));
      const resolve = this.waiting.get(message.type);
      this.waiting.delete(message.type);
      resolve?.(message);
    });
    void this.exited.then((code) => fail(new Error(`clients' process exited (${code})`)));
    const timeout = setTimeout(() => fail(new Error('clients did not subscribe within 60 s')), 60_000);
    void this.subscribed.finally(() => clearTimeout(timeout)).catch(() => {});
  }

  static async spawn(wsUrl: string, count: number, mode: ClientMode): Promise<Clients> {
    const child = spawn(process.execPath, [...NODE_FLAGS, '--import', 'tsx', CLIENT_SCRIPT, wsUrl, String(count), mode], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Clients(child);
  }

  send(message: unknown): void {
    if (this.child.connected) this.child.send(message as any);
  }

  private ask<T>(type: string, message: unknown, timeoutMs = 30_000): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(type);
        reject(new Error(`clients' process did not answer "${type}" within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.waiting.set(type, (answer: { type: string }) => {
        clearTimeout(timer);
        if (answer.type === 'failed') reject(this.failure ?? new Error("clients' process failed"));
        else resolve(answer as T);
      });
      this.send(message);
    });
  }

  status(): Promise<Status> {
    return this.ask<Status>('status', { type: 'status' });
  }

  report(request: ReportRequest): Promise<ClientReport> {
    return this.ask<ClientReport>('report', { type: 'report', ...request }, 120_000);
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.send({ type: 'close' });
      const code = await Promise.race([this.exited, sleep(5_000).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
  }
}

// --- servers ---------------------------------------------------------------------------------------

/**
 * Our app (buildApp) on a fresh store in `dir`, fsync durability, on a free port. Its log at warn, as
 * the stock server's (`logging: 'warn'`): at info it writes a line per subscription started, a
 * thousand per scenario, into the bench's own output.
 */
async function withApp<T>(dir: string, fn: (target: Target) => Promise<T>): Promise<T> {
  const app = await buildApp({ ...DEFAULT_CONFIG, port: 0, dataDir: dir, logLevel: 'warn' }).start();
  try {
    return await fn({ wsUrl: `${app.url.replace(/^http/, 'ws')}/graphql`, store: app.store });
  } finally {
    await app.stop();
  }
}

// The stock server's schema: the shape of our LedgerUpdate, with the same integer scalars.
const BASELINE_TYPE_DEFS = /* GraphQL */ `
  scalar Sequence
  scalar Money
  enum AccountStatus { OPEN CLOSED }
  type AccountChange { accountId: ID! change: Money! balance: Money! version: Int! status: AccountStatus! }
  type CurrencyTotal { currency: String! balance: Money! accounts: Int! }
  type LedgerUpdate {
    fromSequence: Sequence!
    toSequence: Sequence!
    accounts: [AccountChange!]!
    totals: [CurrencyTotal!]!
    accountCount: Int!
    batches: Int!
    head: Sequence!
  }
  type Query { head: Sequence! }
  type Subscription { ledgerUpdates(afterSequence: Sequence): LedgerUpdate! }
`;

const integerScalar = (name: string) =>
  new GraphQLScalarType({
    name,
    serialize: (value) => {
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new Error(`${name} output ${String(value)} is not a safe integer`);
      return value;
    },
    parseValue: (value) => value,
  });

/**
 * The stock baseline, in this process: graphql-yoga + graphql-ws as in yoga's graphql-ws example, and
 * a createPubSub topic fed from the same store's commits with the same payloads as our ledgerUpdates.
 */
async function withBaseline<T>(dir: string, fn: (target: Target) => Promise<T>): Promise<T> {
  const store = await LedgerStore.open(dir, { durability: DEFAULT_CONFIG.durability, queueLimit: DEFAULT_CONFIG.queueLimit });
  const feed = new ChangeFeed(store);
  const topic = ledgerUpdatesTopic(store);
  // yoga's default event target, with room for every subscriber's listener (Node warns past 10).
  const eventTarget = new EventTarget();
  setMaxListeners(CLIENTS + 10, eventTarget);
  const pubsub = createPubSub<{ ledgerUpdates: [LedgerUpdate] }>({ eventTarget });
  const unlisten = feed.listen(null, (batch) => pubsub.publish('ledgerUpdates', topic.fromBatch(batch)[0]!.payload));
  const yoga = createYoga({
    schema: createSchema({
      typeDefs: BASELINE_TYPE_DEFS,
      resolvers: {
        Sequence: integerScalar('Sequence'),
        Money: integerScalar('Money'),
        Query: { head: () => store.head },
        Subscription: {
          ledgerUpdates: { subscribe: () => pubsub.subscribe('ledgerUpdates'), resolve: (payload: LedgerUpdate) => payload },
        },
      },
    }),
    graphqlEndpoint: '/graphql',
    landingPage: false,
    logging: 'warn',
  });
  const server: Server = createServer(yoga);
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  const wsServer = useServer(
    {
      execute: (args: any) => args.rootValue.execute(args),
      subscribe: (args: any) => args.rootValue.subscribe(args),
      onSubscribe: async (ctx, _id, params) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({ ...ctx, req: ctx.extra.request, socket: ctx.extra.socket, params });
        const args = {
          schema,
          operationName: params.operationName,
          document: parse(params.query),
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        if (errors.length) return errors;
        return args;
      },
    },
    wss,
  );
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return await fn({ wsUrl: `ws://127.0.0.1:${port}/graphql`, store });
  } finally {
    for (const ws of wss.clients) ws.terminate();
    await Promise.resolve(wsServer.dispose()).catch(() => {});
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    unlisten();
    feed.close();
    await store.close();
  }
}

// --- CPU -------------------------------------------------------------------------------------------

/** CPU milliseconds a process has used, in all its threads and in its main thread (Linux /proc). */
async function cpuTimes(pid: number): Promise<{ process: number; main: number } | null> {
  const ticks = async (file: string) => {
    const stat = await readFile(file, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, USER_HZ = 100
  };
  try {
    return { process: await ticks(`/proc/${pid}/stat`), main: await ticks(`/proc/${pid}/task/${pid}/stat`) };
  } catch {
    return null;
  }
}
