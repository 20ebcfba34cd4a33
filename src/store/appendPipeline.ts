// The single writer. Commands wait in a bounded queue; the writer takes everything queued (up to a
// batch limit), decides it against the in-memory ledger plus what is pending in this batch, and
// commits the events and everything derived from them as ONE RocksDB WriteBatch, fsynced. Only then
// are the commands acknowledged and the in-memory ledger moved on. A failed write fails the whole
// batch and leaves the ledger untouched, because decisions were made on a draft that is dropped.
// When the failure came from RocksDB (a full disk), the writer reopens the store before it decides
// anything else, and adopts the failed batch if reopening finds it stored after all (see recover()).
import { randomUUID } from 'node:crypto';
import { fingerprintOf, transactionIdOf, type Command } from '../domain/commands.ts';
import { decide, type PriorTransaction } from '../domain/decider.ts';
import type { DomainError } from '../domain/errors.ts';
import { CURRENT_SCHEMA_VERSION, accountIdsOf, type RecordedEvent } from '../domain/events.ts';
import type { LedgerState } from '../domain/ledger.ts';
import { sequence, type AccountState, type Sequence } from '../domain/types.ts';
import { fingerprintOfEvent } from '../domain/commands.ts';
import { BlockWriter, GENESIS_HASH, blockEntries, chainHash, decodeEvent, decodeHead, decodeTransaction } from './codec.ts';
import { localLog, type BatchLog, type DecidedBatch } from './batchLog.ts';
import { DerivedRows } from './derivedRows.ts';
import { logKey, metaKey, transactionKey } from './keys.ts';
import { StoreError, type BatchOp, type FilledBatch, type Rocks } from './rocks.ts';

export type Decided =
  | { readonly kind: 'appended'; readonly event: RecordedEvent; readonly accounts: readonly AccountState[] }
  | { readonly kind: 'rejected'; readonly error: DomainError }
  | { readonly kind: 'replayed'; readonly sequence: Sequence };

/** What one committed batch changed: the input of the live change feed. */
export interface Commit {
  readonly fromSequence: Sequence;
  readonly toSequence: Sequence;
  readonly timestamp: number;
  readonly events: readonly RecordedEvent[];
  /** For each event in order, its accounts right after it: one each, two for a transfer (from, to). */
  readonly eventAccounts: readonly AccountState[];
  /** Each account the batch touched, once, as it is after the batch. */
  readonly accounts: readonly AccountState[];
}

export interface PipelineOptions {
  /** `fsync`: acknowledged means on disk. `none`: acknowledged may be lost by a power cut (not by a crash of this process alone). */
  readonly durability: 'fsync' | 'none';
  /** Commands that may wait for the writer before new ones are refused with OVERLOADED. */
  readonly queueLimit: number;
  /** Commands decided into one batch (an atomic group is never split, so a batch may exceed it by one group). */
  readonly maxBatch: number;
  /** Called with the ops of every batch just before it is written; tests throw here to fail a write. */
  readonly beforeWrite?: ((ops: readonly BatchOp[]) => void | Promise<void>) | undefined;
  /** Where batches are committed, given this store's RocksDB and whether to fsync; by default straight to it (batchLog.ts). */
  readonly log?: ((rocks: Rocks, sync: boolean) => BatchLog) | undefined;
}

/** An event from an export, appended as it was: same id, time, schema version, bytes and hash. */
export interface ImportedEvent {
  readonly event: RecordedEvent;
  readonly bytes: Buffer;
  readonly hash: Buffer;
}

interface Unit {
  readonly commands: readonly Command[];
  readonly atomic: boolean;
  /** For an import: the recorded event each command must reproduce. */
  readonly imported?: readonly ImportedEvent[];
  readonly resolve: (results: Decided[]) => void;
  readonly reject: (err: unknown) => void;
}

/** A decided batch: its draft of the ledger, derived rows, the ops to write (null when nothing is appended). */
interface Prepared {
  readonly units: Unit[];
  readonly results: Decided[][];
  readonly draft: LedgerState;
  readonly rows: DerivedRows;
  readonly ops: BatchOp[] | null;
  /** The ops already packed for the write thread (done while the batch before is written), or null. */
  filled: FilledBatch | null;
  /** Its commit, once started: with a pipelined log, while the batch before is still being committed. */
  written: Promise<void> | null;
  /** The log block (in ops too), or null when nothing is appended. */
  readonly block: Buffer | null;
  /** The hash chain's head after this batch. */
  readonly hash: Buffer;
  /** The log's position (batches in it) after this batch. */
  readonly position: number;
}

/** A replicated batch, checked and derived. */
type Replicated = Pick<Prepared, 'draft' | 'rows' | 'hash' | 'position'>;

/** A batch of the replicated log, to be applied as it is: its block and its place in the log. */
export interface ReplicatedBatch {
  readonly block: Buffer;
  readonly position: number;
}

const RETRY_AFTER_MS = 50;
/**
 * After a reopen that could not make the store writable (the disk is still full), how long the writer
 * refuses commands before it tries again — and how long a client should wait before retrying one
 * that failed with a store error.
 */
export const STORE_RETRY_AFTER_MS = 1_000;

export class AppendPipeline {
  private readonly queue: Unit[] = [];
  private queued = 0;
  private writing: Promise<void> | null = null;
  private closed = false;
  private hash: Buffer;
  private position: number;
  private readonly log: BatchLog;
  /** A write failed in RocksDB: nothing more is decided until the store is reopened and its head adopted. */
  private mustRecover = false;
  /** The batch whose write failed: reopening the store tells whether it was stored after all. */
  private unconfirmed: Prepared | null = null;
  /** After a reopen that failed: what commands are refused with until the next try, at nextRecoveryAt. */
  private refusal: StoreError | null = null;
  private nextRecoveryAt = 0;
  /** The last replicated batch being written, and that write. */
  private replicating: { readonly last: Replicated; readonly written: Promise<void> } | null = null;

  constructor(
    private readonly rocks: Rocks,
    private readonly ledger: LedgerState,
    head: { readonly hash: Buffer; readonly blocks: number },
    private readonly options: PipelineOptions,
    private readonly onCommit: (commit: Commit) => void,
  ) {
    this.hash = head.hash;
    this.position = head.blocks;
    this.log = (options.log ?? localLog)(rocks, options.durability === 'fsync');
  }

  get queueDepth(): number {
    return this.queued;
  }

  get headHash(): Buffer {
    return this.hash;
  }

  /** Batches in the log: in a cluster, the stream sequence of the last batch applied here. */
  get logPosition(): number {
    return this.position;
  }

  /** Whether nothing is queued or being written, decided here or replicated. */
  get idle(): boolean {
    return this.writing === null && this.queue.length === 0 && this.replicating === null;
  }

  /** Decides and durably commits commands; atomic ones all commit or none does. */
  submit(commands: readonly Command[], atomic: boolean): Promise<Decided[]> {
    if (this.closed) return Promise.reject(new Error('the ledger is closing'));
    if (this.queued > 0 && this.queued + commands.length > this.options.queueLimit) {
      const error: DomainError = { code: 'OVERLOADED', retryAfterMs: RETRY_AFTER_MS };
      return Promise.resolve(commands.map(() => ({ kind: 'rejected', error })));
    }
    return this.enqueue(commands, atomic);
  }

  /**
   * Appends exported events through the same decisions as new commands (each must be accepted and
   * reproduce its event, at its sequence), keeping their ids, times and bytes, so the hash chain
   * comes out identical; any difference fails the import.
   */
  submitImported(imported: readonly ImportedEvent[], commands: readonly Command[]): Promise<Decided[]> {
    if (this.closed) return Promise.reject(new Error('the ledger is closing'));
    return this.enqueue(commands, true, imported);
  }

  private enqueue(commands: readonly Command[], atomic: boolean, imported?: readonly ImportedEvent[]): Promise<Decided[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ commands, atomic, imported, resolve, reject });
      this.queued += commands.length;
      this.writing ??= this.drain();
    });
  }

  /** Whether new commands are taken and can be written: not closing, and no failed write awaiting a reopen. */
  get accepting(): boolean {
    return !this.closed && !this.mustRecover && !this.rocks.needsReopen;
  }

  /**
   * After a failed write, tries the reopen now instead of on the next command (at most once every
   * STORE_RETRY_AFTER_MS, as recover() paces itself). A node that its readiness probe takes out of
   * rotation gets no commands, so without this it would never become ready again once there is room.
   */
  retryRecovery(): void {
    if (this.closed || this.writing || !(this.mustRecover || this.rocks.needsReopen)) return;
    this.writing = this.recover()
      .then(() => {})
      .finally(() => {
        this.writing = null;
        // Commands that came while the reopen ran queued behind it without starting the writer.
        if (this.queue.length > 0) this.writing = this.drain();
      });
  }

  /** Stops taking commands and waits until everything queued is committed. */
  async close(): Promise<void> {
    this.closed = true;
    // A retryRecovery() in flight hands over to drain() for what queued behind it: wait for both.
    while (this.writing) await this.writing;
  }

  /**
   * Batches go out one at a time, and while one is being written and fsynced the next is decided on
   * top of it (its draft over the first's, its hash chain from the first's). If the first write
   * fails, the second's decisions rested on it: its commands go back to the front of the queue.
   */
  private async drain(): Promise<void> {
    try {
      // Replicated batches still being written are the base of whatever is decided here.
      await this.replicating?.written.catch(() => {});
      let next: Prepared | null = null;
      while (next || this.queue.length > 0) {
        // (Not while the next batch is already being committed: its outcome comes first.)
        if (!next?.written && (this.mustRecover || this.rocks.needsReopen)) {
          // Whatever was decided rested on a ledger that reopening may move on: decide it again after.
          if (next) this.requeue(next.units);
          next = null;
          const refusal = await this.recover();
          if (refusal) {
            const units = this.queue.splice(0);
            this.queued = 0;
            for (const unit of units) unit.reject(refusal);
            continue;
          }
        }
        const batch = next ?? (await this.prepare(this.takeBatch(), null));
        next = null;
        if (!batch) continue;
        const written = batch.written ?? (batch.ops ? this.write(batch, null) : Promise.resolve());
        written.catch(() => {}); // handled below, once the next batch is decided
        if (batch.ops && this.queue.length > 0) {
          next = await this.prepare(this.takeBatch(), batch);
          if (next?.ops && this.log.pipelined) {
            next.written = this.write(next, written);
            next.written.catch(() => {}); // handled as `batch` in the next round
          } else if (next?.ops) {
            // Packing the next batch for the write thread now, while this one is written, not after it.
            next.filled = this.rocks.fill(next.ops);
          }
        }
        try {
          await written;
        } catch (err) {
          for (const unit of batch.units) unit.reject(err);
          if (next?.written) {
            // Already sent on: it fails with this batch (the log saw to it) and says whether it may be stored.
            const failure = await next.written.then(
              () => new Error('a batch was committed after the one before it failed'),
              (e: unknown) => e,
            );
            for (const unit of next.units) unit.reject(failure);
          } else if (next) {
            this.requeue(next.units);
          }
          next = null;
          if (this.rocks.needsReopen) {
            this.mustRecover = true;
            this.unconfirmed = batch;
          }
          continue;
        }
        this.finish(batch);
        // `next` was decided on top of this batch's draft, which is in the ledger now: read the ledger directly.
        next?.draft.rebase(this.ledger);
        // The callers just acknowledged resubmit in promise continuations that are already pending; a
        // nextTick runs after all of them, so they share the next batch. Taking it at once took only
        // the few already queued: 64 callers looping over executeOne split into two alternating
        // half-size batches. (The first batch of an idle writer is still taken at once.)
        if (!next && this.queued < this.options.maxBatch) await new Promise<void>((resolve) => process.nextTick(resolve));
      }
    } finally {
      this.writing = null;
    }
  }

  private requeue(units: Unit[]): void {
    this.queue.unshift(...units);
    for (const unit of units) this.queued += unit.commands.length;
  }

  private async write(batch: Prepared, previous: Promise<void> | null): Promise<void> {
    const ops = batch.ops!;
    await this.options.beforeWrite?.(ops);
    const { rows, draft } = batch;
    const decided: DecidedBatch = {
      ops,
      filled: batch.filled,
      block: batch.block!,
      position: batch.position,
      firstSequence: rows.events[0]!.sequence,
      lastSequence: draft.head,
      hash: batch.hash,
    };
    await this.log.commit(decided, previous);
  }

  private takeBatch(): Unit[] {
    const units: Unit[] = [];
    let size = 0;
    while (this.queue.length > 0 && (size === 0 || size + this.queue[0]!.commands.length <= this.options.maxBatch)) {
      const unit = this.queue.shift()!;
      units.push(unit);
      size += unit.commands.length;
    }
    this.queued -= size;
    return units;
  }

  /**
   * Decides a batch on the ledger, or on `base` (a batch still being written); null if that failed.
   * Earlier uses of its transaction ids are found in the batches not yet committed (its own and
   * `base`) or on disk, by one multi-get sent now: every batch before `base` is committed and
   * visible to it, so nothing can slip between. While it runs on the thread pool the batch is
   * decided as if none of those ids were on disk, and that decision is kept if the answer agrees
   * (else the batch is decided again with it), so the lookup overlaps the decisions.
   */
  private async prepare(units: Unit[], base: Prepared | null): Promise<Prepared | null> {
    try {
      const ids: string[] = [];
      for (const unit of units) {
        for (const command of unit.commands) {
          const txId = transactionIdOf(command);
          if (txId !== null) ids.push(txId);
        }
      }
      if (ids.length === 0) return this.decideBatch(units, base, NOTHING_FOUND, null);
      const lookup = this.lookUpTransactions(ids);
      lookup.catch(() => {}); // awaited below
      const unverified: string[] = [];
      let speculative: Prepared | null = null;
      try {
        speculative = this.decideBatch(units, base, null, unverified);
      } catch {
        // decided again below, with the lookup answered, and thrown from there if it still fails
      }
      const found = await lookup;
      if (speculative && unverified.every((txId) => !found.has(txId))) return speculative;
      return this.decideBatch(units, base, found, null);
    } catch (err) {
      // A failed lookup (I/O), or a bug: these commands fail; the writer goes on with the next ones.
      for (const unit of units) unit.reject(err);
      return null;
    }
  }

  /**
   * `found`: the committed uses of the batch's transaction ids, or null while they are being looked
   * up; then `unverified` collects the ids only that lookup could have found (decided as never used).
   */
  private decideBatch(units: Unit[], base: Prepared | null, found: ReadonlyMap<string, PriorTransaction> | null, unverified: string[] | null): Prepared {
    const below = base?.draft ?? this.ledger;
    const draft = below.draft();
    // One commit time for the batch's new events, never earlier than the log's last.
    const now = Math.max(Date.now(), below.lastTimestamp);
    const batch = new DerivedRows();
    const results: Decided[][] = [];
    const encodedAs = new Map<RecordedEvent, ImportedEvent>();

    for (const unit of units) {
      // An atomic group decides on a draft of the batch's draft, so a failure drops just the group.
      const target = unit.atomic ? draft.draft() : draft;
      const mark = batch.mark();
      const decided: Decided[] = [];
      let failedAt = -1;
      for (const [c, command] of unit.commands.entries()) {
        const txId = transactionIdOf(command);
        let priorTransaction: PriorTransaction | undefined;
        if (txId !== null) {
          priorTransaction = batch.pendingTransactions.get(txId) ?? base?.rows.pendingTransactions.get(txId) ?? found?.get(txId);
          if (!priorTransaction && !found) unverified!.push(txId);
        }
        const decision = decide(command, target, priorTransaction);
        const recorded = unit.imported?.[c];
        if (recorded) {
          const problem = importMismatch(recorded.event, decision, target);
          if (problem) throw new Error(`import refused at sequence ${recorded.event.sequence}: ${problem}`);
          target.apply(recorded.event);
          const accounts = accountIdsOf(recorded.event).map((id) => target.account(id)!);
          batch.add(recorded.event, accounts, txId === null ? null : fingerprintOf(command));
          encodedAs.set(recorded.event, recorded);
          decided.push({ kind: 'appended', event: recorded.event, accounts });
        } else if (decision.outcome === 'accepted') {
          // Every field spelled out, never `...decision.event`: a spread followed by more fields gives
          // events of many hidden classes, which made this line and every later read of the event
          // (encoding, hashing) several times slower (`npm run bench -- engine:append`).
          const event = {
            type: decision.event.type,
            data: decision.event.data,
            sequence: sequence(target.head + 1),
            id: randomUUID(),
            timestamp: now,
            schemaVersion: CURRENT_SCHEMA_VERSION[decision.event.type],
            transactionId: txId,
          } as RecordedEvent;
          target.apply(event);
          const accounts = accountIdsOf(event).map((id) => target.account(id)!);
          batch.add(event, accounts, txId === null ? null : fingerprintOf(command));
          decided.push({ kind: 'appended', event, accounts });
        } else if (decision.outcome === 'replayed') {
          decided.push({ kind: 'replayed', sequence: decision.sequence });
        } else {
          decided.push({ kind: 'rejected', error: decision.error });
          if (unit.atomic) {
            failedAt = decided.length - 1;
            break;
          }
        }
      }
      if (failedAt >= 0) {
        batch.rollback(mark);
        const reason = (decided[failedAt] as { error: DomainError }).error.code;
        const aborted: Decided = { kind: 'rejected', error: { code: 'ABORTED', failedIndex: failedAt, commandCount: unit.commands.length, reason } };
        results.push(unit.commands.map((_, i) => (i === failedAt ? decided[i]! : aborted)));
      } else {
        if (unit.atomic) target.merge();
        results.push(decided);
      }
    }

    const position = base?.position ?? this.position;
    if (batch.events.length === 0) return { units, results, draft, rows: batch, ops: null, filled: null, written: null, block: null, hash: base?.hash ?? this.hash, position };
    // Hashing and encoding happen once the batch is final, so a rolled-back group costs nothing.
    const block = new BlockWriter(base?.hash ?? this.hash, 256 * batch.events.length);
    for (const event of batch.events) {
      const recorded = encodedAs.get(event);
      if (!recorded) block.add(event);
      else if (!block.addEncoded(recorded.bytes).equals(recorded.hash)) {
        throw new Error(`import refused at sequence ${event.sequence}: its hash does not follow from the events before it`);
      }
    }
    const bytes = block.finish();
    const ops = batch.ops(draft, block.lastHash, position + 1, { type: 'put', key: logKey(batch.events[0]!.sequence), value: bytes });
    return { units, results, draft, rows: batch, ops, filled: null, written: null, block: bytes, hash: block.lastHash, position: position + 1 };
  }

  /** A batch is durable: move the ledger on, tell the feed, answer the callers. */
  private finish(batch: Prepared): void {
    if (batch.ops) this.commit(batch);
    batch.units.forEach((unit, i) => unit.resolve(batch.results[i]!));
  }

  /** Moves the ledger and the hash chain on by a durable batch, and tells the feed. */
  private commit(batch: Pick<Prepared, 'draft' | 'rows' | 'hash' | 'position'>): void {
    const { draft, rows } = batch;
    draft.merge(this.ledger);
    this.hash = batch.hash;
    this.position = batch.position;
    this.onCommit({
      fromSequence: rows.events[0]!.sequence,
      toSequence: draft.head,
      timestamp: draft.lastTimestamp,
      events: rows.events,
      eventAccounts: rows.history,
      accounts: [...draft.accounts()],
    });
  }

  /**
   * After a write failed in RocksDB: reopens the store (rocks.ts says why the handle cannot be written
   * to again) and makes the in-memory ledger what is stored. The failed batch is then in the log whole
   * or not at all, and the head record, written in the same batch, says which. If it was stored, the
   * ledger and the change feed take it as committed, although its callers were told it failed: a retry
   * with the same transactionId gets the original result (idempotency), while a retried openAccount or
   * closeAccount, which carry none, gets ACCOUNT_ALREADY_EXISTS or ACCOUNT_CLOSED.
   * Returns null once writes may go on, else the error to refuse commands with until the next try.
   */
  private async recover(): Promise<StoreError | null> {
    if (this.refusal && Date.now() < this.nextRecoveryAt) return this.refusal;
    try {
      // Not reopened yet (no room to open the store again) or not open: nothing stored can have changed
      // (a failed write never reaches the memtable), and the failed batch stays unconfirmed until a
      // reopen replays the write-ahead log, which is when it may turn up stored after all.
      const notWritable = await this.rocks.reopen();
      if (notWritable) throw notWritable;
      await this.adoptStoredHead();
      this.mustRecover = false;
      this.refusal = null;
      return null;
    } catch (err) {
      this.nextRecoveryAt = Date.now() + STORE_RETRY_AFTER_MS;
      this.refusal = err instanceof StoreError ? err : new StoreError('STORE_IO', String(err), { cause: err });
      return this.refusal;
    }
  }

  private async adoptStoredHead(): Promise<void> {
    const bytes = await this.rocks.get(metaKey('head'));
    const stored = bytes ? decodeHead(bytes) : { sequence: 0, hash: GENESIS_HASH };
    const batch = this.unconfirmed;
    if (stored.sequence === this.ledger.head && stored.hash.equals(this.hash)) {
      this.unconfirmed = null;
    } else if (batch?.ops && stored.sequence === batch.draft.head && stored.hash.equals(batch.hash)) {
      this.unconfirmed = null;
      this.commit(batch);
    } else {
      throw new StoreError(
        'STORE_CORRUPT',
        `after reopening, the stored head is ${stored.sequence}; expected ${this.ledger.head}${batch?.ops ? ` or, had the failed write been stored, ${batch.draft.head}` : ''}`,
      );
    }
  }

  /**
   * Applies batches of the replicated log that this node did not decide, in order, in one RocksDB
   * write: the same rows as the writer wrote, from the same block bytes, so every replica holds the
   * same log, hash chain and projection. The writer's decisions are not re-run; what is checked is
   * that each batch continues this log: its position, its first sequence, and every event's hash.
   * The batches are checked and their rows derived at once, on top of those still being written by
   * the call before (so a node catching up derives the next rows during the last write's fsync);
   * the write follows that one's, and fails if it failed.
   */
  applyReplicated(batches: readonly ReplicatedBatch[]): Promise<void> {
    if (this.writing !== null || this.queue.length > 0) return Promise.reject(new Error('replicated batches are applied only while this node writes nothing itself'));
    const base = this.replicating;
    if (!base && (this.mustRecover || this.rocks.needsReopen)) {
      return this.recover().then((refusal) => {
        if (refusal) throw refusal;
        return this.applyReplicated(batches);
      });
    }
    let derived: ReturnType<AppendPipeline['deriveReplicated']>;
    try {
      derived = this.deriveReplicated(batches, base?.last ?? null);
    } catch (err) {
      return Promise.reject(err);
    }
    const { applied, ops } = derived;
    if (applied.length === 0) return base?.written ?? Promise.resolve();
    const filled = this.rocks.fill(ops);
    const written = (async () => {
      if (base) await base.written;
      await this.rocks.writeFilled(filled, this.options.durability === 'fsync');
      // Derived on top of the batches before, which are in the ledger now: read it directly.
      derived.group.rebase(this.ledger);
      for (const batch of applied) this.commit(batch);
    })();
    const replicating = { last: applied[applied.length - 1]!, written };
    this.replicating = replicating;
    const done = () => {
      if (this.replicating === replicating) this.replicating = null;
    };
    written.then(done, done);
    return written;
  }

  /**
   * Each batch is derived on a draft of its own (its commit moves just that batch into the ledger),
   * over `group`, which gathers the batches before it in this call: a chain of one draft per batch
   * made every read of an account walk back through up to a write's worth of them.
   */
  private deriveReplicated(batches: readonly ReplicatedBatch[], base: Replicated | null): { applied: Replicated[]; ops: BatchOp[]; group: LedgerState } {
    const applied: Replicated[] = [];
    const ops: BatchOp[] = [];
    // The projection rows and head only once, after the last batch, for every account the batches touch.
    const touched = new Set<string>();
    const group = (base?.draft ?? this.ledger).draft();
    let hash = base?.hash ?? this.hash;
    let position = base?.position ?? this.position;
    for (const [i, { block, position: at }] of batches.entries()) {
      if (at !== position + 1) throw new StoreError('STORE_CORRUPT', `the replicated log skipped from batch ${position} to ${at}`);
      const draft = group.draft();
      const rows = new DerivedRows();
      for (const entry of blockEntries(block)) {
        const event = decodeEvent(entry.bytes);
        if (event.sequence !== draft.head + 1) throw new StoreError('STORE_CORRUPT', `batch ${at} holds sequence ${event.sequence} where ${draft.head + 1} comes next`);
        if (!chainHash(hash, entry.bytes).equals(entry.hash)) throw new StoreError('STORE_CORRUPT', `the hash of sequence ${event.sequence} (batch ${at}) does not follow from the events before it`);
        draft.apply(event);
        rows.add(event, accountIdsOf(event).map((id) => draft.account(id)!), event.transactionId === null ? null : fingerprintOfEvent(event));
        hash = entry.hash;
      }
      if (rows.events.length === 0) throw new StoreError('STORE_CORRUPT', `batch ${at} of the replicated log holds no events`);
      for (const account of rows.history) touched.add(account.id);
      const projection = i === batches.length - 1 ? touched : 'none';
      for (const op of rows.ops(draft, hash, at, { type: 'put', key: logKey(rows.events[0]!.sequence), value: block }, projection)) ops.push(op);
      applied.push({ draft, rows, hash, position: at });
      draft.merge(group);
      position = at;
    }
    return { applied, ops, group };
  }

  /** The committed use of each of these transaction ids (one multi-get). */
  private async lookUpTransactions(ids: string[]): Promise<Map<string, PriorTransaction>> {
    const values = await this.rocks.getMany(ids.map(transactionKey));
    const found = new Map<string, PriorTransaction>();
    for (let i = 0; i < values.length; i++) if (values[i]) found.set(ids[i]!, decodeTransaction(values[i]!));
    return found;
  }
}

const NOTHING_FOUND: ReadonlyMap<string, PriorTransaction> = new Map();

/** Why a recorded event cannot be appended where it stands, or null. */
function importMismatch(recorded: RecordedEvent, decision: ReturnType<typeof decide>, ledger: LedgerState): string | null {
  if (recorded.sequence !== ledger.head + 1) return `expected sequence ${ledger.head + 1}`;
  if (recorded.timestamp < ledger.lastTimestamp) return 'its time is earlier than the event before it';
  if (decision.outcome === 'rejected') return `the rules refuse it (${decision.error.code})`;
  if (decision.outcome === 'replayed') return `its transaction id was already used at ${decision.sequence}`;
  if (fingerprintOfEvent(decision.event) !== fingerprintOfEvent(recorded)) return 'the rules decide a different event';
  return null;
}
