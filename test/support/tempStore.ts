// Real RocksDB stores in fresh temp dirs, removed after the test.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LedgerStore, type LedgerStoreOptions } from '../../src/store/ledgerStore.ts';

export async function tempDir(prefix = 'evledger-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Opens a store in a new temp dir; `cleanup` closes it and deletes the dir. */
export async function tempStore(options: LedgerStoreOptions = {}) {
  const { dir, remove } = await tempDir();
  const store = await LedgerStore.open(dir, options);
  return {
    dir,
    store,
    reopen: async (more: LedgerStoreOptions = {}) => {
      await store.close();
      return LedgerStore.open(dir, { ...options, ...more });
    },
    cleanup: async () => {
      await store.close().catch(() => {});
      await remove();
    },
  };
}
