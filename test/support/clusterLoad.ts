// What the cluster failover tests drive and check: API nodes as real `serve` processes (NATS_URL and
// friends, PORT=0, their own data dir), a steady load of concurrent writers over them that retries a
// command whose outcome it was not told — with the same transactionId, on the next node — until it gets
// an answer, and the checks of the log against what the clients were told.
import { once } from 'node:events';
import type { RecordedEvent } from '../../src/domain/events.ts';
import { askServer } from '../../src/server/controlSocket.ts';
import type { VerifyReport } from '../../src/projection/verify.ts';
import { startServerProcess, type ServerProcess } from './serverProcess.ts';

// --- API nodes ---------------------------------------------------------------------------------------

export interface Readyz {
  readonly httpStatus: number;
  readonly status: 'ready' | 'not ready';
  readonly reason?: string;
  readonly head: number;
  readonly cluster?: { role: 'follower' | 'candidate' | 'writer'; nodeId: string; connected: boolean; tail: number; applied: number; failure: string | null };
}

export interface ApiNode {
  readonly nodeId: string;
  readonly dataDir: string;
  readonly server: ServerProcess;
  /** http://127.0.0.1:port */
  readonly base: string;
  /** /readyz, or null when the node does not answer. */
  readyz(): Promise<Readyz | null>;
  /** SIGKILL of its whole process group; resolves once it has exited. */
  kill(): Promise<void>;
  /** SIGTERM (a clean shutdown), SIGKILL after `graceMs`; how it ended. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; forced: boolean }>;
  /** The server's own verify, through the control socket in its data dir (the store stays open in it). */
  verify(): Promise<VerifyReport>;
  /** Everything it printed, for a failing test. */
  output(): string;
}

export interface ApiNodeOptions {
  readonly natsUrls: string;
  readonly stream: string;
  readonly nodeId: string;
  readonly dataDir: string;
  readonly env?: Record<string, string>;
}

/** `serve` in its own process group (so a SIGKILL takes the node and nothing else). */
export async function startApiNode(options: ApiNodeOptions): Promise<ApiNode> {
  const server = startServerProcess(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
    NODE_ENV: 'production',
    NATS_URL: options.natsUrls,
    NATS_STREAM: options.stream,
    NODE_ID: options.nodeId,
    DATA_DIR: options.dataDir,
    HOST: '127.0.0.1',
    PORT: '0',
    // Role changes are logged at info, and so is every request: CLUSTER_TEST_LOG_LEVEL=info to see them.
    LOG_LEVEL: process.env.CLUSTER_TEST_LOG_LEVEL ?? 'warn',
    // The load comes from one address; the limit is not what these tests are about.
    RATE_LIMIT: '0',
    ...options.env,
  });
  let base: string;
  try {
    base = await server.url;
  } catch (err) {
    server.killGroup();
    throw err;
  }
  const node: ApiNode = {
    nodeId: options.nodeId,
    dataDir: options.dataDir,
    server,
    base,
    async readyz() {
      try {
        const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) });
        return { httpStatus: res.status, ...((await res.json()) as Omit<Readyz, 'httpStatus'>) };
      } catch {
        return null;
      }
    },
    async kill() {
      server.killGroup();
      await server.exited;
    },
    async stop(graceMs = 15_000) {
      if (server.process.exitCode !== null || server.process.signalCode !== null) return { ...(await server.exited), forced: false };
      try {
        process.kill(server.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const timer = setTimeout(() => server.killGroup(), graceMs);
      const how = await server.exited;
      clearTimeout(timer);
      const forced = how.signal === 'SIGKILL';
      server.killGroup(); // whatever else of the group is left (tsx's esbuild helper)
      return { ...how, forced };
    },
    async verify() {
      const res = await askServer(options.dataDir, '/verify');
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      await once(res, 'end');
      if (res.statusCode !== 200) throw new Error(`verify on ${options.nodeId}: HTTP ${res.statusCode} ${body}`);
      const lines = body.trim().split('\n').map((l) => JSON.parse(l) as { report?: VerifyReport });
      const report = lines.find((l) => l.report)?.report;
      if (!report) throw new Error(`verify on ${options.nodeId} gave no report: ${body}`);
      return report;
    },
    output: () => `--- ${options.nodeId} (${base}) stdout:\n${server.stdout()}\n--- ${options.nodeId} stderr:\n${server.stderr()}`,
  };
  return node;
}

// --- GraphQL over fetch ------------------------------------------------------------------------------

export interface GraphQLResponse<T = any> {
  data?: T;
  errors?: { message: string; extensions?: { code?: string; retryAfterMs?: number } & Record<string, unknown> }[];
}

export async function gql<T = any>(base: string, query: string, variables: Record<string, unknown> = {}, timeoutMs = 20_000): Promise<GraphQLResponse<T> & { httpStatus: number }> {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  try {
    return { ...(JSON.parse(text) as GraphQLResponse<T>), httpStatus: res.status };
  } catch {
    throw new Error(`HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
  }
}

/** The data of a query, failing on any GraphQL error. */
export async function gqlData<T = any>(base: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const r = await gql<T>(base, query, variables);
  if (r.errors?.length || !r.data) throw new Error(`GraphQL errors from ${base} (HTTP ${r.httpStatus}): ${JSON.stringify(r.errors)}`);
  return r.data;
}

const resultFields = (...successes: string[]) => `
  __typename
  ${successes.map((t) => `... on ${t} { sequence replayed }`).join('\n  ')}
  ... on DomainError { code message }
  ... on DuplicateTransactionError { originalSequence }
  ... on OverloadedError { retryAfterMs }
`;

const DEPOSIT = `mutation Deposit($input: DepositInput!) { deposit(input: $input) { ${resultFields('DepositSuccess')} } }`;
const TRANSFER = `mutation Transfer($input: TransferInput!) { transfer(input: $input) { ${resultFields('TransferSuccess')} } }`;
const SUBMIT = `mutation Submit($input: SubmitCommandsInput!) { submitCommands(input: $input) { head results { ${resultFields('DepositSuccess', 'TransferSuccess', 'OpenAccountSuccess')} } } }`;
export const ACCOUNTS = `query Accounts { ledger { head totals { currency balance accounts } } accounts(first: 1000) { nodes { id balance version status lastSequence } } }`;

export interface CommandAnswer {
  readonly __typename: string;
  readonly sequence?: number;
  readonly replayed?: boolean;
  readonly code?: string;
  readonly message?: string;
  readonly originalSequence?: number | null;
  readonly retryAfterMs?: number;
}

// --- the load ----------------------------------------------------------------------------------------

export type LoadCommand =
  | { readonly type: 'Deposit'; readonly accountId: string; readonly amount: number; readonly transactionId: string }
  | { readonly type: 'Transfer'; readonly fromAccountId: string; readonly toAccountId: string; readonly amount: number; readonly transactionId: string };

export interface Ack {
  readonly command: LoadCommand;
  readonly sequence: number;
  readonly replayed: boolean;
  /** Date.now() when the answer arrived. */
  readonly at: number;
  /** Date.now() of the first attempt. */
  readonly sentAt: number;
  /** The node that answered. */
  readonly target: string;
  readonly attempts: number;
}

/**
 * Why an attempt was not an answer. The codes the server documents as "may or may not have been
 * applied, retry with the same transactionId" (and the store's own retryable ones), plus what a
 * client sees of a node that is gone or slow.
 */
export const RETRYABLE = new Set(['PUBLISH_UNKNOWN', 'WRITER_UNAVAILABLE', 'NOT_WRITER', 'LOG_MOVED', 'REPLICA_BEHIND', 'STORE_UNAVAILABLE', 'OVERLOADED', 'NETWORK', 'TIMEOUT']);

export function inputOf(command: LoadCommand): { deposit: Record<string, unknown> } | { transfer: Record<string, unknown> } {
  const { type, ...input } = command;
  return type === 'Deposit' ? { deposit: input } : { transfer: input };
}

/** mulberry32 */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface LoadOptions {
  readonly writers: number;
  readonly accounts: readonly string[];
  /** Every transactionId starts with it. */
  readonly prefix: string;
  readonly seed: number;
  /** One attempt's HTTP timeout (then the same command again). @default 20_000 */
  readonly attemptTimeoutMs?: number;
}

/**
 * `writers` clients, each sending one command at a time (a deposit or a transfer between two of the
 * accounts, a unique transactionId each) to its home node first. A command whose attempt ends without
 * an answer is sent again, unchanged, to the next node in `targets` until one answers: what a client
 * behind a load balancer that follows the API's retry advice does. `targets` may be changed meanwhile
 * (a node taken out of rotation).
 */
export class ClusterLoad {
  readonly acks = new Map<string, Ack>();
  /** Every command sent, by transactionId. */
  readonly issued = new Map<string, LoadCommand>();
  /** Attempts that were not answers, by reason. */
  readonly retried = new Map<string, number>();
  /** Answers or errors this load does not expect at all (a rejection, an unknown error code), in order. */
  readonly anomalies: string[] = [];
  private stopping = false;
  private running: Promise<void>[] = [];
  private readonly next: () => number;

  constructor(
    public targets: string[],
    private readonly options: LoadOptions,
  ) {
    this.next = random(options.seed);
  }

  start(): void {
    for (let w = 0; w < this.options.writers; w++) this.running.push(this.writer(w));
  }

  /** Stops sending new commands and waits until every command sent has its answer (or `withinMs` passed). */
  async stop(withinMs = 60_000): Promise<void> {
    this.stopping = true;
    const all = Promise.all(this.running);
    const timedOut = await Promise.race([all.then(() => false), sleep(withinMs).then(() => true)]);
    if (timedOut) {
      const open = [...this.issued.keys()].filter((id) => !this.acks.has(id));
      this.anomalies.push(`${open.length} commands still without an answer ${withinMs} ms after the load stopped: ${open.slice(0, 10).join(', ')}`);
      this.abandoned = true;
    }
  }

  private abandoned = false;

  /** Stops at once: no new commands, no more retries (after a failed test). */
  abort(): void {
    this.stopping = true;
    this.abandoned = true;
  }

  /** Answer times, ascending. */
  ackTimes(filter: (ack: Ack) => boolean = () => true): number[] {
    return [...this.acks.values()].filter(filter).map((a) => a.at).sort((a, b) => a - b);
  }

  /** The longest time between successive answers among those that arrived within [from, to], and where it began. */
  longestGap(from: number, to: number, filter?: (ack: Ack) => boolean): { gapMs: number; startedAt: number } {
    const times = this.ackTimes(filter).filter((t) => t >= from && t <= to);
    let gapMs = 0;
    let startedAt = from;
    for (let i = 1; i < times.length; i++) {
      if (times[i]! - times[i - 1]! > gapMs) {
        gapMs = times[i]! - times[i - 1]!;
        startedAt = times[i - 1]!;
      }
    }
    return { gapMs, startedAt };
  }

  /** Resolves once `count` more answers have arrived since the call (optionally: matching `filter`). */
  async waitForAcks(count: number, withinMs: number, filter: (ack: Ack) => boolean = () => true): Promise<void> {
    const from = [...this.acks.values()].filter(filter).length;
    const deadline = Date.now() + withinMs;
    while ([...this.acks.values()].filter(filter).length < from + count) {
      if (Date.now() > deadline) throw new Error(`fewer than ${count} answers within ${withinMs} ms (retries so far: ${JSON.stringify(Object.fromEntries(this.retried))}; anomalies: ${this.anomalies.slice(0, 5).join(' | ')})`);
      await sleep(50);
    }
  }

  summary(): string {
    return `${this.issued.size} commands sent, ${this.acks.size} answered (${[...this.acks.values()].filter((a) => a.replayed).length} as replays); not answers: ${JSON.stringify(Object.fromEntries(this.retried))}`;
  }

  private command(writer: number, n: number): LoadCommand {
    const { accounts, prefix } = this.options;
    const transactionId = `${prefix}-w${writer}-${n}`;
    const amount = 1 + Math.floor(this.next() * 100);
    const a = Math.floor(this.next() * accounts.length);
    if (this.next() < 0.5) return { type: 'Deposit', accountId: accounts[a]!, amount, transactionId };
    const b = (a + 1 + Math.floor(this.next() * (accounts.length - 1))) % accounts.length;
    return { type: 'Transfer', fromAccountId: accounts[a]!, toAccountId: accounts[b]!, amount, transactionId };
  }

  private async writer(w: number): Promise<void> {
    for (let n = 0; !this.stopping; n++) {
      const command = this.command(w, n);
      this.issued.set(command.transactionId, command);
      await this.untilAnswered(command, w);
    }
  }

  private count(reason: string): void {
    this.retried.set(reason, (this.retried.get(reason) ?? 0) + 1);
  }

  private async untilAnswered(command: LoadCommand, home: number): Promise<void> {
    const sentAt = Date.now();
    for (let attempt = 0; !this.abandoned; attempt++) {
      const targets = this.targets;
      const target = targets[(home + attempt) % targets.length]!;
      let retryAfterMs = 0;
      try {
        const { type, ...input } = command;
        const field = type === 'Deposit' ? 'deposit' : 'transfer';
        const r = await gql(target, type === 'Deposit' ? DEPOSIT : TRANSFER, { input }, this.options.attemptTimeoutMs ?? 20_000);
        const answer = (r.data as Record<string, CommandAnswer> | undefined)?.[field];
        if (answer && (answer.__typename === 'DepositSuccess' || answer.__typename === 'TransferSuccess')) {
          this.acks.set(command.transactionId, { command, sequence: answer.sequence!, replayed: answer.replayed!, at: Date.now(), sentAt, target, attempts: attempt + 1 });
          return;
        }
        if (answer?.__typename === 'OverloadedError') {
          this.count('OVERLOADED');
          retryAfterMs = answer.retryAfterMs ?? 100;
        } else if (answer) {
          // A rejection (no domain rule should refuse these commands) or DUPLICATE_TRANSACTION (an id reused
          // with other content, which this load never does): an answer, but a wrong one.
          this.anomalies.push(`${command.transactionId} answered ${JSON.stringify(answer)} by ${target}`);
          this.acks.set(command.transactionId, { command, sequence: -1, replayed: false, at: Date.now(), sentAt, target, attempts: attempt + 1 });
          return;
        } else {
          const code = r.errors?.[0]?.extensions?.code ?? `HTTP_${r.httpStatus}`;
          this.count(code);
          if (!RETRYABLE.has(code)) this.anomalies.push(`${command.transactionId}: unexpected error ${code} from ${target}: ${r.errors?.[0]?.message}`);
          retryAfterMs = Math.min(r.errors?.[0]?.extensions?.retryAfterMs ?? 0, 500);
        }
      } catch (err) {
        this.count((err as Error).name === 'TimeoutError' ? 'TIMEOUT' : 'NETWORK');
      }
      await sleep(Math.max(retryAfterMs, Math.min(25 * 2 ** Math.min(attempt, 4), 400)));
    }
  }
}

// --- checks ------------------------------------------------------------------------------------------

/** A client's command as the event it must have become. */
export function matches(event: RecordedEvent, command: LoadCommand): boolean {
  if (event.transactionId !== command.transactionId) return false;
  if (command.type === 'Deposit') return event.type === 'DEPOSITED' && event.data.accountId === command.accountId && event.data.amount === command.amount;
  return (
    event.type === 'TRANSFERRED' && event.data.fromAccountId === command.fromAccountId && event.data.toAccountId === command.toAccountId && event.data.amount === command.amount
  );
}

/**
 * Every problem of the log against the acknowledgements: an acked command missing, at another
 * sequence, or there more than once; a command of the load in the log that nobody was told of.
 */
export function logProblems(events: readonly RecordedEvent[], acks: ReadonlyMap<string, Ack>, prefix: string): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number[]>();
  for (const e of events) {
    if (e.transactionId?.startsWith(`${prefix}-`)) seen.set(e.transactionId, [...(seen.get(e.transactionId) ?? []), e.sequence]);
  }
  for (const [txId, ack] of acks) {
    const at = seen.get(txId) ?? [];
    if (at.length !== 1) problems.push(`${txId} (acked at ${ack.sequence}) is in the log ${at.length} times: ${at.join(', ')}`);
    else if (at[0] !== ack.sequence) problems.push(`${txId} was acked at ${ack.sequence} but is in the log at ${at[0]}`);
    else if (!matches(events[ack.sequence - 1]!, ack.command)) problems.push(`${txId}: the event at ${ack.sequence} is not its command: ${JSON.stringify(events[ack.sequence - 1])}`);
  }
  for (const txId of seen.keys()) if (!acks.has(txId)) problems.push(`${txId} is in the log at ${seen.get(txId)!.join(', ')} but no client was told`);
  return problems;
}

/**
 * Sends every acknowledged command again, unchanged (submitCommands, `chunk` at a time, alternating
 * over `targets`): each must come back as its original result — the same sequence, marked replayed.
 */
export async function resendProblems(targets: readonly string[], acks: readonly Ack[], chunk = 500): Promise<{ problems: string[]; heads: number[] }> {
  const problems: string[] = [];
  const heads: number[] = [];
  for (let i = 0, k = 0; i < acks.length; i += chunk, k++) {
    const part = acks.slice(i, i + chunk);
    const target = targets[k % targets.length]!;
    const r = await gql(target, SUBMIT, { input: { commands: part.map((a) => inputOf(a.command)) } }, 60_000);
    if (r.errors?.length || !r.data) {
      problems.push(`resending ${part.length} commands to ${target}: ${JSON.stringify(r.errors)}`);
      continue;
    }
    heads.push(r.data.submitCommands.head);
    (r.data.submitCommands.results as CommandAnswer[]).forEach((answer, j) => {
      const ack = part[j]!;
      if (answer.sequence !== ack.sequence || answer.replayed !== true) problems.push(`${ack.command.transactionId} (acked at ${ack.sequence}) resent to ${target}: ${JSON.stringify(answer)}`);
    });
  }
  return { problems, heads };
}

/** The same transactionId with other content: DUPLICATE_TRANSACTION, pointing at the original sequence. */
export async function duplicateProblems(target: string, acks: readonly Ack[]): Promise<string[]> {
  const problems: string[] = [];
  const changed = acks.map((a) => ({ ...a.command, amount: a.command.amount + 1 }));
  const r = await gql(target, SUBMIT, { input: { commands: changed.map(inputOf) } });
  if (r.errors?.length || !r.data) return [`DUPLICATE_TRANSACTION check on ${target}: ${JSON.stringify(r.errors)}`];
  (r.data.submitCommands.results as CommandAnswer[]).forEach((answer, j) => {
    const ack = acks[j]!;
    if (answer.code !== 'DUPLICATE_TRANSACTION' || answer.originalSequence !== ack.sequence) problems.push(`${ack.command.transactionId} (acked at ${ack.sequence}) with another amount: ${JSON.stringify(answer)}`);
  });
  return problems;
}

/** Opens accounts (the same request again after an unknown outcome: ACCOUNT_ALREADY_EXISTS is then its answer). */
export async function openAccounts(target: string, ids: readonly string[], initialBalance: number, withinMs = 30_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    let why: string;
    try {
      const r = await gql(target, SUBMIT, { input: { commands: ids.map((accountId) => ({ openAccount: { accountId, currency: 'EUR', initialBalance } })) } });
      const results = r.data?.submitCommands.results as CommandAnswer[] | undefined;
      if (results && results.every((x) => x.__typename === 'OpenAccountSuccess' || x.code === 'ACCOUNT_ALREADY_EXISTS')) return;
      why = JSON.stringify(r.errors ?? results);
    } catch (err) {
      why = String(err);
    }
    if (Date.now() > deadline) throw new Error(`could not open the accounts on ${target}: ${why}`);
    await sleep(200);
  }
}

/** Polls until `check` gives a value (not undefined), or fails with what it last saw. */
export async function until<T>(what: string, withinMs: number, check: () => Promise<T | undefined>, every = 100): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${withinMs} ms waiting for ${what}`);
    await sleep(every);
  }
}
