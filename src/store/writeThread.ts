// Writes to RocksDB happen on a thread of their own. `@nxtedition/rocksdb` writes a WriteBatch, fsync and
// all, on the thread that calls it: on the event loop every group commit would stall every read and
// every connection for a millisecond or more. The database itself is opened on the main thread, which
// does all the reading (the binding reads on the libuv pool); the write thread is handed the same open
// instance by address (the binding's db_get_handle / db_init, made for sharing one database between
// threads), so there is still one RocksDB, one lock and one write-ahead log.
//
// A batch crosses as one packed buffer, moved (transferred), not copied: building it is the event loop's
// whole share of a write, one memcpy per key and value, and it is done while the previous batch is
// being written (see the append pipeline).
import { Worker } from 'node:worker_threads';
import type { BatchOp } from './rocks.ts';

/** The ops of one WriteBatch laid out in one buffer of its own (so that it can be transferred). */
export function pack(ops: readonly BatchOp[]): Buffer {
  let size = 4;
  for (const op of ops) size += 9 + op.key.length + (op.type === 'put' ? op.value.length : 0);
  const packed = Buffer.allocUnsafeSlow(size);
  packed.writeUInt32LE(ops.length, 0);
  let at = 4;
  for (const op of ops) {
    const value = op.type === 'put' ? op.value : null;
    packed[at] = value ? 0 : 1;
    packed.writeUInt32LE(op.key.length, at + 1);
    packed.writeUInt32LE(value ? value.length : 0, at + 5);
    at += 9;
    at += op.key.copy(packed, at);
    if (value) at += value.copy(packed, at);
  }
  return packed;
}

interface Pending {
  resolve: () => void;
  reject: (err: Error & { code?: string }) => void;
}

interface Reply {
  id: number;
  error: { message: string; code?: string } | null;
}

let worker: Worker | null = null;
const pending = new Map<number, Pending>();
let nextId = 0;

function thread(): Worker {
  if (worker) return worker;
  const started = new Worker(new URL('./writeThread.worker.cjs', import.meta.url));
  started.on('message', ({ id, error }: Reply) => {
    const request = pending.get(id)!;
    pending.delete(id);
    if (pending.size === 0) started.unref(); // an idle write thread never keeps the process alive
    if (error) request.reject(Object.assign(new Error(error.message), { code: error.code }));
    else request.resolve();
  });
  // The thread died (it cannot, short of a bug in the binding): fail what it held, start another next time.
  const fail = (err: Error) => {
    if (worker === started) worker = null;
    for (const request of pending.values()) request.reject(err);
    pending.clear();
  };
  started.on('error', fail);
  started.on('exit', (code) => fail(new Error(`the RocksDB write thread exited (${code})`)));
  started.unref();
  worker = started;
  return started;
}

/**
 * Writes a packed batch to the open database whose handle this is, atomically; with `sync` the
 * promise resolves only once the write-ahead log is fsynced. The caller keeps the database open until
 * it settles. `packed` is transferred: it is empty afterwards.
 */
export function writePacked(handle: bigint, packed: Buffer, sync: boolean): Promise<void> {
  const w = thread();
  const id = nextId++;
  return new Promise<void>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    w.ref();
    w.postMessage({ id, handle, packed: packed.buffer, sync }, [packed.buffer as ArrayBuffer]);
  });
}
