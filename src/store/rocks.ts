// The one file that touches the native RocksDB binding (`rocksdb`, the Level binding). Everything above
// speaks Buffers and promises through this class.
//
// Why `rocksdb` and not `@nxtedition/rocksdb`: this binding runs writes and reads on the libuv thread
// pool, so while one group-commit batch fsyncs the event loop keeps accepting commands and serving
// reads ("reads never block on the writer"); the fork writes on the JS thread, so every fsync stalls
// the whole server, and its `put(…, {sync})` does not even fsync.
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
  readonly ops: number;
  readonly native: NativeChainedBatch;
}

export interface RangeOptions {
  gt?: Buffer;
  gte?: Buffer;
  lt?: Buffer;
  lte?: Buffer;
  reverse?: boolean;
  limit?: number;
  keys?: boolean;
  values?: boolean;
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

  private constructor(
    readonly location: string,
    private readonly db: NativeDb,
  ) {}

  /** `readOnly` takes no lock, so another process may read (an export) while a server writes. */
  static async open(location: string, options: { createIfMissing?: boolean; readOnly?: boolean } = {}): Promise<Rocks> {
    const db = leveldown(location);
    await new Promise<void>((resolve, reject) =>
      db.open(
        {
          createIfMissing: !options.readOnly && (options.createIfMissing ?? true),
          readOnly: options.readOnly ?? false,
          // Larger memtables and cache than the binding's 4 MiB / 8 MiB defaults: the log is written in
          // big batches and point-in-time reads revisit recent history.
          writeBufferSize: 64 << 20,
          cacheSize: 64 << 20,
        },
        (err) => (err ? reject(translateOpenError(location, err)) : resolve()),
      ),
    );
    const rocks = new Rocks(location, db);
    rocks.isOpen = true;
    return rocks;
  }

  get open(): boolean {
    return this.isOpen;
  }

  /** One atomic write; with `sync` it returns only after the write-ahead log is fsynced. */
  write(ops: BatchOp[], sync: boolean): Promise<void> {
    let batch: FilledBatch;
    try {
      batch = this.fill(ops);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.writeFilled(batch, sync);
  }

  /**
   * Copies ops into a native WriteBatch now (the binding copies every key and value), for
   * writeFilled to write later. Filling is the event loop's part of a write, about a microsecond an
   * op: the append pipeline fills the next batch while the previous one is still being written.
   */
  fill(ops: readonly BatchOp[]): FilledBatch {
    this.assertOpen();
    // A chained batch, not batch(array): the array form copies every op into a new object in JS and
    // then reads `type`, `key` and `value` back as named properties in C++, which cost 2-3x more of
    // the event loop per op than passing the Buffers as arguments (`npm run bench -- engine:append`).
    // Both build one native WriteBatch and write it atomically.
    const native = this.db.batch();
    try {
      for (const op of ops) {
        if (op.type === 'put') native.put(op.key, op.value);
        else native.del(op.key);
      }
    } catch (err) {
      throw new StoreError('STORE_IO', `write failed: ${(err as Error).message}`, { cause: err });
    }
    return { ops: ops.length, native };
  }

  /** Writes a filled batch atomically; with `sync` it returns only after the write-ahead log is fsynced. */
  writeFilled(batch: FilledBatch, sync: boolean): Promise<void> {
    this.assertOpen();
    if (batch.ops === 0) return Promise.resolve();
    return new Promise((resolve, reject) =>
      batch.native.write({ sync }, (err) => (err ? reject(new StoreError('STORE_IO', `write failed: ${err.message}`, { cause: err })) : resolve())),
    );
  }

  get(key: Buffer): Promise<Buffer | undefined> {
    this.assertOpen();
    return new Promise((resolve, reject) =>
      this.db.get(key, { asBuffer: true, fillCache: true }, (err, value) => {
        if (err) return /NotFound/i.test(err.message) ? resolve(undefined) : reject(new StoreError('STORE_IO', err.message, { cause: err }));
        resolve(value);
      }),
    );
  }

  getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]> {
    this.assertOpen();
    if (keys.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) =>
      this.db.getMany(keys, { asBuffer: true, fillCache: true }, (err, values) =>
        err ? reject(new StoreError('STORE_IO', err.message, { cause: err })) : resolve(values!),
      ),
    );
  }

  /**
   * Entries of a key range, in order. The iterator reads from a snapshot taken when this is called,
   * so a multi-key read is consistent even while batches commit.
   */
  async *range(options: RangeOptions): AsyncGenerator<[Buffer, Buffer]> {
    this.assertOpen();
    const it = this.iterator(options);
    try {
      for (;;) {
        const [entries, finished] = await new Promise<[Buffer[], boolean]>((resolve, reject) =>
          binding.iterator_next(it, (err, entries, finished) => (err ? reject(new StoreError('STORE_IO', err.message, { cause: err })) : resolve([entries, finished]))),
        );
        for (let i = entries.length - 1; i > 0; i -= 2) yield [entries[i]!, entries[i - 1]!];
        if (finished) return;
      }
    } finally {
      endInBackground(it);
    }
  }

  /** The last entry at or below `lte` and at or above `gte` (one reverse seek), if any. */
  last(gte: Buffer, lte: Buffer): Promise<[Buffer, Buffer] | undefined> {
    this.assertOpen();
    // One native call and one callback, not range(): this is every point-in-time read.
    const it = this.iterator({ gte, lte, reverse: true, limit: 1 });
    return new Promise((resolve, reject) =>
      binding.iterator_next(it, (err, entries) => {
        endInBackground(it);
        if (err) reject(new StoreError('STORE_IO', err.message, { cause: err }));
        else resolve(entries.length >= 2 ? [entries[entries.length - 1]!, entries[entries.length - 2]!] : undefined);
      }),
    );
  }

  /** A native iterator, with the options abstract-leveldown's iterator() would have passed it. */
  private iterator(options: RangeOptions): NativeIterator {
    const native: Record<string, unknown> = {
      reverse: !!options.reverse,
      keys: options.keys !== false,
      values: options.values !== false,
      limit: options.limit ?? -1,
      keyAsBuffer: true,
      valueAsBuffer: true,
    };
    for (const bound of ['gt', 'gte', 'lt', 'lte'] as const) {
      if (bound in options) native[bound] = Buffer.isBuffer(options[bound]) ? options[bound] : String(options[bound]);
    }
    return binding.iterator_init(this.db.context, native);
  }

  /** Deletes every key in [gte, lt). */
  clear(gte: Buffer, lt: Buffer): Promise<void> {
    this.assertOpen();
    return new Promise((resolve, reject) => this.db.clear({ gte, lt }, (err) => (err ? reject(new StoreError('STORE_IO', err.message, { cause: err })) : resolve())));
  }

  property(name: string): string {
    return this.db.getProperty(name);
  }

  async close(): Promise<void> {
    if (!this.isOpen) return;
    this.isOpen = false;
    await new Promise<void>((resolve, reject) => this.db.close((err) => (err ? reject(err) : resolve())));
  }

  private assertOpen(): void {
    if (!this.isOpen) throw new StoreError('STORE_NOT_OPEN', `the store at ${this.location} is not open`);
  }
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
