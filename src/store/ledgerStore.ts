// The ledger store: opens RocksDB, loads the persisted projection (no replay, whatever the log's
// length), runs the single-writer append pipeline, and answers the primitive reads that the
// projection and API layers compose (blocks of the log, account history, checkpoints, time index).
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { commandFor, type Command } from '../domain/commands.ts';
import type { DomainError } from '../domain/errors.ts';
import { accountIdsOf, type RecordedEvent } from '../domain/events.ts';
import { LedgerState } from '../domain/ledger.ts';
import { sequence, type AccountId, type AccountState, type Sequence } from '../domain/types.ts';
import { validateCommand } from '../domain/validation.ts';
import { AppendPipeline, type Commit, type ImportedEvent, type PipelineOptions, type ReplicatedBatch } from './appendPipeline.ts';
import {
  GENESIS_HASH,
  decodeAccount,
  decodeBlock,
  decodeCheckpoint,
  decodeHead,
  decodeHistory,
  type Checkpoint,
  type Head,
  type HistoryEntry,
} from './codec.ts';
import {
  ACCOUNTS_END,
  ACCOUNTS_START,
  CHECKPOINTS_START,
  LOG_END,
  LOG_START,
  TIME_START,
  accountIdOfKey,
  checkpointKey,
  historyEnd,
  historyKey,
  historyStart,
  logKey,
  metaKey,
  sequenceOfHistoryKey,
  sequenceOfLogKey,
  sequenceOfTimeKey,
  timeKey,
} from './keys.ts';
import { rebuildProjection, PROJECTION_FORMAT } from './rebuild.ts';
import { Rocks, StoreError } from './rocks.ts';

export type { Commit, ReplicatedBatch } from './appendPipeline.ts';
export { STORE_RETRY_AFTER_MS } from './appendPipeline.ts';

/** The on-disk layout version (keys.ts); a store of another version is refused, not misread. */
export const STORE_FORMAT = 1;

export interface LedgerStoreOptions extends Partial<PipelineOptions> {
  /** Open only a store that exists (STORE_MISSING otherwise), creating nothing: for commands that read one. */
  readonly existing?: boolean;
}

export const DEFAULT_STORE_OPTIONS: PipelineOptions = {
  durability: 'fsync',
  queueLimit: 20_000,
  maxBatch: 2_000,
};

export type CommandResult =
  | {
      readonly ok: true;
      readonly sequence: Sequence;
      readonly event: RecordedEvent;
      /** The event's accounts right after it, in accountIdsOf(event) order (from, to for a transfer). */
      readonly accounts: readonly AccountState[];
      /** True when this is the original result of an earlier identical command (nothing was appended). */
      readonly replayed: boolean;
    }
  | { readonly ok: false; readonly error: DomainError };

export class InvalidCommandError extends Error {
  readonly code = 'BAD_USER_INPUT';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidCommandError';
  }
}

export class SequenceNotReachedError extends Error {
  readonly code = 'SEQUENCE_NOT_REACHED';
  constructor(
    readonly wanted: number,
    readonly head: number,
    timeoutMs: number,
  ) {
    super(`this node has applied the log up to sequence ${head}; sequence ${wanted} did not arrive within ${timeoutMs} ms`);
    this.name = 'SequenceNotReachedError';
  }
}

export class LedgerStore {
  private readonly listeners = new Set<(commit: Commit) => void>();
  private readonly pipeline: AppendPipeline;

  private constructor(
    readonly rocks: Rocks,
    /** The ledger now. Read it, never write it: only the pipeline moves it on. */
    readonly state: LedgerState,
    head: { readonly hash: Buffer; readonly blocks: number },
    options: PipelineOptions,
  ) {
    this.pipeline = new AppendPipeline(rocks, state, head, options, (commit) => {
      for (const listener of this.listeners) listener(commit);
    });
  }

  static async open(dir: string, options: LedgerStoreOptions = {}): Promise<LedgerStore> {
    const { existing = false, ...pipeline } = options;
    // RocksDB creates the folder and its LOCK file before it finds out that there is no store in it.
    if (existing && !(await stat(join(dir, 'CURRENT')).catch(() => null))) throw new StoreError('STORE_MISSING', `there is no store at ${dir}`);
    if (!existing) await mkdir(dir, { recursive: true });
    const rocks = await Rocks.open(dir, { createIfMissing: !existing });
    try {
      await checkFormat(rocks, existing);
      const projection = await rocks.get(metaKey('projection'));
      if (!projection || projection.readUInt32BE(0) !== PROJECTION_FORMAT) await rebuildProjection(rocks);
      // Read after any rebuild, which rewrites the head: one cut short by a crash may have left it mid-log.
      const headBytes = await rocks.get(metaKey('head'));
      const head: Head = headBytes ? decodeHead(headBytes) : { sequence: sequence(0), hash: GENESIS_HASH, timestamp: 0 };
      const state = await loadProjection(rocks, head);
      const blocks = head.blocks ?? (await countBlocks(rocks));
      return new LedgerStore(rocks, state, { hash: head.hash, blocks }, { ...DEFAULT_STORE_OPTIONS, ...pipeline });
    } catch (err) {
      await rocks.close();
      throw err;
    }
  }

  get head(): Sequence {
    return this.state.head;
  }

  get headHash(): Buffer {
    return this.pipeline.headHash;
  }

  get queueDepth(): number {
    return this.pipeline.queueDepth;
  }

  /** Batches in the log: in a cluster, the stream sequence of the last batch applied here. */
  get logPosition(): number {
    return this.pipeline.logPosition;
  }

  /** Whether the writer has nothing queued or in flight. */
  get idle(): boolean {
    return this.pipeline.idle;
  }

  /** Applies batches of a replicated log that another node decided (see AppendPipeline.applyReplicated). */
  applyReplicated(batches: readonly ReplicatedBatch[]): Promise<void> {
    return this.pipeline.applyReplicated(batches);
  }

  /**
   * Resolves once this store has committed `seq` (at once if it has), or rejects with SEQUENCE_NOT_REACHED
   * after `timeoutMs`: how a read on one node of a cluster waits for a write acknowledged by another.
   */
  waitForSequence(seq: number, timeoutMs: number): Promise<void> {
    if (seq <= this.head) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new SequenceNotReachedError(seq, this.head, timeoutMs));
      }, timeoutMs);
      const stop = this.onCommit((commit) => {
        if (commit.toSequence < seq) return;
        clearTimeout(timer);
        stop();
        resolve();
      });
    });
  }

  /** Whether the writer takes commands now: the store is open, not closing, and not suspended by a failed write. */
  get acceptingWrites(): boolean {
    return this.rocks.open && this.pipeline.accepting;
  }

  /** After a failed write, tries to make the store writable again now rather than on the next command. */
  retryRecovery(): void {
    if (this.rocks.open) this.pipeline.retryRecovery();
  }

  /** Runs commands through the writer; resolves once their batch is durable. One result per command. */
  async execute(commands: readonly Command[], options: { atomic?: boolean } = {}): Promise<CommandResult[]> {
    for (const command of commands) {
      const problem = validateCommand(command);
      if (problem) throw new InvalidCommandError(problem);
    }
    const decided = await this.pipeline.submit(commands, options.atomic ?? false);
    const results = new Array<CommandResult>(decided.length);
    let replays: Promise<void>[] | null = null;
    decided.forEach((d, i) => {
      if (d.kind === 'appended') results[i] = { ok: true, sequence: d.event.sequence, event: d.event, accounts: d.accounts, replayed: false };
      else if (d.kind === 'rejected') results[i] = { ok: false, error: d.error };
      else (replays ??= []).push(this.resultAt(d.sequence).then((r) => void (results[i] = r)));
    });
    // Only a retried transaction needs a read (its original result); the rest answer at once.
    if (replays) await Promise.all(replays);
    return results;
  }

  /** Appends exported events as they were (see exportImport.ts); all of them or none. */
  async importEvents(imported: readonly ImportedEvent[]): Promise<void> {
    await this.pipeline.submitImported(imported, imported.map((i) => commandFor(i.event)));
  }

  async executeOne(command: Command): Promise<CommandResult> {
    return (await this.execute([command]))[0]!;
  }

  /** Called synchronously after each durable batch, in commit order. */
  onCommit(listener: (commit: Commit) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (!this.rocks.open) return;
    await this.pipeline.close();
    await this.rocks.close();
  }

  // --- reads ------------------------------------------------------------------------------------

  /** Events with from ≤ sequence ≤ to, in order, read block by block from one consistent view. */
  async *readEvents(from: number, to: number = Number.MAX_SAFE_INTEGER): AsyncGenerator<RecordedEvent> {
    if (from > to) return;
    for await (const { first, block } of this.readBlocks(from)) {
      if (first > to) return;
      for (const event of decodeBlock(block)) {
        if (event.sequence < from) continue;
        if (event.sequence > to) return;
        yield event;
      }
    }
  }

  /** Raw blocks from the one containing `from` on, from one consistent view (a RocksDB snapshot). */
  async *readBlocks(from: number): AsyncGenerator<{ first: Sequence; block: Buffer }> {
    const first = await this.rocks.last(LOG_START, logKey(Math.max(from, 1)));
    for await (const [key, block] of this.rocks.range({ gte: first ? first[0] : logKey(from), lte: LOG_END })) {
      yield { first: sequenceOfLogKey(key), block };
    }
  }

  /** The events at the given sequences (undefined where there is none), reading each block once. */
  async eventsAt(sequences: readonly number[]): Promise<(RecordedEvent | undefined)[]> {
    const wanted = [...new Set(sequences)].filter((s) => s >= 1 && s <= this.head).sort((a, b) => a - b);
    const found = new Map<number, RecordedEvent>();
    let i = 0;
    while (i < wanted.length) {
      const blockStart = await this.rocks.last(LOG_START, logKey(wanted[i]!));
      if (!blockStart) break;
      const events = decodeBlock(blockStart[1]);
      const last = events[events.length - 1]!.sequence;
      for (const e of events) found.set(e.sequence, e);
      while (i < wanted.length && wanted[i]! <= last) i++;
    }
    return sequences.map((s) => found.get(s));
  }

  /** Account `id` as it was after the last of its events at or before `seq`. */
  async accountHistoryAt(id: AccountId, seq: number): Promise<(HistoryEntry & { sequence: Sequence }) | undefined> {
    const entry = await this.rocks.last(historyStart(id), historyKey(id, seq));
    return entry ? { ...decodeHistory(entry[1]), sequence: sequenceOfHistoryKey(entry[0]) } : undefined;
  }

  /** The sequences of account `id`'s events after `after`, in order, at most `limit`. */
  async accountSequences(id: AccountId, after: number, limit: number): Promise<Sequence[]> {
    return (await this.accountHistory(id, after, limit)).map((h) => h.sequence);
  }

  /** Account `id` right after each of its events with after < sequence ≤ to, in order, at most `limit`. */
  async accountHistory(id: AccountId, after: number, limit: number, to = Number.MAX_SAFE_INTEGER): Promise<(HistoryEntry & { sequence: Sequence })[]> {
    const out: (HistoryEntry & { sequence: Sequence })[] = [];
    const range = { gt: historyKey(id, after), lte: to >= Number.MAX_SAFE_INTEGER ? historyEnd(id) : historyKey(id, to), limit };
    for await (const [key, value] of this.rocks.range(range)) out.push({ ...decodeHistory(value), sequence: sequenceOfHistoryKey(key) });
    return out;
  }

  /** Account count and totals after the last batch that ended at or before `seq`. */
  async checkpointAt(seq: number): Promise<{ sequence: Sequence; checkpoint: Checkpoint } | undefined> {
    const entry = await this.rocks.last(CHECKPOINTS_START, checkpointKey(seq));
    return entry ? { sequence: sequenceOfLogKey(entry[0]), checkpoint: decodeCheckpoint(entry[1]) } : undefined;
  }

  /** The last sequence committed at or before `timestamp` (0 if none). */
  async sequenceAtTime(timestamp: number): Promise<Sequence> {
    if (timestamp >= this.state.lastTimestamp) return this.head;
    const entry = await this.rocks.last(TIME_START, timeKey(Math.max(0, Math.floor(timestamp)), Number.MAX_SAFE_INTEGER));
    return entry ? sequenceOfTimeKey(entry[0]) : sequence(0);
  }

  /** Accounts as they were right after the given events of theirs, in one multi-get (undefined where none). */
  async accountsAfter(points: readonly { id: AccountId; sequence: number }[]): Promise<(AccountState | undefined)[]> {
    const values = await this.rocks.getMany(points.map((p) => historyKey(p.id, p.sequence)));
    return values.map((value, i) => {
      const now = value && this.state.account(points[i]!.id);
      return now ? { ...now, ...decodeHistory(value), lastSequence: sequence(points[i]!.sequence) } : undefined;
    });
  }

  /** The original result of the command that committed at `seq`. */
  private async resultAt(seq: Sequence): Promise<CommandResult & { ok: true }> {
    const [event] = await this.eventsAt([seq]);
    if (!event) throw new StoreError('STORE_CORRUPT', `transaction index points at sequence ${seq}, which is not in the log`);
    const accounts = await this.accountsAfter(accountIdsOf(event).map((id) => ({ id, sequence: seq })));
    if (accounts.some((a) => !a)) throw new StoreError('STORE_CORRUPT', `no account history at sequence ${seq}`);
    return { ok: true, sequence: seq, event, accounts: accounts as AccountState[], replayed: true };
  }
}

async function checkFormat(rocks: Rocks, existing: boolean): Promise<void> {
  const format = await rocks.get(metaKey('format'));
  if (!format && existing) throw new StoreError('STORE_MISSING', `${rocks.location} holds a RocksDB database but no evledger store`);
  if (!format) {
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(STORE_FORMAT);
    await rocks.write([{ type: 'put', key: metaKey('format'), value: buf }], true);
    return;
  }
  if (format.readUInt32BE(0) !== STORE_FORMAT) {
    throw new StoreError('STORE_FORMAT', `the store at ${rocks.location} has format ${format.readUInt32BE(0)}; this build reads ${STORE_FORMAT}`);
  }
}

/** Loads the projection rows and the head's checkpoint, and checks they agree with the head of the log. */
async function loadProjection(rocks: Rocks, head: Head): Promise<LedgerState> {
  const accounts: AccountState[] = [];
  for await (const [key, value] of rocks.range({ gte: ACCOUNTS_START, lt: ACCOUNTS_END })) accounts.push(decodeAccount(accountIdOfKey(key), value));
  const checkpoint = head.sequence > 0 ? await rocks.get(checkpointKey(head.sequence)) : undefined;
  const { accountCount, totals } = checkpoint ? decodeCheckpoint(checkpoint) : { accountCount: 0, totals: [] };
  const lastBlock = await rocks.last(LOG_START, LOG_END);
  const problem =
    head.sequence > 0 && !checkpoint
      ? `no checkpoint at head ${head.sequence}`
      : accountCount !== accounts.length
        ? `${accounts.length} projection rows but the checkpoint counts ${accountCount}`
        : (lastBlock ? lastSequenceOf(lastBlock[1]) : 0) !== head.sequence
          ? `the log ends at ${lastBlock ? lastSequenceOf(lastBlock[1]) : 0} but the head says ${head.sequence}`
          : null;
  if (problem) {
    throw new StoreError('STORE_CORRUPT', `the store at ${rocks.location} failed its start-up check (${problem}); run \`npm run verify -- --data ${rocks.location}\` to find the first bad record`);
  }
  return LedgerState.from({ sequence: head.sequence, accountCount, totals }, accounts, head.timestamp);
}

const lastSequenceOf = (block: Buffer): number => decodeBlock(block).at(-1)?.sequence ?? 0;

/** For a head written before it kept the log's position: the blocks in the log, counted once. */
async function countBlocks(rocks: Rocks): Promise<number> {
  let blocks = 0;
  for await (const _ of rocks.range({ gte: LOG_START, lte: LOG_END })) blocks++;
  return blocks;
}
