// The one file that touches the native RocksDB binding (`rocksdb`, the Level binding). Everything above
// speaks Buffers and promises through this class.
//
// Why `rocksdb` and not `@nxtedition/rocksdb`: this binding runs writes and reads on the libuv thread
// pool, so while one group-commit batch fsyncs the event loop keeps accepting commands and serving
// reads ("reads never block on the writer"); the fork writes on the JS thread, so every fsync stalls
// the whole server, and its `put(…, {sync})` does not even fsync.
//
// A failed write (a full disk: "IO error: No space left on device…") leaves this handle unsafe to write
// to again, although RocksDB itself goes on accepting writes as soon as there is room: the failed WAL
// record stays in RocksDB's WAL writer buffer (part of it may already be in the file), and the next
// successful write flushes it out together with its own record. A restart then either stops replaying
// the WAL at the torn record, losing every write acknowledged after the failure, or replays the failed
// record under sequence numbers that later records reuse, so only part of the failed batch shows
// (both seen on a full tmpfs, test/integration/diskFull.test.ts). This binding has no DB::Resume() or
// FlushWAL(); closing the handle is the only way to drop that buffer. So the first failed write
// suspends writes on the handle until reopen() has closed and opened it again: with one failed record
// at most (writes go to RocksDB one at a time), reopening finds it either whole — the batch was stored
// after all — or not at all.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const leveldown = require('rocksdb') as (location: string) => NativeDb;
// Iterators use the binding's own functions (those its Iterator class wraps): that class hands each
// entry over in its own process.nextTick callback, while the binding returns a whole batch (up to
// 1,000 entries or 16 KiB) in one array. Same native iterator, snapshot and close() handling; a cold
// start-up, which reads every projection row, took about half as long (`npm run bench -- engine:store`).
const binding = require('rocksdb/binding') as NativeBinding;

type NativeIterator = { readonly __nativeIterator: unique symbol };
interface NativeBinding {
  iterator_init(db: unknown, options: object): NativeIterator;
  /** A batch of entries laid out last entry first, value before key; `finished` when no more follow. */
  iterator_next(it: NativeIterator, cb: (err: Error | null, entries: Buffer[], finished: boolean) => void): void;
  iterator_end(it: NativeIterator, cb: (err?: Error) => void): void;
}
interface NativeChainedBatch {
  put(key: Buffer, value: Buffer): void;
  del(key: Buffer): void;
  write(options: object, cb: (err?: Error) => void): void;
}
interface NativeDb {
  readonly context: unknown;
  open(options: object, cb: (err?: Error) => void): void;
  close(cb: (err?: Error) => void): void;
  get(key: Buffer, options: object, cb: (err: Error | undefined, value?: Buffer) => void): void;
  getMany(keys: Buffer[], options: object, cb: (err: Error | undefined, values?: (Buffer | undefined)[]) => void): void;
  batch(): NativeChainedBatch;
  clear(options: object, cb: (err?: Error) => void): void;
  getProperty(property: string): string;
}

export type BatchOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

/** A native WriteBatch that already holds its ops (see Rocks.fill), not yet written. */
export interface FilledBatch {
  readonly ops: readonly BatchOp[];
  /** The handle it was filled on (null: not filled yet), and the filled batch. */
  readonly db: NativeDb | null;
  readonly native: NativeChainedBatch | null;
}

/**
 * A chained batch, not batch(array): the array form copies every op into a new object in JS and then
 * reads `type`, `key` and `value` back as named properties in C++, which cost 2-3x more of the event
 * loop per op than passing the Buffers as arguments (`npm run bench -- engine:append`). Both build one
 * native WriteBatch, written atomically. Nothing reaches RocksDB here: a failure leaves the handle as it was.
 */
function fillNative(db: NativeDb, ops: readonly BatchOp[]): NativeChainedBatch {
  const native = db.batch();
  try {
    for (const op of ops) {
      if (op.type === 'put') native.put(op.key, op.value);
      else native.del(op.key);
    }
  } catch (err) {
    throw new StoreError('STORE_IO', `write failed: ${(err as Error).message}`, { cause: err });
  }
  return native;
}

export interface RangeOptions {
  gt?: Buffer;
  gte?: Buffer;
  lt?: Buffer;
  lte?: Buffer;
  reverse?: boolean;
  limit?: number;
  values?: boolean;
}

/** A range() being read: where it stands, so that a reopen can move it onto the new handle. */
interface Cursor {
  readonly options: RangeOptions;
  /** Its native iterator: null before its first batch, while a reopen swaps the handle, and once done. */
  it: NativeIterator | null;
  /** The key of the last entry fetched (perhaps not yet yielded): a moved cursor goes on after it. */
  after: Buffer | undefined;
  /** Entries fetched so far, counted against `limit`. */
  fetched: number;
  done: boolean;
}

export class StoreError extends Error {
  constructor(
    readonly code: 'STORE_LOCKED' | 'STORE_NOT_OPEN' | 'STORE_IO' | 'STORE_CORRUPT' | 'STORE_FORMAT',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}

export class Rocks {
  private isOpen = false;
  /** null only when a reopen could not open the store again, even read-only (reads then fail until one can). */
  private db: NativeDb | null;
  /** The failed write (or failed reopen) that suspends writes until reopen() succeeds; see the top of this file. */
  private failure: StoreError | null = null;
  /** The last write or reopen queued, null when none is: they run one at a time. */
  private writeTail: Promise<void> | null = null;
  /** Set while reopen() swaps the handle: every new native call waits for it. */
  private swapping: Promise<void> | null = null;
  /** Native calls whose callback has not run yet; reopen() waits until there are none. */
  private calls = 0;
  private idle: (() => void) | null = null;
  private readonly cursors = new Set<Cursor>();

  private constructor(
    readonly location: string,
    db: NativeDb,
  ) {
    this.db = db;
  }

  /** `readOnly` takes no lock, so another process may read (an export) while a server writes. */
  static async open(location: string, options: { createIfMissing?: boolean; readOnly?: boolean } = {}): Promise<Rocks> {
    const rocks = new Rocks(location, await openNative(location, options));
    rocks.isOpen = true;
    return rocks;
  }

  get open(): boolean {
    return this.isOpen;
  }

  /** True after a failed write, until reopen() has made the store writable again. */
  get needsReopen(): boolean {
    return this.failure !== null;
  }

  /**
   * One atomic write; with `sync` it returns only after the write-ahead log is fsynced. A failure
   * suspends writes until reopen(): see the top of this file.
   */
  write(ops: BatchOp[], sync: boolean): Promise<void> {
    return this.writeFilled(this.fill(ops), sync);
  }

  /**
   * Copies ops into a native WriteBatch now (the binding copies every key and value), for
   * writeFilled to write later. Filling is the event loop's part of a write, about a microsecond an
   * op: the append pipeline fills the next batch while the previous one is still being written.
   * Never throws: what cannot be filled now (no handle during a reopen, a bad op) is filled by
   * writeFilled, and fails there.
   */
  fill(ops: readonly BatchOp[]): FilledBatch {
    const db = this.isOpen && !this.swapping ? this.db : null;
    if (!db || ops.length === 0) return { ops, db: null, native: null };
    try {
      return { ops, db, native: fillNative(db, ops) };
    } catch {
      return { ops, db: null, native: null };
    }
  }

  /**
   * Writes a filled batch atomically; with `sync` it returns only after the write-ahead log is fsynced.
   * A failure suspends writes until reopen(): see the top of this file.
   */
  writeFilled(batch: FilledBatch, sync: boolean): Promise<void> {
    this.assertOpen();
    if (batch.ops.length === 0) return Promise.resolve();
    return this.serialized(() => this.writeNow(batch, sync));
  }

  private writeNow(batch: FilledBatch, sync: boolean): Promise<void> {
    if (this.failure) return Promise.reject(this.suspended());
    return this.native((db, resolve, reject) => {
      // A batch filled on a handle that a reopen has since closed belongs to that handle: fill it again.
      const native = batch.db === db && batch.native ? batch.native : fillNative(db, batch.ops);
      native.write({ sync }, (err) => {
        if (!err) return resolve();
        this.failure = new StoreError('STORE_IO', `write failed: ${err.message}`, { cause: err });
        reject(this.failure);
      });
    });
  }

  /**
   * Closes the native handle and opens it again, to drop what a failed write left behind (see the top
   * of this file); resolves null when writes may go on, else with why not. Where the store cannot be
   * opened for writing — RocksDB writes a new MANIFEST and OPTIONS file on open, so not on a full
   * disk — it is opened read-only, which writes nothing, and writes stay suspended until a later
   * reopen() succeeds.
   *
   * Reads keep working: the swap waits for the native calls in flight, new ones wait for the swap
   * (a few milliseconds), and each range() still being read goes on from the entry after the last it
   * fetched, on an iterator of the new handle created before any write can land. Such a read sees the
   * entries after that point as of the reopen rather than as of its start: for the log and the history
   * index, which only grow, the same as a read that started later; a listing of projection rows may
   * show the rows after that point as they are after the batches committed since it started.
   */
  reopen(): Promise<StoreError | null> {
    this.assertOpen();
    return this.serialized(() => this.swap());
  }

  private async swap(): Promise<StoreError | null> {
    if (!this.isOpen) return new StoreError('STORE_NOT_OPEN', `the store at ${this.location} is not open`);
    let release!: () => void;
    this.swapping = new Promise<void>((resolve) => (release = resolve));
    try {
      if (this.calls > 0) await new Promise<void>((resolve) => (this.idle = resolve));
      this.idle = null;
      // No native call is in flight, so every open iterator sits between two batches.
      const moved = [...this.cursors].filter((c) => c.it !== null);
      await Promise.all(moved.map((c) => new Promise<void>((resolve) => binding.iterator_end(c.it!, () => resolve()))));
      for (const c of moved) c.it = null;
      if (this.db) {
        const old = this.db;
        this.db = null;
        // Closing writes out the record a failed write left in RocksDB's WAL writer if there is room now
        // (the reopened store then holds that batch, whole) and drops it if not (the error ignored here):
        // consistent either way, with no record after it.
        await closeNative(old).catch(() => {});
      }
      try {
        this.db = await openNative(this.location, { createIfMissing: false });
        this.failure = null;
      } catch (err) {
        this.failure = err instanceof StoreError ? err : new StoreError('STORE_IO', String(err), { cause: err });
        this.db = await openNative(this.location, { readOnly: true }).catch(() => null);
      }
      if (this.db) {
        for (const c of moved) if (this.cursors.has(c) && !c.done) c.it = this.iterator(this.db, resumeAfter(c));
      }
      return this.failure;
    } finally {
      this.swapping = null;
      release();
    }
  }

  get(key: Buffer): Promise<Buffer | undefined> {
    return this.native((db, resolve, reject) =>
      db.get(key, { asBuffer: true, fillCache: true }, (err, value) => {
        if (err) return /NotFound/i.test(err.message) ? resolve(undefined) : reject(new StoreError('STORE_IO', err.message, { cause: err }));
        resolve(value);
      }),
    );
  }

  getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]> {
    if (keys.length === 0) {
      this.assertOpen();
      return Promise.resolve([]);
    }
    return this.native((db, resolve, reject) =>
      db.getMany(keys, { asBuffer: true, fillCache: true }, (err, values) =>
        err ? reject(new StoreError('STORE_IO', err.message, { cause: err })) : resolve(values!),
      ),
    );
  }

  /**
   * Entries of a key range, in order. The iterator reads from a snapshot taken when this is called,
   * so a multi-key read is consistent even while batches commit (across a reopen(), see there).
   */
  async *range(options: RangeOptions): AsyncGenerator<[Buffer, Buffer]> {
    this.assertOpen();
    const cursor: Cursor = { options, it: null, after: undefined, fetched: 0, done: false };
    this.cursors.add(cursor);
    try {
      while (!cursor.done) {
        const entries = await this.native<Buffer[]>((db, resolve, reject) => {
          cursor.it ??= this.iterator(db, resumeAfter(cursor));
          binding.iterator_next(cursor.it, (err, entries, finished) => {
            if (err) return reject(new StoreError('STORE_IO', err.message, { cause: err }));
            // Noted here, before anything else can run, for a reopen that follows at once.
            if (entries.length > 0) cursor.after = entries[1];
            cursor.fetched += entries.length / 2;
            cursor.done = finished || (options.limit !== undefined && options.limit >= 0 && cursor.fetched >= options.limit);
            resolve(entries);
          });
        });
        for (let i = entries.length - 1; i > 0; i -= 2) yield [entries[i]!, entries[i - 1]!];
      }
    } finally {
      this.cursors.delete(cursor);
      if (cursor.it) endInBackground(cursor.it);
    }
  }

  /** The last entry at or below `lte` and at or above `gte` (one reverse seek), if any. */
  last(gte: Buffer, lte: Buffer): Promise<[Buffer, Buffer] | undefined> {
    // One native call and one callback, not range(): this is every point-in-time read.
    return this.native((db, resolve, reject) => {
      const it = this.iterator(db, { gte, lte, reverse: true, limit: 1 });
      binding.iterator_next(it, (err, entries) => {
        endInBackground(it);
        if (err) reject(new StoreError('STORE_IO', err.message, { cause: err }));
        else resolve(entries.length >= 2 ? [entries[entries.length - 1]!, entries[entries.length - 2]!] : undefined);
      });
    });
  }

  /** A native iterator, with the options abstract-leveldown's iterator() would have passed it. */
  private iterator(db: NativeDb, options: RangeOptions): NativeIterator {
    const native: Record<string, unknown> = {
      reverse: !!options.reverse,
      keys: true, // always: a cursor moved by reopen() goes on after the last key it fetched
      values: options.values !== false,
      limit: options.limit ?? -1,
      keyAsBuffer: true,
      valueAsBuffer: true,
    };
    for (const bound of ['gt', 'gte', 'lt', 'lte'] as const) {
      if (options[bound] !== undefined) native[bound] = Buffer.isBuffer(options[bound]) ? options[bound] : String(options[bound]);
    }
    return binding.iterator_init(db.context, native);
  }

  /** Deletes every key in [gte, lt). A write: queued with the others, and its failure suspends writes the same way. */
  clear(gte: Buffer, lt: Buffer): Promise<void> {
    this.assertOpen();
    return this.serialized(() => {
      if (this.failure) return Promise.reject(this.suspended());
      return this.native((db, resolve, reject) =>
        db.clear({ gte, lt }, (err) => {
          if (!err) return resolve();
          this.failure = new StoreError('STORE_IO', err.message, { cause: err });
          reject(this.failure);
        }),
      );
    });
  }

  property(name: string): string {
    this.assertOpen();
    if (this.swapping || !this.db) throw this.unavailable();
    return this.db.getProperty(name);
  }

  async close(): Promise<void> {
    if (!this.isOpen) return;
    this.isOpen = false;
    await this.writeTail; // a write or reopen under way finishes first
    const db = this.db;
    this.db = null;
    if (db) await closeNative(db);
  }

  /**
   * Runs `task` once every write and reopen queued before it has finished. With none queued it starts
   * at once, in this tick, so the native write overlaps whatever the caller does next (the writer
   * decides its next batch while this one fsyncs).
   */
  private serialized<T>(task: () => Promise<T>): Promise<T> {
    const result = this.writeTail ? this.writeTail.then(task) : task();
    const tail: Promise<void> = result.then(
      () => {},
      () => {},
    );
    this.writeTail = tail;
    void tail.then(() => {
      if (this.writeTail === tail) this.writeTail = null;
    });
    return result;
  }

  /** Starts a native call on the current handle, counted so that reopen() can wait for it. */
  private native<T>(run: (db: NativeDb, resolve: (value: T) => void, reject: (err: unknown) => void) => void): Promise<T> {
    if (this.swapping) return this.swapping.then(() => this.native(run));
    this.assertOpen();
    const db = this.db;
    if (!db) return Promise.reject(this.unavailable());
    this.calls++;
    return new Promise<T>((resolve, reject) => {
      const settled = () => {
        if (--this.calls === 0) this.idle?.();
      };
      try {
        run(
          db,
          (value) => {
            resolve(value);
            settled();
          },
          (err) => {
            reject(err);
            settled();
          },
        );
      } catch (err) {
        reject(err);
        settled();
      }
    });
  }

  private suspended(): StoreError {
    return new StoreError('STORE_IO', `writes are suspended until the store is reopened: ${this.failure!.message}`, { cause: this.failure });
  }

  private unavailable(): StoreError {
    return new StoreError('STORE_IO', `the store at ${this.location} could not be reopened: ${this.failure?.message ?? 'unknown error'}`, { cause: this.failure });
  }

  private assertOpen(): void {
    if (!this.isOpen) throw new StoreError('STORE_NOT_OPEN', `the store at ${this.location} is not open`);
  }
}

/** The rest of a cursor's range: after the last key it fetched, and what is left of its limit. */
function resumeAfter(cursor: Cursor): RangeOptions {
  const { options, after, fetched } = cursor;
  if (after === undefined) return options;
  const rest: RangeOptions = { ...options };
  if (options.reverse) {
    delete rest.lte;
    rest.lt = after;
  } else {
    delete rest.gte;
    rest.gt = after;
  }
  if (options.limit !== undefined && options.limit >= 0) rest.limit = options.limit - fetched;
  return rest;
}

function openNative(location: string, options: { createIfMissing?: boolean; readOnly?: boolean }): Promise<NativeDb> {
  const db = leveldown(location);
  return new Promise<NativeDb>((resolve, reject) =>
    db.open(
      {
        createIfMissing: !options.readOnly && (options.createIfMissing ?? true),
        readOnly: options.readOnly ?? false,
        // Larger memtables and cache than the binding's 4 MiB / 8 MiB defaults: the log is written in
        // big batches and point-in-time reads revisit recent history.
        writeBufferSize: 64 << 20,
        cacheSize: 64 << 20,
      },
      (err) => (err ? reject(translateOpenError(location, err)) : resolve(db)),
    ),
  );
}

function closeNative(db: NativeDb): Promise<void> {
  return new Promise<void>((resolve, reject) => db.close((err) => (err ? reject(err) : resolve())));
}

/**
 * Ends an iterator without waiting: the entries read are already ours, ending only frees its snapshot
 * on the thread pool, and the binding's close() ends any iterator still open and waits for every end.
 */
function endInBackground(it: NativeIterator): void {
  binding.iterator_end(it, () => {});
}

function translateOpenError(location: string, err: Error): StoreError {
  if (/lock/i.test(err.message)) {
    return new StoreError(
      'STORE_LOCKED',
      `the store at ${location} is already open in another process (or this one); stop that process first`,
      { cause: err },
    );
  }
  return new StoreError('STORE_IO', `cannot open the store at ${location}: ${err.message}`, { cause: err });
}
