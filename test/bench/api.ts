// The api bench: GraphQL over HTTP under load (autocannon as a library, 50 connections), each figure
// next to a no-op graphql-yoga server started in the same run — what any yoga mutation costs before it
// does anything — and, for context, a bare node:http server answering a fixed JSON.
//
// Parts (`npm run bench -- api:deposit,bulk`): deposit (one `deposit` mutation per request, each with
// a fresh transactionId), bulk (`submitCommands` with 500 deposits and transfers per request, in
// events/s, checked against the ledger head and against store.execute in-process). The baselines run
// with whichever parts are asked for. BENCH_HTTP_SECONDS sets each timed load run (default 10 s).
//
// Every server runs in a child process (apiServer.ts), so it has a core to itself and autocannon, in
// this process, the other. All of them start first; then each load runs ROUNDS times, alternating,
// and each measurement keeps its best round — the machine is shared, and a neighbour's burst should
// not decide a ratio. Besides requests/s and latency, each load reads the server's CPU time from
// /proc (Linux): CPU per request says what the server costs even when the machine is too busy for
// its throughput to mean much. BENCH_API_NODE_FLAGS passes node flags to the server processes (e.g.
// `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile them).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { Command } from '../../src/domain/commands.ts';
import { LedgerStore } from '../../src/store/ledgerStore.ts';
import type { ServerMode } from './apiServer.ts';
import { Bench, now, progress, type Section } from './report.ts';
import { accountId, appendInChunks, openCommands, workCommands } from './workload.ts';

const SECONDS = Math.max(1, Number(process.env.BENCH_HTTP_SECONDS ?? 10));
const WARM_UP_SECONDS = Math.min(3, SECONDS);
const ROUNDS = 2;
const CONNECTIONS = 50;
const ACCOUNTS = 1_000;
const BULK = 500;
/** Chunks in flight for the in-process ceiling: 20 × 500 stays under the default queueLimit (20,000). */
const CEILING_LANES = 20;
const NODE_FLAGS = (process.env.BENCH_API_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
const PARTS = ['deposit', 'bulk'] as const;

const DEPOSIT = `mutation Deposit($input: DepositInput!) {
  deposit(input: $input) {
    __typename
    ... on DepositSuccess { sequence replayed account { id balance version } }
    ... on DomainError { code message }
  }
}`;
const SUBMIT = `mutation Submit($input: SubmitCommandsInput!) {
  submitCommands(input: $input) {
    head
    results { __typename ... on DomainError { code } }
  }
}`;
/** The no-op server takes the very same variables, as an opaque JSON scalar. */
const NOOP = 'mutation Noop($input: JSON) { noop(input: $input) }';

const section: Section = {
  name: 'api',
  description: `GraphQL over HTTP, ${CONNECTIONS} connections × ${SECONDS} s (best of ${ROUNDS} alternating rounds): deposit and submitCommands (${BULK} per request) vs a no-op yoga mutation`,
  async run(bench, parts) {
    const unknown = parts.filter((p) => !(PARTS as readonly string[]).includes(p));
    if (unknown.length > 0) throw new Error(`unknown api part(s) ${unknown.join(', ')}; parts: ${PARTS.join(', ')}`);
    const wants = (p: (typeof PARTS)[number]) => parts.length === 0 || parts.includes(p);
    const work = await mkdtemp(join(tmpdir(), 'evledger-bench-api-'));
    const servers: Server[] = [];
    const start = async (mode: ServerMode, dir?: string) => {
      const server = await startServer(mode, dir && join(work, dir));
      servers.push(server);
      return server;
    };
    try {
      const bare = await start('bare');
      const noop = await start('noop');
      const loads: Load[] = [
        new Load('bare', bare, '/', () => graphqlBody(NOOP, depositVariables())),
        ...(wants('deposit') ? [new Load('noop', noop, '/graphql', () => graphqlBody(NOOP, depositVariables()))] : []),
        ...(wants('bulk') ? [new Load('noop-bulk', noop, '/graphql', () => graphqlBody(NOOP, bulkVariables()))] : []),
      ];
      if (wants('deposit')) {
        const app = await start('app', 'deposit');
        await openAccounts(app.url);
        loads.push(new Load('deposit', app, '/graphql', () => graphqlBody(DEPOSIT, depositVariables()), checkDeposit));
      }
      if (wants('bulk')) {
        const app = await start('app', 'bulk');
        await openAccounts(app.url);
        loads.push(new Load('bulk', app, '/graphql', () => graphqlBody(SUBMIT, bulkVariables()), checkBulk));
      }
      const best = await measure(loads);
      await Promise.all(servers.splice(0).map((s) => s.stop()));

      const noopRun = best.get('noop') ?? best.get('noop-bulk')!;
      const g = bench.group(`baseline: a no-op graphql-yoga mutation (${best.has('noop') ? 'deposit-sized' : `${BULK}-command`} body) vs bare node:http`);
      bench.row(g, rate('no-op yoga mutation', noopRun, 'bare node:http, fixed JSON', best.get('bare')!));
      cpuRow(bench, g, 'no-op yoga mutation', noopRun, 'bare node:http, fixed JSON', best.get('bare')!);
      bench.note(g, `latency: bare node:http p50 ${best.get('bare')!.p50} ms, p99 ${best.get('bare')!.p99} ms; no-op yoga p50 ${noopRun.p50} ms, p99 ${noopRun.p99} ms`);
      bench.note(g, `${cpuText(best.get('bare')!, 'bare node:http')}; ${cpuText(noopRun, 'no-op yoga')}`);
      if (wants('deposit')) deposit(bench, best.get('deposit')!, best.get('noop')!);
      if (wants('bulk')) await bulk(bench, best.get('bulk')!, best.get('noop-bulk')!, join(work, 'ceiling'));
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
      await rm(work, { recursive: true, force: true });
    }
  },
};
export default section;

// --- deposit ---------------------------------------------------------------------------------------

function checkDeposit(body: string, tally: Tally): void {
  const res = JSON.parse(body) as { data?: { deposit?: { __typename: string; replayed?: boolean; code?: string } }; errors?: { message: string }[] };
  if (res.errors?.length) return tally.graphqlError(res.errors[0]!.message);
  const d = res.data!.deposit!;
  if (d.__typename !== 'DepositSuccess') return tally.refused(d.code ?? d.__typename);
  if (d.replayed) return tally.refused('replayed (a transactionId was sent twice)');
  tally.ok();
}

function deposit(bench: Bench, run: Run, noop: Run): void {
  const g = bench.group(`deposit over GraphQL (fsync), ${CONNECTIONS} connections, a fresh transactionId per request`);
  bench.row(g, { ...rate('deposit', run, 'no-op yoga mutation', noop), target: { on: 'ratio', op: '>=', value: 0.8 } });
  latencyRows(bench, g, 'deposit', run, 'no-op yoga mutation', noop);
  cpuRow(bench, g, 'deposit', run, 'no-op yoga mutation', noop);
  bench.note(g, run.tally.summary(run));
  bench.note(g, `ledger head moved by ${run.appended.toLocaleString('en-US')} during that run, for ${run.tally.okCount.toLocaleString('en-US')} deposits answered (the rest were in flight when it stopped)`);
  bench.note(g, `${cpuText(run, 'app')}; ${cpuText(noop, 'no-op yoga')}`);
}

// --- bulk ------------------------------------------------------------------------------------------

function checkBulk(body: string, tally: Tally): void {
  const res = JSON.parse(body) as { data?: { submitCommands?: { results: { __typename: string; code?: string }[] } }; errors?: { message: string }[] };
  if (res.errors?.length) return tally.graphqlError(res.errors[0]!.message);
  const results = res.data!.submitCommands!.results;
  if (results.length !== BULK) return tally.graphqlError(`${results.length} results for ${BULK} commands`);
  for (const r of results) {
    if (r.__typename === 'DepositSuccess' || r.__typename === 'TransferSuccess') tally.ok();
    else tally.refused(r.code ?? r.__typename);
  }
}

async function bulk(bench: Bench, run: Run, noop: Run, ceilingDir: string): Promise<void> {
  const g = bench.group(`submitCommands over GraphQL (fsync), ${BULK} deposits/transfers per request, ${CONNECTIONS} connections`);
  // Events are the commands that succeeded in the responses received: a request refused whole
  // (OVERLOADED) is quick to answer and must not count as 500 events.
  const eventsPerSecond = run.tally.okCount / run.seconds;
  bench.row(g, rate('submitCommands', run, 'no-op yoga mutation, same body', noop));
  latencyRows(bench, g, 'submitCommands', run, 'no-op yoga mutation, same body', noop);
  bench.row(g, {
    measurement: 'submitCommands events/s (successes answered)',
    figure: { value: eventsPerSecond, unit: 'events/s' },
    baselineName: `no-op yoga requests/s × ${BULK}`,
    baseline: { value: noop.rps * BULK, unit: 'events/s' },
    ratio: 'percent',
    target: { on: 'figure', op: '>=', value: 50_000 },
  });
  cpuRow(bench, g, 'submitCommands', run, 'no-op yoga mutation, same body', noop);

  // The ceiling under HTTP + GraphQL: the same commands through store.execute in this process.
  const ceiling = await storeCeiling(ceilingDir);
  bench.row(g, {
    measurement: 'submitCommands events/s (successes answered)',
    figure: { value: eventsPerSecond, unit: 'events/s' },
    baselineName: `store.execute in-process, ${BULK}-command chunks, ${CEILING_LANES} lanes`,
    baseline: { value: ceiling.eventsPerSecond, unit: 'events/s' },
    ratio: 'percent',
  });
  if (run.cpuMs && ceiling.mainCpuMs !== null) {
    bench.row(g, {
      measurement: 'submitCommands main-thread CPU per request',
      figure: { value: run.cpuMs.main, unit: 'ms' },
      baselineName: `store.execute main-thread CPU per ${BULK} commands`,
      baseline: { value: ceiling.mainCpuMs, unit: 'ms' },
      ratio: 'times',
    });
  }
  bench.note(g, run.tally.summary(run));
  const inFlight = CONNECTIONS * BULK;
  const consistent = run.tally.okCount <= run.appended && run.appended - run.tally.okCount <= inFlight;
  bench.note(
    g,
    `ledger head moved by ${run.appended.toLocaleString('en-US')} events during that run (${Math.round(run.appended / run.seconds).toLocaleString('en-US')} events/s); ` +
      `${run.tally.okCount.toLocaleString('en-US')} successes were answered; the difference, ${(run.appended - run.tally.okCount).toLocaleString('en-US')}, ` +
      `is requests in flight when autocannon stopped (at most ${inFlight.toLocaleString('en-US')}): ${consistent ? 'consistent' : 'INCONSISTENT'}`,
  );
  bench.note(g, `${cpuText(run, 'app')}; ${cpuText(noop, 'no-op yoga')}; store.execute: main thread ${Math.round(ceiling.cpuShare * 100)} % of a core`);
}

/** Events/s of store.execute with the bulk workload: the writer and fsync, no HTTP, no GraphQL. */
async function storeCeiling(dir: string): Promise<{ eventsPerSecond: number; mainCpuMs: number | null; cpuShare: number }> {
  const seconds = Math.min(SECONDS, 5);
  progress(`  store.execute ceiling: 1 s warm-up, best of ${ROUNDS} × ${seconds} s`);
  const store = await LedgerStore.open(dir);
  try {
    await appendInChunks(store, once(openCommands(ACCOUNTS)), 1);
    let seed = 1;
    let deadline = now() + 1_000; // warm-up
    const next = () => (now() < deadline ? workCommands(BULK, ACCOUNTS, seed++) : undefined);
    await appendInChunks(store, next, CEILING_LANES);
    let best = { eventsPerSecond: 0, mainCpuMs: null as number | null, cpuShare: NaN };
    for (let round = 0; round < ROUNDS; round++) {
      const head0 = store.head;
      const cpu0 = await cpuTimes(process.pid);
      const start = now();
      deadline = start + seconds * 1000;
      await appendInChunks(store, next, CEILING_LANES);
      const elapsed = now() - start;
      const cpu1 = await cpuTimes(process.pid);
      const events = store.head - head0;
      const eventsPerSecond = (events / elapsed) * 1000;
      if (eventsPerSecond > best.eventsPerSecond) {
        best = {
          eventsPerSecond,
          // Includes building the commands (workCommands, ≈ 0.3 ms per 500), which the server does not do.
          mainCpuMs: cpu0 && cpu1 ? ((cpu1.main - cpu0.main) / events) * BULK : null,
          cpuShare: cpu0 && cpu1 ? (cpu1.main - cpu0.main) / elapsed : NaN,
        };
      }
    }
    return best;
  } finally {
    await store.close();
  }
}

const once = <T>(item: T) => {
  let given = false;
  return () => (given ? undefined : ((given = true), item));
};

// --- workload --------------------------------------------------------------------------------------

let depositCount = 0;
let bulkSeed = 1_000;

function depositVariables(): unknown {
  const n = depositCount++;
  return { input: { accountId: accountId(n % ACCOUNTS), amount: 1 + (n % 1000), transactionId: randomUUID() } };
}

function bulkVariables(): unknown {
  return { input: { commands: workCommands(BULK, ACCOUNTS, bulkSeed++).map(commandInput) } };
}

function commandInput(c: Command): unknown {
  switch (c.type) {
    case 'Deposit':
      return { deposit: { accountId: c.accountId, amount: c.amount, transactionId: c.transactionId } };
    case 'Transfer':
      return { transfer: { fromAccountId: c.fromAccountId, toAccountId: c.toAccountId, amount: c.amount, transactionId: c.transactionId } };
    default:
      throw new Error(`the bulk workload has no ${c.type}`);
  }
}

const graphqlBody = (query: string, variables: unknown) => JSON.stringify({ query, variables });

/** Opens the workload's accounts through submitCommands, 500 a request. */
async function openAccounts(url: string): Promise<void> {
  const commands = openCommands(ACCOUNTS);
  for (let i = 0; i < commands.length; i += BULK) {
    const chunk = commands.slice(i, i + BULK).map((c) => {
      if (c.type !== 'OpenAccount') throw new Error('expected OpenAccount');
      return { openAccount: { accountId: c.accountId, currency: c.currency, initialBalance: c.initialBalance } };
    });
    const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: graphqlBody(SUBMIT, { input: { commands: chunk } }) });
    const json = (await res.json()) as { data?: { submitCommands: { results: { __typename: string }[] } }; errors?: unknown };
    const bad = json.errors ?? json.data?.submitCommands.results.find((r) => r.__typename !== 'OpenAccountSuccess');
    if (!res.ok || bad) throw new Error(`opening the bench accounts failed: ${res.status} ${JSON.stringify(bad)}`);
  }
}

const headOf = async (url: string): Promise<number> => ((await (await fetch(`${url}/healthz`)).json()) as { head: number }).head;

/** The head once in-flight requests have committed: two equal reads 200 ms apart. */
async function settledHead(url: string): Promise<number> {
  let last = await headOf(url);
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    const head = await headOf(url);
    if (head === last) return head;
    last = head;
  }
}

// --- load ------------------------------------------------------------------------------------------

/** One timed autocannon run and what the server did meanwhile. */
interface Run {
  /** Mean requests per second (autocannon's per-second samples). */
  readonly rps: number;
  /** Latency in milliseconds. */
  readonly p50: number;
  readonly p99: number;
  readonly completed: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly seconds: number;
  /** Server CPU milliseconds per completed request, all threads and the main (JS) thread; null off Linux. */
  readonly cpuMs: { readonly process: number; readonly main: number } | null;
  /** Share of one core the server's main thread got during the run. */
  readonly cpuShare: number | null;
  readonly tally: Tally;
  /** Ledger head delta over the run, for app servers (0 otherwise). */
  readonly appended: number;
}

/** A load to apply: requests built by `body`, responses checked by `check` (app servers only). */
class Load {
  constructor(
    readonly name: string,
    readonly server: Server,
    readonly path: string,
    readonly body: () => string,
    readonly check?: (body: string, tally: Tally) => void,
  ) {}
}

/** Every load ROUNDS times, alternating (after one warm-up each); the best round of each by requests/s. */
async function measure(loads: readonly Load[]): Promise<Map<string, Run>> {
  const best = new Map<string, Run>();
  for (const load of loads) {
    progress(`  warm-up ${load.name}: ${WARM_UP_SECONDS} s`);
    await autocannonRun(load, WARM_UP_SECONDS, null);
  }
  for (let round = 1; round <= ROUNDS; round++) {
    for (const load of loads) {
      const run = await timedRun(load);
      progress(`  round ${round} ${load.name}: ${run.rps.toFixed(1)} req/s, p50 ${run.p50} ms, p99 ${run.p99} ms, main-thread CPU ${run.cpuMs?.main.toFixed(3) ?? '?'} ms/request`);
      if (run.non2xx > 0) progress(`    ${load.name}: ${run.non2xx.toLocaleString('en-US')} non-2xx answers: ${run.tally.non2xxText()}`);
      if (!best.has(load.name) || run.rps > best.get(load.name)!.rps) best.set(load.name, run);
    }
  }
  return best;
}

async function timedRun(load: Load): Promise<Run> {
  const tally = new Tally();
  const isApp = load.server.mode === 'app';
  const head0 = isApp ? await headOf(load.server.url) : 0;
  const cpu0 = await cpuTimes(load.server.pid);
  const r = await autocannonRun(load, SECONDS, tally);
  const cpu1 = await cpuTimes(load.server.pid);
  const appended = isApp ? (await settledHead(load.server.url)) - head0 : 0;
  const completed = r.requests.total;
  return {
    rps: r.requests.mean,
    p50: r.latency.p50,
    p99: r.latency.p99,
    completed,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    seconds: r.duration,
    cpuMs: cpu0 && cpu1 ? { process: (cpu1.process - cpu0.process) / completed, main: (cpu1.main - cpu0.main) / completed } : null,
    cpuShare: cpu0 && cpu1 ? (cpu1.main - cpu0.main) / (r.duration * 1000) : null,
    tally,
    appended,
  };
}

/** POSTs `load.path` with a fresh body per request from CONNECTIONS connections; checks responses into `tally`. */
function autocannonRun(load: Load, seconds: number, tally: Tally | null) {
  const { check } = load;
  return autocannon({
    url: load.server.url,
    connections: CONNECTIONS,
    duration: seconds,
    // A loaded machine can take seconds over a 500-command request; a timeout would only turn a
    // slow answer into a connection error and a reconnect.
    timeout: 60,
    requests: [
      {
        method: 'POST',
        path: load.path,
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, method: 'POST', path: load.path, body: load.body() }),
        ...(tally
          ? {
              onResponse: (status: number, text: string) => {
                // autocannon counts non-2xx answers but not why: keep each status and a sample body.
                if (status < 200 || status > 299) return tally.non2xx(status, text);
                if (!check) return;
                try {
                  check(text, tally);
                } catch (err) {
                  tally.graphqlError(`unreadable response (${(err as Error).message}): ${text.slice(0, 80)}`);
                }
              },
            }
          : {}),
      },
    ],
  });
}

/** Counts what the responses said. */
class Tally {
  okCount = 0;
  private readonly problems = new Map<string, number>();
  private graphqlErrors = 0;
  /** Non-2xx answers by status: how many, and the first body. */
  private readonly statuses = new Map<number, { count: number; sample: string }>();

  non2xx(status: number, body: string): void {
    const seen = this.statuses.get(status);
    if (seen) seen.count++;
    else this.statuses.set(status, { count: 1, sample: body.replace(/\s+/g, ' ').slice(0, 200) });
  }
  /** "429 ×1,234 (e.g. {…}); 503 ×2 (e.g. …)", or '' when every answer was 2xx. */
  non2xxText(): string {
    return [...this.statuses].map(([status, { count, sample }]) => `${status} ×${count.toLocaleString('en-US')} (e.g. ${sample})`).join('; ');
  }

  ok(): void {
    this.okCount++;
  }
  refused(code: string): void {
    this.problems.set(code, (this.problems.get(code) ?? 0) + 1);
  }
  graphqlError(message: string): void {
    this.graphqlErrors++;
    this.refused(`GraphQL error: ${message.slice(0, 120)}`);
  }
  summary(run: Run): string {
    const problems = [...this.problems].map(([k, n]) => `${k} ×${n.toLocaleString('en-US')}`).join('; ');
    return (
      `best round: ${run.completed.toLocaleString('en-US')} responses in ${run.seconds} s, ${this.okCount.toLocaleString('en-US')} successes; ` +
      `${run.non2xx} non-2xx${run.non2xx > 0 ? ` [${this.non2xxText() || 'bodies not seen'}]` : ''}, ${this.graphqlErrors} with GraphQL errors, ${run.errors} connection errors, ${run.timeouts} timeouts` +
      (problems ? `; refused: ${problems}` : '; nothing refused')
    );
  }
}

/**
 * CPU milliseconds (user + system) a process has used, in all its threads and in its main thread
 * alone, from /proc (Linux; null elsewhere). On a shared machine CPU time per request is steadier than
 * requests per second: other work takes the core away, but does not add to the server's own CPU time.
 */
async function cpuTimes(pid: number): Promise<{ process: number; main: number } | null> {
  const ms = async (file: string) => {
    const stat = await readFile(file, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from field 3 (state) on
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS; // utime + stime
  };
  try {
    return { process: await ms(`/proc/${pid}/stat`), main: await ms(`/proc/${pid}/task/${pid}/stat`) };
  } catch {
    return null;
  }
}
/** USER_HZ: 100 on every mainstream Linux. */
const CLOCK_TICKS = 100;

// --- rows ------------------------------------------------------------------------------------------

function rate(measurement: string, figure: Run, baselineName: string, baseline: Run) {
  return {
    measurement: `${measurement} requests/s`,
    figure: { value: figure.rps, unit: 'req/s' },
    baselineName,
    baseline: { value: baseline.rps, unit: 'req/s' },
    ratio: 'percent' as const,
  };
}

function latencyRows(bench: Bench, g: ReturnType<Bench['group']>, measurement: string, figure: Run, baselineName: string, baseline: Run): void {
  for (const p of ['p50', 'p99'] as const) {
    bench.row(g, {
      measurement: `${measurement} latency ${p}`,
      figure: { value: figure[p], unit: 'ms' },
      baselineName,
      baseline: { value: baseline[p], unit: 'ms' },
      ratio: 'times',
    });
  }
}

function cpuRow(bench: Bench, g: ReturnType<Bench['group']>, measurement: string, figure: Run, baselineName: string, baseline: Run): void {
  if (!figure.cpuMs || !baseline.cpuMs) return;
  bench.row(g, {
    measurement: `${measurement} server main-thread CPU per request`,
    figure: { value: figure.cpuMs.main, unit: 'ms' },
    baselineName,
    baseline: { value: baseline.cpuMs.main, unit: 'ms' },
    ratio: 'times',
  });
}

const cpuText = (r: Run, name: string) =>
  r.cpuShare === null || !r.cpuMs
    ? `${name}: CPU not measured`
    : `${name}: main thread ${Math.round(r.cpuShare * 100)} % of a core, ${r.cpuMs.process.toFixed(3)} ms CPU per request in all threads`;

// --- servers ---------------------------------------------------------------------------------------

const SERVER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'apiServer.ts');

interface Server {
  readonly mode: ServerMode;
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Starts apiServer.ts in `mode` in a child process and waits until it listens. */
async function startServer(mode: ServerMode, dataDir?: string): Promise<Server> {
  const child = spawn(process.execPath, [...NODE_FLAGS, '--import', 'tsx', SERVER_SCRIPT, mode, ...(dataDir ? [dataDir] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
    // As `npm start` runs them (every server alike, so the ratios stay fair).
    env: { ...process.env, NODE_ENV: process.env.NODE_ENV ?? 'production' },
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000).unref())]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        progress(`  ${mode} server (pid ${child.pid}) did not stop within 15 s; killed`);
      }
    })());
  try {
    // Every line after the first (the port) goes on to stderr, and the pipe keeps being read: a pipe
    // nobody reads fills up, after which the server's log cannot be flushed and it never exits — which
    // is why servers once had to be killed after 15 s.
    const lines = createInterface({ input: child.stdout! });
    const line = await Promise.race([
      new Promise<string>((resolve) => lines.once('line', resolve)),
      exited.then((code) => Promise.reject(new Error(`bench ${mode} server exited with ${code} before listening`))),
    ]);
    lines.on('line', (text) => process.stderr.write(`  [${mode} server] ${text}\n`));
    const { port } = JSON.parse(line) as { port: number };
    progress(`  ${mode} server (pid ${child.pid}) on port ${port}`);
    return { mode, url: `http://127.0.0.1:${port}`, pid: child.pid!, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
