// One node of a cluster: a LedgerStore that is a replica of the JetStream log (DESIGN §7).
//
// A follower applies the stream in order into its RocksDB (the same rows, hash chain and sequences as
// every other replica) and forwards the commands it is sent to the writer. The node holding the writer
// lease first catches up with the stream's tail, stops following, and then decides commands on its
// replica as the embedded store does, committing each batch through StreamLog: published, fenced on
// the batch before, then written here. A refused publish means another node wrote: it steps down,
// follows again, and the commands it could not publish are sent on to whoever writes now.
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Command } from '../domain/commands.ts';
import { validateCommand } from '../domain/validation.ts';
import { InvalidCommandError, LedgerStore, type CommandResult, type LedgerStoreOptions, type ReplicatedBatch } from '../store/ledgerStore.ts';
import { StoreError } from '../store/rocks.ts';
import { Forwarder, serveCommands, type ForwardedCall, type ForwardedReply } from './forwarding.ts';
import { ClusterError } from './clusterError.ts';
import { StreamLog, batchOf, connectNats, ensureStream, formatProblems, hashAt, streamTail } from './streamLog.ts';
import { WriterLease } from './writerLease.ts';

export interface ClusterOptions {
  /** Comma-separated nats:// URLs (NATS_URL). */
  readonly urls: string;
  /** The stream holding the log (NATS_STREAM). @default 'evledger' */
  readonly stream?: string;
  /** Replicas of the stream and of the lease bucket (NATS_REPLICAS). @default 3 */
  readonly replicas?: number;
  /** This node's name in the lease and in NATS (NODE_ID). @default hostname-pid */
  readonly nodeId?: string;
  /** How long start-up waits for NATS and JetStream before failing. @default 15_000 */
  readonly connectTimeoutMs?: number;
  /** The writer lease's time to live: how long writes stall after the writer dies. @default 3_000 */
  readonly leaseTtlMs?: number;
  /** How long a forwarded command (and the wait to apply its result here) may take. @default 15_000 */
  readonly forwardTimeoutMs?: number;
  /** Where the node reports role changes and failures. */
  readonly log?: (level: 'info' | 'warn' | 'error', message: string, details?: Record<string, unknown>) => void;
}

export type Role = 'follower' | 'candidate' | 'writer';

/**
 * Batches applied in one RocksDB write while catching up, and their bytes at most. Small enough that
 * the next group is derived while the last one is written: with 16 MiB, a node catching up 80k events
 * derived one big group, then waited for its write, and applied 28–32k events/s; with 1 MiB, 44–49k
 * (scratch A/B runs of the cluster bench's catch-up, alternating).
 */
const APPLY_BATCHES = 256;
const APPLY_BYTES = 1 << 20;
/** How long a consumer may send neither a message nor a heartbeat (idle_heartbeat is 1 s). */
const CONSUMER_SILENT_MS = 3_000;
/** A node counts as caught up for this long after it last applied everything the stream held. */
const CAUGHT_UP_GRACE_MS = 2_000;

export interface ClusterStatus {
  readonly role: Role;
  readonly nodeId: string;
  readonly connected: boolean;
  /** Batches in the stream, as last seen. */
  readonly tail: number;
  /** Batches applied here. */
  readonly applied: number;
  /** Why the node stopped applying the stream, if it did. */
  readonly failure: string | null;
}

export class ClusterNode {
  private role: Role = 'follower';
  private tail = 0;
  private connected = true;
  private caughtUpAt = 0;
  private failure: Error | null = null;
  private closed = false;
  private following: Following | null = null;
  private serving: Subscription | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private readonly forwarder: Forwarder;
  /** Seconds of each forwarded command round trip, and of each publish, for /metrics. */
  onForwarded: ((seconds: number) => void) | null = null;

  private constructor(
    readonly store: LedgerStore,
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly log: StreamLog,
    private readonly lease: WriterLease,
    private readonly stream: string,
    readonly nodeId: string,
    private readonly options: Required<Pick<ClusterOptions, 'forwardTimeoutMs'>> & Pick<ClusterOptions, 'log'>,
  ) {
    this.forwarder = new Forwarder(nc, stream);
  }

  /** Connects, checks the stream and this node's store against each other, and starts following. */
  static async open(dataDir: string, storeOptions: LedgerStoreOptions, options: ClusterOptions): Promise<ClusterNode> {
    const stream = options.stream ?? 'evledger';
    const replicas = options.replicas ?? 3;
    const nodeId = options.nodeId ?? `${hostname()}-${process.pid}`;
    const timeoutMs = options.connectTimeoutMs ?? 15_000;
    const nc = await connectNats(options.urls, `evledger ${nodeId}`, timeoutMs);
    try {
      if (nc.info && !nc.info.jetstream) {
        throw new ClusterError('NATS_UNREACHABLE', `the NATS server at ${options.urls} runs without JetStream (start nats-server with -js): the log needs it`);
      }
      const { js, jsm: makeJsm } = StreamLog.client(nc);
      // A server without JetStream, or a cluster still electing its meta leader, says "not enabled".
      const jsm = await retrying(timeoutMs, options.urls, makeJsm);
      await ensureStream(jsm, stream, replicas, timeoutMs);
      const lease = await retrying(timeoutMs, options.urls, () => WriterLease.open(js, stream, replicas, nodeId, options.leaseTtlMs ?? 3_000));
      let log: StreamLog | null = null;
      const store = await LedgerStore.open(dataDir, {
        ...storeOptions,
        log: (rocks, sync) => (log = new StreamLog(js, jsm, stream, rocks, sync)),
      });
      try {
        await checkReplica(store, jsm, stream, dataDir);
        const node = new ClusterNode(store, nc, js, jsm, log!, lease, stream, nodeId, { forwardTimeoutMs: options.forwardTimeoutMs ?? 15_000, log: options.log });
        node.start(lease.ttlMs);
        return node;
      } catch (err) {
        await store.close();
        throw err;
      }
    } catch (err) {
      await nc.close().catch(() => {});
      throw err;
    }
  }

  get status(): ClusterStatus {
    return {
      role: this.role,
      nodeId: this.nodeId,
      connected: this.connected,
      tail: Math.max(this.tail, this.store.logPosition),
      applied: this.store.logPosition,
      failure: this.failure?.message ?? null,
    };
  }

  /** Why this node should not get traffic, or null: connected, applying, and caught up with the stream lately. */
  notReady(): string | null {
    if (this.failure) return `this node stopped applying the log: ${this.failure.message}`;
    if (!this.connected) return 'not connected to NATS';
    if (this.role === 'writer') return null;
    if (Date.now() - this.caughtUpAt > CAUGHT_UP_GRACE_MS) return `catching up with the log: ${this.store.logPosition} of ${this.tail} batches applied`;
    return null;
  }

  /**
   * Runs commands on the writer, wherever it is, and resolves once their results are applied here too
   * (read-your-writes on this node). Commands that certainly were not decided (no writer, a writer
   * that stepped down before publishing them) are sent again until the forward timeout.
   */
  async execute(commands: readonly Command[], options: { atomic?: boolean } = {}): Promise<CommandResult[]> {
    for (const command of commands) {
      const problem = validateCommand(command);
      if (problem) throw new InvalidCommandError(problem);
    }
    const atomic = options.atomic ?? false;
    const startedAt = performance.now();
    const deadline = Date.now() + this.options.forwardTimeoutMs;
    let unanswered = false;
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new Error('the ledger is closing');
      let reply: ForwardedReply;
      try {
        reply = this.role === 'writer' ? await this.decideHere({ commands, atomic }) : await this.forwarder.send({ commands, atomic }, deadline);
      } catch (err) {
        throw new ClusterError(
          'WRITER_UNAVAILABLE',
          `no writer answered within ${this.options.forwardTimeoutMs} ms; the commands may or may not have been applied — retry with the same transactionIds`,
          { cause: err },
        );
      }
      if ('results' in reply) {
        const last = lastSequenceOf(reply.results);
        await this.store.waitForSequence(last, Math.max(1, deadline - Date.now())).catch((err: unknown) => {
          throw new ClusterError(
            'REPLICA_BEHIND',
            `the commands were applied (to sequence ${last}), but this node has applied the log only to ${this.store.head} within ${this.options.forwardTimeoutMs} ms — retry with the same transactionIds for the original results`,
            { cause: err },
          );
        });
        this.onForwarded?.((performance.now() - startedAt) / 1_000);
        return reply.results;
      }
      if ('error' in reply) throw errorOf(reply.error);
      if (reply.unknown) unanswered = true;
      if (Date.now() > deadline) {
        const outcome = unanswered ? 'they may or may not have been applied — retry with the same transactionIds' : 'none was applied';
        throw new ClusterError('WRITER_UNAVAILABLE', `no writer took the commands within ${this.options.forwardTimeoutMs} ms (${reply.retry}); ${outcome}`);
      }
      await sleep(Math.min(25 * 2 ** attempt, 250));
    }
  }

  /** Stops following and writing, gives the lease up, closes the store and the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker) clearInterval(this.ticker);
    await this.ticking;
    this.serving?.unsubscribe();
    this.log.refuse(new ClusterError('NOT_WRITER', 'this node is shutting down'));
    await this.stopFollowing();
    await this.store.close();
    await this.lease.release();
    await this.nc.drain().catch(() => {});
  }

  private start(leaseTtlMs: number): void {
    void (async () => {
      for await (const s of this.nc.status()) {
        if (s.type === 'disconnect') this.connected = false;
        else if (s.type === 'reconnect') this.connected = true;
      }
    })();
    this.follow();
    void this.tickNow(); // the first node up writes at once, not a tick later
    const tickEvery = Math.max(100, Math.floor(leaseTtlMs / 3));
    this.ticker = setInterval(() => {
      this.ticking ??= this.tick().finally(() => (this.ticking = null));
    }, tickEvery);
    this.ticker.unref();
  }

  /** Every third of the lease's TTL: the stream's tail (for lag and readiness), then the lease. */
  private async tick(): Promise<void> {
    try {
      const info = await this.jsm.streams.info(this.stream);
      this.tail = Math.max(this.tail, info.state.last_seq);
      if (this.store.logPosition >= this.tail) this.caughtUpAt = Date.now();
      const problem = streamProblem(this.stream, info, this.store.logPosition);
      if (problem) this.fail(problem);
    } catch {
      // JetStream is electing or unreachable: readiness says so through `connected` or the lag.
    }
    if (this.closed || this.failure) return;
    const held = await this.lease.tick();
    if (this.closed) return;
    if (held && this.role === 'follower') await this.becomeWriter();
    else if (this.role === 'writer' && (!held || this.log.refused)) await this.stepDown(held ? this.log.refused!.message : 'the writer lease was lost');
  }

  private async becomeWriter(): Promise<void> {
    this.role = 'candidate';
    try {
      const tail = await streamTail(this.jsm, this.stream);
      this.tail = Math.max(this.tail, tail);
      // Catching up runs inside a tick: the lease is renewed here meanwhile, or given up.
      const deadline = Date.now() + 60_000;
      let renewAt = Date.now() + this.lease.ttlMs / 3;
      while (this.store.logPosition < tail) {
        if (this.closed || this.failure || Date.now() > deadline) throw new Error(`not caught up (${this.store.logPosition} of ${tail})`);
        if (Date.now() >= renewAt) {
          if (!(await this.lease.tick())) throw new Error(`the writer lease was lost while catching up (${this.store.logPosition} of ${tail})`);
          renewAt = Date.now() + this.lease.ttlMs / 3;
        }
        await sleep(10);
      }
      if (!this.lease.holds) throw new Error('the writer lease ran out while catching up');
      await this.stopFollowing();
      // Nobody may publish while the lease is ours, but the lease is not what safety rests on: check.
      const now = await streamTail(this.jsm, this.stream);
      if (now !== this.store.logPosition) throw new Error(`the log moved to ${now} while this node caught up to ${this.store.logPosition}`);
      this.log.reset();
      this.serving = serveCommands(this.nc, this.stream, (request) => this.decideHere(request));
      this.role = 'writer';
      this.options.log?.('info', 'this node is the writer now', { nodeId: this.nodeId, position: this.store.logPosition, head: this.store.head });
    } catch (err) {
      this.role = 'follower';
      if (!this.following && !this.closed) this.follow();
      this.options.log?.('warn', 'could not become the writer', { reason: (err as Error).message });
    }
  }

  private async stepDown(reason: string): Promise<void> {
    this.role = 'follower';
    this.serving?.unsubscribe();
    this.serving = null;
    this.log.refuse(new ClusterError('NOT_WRITER', reason));
    // Batches in flight fail (refused); the replica then reads on from what it has applied.
    while (!this.store.idle) await sleep(5);
    this.options.log?.('warn', 'this node stopped writing', { reason, position: this.store.logPosition });
    if (!this.closed) this.follow();
  }

  /** The writer's side of a command, forwarded or local: decided here, or "retry" if this node stopped writing. */
  private async decideHere(request: ForwardedCall): Promise<ForwardedReply> {
    if (this.role !== 'writer') return { retry: 'this node is not the writer' };
    try {
      return { results: await this.store.execute(request.commands, { atomic: request.atomic }) };
    } catch (err) {
      if (err instanceof ClusterError && err.notStored) {
        if (this.role === 'writer') void this.tickNow();
        return { retry: err.message };
      }
      const code = (err as { code?: unknown }).code;
      return { error: { code: typeof code === 'string' ? code : 'INTERNAL', message: (err as Error).message } };
    }
  }

  /** A refused publish: step down now rather than at the next tick. */
  private tickNow(): Promise<void> {
    return (this.ticking ??= this.tick().finally(() => (this.ticking = null)));
  }

  /**
   * Applies the stream from this node's position on, in batches of what has arrived, until stopped.
   * NATS failing under it (an election, a lost connection, a consumer that could not be made) only
   * pauses it: it starts again from what it has applied. A log it cannot apply stops it for good.
   */
  private follow(): void {
    const following: Following = { messages: null, done: Promise.resolve(), stopped: new AbortController() };
    this.following = following;
    following.done = (async () => {
      for (let attempt = 0; this.following === following && !this.closed; attempt++) {
        try {
          if (await this.applyStream(following)) attempt = 0;
        } catch (err) {
          if (this.closed || this.following !== following) return;
          if (err instanceof StoreError || err instanceof ClusterError) return this.fail(err);
          this.options.log?.('warn', 'following the log again', { reason: (err as Error).message, position: this.store.logPosition });
        }
        await sleep(Math.min(100 * 2 ** attempt, 2_000), undefined, { signal: following.stopped.signal }).catch(() => {});
      }
    })();
  }

  /** One consumer's worth of following; true if it applied anything. */
  private async applyStream(following: Following): Promise<boolean> {
    const problem = streamProblem(this.stream, await this.jsm.streams.info(this.stream), this.store.logPosition);
    if (problem) throw problem;
    const consumer = await this.js.consumers.get(this.stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.store.logPosition + 1 });
    if (this.following !== following) return false;
    const messages = await consumer.consume({ max_messages: 512, expires: 5_000, idle_heartbeat: 1_000 });
    following.messages = messages;
    if (this.following !== following) {
      messages.stop(); // stopped while the consumer was being made
      return false;
    }
    // The ordered consumer is one R1 consumer on one of the stream's servers. When that server dies its
    // messages and heartbeats just stop, and the client only asks that server again (it may have moved
    // to another one itself, which cancels its own heartbeat check). So: neither a message nor a
    // heartbeat (one a second when idle) for CONSUMER_SILENT_MS, and this consumer is dropped for a new
    // one on a live server. (A write here that takes that long restarts it for nothing, harmlessly.)
    let received = this.store.logPosition;
    let heardAt = Date.now();
    void (async () => {
      for await (const s of messages.status()) if (s.type === 'heartbeat') heardAt = Date.now();
    })().catch(() => {});
    const watchdog = setInterval(() => {
      if (Date.now() - heardAt > CONSUMER_SILENT_MS) {
        this.options.log?.('warn', 'the stream consumer went silent: following the log again', { position: this.store.logPosition, tail: this.tail });
        messages.stop();
      }
    }, 500);
    watchdog.unref();
    let applied = false;
    let pending: ReplicatedBatch[] = [];
    let bytes = 0;
    // One write in flight while the next batches arrive and are derived: catching up overlaps the fsyncs.
    let writing: Promise<void> | null = null;
    try {
      for await (const message of messages) {
        heardAt = Date.now();
        if (message.seq <= received) continue; // redelivered after a consumer reset
        received = message.seq;
        pending.push(batchOf(message));
        bytes += message.data.byteLength;
        this.tail = Math.max(this.tail, message.seq + message.info.pending);
        // Whatever has arrived goes into one RocksDB write: a node catching up applies many batches per fsync.
        if (message.info.pending > 0 && pending.length < APPLY_BATCHES && bytes < APPLY_BYTES) continue;
        const written = this.store.applyReplicated(pending);
        written.then(() => {
          if (this.store.logPosition >= this.tail) this.caughtUpAt = Date.now();
        }, () => {});
        pending = [];
        bytes = 0;
        if (writing) await writing;
        writing = written;
        applied = true;
      }
      await writing;
    } finally {
      clearInterval(watchdog);
      messages.stop();
      await writing?.catch(() => {});
    }
    return applied;
  }

  /** A log this node cannot apply, or a stream that may drop batches: it stops following and writing for good. */
  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.options.log?.('error', 'this node stopped applying the log', { error: err.message, position: this.store.logPosition });
    this.log.refuse(new ClusterError('NOT_WRITER', `this node stopped: ${err.message}`));
    this.serving?.unsubscribe();
    this.serving = null;
    this.role = 'follower';
    void this.stopFollowing();
  }

  private async stopFollowing(): Promise<void> {
    const following = this.following;
    if (!following) return;
    this.following = null;
    following.stopped.abort();
    following.messages?.stop();
    await following.done;
  }
}

interface Following {
  messages: ConsumerMessages | null;
  done: Promise<void>;
  readonly stopped: AbortController;
}

/** This node's store must hold a prefix of the stream's log: the batch at its position must hash the same. */
async function checkReplica(store: LedgerStore, jsm: JetStreamManager, stream: string, dataDir: string): Promise<void> {
  const position = store.logPosition;
  if (position === 0) return;
  const hash = await hashAt(jsm, stream, position);
  if (hash !== store.headHash.toString('hex')) {
    throw new ClusterError(
      'LOG_MISMATCH',
      `the store at ${dataDir} holds ${position} batches (head ${store.head}) that are not the stream ${stream}'s ${hash ? `(its batch ${position} has another hash)` : `(the stream has fewer batches)`}. ` +
        'Move that folder away to rebuild this node from the stream.',
    );
  }
}

/** Why the stream cannot be (or no longer is) this node's log, or null. */
function streamProblem(stream: string, info: StreamInfo, position: number): ClusterError | null {
  const problems = formatProblems(stream, info.config);
  if (problems.length > 0) return new ClusterError('STREAM_FORMAT', `the JetStream stream ${stream} no longer holds the whole log: ${problems.join('; ')}`);
  const { first_seq: first, messages } = info.state;
  if (messages > 0 && first > position + 1) {
    return new ClusterError('LOG_MISMATCH', `the stream ${stream} starts at batch ${first}, but this node has applied only ${position}: batches ${position + 1}–${first - 1} are gone from it`);
  }
  return null;
}

function lastSequenceOf(results: readonly CommandResult[]): number {
  let last = 0;
  for (const r of results) {
    if (r.ok) last = Math.max(last, r.sequence);
    else if (r.error.code === 'DUPLICATE_TRANSACTION') last = Math.max(last, r.error.originalSequence);
  }
  return last;
}

function errorOf(error: { code: string; message: string }): Error {
  if (error.code === 'BAD_USER_INPUT') return new InvalidCommandError(error.message);
  if (error.code.startsWith('STORE_')) return new StoreError(error.code as never, `on the writer: ${error.message}`);
  return new ClusterError('WRITER_UNAVAILABLE', `the writer failed the commands: ${error.message}`);
}

async function retrying<T>(timeoutMs: number, urls: string, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > deadline) throw new ClusterError('NATS_UNREACHABLE', `JetStream at ${urls} did not answer within ${timeoutMs} ms: ${(err as Error).message}`, { cause: err });
      await sleep(250);
    }
  }
}
