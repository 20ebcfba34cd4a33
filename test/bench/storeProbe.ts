// Run by engine.ts in a fresh process (`node --import tsx storeProbe.ts <dir> <samples>`), so start-up
// is a real cold start and peak RSS is that of a process that opens the store and serves reads, not of
// the bench that built it. Prints one JSON line.
import { readFileSync } from 'node:fs';
import { PointInTime } from '../../src/projection/pointInTime.ts';
import { accountKey } from '../../src/store/keys.ts';
import { LedgerStore } from '../../src/store/ledgerStore.ts';
import { Rocks } from '../../src/store/rocks.ts';
import { now, percentile, seededRandom } from './report.ts';

export interface ProbeResult {
  readonly openMs: number[];
  readonly rawOpenMs: number[];
  readonly samples: number;
  readonly accounts: number;
  /** Milliseconds. */
  readonly accountAt: { p50: number; p99: number };
  readonly get: { p50: number; p99: number };
  readonly indexedShare: number;
  readonly baseRssKiB: number;
  readonly maxRssKiB: number;
}

/**
 * Peak RSS of this process in KiB. Linux keeps getrusage's maxRSS across the exec that started us, so
 * it would report the (larger) bench that spawned us; VmHWM is this process's own high-water mark.
 */
function peakRssKiB(): number {
  try {
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]);
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS;
}

async function probe(dir: string, samples: number): Promise<ProbeResult> {
  const baseRssKiB = peakRssKiB();
  const openMs: number[] = [];
  let start = now();
  const store = await LedgerStore.open(dir);
  openMs.push(now() - start);

  const pit = new PointInTime(store);
  const ids = [...store.state.accounts()].map((a) => a.id);
  const rand = seededRandom(42);
  const head = store.head;
  const latencies = async (read: (id: string, seq: number) => Promise<unknown>) => {
    for (let i = 0; i < 1_000; i++) await read(ids[rand(ids.length)]!, 1 + rand(head)); // warm-up
    const ms: number[] = [];
    for (let i = 0; i < samples; i++) {
      const id = ids[rand(ids.length)]!;
      const seq = 1 + rand(head);
      const t = now();
      await read(id, seq);
      ms.push(now() - t);
    }
    return ms.sort((a, b) => a - b);
  };
  let indexed = 0;
  const at = await latencies((id, seq) => {
    if (seq < store.state.account(id)!.lastSequence) indexed++;
    return pit.accountAt(id, seq);
  });
  const get = await latencies((id) => store.rocks.get(accountKey(id)));
  await store.close();

  for (let i = 0; i < 2; i++) {
    start = now();
    const again = await LedgerStore.open(dir);
    openMs.push(now() - start);
    await again.close();
  }
  const rawOpenMs: number[] = [];
  for (let i = 0; i < 3; i++) {
    start = now();
    const rocks = await Rocks.open(dir);
    rawOpenMs.push(now() - start);
    await rocks.close();
  }
  return {
    openMs,
    rawOpenMs,
    samples,
    accounts: ids.length,
    accountAt: { p50: percentile(at, 50), p99: percentile(at, 99) },
    get: { p50: percentile(get, 50), p99: percentile(get, 99) },
    indexedShare: indexed / (samples + 1_000),
    baseRssKiB,
    maxRssKiB: peakRssKiB(),
  };
}

const [dir, samples] = process.argv.slice(2);
if (!dir) throw new Error('usage: storeProbe.ts <store dir> [samples]');
console.log(JSON.stringify(await probe(dir, Number(samples ?? 20_000))));
