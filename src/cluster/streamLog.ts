// The replicated log: one JetStream stream, one message per committed batch (the log block's bytes,
// with its first and last sequence and the hash after it in headers). Stream sequence N holds the
// log's batch N, so a node's position in the log (the head's `blocks`) is where it reads on from, and
// the position a writer's next batch must take is what it fences on: every publish expects the last
// stream sequence to be the batch before it (Nats-Expected-Last-Sequence), and carries the batch's
// hash as its Nats-Msg-Id, so a retried publish is recognised as the same batch, never stored twice.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StreamConfig,
} from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import type { BatchLog, DecidedBatch } from '../store/batchLog.ts';
import type { Rocks } from '../store/rocks.ts';
import type { ReplicatedBatch } from '../store/ledgerStore.ts';
import { ClusterError, type ClusterErrorCode } from './clusterError.ts';

/** The stream's layout version: a stream of another (or of something else entirely) is refused, not misread. */
export const LOG_FORMAT = 1;
const DESCRIPTION = `evledger log, format ${LOG_FORMAT}: one message per committed batch`;
export const HEADER = { format: 'Evledger-Format', first: 'Evledger-First', last: 'Evledger-Last', hash: 'Evledger-Hash' } as const;

/** JetStream's "wrong last sequence": the stream moved on past what the publisher expected. */
const WRONG_LAST_SEQUENCE = 10071;
/** "wrong last msg ID": the stream's last message is not the one the publisher expected. */
const WRONG_LAST_MSG_ID = 10070;
/** How long one publish is retried (leader elections, reconnects) before its outcome is declared unknown. */
const PUBLISH_DEADLINE_MS = 30_000;
/** One attempt: short, so that after a leader dies the retry reaches the new one soon after its election. */
const PUBLISH_ATTEMPT_MS = 1_500;
const DUPLICATE_WINDOW_NS = 120e9;

export const logSubject = (stream: string): string => `${stream}.log`;

/** Connects to any of the comma-separated servers, or fails clearly within `timeoutMs`. */
export async function connectNats(urls: string, name: string, timeoutMs: number): Promise<NatsConnection> {
  const servers = urls.split(',').map((u) => u.trim()).filter(Boolean);
  try {
    // After the first connection, reconnect forever: a cluster node outlives any one NATS server. Pings
    // every 2 s, 2 unanswered: a frozen server (not a dead one, which closes the socket) is left for
    // another in about 4–6 s instead of the client's default of minutes. No async traces: an Error made
    // ahead of every request and publish, for a stack trace if it fails, was 3 % of a writer's CPU.
    return await connect({ servers, name, timeout: timeoutMs, maxReconnectAttempts: -1, reconnectTimeWait: 250, ignoreClusterUpdates: false, pingInterval: 2_000, maxPingOut: 2, noAsyncTraces: true });
  } catch (cause) {
    throw new ClusterError('NATS_UNREACHABLE', `cannot reach NATS at ${servers.join(', ')}: ${(cause as Error).message}`, { cause });
  }
}

/** Creates the stream, or checks that the one there is ours; retries while JetStream elects its leaders. */
export async function ensureStream(jsm: JetStreamManager, name: string, replicas: number, timeoutMs: number): Promise<void> {
  const wanted: Partial<StreamConfig> & { name: string } = {
    name,
    description: DESCRIPTION,
    subjects: [logSubject(name)],
    storage: StorageType.File,
    num_replicas: replicas,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.New,
    deny_delete: true,
    deny_purge: true,
    duplicate_window: DUPLICATE_WINDOW_NS,
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const info = await jsm.streams.info(name).catch(async (err) => {
        if (err instanceof JetStreamApiError && err.code === 10059) return jsm.streams.add(wanted);
        throw err;
      });
      const problems = formatProblems(name, info.config);
      if (problems.length > 0) {
        throw new ClusterError('STREAM_FORMAT', `the JetStream stream ${name} is not an evledger log of format ${LOG_FORMAT}: ${problems.join('; ')}. Set NATS_STREAM to another name, or remove that stream.`);
      }
      return;
    } catch (err) {
      if (err instanceof ClusterError) throw err;
      if (Date.now() > deadline) throw new ClusterError('NATS_UNREACHABLE', `JetStream did not answer for stream ${name} within ${timeoutMs} ms: ${(err as Error).message}`, { cause: err });
      await sleep(250);
    }
  }
}

/**
 * What makes a stream not hold the whole log: another evledger format or another use, or any limit
 * under which JetStream would drop batches (an operator's `nats stream edit` can add one at any time).
 */
export function formatProblems(name: string, c: StreamConfig): string[] {
  const unlimited = (n: number | undefined) => n === undefined || n <= 0;
  return [
    c.description !== DESCRIPTION && `its description is ${JSON.stringify(c.description ?? '')}`,
    (c.subjects?.length !== 1 || c.subjects[0] !== logSubject(name)) && `its subjects are ${JSON.stringify(c.subjects)}`,
    c.storage !== StorageType.File && 'it is not on file storage',
    !(c.deny_delete && c.deny_purge) && 'it allows deleting or purging messages',
    c.retention !== RetentionPolicy.Limits && `its retention is ${c.retention}, which drops messages once consumed`,
    !(unlimited(c.max_age) && unlimited(c.max_msgs) && unlimited(c.max_bytes) && unlimited(c.max_msgs_per_subject)) &&
      `it has a limit that drops old batches (max_age ${c.max_age}, max_msgs ${c.max_msgs}, max_bytes ${c.max_bytes}, max_msgs_per_subject ${c.max_msgs_per_subject})`,
  ].filter((p): p is string => typeof p === 'string');
}

/** The stream's last sequence: the log position every replica is to reach. */
export async function streamTail(jsm: JetStreamManager, stream: string): Promise<number> {
  return (await jsm.streams.info(stream)).state.last_seq;
}

/** The hash after batch `position` as the stream holds it, or null where it holds none. */
export async function hashAt(jsm: JetStreamManager, stream: string, position: number): Promise<string | null> {
  if (position < 1) return null;
  const message = await jsm.streams.getMessage(stream, { seq: position }).catch((err) => {
    if (err instanceof JetStreamApiError && err.code === 10037) return null;
    throw err;
  });
  return message?.header.get(HEADER.hash) || null;
}

/** A stream message as a batch for LedgerStore.applyReplicated, checked to be one of ours. */
export function batchOf(message: JsMsg): ReplicatedBatch {
  const format = message.headers?.get(HEADER.format);
  if (format !== String(LOG_FORMAT)) {
    throw new ClusterError('STREAM_FORMAT', `stream message ${message.seq} is not an evledger batch of format ${LOG_FORMAT} (${HEADER.format}: ${JSON.stringify(format ?? null)})`);
  }
  const data = message.data;
  return { block: Buffer.from(data.buffer, data.byteOffset, data.byteLength), position: message.seq };
}

/**
 * The writer's log: a batch is committed once the stream has it (a quorum of its replicas) and this
 * node's RocksDB has it, fsynced. After a refused or unanswered publish the log refuses every batch
 * until reset(): whatever is decided next rests on a head the stream may have left behind.
 */
export class StreamLog implements BatchLog {
  private refusal: ClusterError | null = null;
  /** The last batch published (sent, maybe not acknowledged yet), and the last one acknowledged. */
  private sent: { position: number; hash: string } | null = null;
  private acked = 0;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly rocks: Rocks,
    private readonly sync: boolean,
  ) {}

  static client(nc: NatsConnection): { js: JetStreamClient; jsm: () => Promise<JetStreamManager> } {
    return { js: jetstream(nc, { timeout: 5_000 }), jsm: () => jetstreamManager(nc, { timeout: 5_000 }) };
  }

  /** After this node caught up with the stream: batches may be published again. */
  reset(): void {
    this.refusal = null;
    this.sent = null;
  }

  /** Refuses every batch from now until reset() (this node stopped being the writer). */
  refuse(error: ClusterError): void {
    this.refusal ??= error;
  }

  get refused(): ClusterError | null {
    return this.refusal;
  }

  /**
   * Publishes the batch, and once JetStream's quorum has it, writes it here. The publish goes out at
   * once, while the batch before may still be unacknowledged (pipelined): see publish() for its fence.
   */
  readonly pipelined = true;

  async commit(batch: DecidedBatch, previous: Promise<void> | null): Promise<void> {
    if (this.refusal) throw new ClusterError('NOT_WRITER', `batch ${batch.position} was not published: this node stopped writing (${this.refusal.message})`);
    const published = this.publish(batch, previous);
    published.catch(() => {}); // awaited below
    const filled = batch.filled ?? this.rocks.fill(batch.ops);
    const previousFailure = previous ? await previous.then(() => null, (err: unknown) => err) : null;
    await published;
    if (previousFailure) {
      // In the stream, but the batch before is not written here: the replica reads both from the stream.
      throw this.stop('PUBLISH_UNKNOWN', `batch ${batch.position} is in the log but the batch before failed here (${(previousFailure as Error).message}) — retry with the same transactionIds`);
    }
    await this.rocks.writeFilled(filled, this.sync);
  }

  /**
   * The fence: the stream's last message must be the batch before this one. Once that batch is
   * acknowledged at its sequence, the last sequence says so. Before then the sequence alone is not
   * enough: had that batch been refused because another writer's took its place, this one would be
   * stored after the other's. So it must also be the last message by id, the batch before's hash.
   */
  private async publish(batch: DecidedBatch, previous: Promise<void> | null): Promise<void> {
    const hash = batch.hash.toString('hex');
    const h = headers();
    h.set(HEADER.format, String(LOG_FORMAT));
    h.set(HEADER.first, String(batch.firstSequence));
    h.set(HEADER.last, String(batch.lastSequence));
    h.set(HEADER.hash, hash);
    const before = this.sent?.position === batch.position - 1 ? this.sent.hash : null;
    this.sent = { position: batch.position, hash };
    const deadline = Date.now() + PUBLISH_DEADLINE_MS;
    for (let attempt = 0; ; attempt++) {
      const unacked = before !== null && this.acked < batch.position - 1;
      try {
        const ack = await this.js.publish(logSubject(this.stream), batch.block, {
          msgID: hash,
          expect: unacked ? { lastSequence: batch.position - 1, lastMsgID: before } : { lastSequence: batch.position - 1 },
          headers: h,
          timeout: PUBLISH_ATTEMPT_MS,
        });
        if (ack.seq !== batch.position) {
          throw this.stop('LOG_MISMATCH', `batch ${batch.position} was stored at stream sequence ${ack.seq}${ack.duplicate ? ' (as a duplicate)' : ''}`);
        }
        this.acked = Math.max(this.acked, batch.position);
        return;
      } catch (err) {
        if (err instanceof ClusterError) throw err;
        const fenced = err instanceof JetStreamApiError && (err.code === WRONG_LAST_SEQUENCE || err.code === WRONG_LAST_MSG_ID);
        if (fenced && unacked && previous) {
          // It overtook the batch before (that one's retry came later), or the stream leader lost the last id
          // (a restart): once the batch before is stored, fenced on its sequence, again.
          if (!(await previous.then(() => true, () => false))) {
            throw new ClusterError('NOT_WRITER', `batch ${batch.position} was not stored: the batch before it failed`);
          }
          continue;
        }
        if (fenced) {
          // Past the duplicate window a retry of our own stored batch is refused like anyone else's: compare.
          if (attempt > 0 && (await hashAt(this.jsm, this.stream, batch.position).catch(() => null)) === hash) return;
          throw this.stop('LOG_MOVED', `the log moved on: batch ${batch.position} was taken by another writer (${(err as Error).message})`);
        }
        // Stepped down meanwhile: another node may write now, so stop trying; whether this batch got in,
        // the stream will show the replica as it reads on (the callers are told it may have).
        if (Date.now() > deadline || this.refusal) {
          throw this.stop('PUBLISH_UNKNOWN', `JetStream did not acknowledge batch ${batch.position} (${(err as Error).message}); it may or may not be in the log — retry with the same transactionIds`);
        }
        // An election ("jetstream not enabled", no responders) or a reconnect: the same publish again.
        await sleep(Math.min(50 * 2 ** attempt, 500));
      }
    }
  }

  private stop(code: ClusterErrorCode, message: string): ClusterError {
    const error = new ClusterError(code, message);
    this.refuse(error);
    return error;
  }
}
