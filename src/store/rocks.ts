// The one file that touches the native RocksDB binding (`@nxtedition/rocksdb`, RocksDB 9.7; the README
// says why this one). Everything above speaks Buffers and promises through this class.
//
// Reads run on the main thread's handle: gets and iterator batches on the libuv thread pool, a seek on
// the event loop. Writes run on the write thread (writeThread.ts), because this binding writes and
// fsyncs on the thread that calls it.
//
// A failed write (a full disk: "IO error: While appending to file: …: No space left on device") leaves
// the handle refusing every later write, even once there is room again ("Seen error"), and the binding
// has no DB::Resume(): only closing and opening the store makes it writable again. RocksDB drops the
// failed record from its WAL writer, so a record that was not fully written never shows up later; one
// written whole whose fsync failed is found by the reopen, and the writer then adopts it (the append
// pipeline's recover()). Closing is left until there is room to open the store again — a writable open
// writes a new MANIFEST, OPTIONS file and WAL, and this binding cannot open read-only — so while the
// disk is full the old handle goes on serving reads.
import { randomUUID } from 'node:crypto';
import { open as openFile, unlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pack, writePacked } from './writeThread.ts';

const require = createRequire(import.meta.url);
const binding = require('@nxtedition/rocksdb/binding') as NativeBinding;

type NativeDb = { readonly __nativeDb: unique symbol };
type NativeIterator = { readonly __nativeIterator: unique symbol };
type Callback<T> = (err: (Error & { code?: string }) | null | undefined, value: T) => void;
interface Rows {
  /** key, value, key, value, … in iteration order */
  rows: Buffer[];
  finished: boolean;
}
interface NativeBinding {
  db_init(locationOrHandle: string | bigint): NativeDb;
  db_open(db: NativeDb, options: object, cb: Callback<unknown>): unknown;
  db_close(db: NativeDb, cb: (err?: Error | null) => void): void;
  db_get_handle(db: NativeDb): bigint;
  db_get_many(db: NativeDb, keys: Buffer[], options: object, cb: Callback<(Buffer | undefined | null)[]>): void;
  db_clear(db: NativeDb, options: object): void;
  db_get_property(db: NativeDb, property: string): string;
  iterator_init(db: NativeDb, options: object): NativeIterator;
  iterator_nextv(it: NativeIterator, count: number, cb: Callback<Rows>): void;
  iterator_nextv_sync(it: NativeIterator, count: number): Rows;
  iterator_close(it: NativeIterator): void;
}

/** An open native database: the main thread's context, and the address the write thread writes through. */
interface Handle {
  readonly db: NativeDb;
  readonly address: bigint;
}

export type BatchOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

/** A batch's ops already packed for the write thread (see Rocks.fill), not yet written. */
export interface FilledBatch {
  /** Null when there is nothing to write. Moved to the write thread by the write: written once. */
  readonly packed: Buffer | null;
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
    readonly code: 'STORE_LOCKED' | 'STORE_NOT_OPEN' | 'STORE_IO' | 'STORE_CORRUPT' | 'STORE_FORMAT' | 'STORE_MISSING',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/** Entries per iterator batch, and the bytes at which a batch stops early (log blocks are large values). */
const ITERATOR_BATCH = 1_000;
const ITERATOR_BATCH_BYTES = 16 << 10;
/** What a reopen must be able to write before it closes the old handle (a MANIFEST, an OPTIONS file, a WAL page). */
const ROOM_TO_REOPEN = 256 << 10;

export class Rocks {
  private isOpen = false;
  /** null only when a reopen closed the store and could not open it again (reads then fail until one can). */
  private handle: Handle | null;
  /** The failed write (or failed reopen) that suspends writes until reopen() succeeds; see the top of this file. */
  private failure: StoreError | null = null;
  /** The last write or reopen queued, null when none is: they run one at a time. */
  private writeTail: Promise<void> | null = null;
  /** Set while reopen() swaps the handle: every new native call waits for it. */
  private swapping: Promise<void> | null = null;
  /** Native calls whose callback has not run yet; reopen() and close() wait until there are none. */
  private calls = 0;
  private idle: (() => void) | null = null;
  private readonly cursors = new Set<Cursor>();

  private constructor(
    readonly location: string,
    handle: Handle,
  ) {
    this.handle = handle;
  }

  /** Opens (by default creating) the store; another process holding it open is STORE_LOCKED. */
  static async open(location: string, options: { createIfMissing?: boolean } = {}): Promise<Rocks> {
    const rocks = new Rocks(location, await openNative(location, options.createIfMissing ?? true));
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
   * Packs ops for the write thread now, for writeFilled to write later: the event loop's part of a
   * write, which the append pipeline does for the next batch while the previous one is being written.
   */
  fill(ops: readonly BatchOp[]): FilledBatch {
    return { packed: ops.length === 0 ? null : pack(ops) };
  }

  /**
   * Writes a filled batch atomically; with `sync` it returns only after the write-ahead log is fsynced.
   * A failure suspends writes until reopen(): see the top of this file.
   */
  writeFilled(batch: FilledBatch, sync: boolean): Promise<void> {
    this.assertOpen();
    if (!batch.packed) return Promise.resolve();
    return this.serialized(() => this.writeNow(batch.packed!, sync));
  }

  private writeNow(packed: Buffer, sync: boolean): Promise<void> {
    if (this.failure) return Promise.reject(this.suspended());
    return this.native((handle, resolve, reject) => {
      writePacked(handle.address, packed, sync).then(resolve, (err: Error) => {
        this.failure = new StoreError('STORE_IO', `write failed: ${err.message}`, { cause: err });
        reject(this.failure);
      });
    });
  }

  /**
   * Closes the native handle and opens it again, to make a handle that refuses writes after a failed
   * one writable (see the top of this file); resolves null when writes may go on, else with why not.
   * While there is no room to open the store, the old handle stays open for reads and this resolves
   * with the failure at once; a later reopen() tries again.
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
    if (this.handle && this.failure && !(await hasRoom(this.location))) return this.failure;
    let release!: () => void;
    this.swapping = new Promise<void>((resolve) => (release = resolve));
    try {
      await this.settled();
      // No native call is in flight, so every open iterator sits between two batches.
      const moved = [...this.cursors].filter((c) => c.it !== null);
      for (const c of moved) {
        binding.iterator_close(c.it!);
        c.it = null;
      }
      if (this.handle) {
        const old = this.handle;
        this.handle = null;
        // After a failed write, closing reports that failure again ("Seen error"): the handle is closed all the same.
        await closeNative(old).catch(() => {});
      }
      try {
        this.handle = await openNative(this.location, false);
        this.failure = null;
      } catch (err) {
        this.failure = err instanceof StoreError ? err : new StoreError('STORE_IO', String(err), { cause: err });
      }
      if (this.handle) {
        for (const c of moved) if (this.cursors.has(c) && !c.done) c.it = this.iterator(this.handle, resumeAfter(c));
      }
      return this.failure;
    } finally {
      this.swapping = null;
      release();
    }
  }

  get(key: Buffer): Promise<Buffer | undefined> {
    return this.getMany([key]).then((values) => values[0]);
  }

  getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]> {
    if (keys.length === 0) {
      this.assertOpen();
      return Promise.resolve([]);
    }
    return this.native((handle, resolve, reject) =>
      binding.db_get_many(handle.db, keys, READ_OPTIONS, (err, values) => {
        if (err) return reject(new StoreError('STORE_IO', err.message, { cause: err }));
        // null would be a read aborted by a deadline, which these reads do not set
        for (let i = 0; i < values.length; i++) if (values[i] === null) values[i] = undefined;
        resolve(values as (Buffer | undefined)[]);
      }),
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
        const rows = await this.native<Buffer[]>((handle, resolve, reject) => {
          cursor.it ??= this.iterator(handle, resumeAfter(cursor));
          binding.iterator_nextv(cursor.it, ITERATOR_BATCH, (err, batch) => {
            if (err) return reject(new StoreError('STORE_IO', err.message, { cause: err }));
            const { rows, finished } = batch;
            // Noted here, before anything else can run, for a reopen that follows at once.
            if (rows.length > 0) cursor.after = rows[rows.length - 2];
            cursor.fetched += rows.length / 2;
            cursor.done = finished || (options.limit !== undefined && options.limit >= 0 && cursor.fetched >= options.limit);
            resolve(rows);
          });
        });
        for (let i = 0; i < rows.length; i += 2) yield [rows[i]!, rows[i + 1]!];
      }
    } finally {
      this.cursors.delete(cursor);
      if (cursor.it) binding.iterator_close(cursor.it);
    }
  }

  /** The last entry at or below `lte` and at or above `gte` (one reverse seek), if any. */
  last(gte: Buffer, lte: Buffer): Promise<[Buffer, Buffer] | undefined> {
    // Every point-in-time read is one of these. The seek is done on this thread whatever we do (creating
    // an iterator seeks), and it leaves the entry in memory: reading it here too saves a trip to the pool.
    return this.native((handle, resolve) => {
      const it = this.iterator(handle, { gte, lte, reverse: true, limit: 1 });
      try {
        const { rows } = binding.iterator_nextv_sync(it, 1);
        resolve(rows.length >= 2 ? [rows[0]!, rows[1]!] : undefined);
      } finally {
        binding.iterator_close(it);
      }
    });
  }

  private iterator(handle: Handle, options: RangeOptions): NativeIterator {
    const native: Record<string, unknown> = {
      reverse: !!options.reverse,
      keys: true, // always: a cursor moved by reopen() goes on after the last key it fetched
      values: options.values !== false,
      limit: options.limit ?? -1,
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      highWaterMarkBytes: ITERATOR_BATCH_BYTES,
      fillCache: true,
    };
    for (const bound of ['gt', 'gte', 'lt', 'lte'] as const) if (options[bound] !== undefined) native[bound] = options[bound];
    return binding.iterator_init(handle.db, native);
  }

  /** Deletes every key in [gte, lt) (one range tombstone), not synced: the rebuild that uses it syncs its last write. */
  clear(gte: Buffer, lt: Buffer): Promise<void> {
    this.assertOpen();
    return this.serialized(() => {
      if (this.failure) return Promise.reject(this.suspended());
      return this.native((handle, resolve) => {
        binding.db_clear(handle.db, { gte, lt });
        resolve();
      });
    });
  }

  property(name: string): string {
    this.assertOpen();
    if (this.swapping || !this.handle) throw this.unavailable();
    return binding.db_get_property(this.handle.db, name);
  }

  async close(): Promise<void> {
    if (!this.isOpen) return;
    this.isOpen = false;
    await this.writeTail; // a write or reopen under way finishes first
    await this.settled(); // and so does every read: the native handle must outlive them
    for (const c of this.cursors) {
      if (c.it) binding.iterator_close(c.it);
      c.it = null;
      c.done = true;
    }
    const handle = this.handle;
    this.handle = null;
    if (handle) await closeNative(handle).catch((err: unknown) => {
      // A handle whose write failed reports that failure again on close; it is closed all the same.
      if (!this.failure) throw new StoreError('STORE_IO', `closing the store at ${this.location} failed: ${(err as Error).message}`, { cause: err });
    });
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

  /** Resolves once no native call is in flight. */
  private async settled(): Promise<void> {
    while (this.calls > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    this.idle = null;
  }

  /** Starts a native call on the current handle, counted so that reopen() and close() can wait for it. */
  private native<T>(run: (handle: Handle, resolve: (value: T) => void, reject: (err: unknown) => void) => void): Promise<T> {
    if (this.swapping) return this.swapping.then(() => this.native(run));
    this.assertOpen();
    const handle = this.handle;
    if (!handle) return Promise.reject(this.unavailable());
    this.calls++;
    return new Promise<T>((resolve, reject) => {
      const settled = () => {
        if (--this.calls === 0) this.idle?.();
      };
      try {
        run(
          handle,
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
        reject(err instanceof StoreError ? err : new StoreError('STORE_IO', (err as Error).message, { cause: err }));
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

const READ_OPTIONS = { fillCache: true, valueEncoding: 'buffer' };

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

async function openNative(location: string, createIfMissing: boolean): Promise<Handle> {
  const db = binding.db_init(location);
  await new Promise<void>((resolve, reject) => {
    const callback: Callback<unknown> = (err) => (err ? reject(translateOpenError(location, err)) : resolve());
    try {
      // db_open answers at once, without calling back, when this context is open already (never here).
      binding.db_open(db, OPEN_OPTIONS(createIfMissing), callback);
    } catch (err) {
      reject(translateOpenError(location, err as Error));
    }
  });
  return { db, address: binding.db_get_handle(db) };
}

const OPEN_OPTIONS = (createIfMissing: boolean) => ({
  createIfMissing,
  // The log is written in big batches of small, mostly random keys, and read back block by block:
  // compressing the WAL costs the write thread CPU for little (values are MessagePack already).
  walCompression: false,
  // A cache larger than the binding's 8 MiB default: point-in-time reads revisit recent history.
  cacheSize: 64 << 20,
});

function closeNative(handle: Handle): Promise<void> {
  return new Promise<void>((resolve, reject) => binding.db_close(handle.db, (err) => (err ? reject(err) : resolve())));
}

/** Whether the store's disk has room for a reopen: a probe file written and fsynced there, then removed. */
async function hasRoom(location: string): Promise<boolean> {
  const probe = join(location, `room-probe-${randomUUID()}.tmp`);
  let file;
  try {
    file = await openFile(probe, 'w');
    await file.write(Buffer.alloc(ROOM_TO_REOPEN));
    await file.datasync();
    return true;
  } catch {
    return false;
  } finally {
    await file?.close().catch(() => {});
    await unlink(probe).catch(() => {});
  }
}

function translateOpenError(location: string, err: Error): StoreError {
  if (/lock/i.test(err.message)) {
    return new StoreError(
      'STORE_LOCKED',
      `the store at ${location} is already open in another process (or this one); stop that process first`,
      { cause: err },
    );
  }
  if (/does not exist/i.test(err.message)) {
    return new StoreError('STORE_MISSING', `there is no store at ${location}`, { cause: err });
  }
  return new StoreError('STORE_IO', `cannot open the store at ${location}: ${err.message}`, { cause: err });
}
