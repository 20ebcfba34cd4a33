// The thread that writes to RocksDB (see writeThread.ts). The binding writes a WriteBatch on the thread
// that calls it, fsync included, so the writes happen here and the event loop never waits for a disk.
// Plain CommonJS, not TypeScript: a worker is loaded by Node itself, outside tsx and vitest's transforms.
'use strict';
const { parentPort } = require('node:worker_threads');
const binding = require('@nxtedition/rocksdb/binding');

const NO_OPTIONS = {};
const PUT = 0;
const batch = binding.batch_init();

parentPort.on('message', (request) => {
  const { id, handle, packed, sync } = request;
  try {
    // The handle is the main thread's open database (db_get_handle): the same RocksDB instance, which
    // is safe to write from any thread. The main thread keeps it open until every write is answered.
    const db = binding.db_init(handle);
    const bytes = Buffer.from(packed);
    // Layout (writeThread.ts, pack): u32 count, then per op u8 type, u32 key length, u32 value length, key, value.
    const count = bytes.readUInt32LE(0);
    let at = 4;
    for (let i = 0; i < count; i++) {
      const type = bytes[at];
      const keyLength = bytes.readUInt32LE(at + 1);
      const valueLength = bytes.readUInt32LE(at + 5);
      at += 9;
      const key = bytes.subarray(at, at + keyLength);
      at += keyLength;
      if (type === PUT) binding.batch_put(batch, key, bytes.subarray(at, at + valueLength), NO_OPTIONS);
      else binding.batch_del(batch, key, NO_OPTIONS);
      at += valueLength;
    }
    binding.batch_write(db, batch, { sync });
    parentPort.postMessage({ id, error: null });
  } catch (err) {
    parentPort.postMessage({ id, error: { message: String(err && err.message), code: err && err.code } });
  } finally {
    binding.batch_clear(batch);
  }
});
