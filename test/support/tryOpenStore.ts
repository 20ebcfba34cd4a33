// Run as a child process: tries to open the store in argv[2] and prints one JSON line with what
// happened, so a test can see what a second process gets when the store is already open.
import { LedgerStore } from '../../src/store/ledgerStore.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: tryOpenStore.ts <dataDir>');
try {
  const store = await LedgerStore.open(dir);
  const head = store.head;
  await store.close();
  process.stdout.write(`${JSON.stringify({ opened: true, head })}\n`);
} catch (err) {
  const { name, code, message } = err as { name: string; code?: string; message: string };
  process.stdout.write(`${JSON.stringify({ opened: false, name, code, message })}\n`);
}
