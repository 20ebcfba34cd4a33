// The engine bench: codec and key-layout choices, the append path against the raw RocksDB ceiling,
// replay against a raw scan, and point-in-time reads, start-up and memory on a big store.
//
// Parts (`npm run bench -- engine:codec,append`): codec, layout, append, replay, store (start-up,
// accountAt, RSS). BENCH_EVENTS sets the size of the big store (default 1,000,000) and caps every
// other count, for a quick run.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Encoder } from 'cbor-x';
import { replay } from '../../src/projection/replay.ts';
import { BLOCK_FORMAT, BlockWriter, GENESIS_HASH, blockEntries, decodeBlock, eventTuple, pack, unpack, type StoredEventTuple } from '../../src/store/codec.ts';
import { LOG_END, LOG_START, logKey } from '../../src/store/keys.ts';
import { LedgerStore, STORE_FORMAT } from '../../src/store/ledgerStore.ts';
import { PROJECTION_FORMAT } from '../../src/store/rebuild.ts';
import { Rocks, type BatchOp } from '../../src/store/rocks.ts';
import { Bench, bestRates, now, progress, timed, type Section } from './report.ts';
import type { ProbeResult } from './storeProbe.ts';
import { appendInChunks, chunksOf, openCommands, sampleEvents, workCommands } from './workload.ts';

const BIG = Math.max(10_000, Number(process.env.BENCH_EVENTS ?? 1_000_000));
/** Every other count is capped by BENCH_EVENTS, so a small value makes the whole section quick. */
const upTo = (n: number) => Math.min(n, BIG);
const ROUNDS = 2; // write benches alternate figure and baseline this many times and keep each one's best
const BATCH_KEYS = 1_000;
const BUMP = 1; // bump when the cached big store's workload changes
const CACHE_VERSION = `v${BUMP}-store${STORE_FORMAT}-proj${PROJECTION_FORMAT}-block${BLOCK_FORMAT}`;

const PARTS = ['codec', 'layout', 'append', 'replay', 'store'] as const;

const section: Section = {
  name: 'engine',
  description: `codec and layout, append vs the raw RocksDB ceiling, replay, point-in-time reads at ${BIG.toLocaleString('en-US')} events`,
  async run(bench, parts) {
    const unknown = parts.filter((p) => !(PARTS as readonly string[]).includes(p));
    if (unknown.length > 0) throw new Error(`unknown engine part(s) ${unknown.join(', ')}; parts: ${PARTS.join(', ')}`);
    const wants = (p: (typeof PARTS)[number]) => parts.length === 0 || parts.includes(p);
    const work = await mkdtemp(join(tmpdir(), 'evledger-bench-'));
    const rssAtStart = process.resourceUsage().maxRSS;
    try {
      if (wants('codec')) codec(bench);
      if (wants('layout')) await layout(bench, work);
      if (wants('append')) await append(bench, work);
      if (wants('replay') || wants('store')) {
        const big = await bigStore(bench);
        if (wants('store')) await storeProbe(bench, big);
        if (wants('replay')) await replayVsScan(bench, big);
      }
      const g = bench.group('memory of this bench process');
      bench.row(g, {
        measurement: 'peak RSS of the whole bench run',
        figure: { value: process.resourceUsage().maxRSS / 1024, unit: 'MiB' },
        baselineName: 'peak RSS when the section started',
        baseline: { value: rssAtStart / 1024, unit: 'MiB' },
        ratio: 'times',
      });
      bench.note(g, 'includes the workloads held in memory and up to three RocksDB instances open at once (64 MiB memtable and 64 MiB block cache each); the store probe above is the figure for a serving process');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  },
};
export default section;

// --- codec ---------------------------------------------------------------------------------------

function codec(bench: Bench): void {
  const g = bench.group('codec: one realistic event tuple (StoredEventTuple), encode + decode');
  const tuples: StoredEventTuple[] = sampleEvents(1_000).map(eventTuple);
  const cbor = new Encoder({ useRecords: false });
  const codecs = {
    JSON: { encode: (t: unknown) => Buffer.from(JSON.stringify(t)), decode: (b: Buffer) => JSON.parse(b.toString('utf8')) },
    msgpackr: { encode: pack, decode: unpack },
    'cbor-x': { encode: (t: unknown) => cbor.encode(t), decode: (b: Buffer) => cbor.decode(b) },
  };
  type Name = keyof typeof codecs;
  const names = Object.keys(codecs) as Name[];
  for (const name of names) {
    const back = codecs[name].decode(codecs[name].encode(tuples[0]));
    if (JSON.stringify(back) !== JSON.stringify(tuples[0])) throw new Error(`${name} does not round-trip an event tuple`);
  }
  const encoded = Object.fromEntries(names.map((n) => [n, tuples.map((t) => codecs[n].encode(t))])) as Record<Name, Buffer[]>;
  const bytes = (n: Name) => encoded[n].reduce((s, b) => s + b.length, 0) / tuples.length;

  const rates = bestRates({
    ...(Object.fromEntries(names.map((n) => [`${n} encode+decode`, (i: number) => codecs[n].decode(codecs[n].encode(tuples[i % 1000]))])) as Record<`${Name} encode+decode`, (i: number) => unknown>),
    ...(Object.fromEntries(names.map((n) => [`${n} decode only`, (i: number) => codecs[n].decode(encoded[n][i % 1000]!)])) as Record<`${Name} decode only`, (i: number) => unknown>),
  });
  const roundTrip = Object.fromEntries(names.map((n) => [n, rates[`${n} encode+decode`]])) as Record<Name, number>;
  const decodeOnly = Object.fromEntries(names.map((n) => [n, rates[`${n} decode only`]])) as Record<Name, number>;
  const ops = (value: number) => ({ value, unit: 'ops/s' });
  for (const n of ['msgpackr', 'cbor-x'] as const) {
    bench.row(g, { measurement: `${n} encode+decode`, figure: ops(roundTrip[n]), baselineName: 'JSON encode+decode', baseline: ops(roundTrip.JSON), ratio: 'times' });
  }
  bench.row(g, { measurement: 'msgpackr encode+decode', figure: ops(roundTrip.msgpackr), baselineName: 'cbor-x encode+decode', baseline: ops(roundTrip['cbor-x']), ratio: 'times' });
  for (const n of ['msgpackr', 'cbor-x'] as const) {
    bench.row(g, { measurement: `${n} decode only`, figure: ops(decodeOnly[n]), baselineName: 'JSON decode only', baseline: ops(decodeOnly.JSON), ratio: 'times' });
  }
  bench.row(g, { measurement: 'msgpackr decode only', figure: ops(decodeOnly.msgpackr), baselineName: 'cbor-x decode only', baseline: ops(decodeOnly['cbor-x']), ratio: 'times' });
  bench.note(g, `bytes per event tuple: JSON ${bytes('JSON').toFixed(0)}, msgpackr ${bytes('msgpackr').toFixed(0)}, cbor-x ${bytes('cbor-x').toFixed(0)}; best of 30 interleaved rounds of 30 ms each`);
  const fastest = names.reduce((a, b) => (roundTrip[a] >= roundTrip[b] ? a : b));
  if (fastest !== 'msgpackr') bench.note(g, `!!! ${fastest} beat msgpackr (the engine's codec) at encode+decode in this run`);
  const overJson = roundTrip.msgpackr / roundTrip.JSON;
  if (overJson < 1.5) bench.note(g, `!!! msgpackr is only ${overJson.toFixed(2)}× JSON at encode+decode of one event tuple: its wins are smaller values and typed binary, not speed`);
}

// --- layout: one key per event vs one block per batch --------------------------------------------

async function layout(bench: Bench, work: string): Promise<void> {
  const count = upTo(200_000);
  const g = bench.group(`key layout: ${count.toLocaleString('en-US')} events in synced batches of ${BATCH_KEYS}, then a full scan with decoding`);
  const events = sampleEvents(count, 11);
  const perEvent = await Rocks.open(join(work, 'layout-key-per-event'));
  const perBlock = await Rocks.open(join(work, 'layout-block-per-batch'));
  try {
    const write = async (rocks: Rocks, blocks: boolean) =>
      (
        await timed(async () => {
          let hash = GENESIS_HASH;
          for (let at = 0; at < count; at += BATCH_KEYS) {
            const batch = events.slice(at, at + BATCH_KEYS);
            const ops: BatchOp[] = [];
            if (blocks) {
              const block = new BlockWriter(hash);
              for (const e of batch) block.add(e);
              hash = block.lastHash;
              ops.push({ type: 'put', key: logKey(batch[0]!.sequence), value: block.finish() });
            } else {
              // The same record format, one event per key: a block of one.
              for (const e of batch) {
                const block = new BlockWriter(hash, 256);
                block.add(e);
                hash = block.lastHash;
                ops.push({ type: 'put', key: logKey(e.sequence), value: block.finish() });
              }
            }
            await rocks.write(ops, true);
          }
        })
      ).seconds;
    const scan = async (rocks: Rocks) =>
      (
        await timed(async () => {
          let n = 0;
          for await (const [, value] of rocks.range({ gte: LOG_START, lte: LOG_END })) n += decodeBlock(value).length;
          if (n !== count) throw new Error(`scanned ${n} events, wrote ${count}`);
        })
      ).seconds;
    const keyWrite = await write(perEvent, false);
    const blockWrite = await write(perBlock, true);
    let keyScan = Infinity;
    let blockScan = Infinity;
    for (let round = 0; round < ROUNDS; round++) {
      keyScan = Math.min(keyScan, await scan(perEvent));
      blockScan = Math.min(blockScan, await scan(perBlock));
    }
    const rate = (s: number) => ({ value: count / s, unit: 'ev/s' });
    bench.row(g, { measurement: 'write: one block per batch', figure: rate(blockWrite), baselineName: 'write: one key per event', baseline: rate(keyWrite), ratio: 'times' });
    bench.row(g, { measurement: 'scan+decode: one block per batch', figure: rate(blockScan), baselineName: 'scan+decode: one key per event', baseline: rate(keyScan), ratio: 'times' });
    // Seconds: a larger figure is the slower one. Each case named, so that a win on one row is not read as a loss.
    if (blockWrite > keyWrite) bench.note(g, `!!! one key per event wrote ${(blockWrite / keyWrite).toFixed(2)}× faster than blocks in this run`);
    if (blockScan > keyScan) bench.note(g, `!!! one key per event scanned ${(blockScan / keyScan).toFixed(2)}× faster than blocks in this run`);
  } finally {
    await perEvent.close();
    await perBlock.close();
  }
}

// --- append vs the raw ceiling -------------------------------------------------------------------

async function append(bench: Bench, work: string): Promise<void> {
  const ACCOUNTS = 1_000;
  const BULK = upTo(200_000);
  const CONCURRENT = upTo(50_000);
  const SINGLE = upTo(1_500);
  const g = bench.group(`append, durability fsync, ${ACCOUNTS.toLocaleString('en-US')} accounts, deposits and transfers (best of ${ROUNDS} interleaved rounds)`);

  // What the engine writes per event: every key and value of its batches, measured on real batches.
  let measuring = false;
  let bytes = 0;
  let keys = 0;
  let events = 0;
  let batches = 0;
  // The first bulk round's batches, kept to rewrite them raw: what RocksDB alone makes of the engine's layout.
  let capturing = false;
  const captured: BatchOp[][] = [];
  let capturedEvents = 0;
  const concurrentBatches = { counting: false, batches: 0, events: 0 };
  // The first 64-caller round's batches, likewise: what RocksDB alone makes of them.
  let capturingConcurrent = false;
  const capturedConcurrent: BatchOp[][] = [];
  let capturedConcurrentEvents = 0;
  const store = await LedgerStore.open(join(work, 'append-ledger'), {
    beforeWrite: (ops) => {
      if (concurrentBatches.counting) {
        concurrentBatches.batches++;
        concurrentBatches.events += eventsIn(ops);
        if (capturingConcurrent && capturedConcurrent.length < 300) {
          capturedConcurrent.push(ops as BatchOp[]);
          capturedConcurrentEvents += eventsIn(ops);
        }
      }
      if (capturing && captured.length < 50) {
        captured.push(ops as BatchOp[]);
        capturedEvents += eventsIn(ops);
      }
      if (!measuring) return;
      batches++;
      for (const op of ops) {
        keys++;
        bytes += op.key.length + (op.type === 'put' ? op.value.length : 0);
      }
      events += eventsIn(ops);
    },
  });
  const raw = await Rocks.open(join(work, 'append-raw'));
  const rawEngineOps = await Rocks.open(join(work, 'append-raw-engine-ops'));
  try {
    await appendInChunks(store, chunksOf(openCommands(ACCOUNTS), 1_000), 1);
    measuring = true;
    await appendInChunks(store, chunksOf(workCommands(upTo(20_000), ACCOUNTS, 1), 1_000), 8); // warm-up
    measuring = false;
    const bytesPerEvent = bytes / events;
    bench.note(g, `the engine writes ${bytesPerEvent.toFixed(0)} bytes in ${(keys / events).toFixed(2)} keys per event (${(events / batches).toFixed(0)} events a batch, warm-up); the raw ceiling writes the same bytes as one key per event`);

    const values = Array.from({ length: BATCH_KEYS }, () => randomBytes(Math.max(1, Math.round(bytesPerEvent) - logKey(0).length)));
    let rawSeq = 0;
    const rawBatches = async (total: number, perBatch: number) =>
      (
        await timed(async () => {
          for (let done = 0; done < total; done += perBatch) {
            const ops: BatchOp[] = [];
            for (let i = 0; i < perBatch; i++) ops.push({ type: 'put', key: logKey(++rawSeq), value: values[i]! });
            await raw.write(ops, true);
          }
        })
      ).seconds;

    let seed = 100;
    const best = { ceiling: 0, engineOps: 0, bulk: 0, concurrent: 0, engineOps64: 0, raw64: 0, single: 0, rawSingle: 0 };
    // CPU time of the whole process (every thread) per appended event, steadier than wall time on a
    // shared machine: the lowest round's. And how late the event loop ran while 64 callers appended.
    const cpu = { bulk: Infinity, concurrent: Infinity, engineOps: Infinity };
    let loopDelayP99 = 0;
    let loopDelayMax = 0;
    let rawLoopDelayP99 = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const ceilingEvents = upTo(200_000);
      best.ceiling = Math.max(best.ceiling, ceilingEvents / (await rawBatches(ceilingEvents, BATCH_KEYS)));

      const bulk = workCommands(BULK, ACCOUNTS, seed++);
      capturing = round === 0;
      const b = await cpuTimed(() => appendInChunks(store, chunksOf(bulk, 1_000), 8));
      capturing = false;
      best.bulk = Math.max(best.bulk, b.result / b.seconds);
      cpu.bulk = Math.min(cpu.bulk, b.cpuMicros / b.result);

      const e = await cpuTimed(async () => {
        for (const ops of captured) await rawEngineOps.write(ops, true);
      });
      best.engineOps = Math.max(best.engineOps, capturedEvents / e.seconds);
      cpu.engineOps = Math.min(cpu.engineOps, e.cpuMicros / capturedEvents);

      const concurrent = workCommands(CONCURRENT, ACCOUNTS, seed++);
      concurrentBatches.counting = true;
      capturingConcurrent = round === 0;
      const loop = monitorEventLoopDelay({ resolution: 1 });
      loop.enable();
      const c = await cpuTimed(() => oneCommandPerCall(store, concurrent, 64));
      loop.disable();
      capturingConcurrent = false;
      concurrentBatches.counting = false;
      best.concurrent = Math.max(best.concurrent, c.result / c.seconds);
      cpu.concurrent = Math.min(cpu.concurrent, c.cpuMicros / c.result);
      loopDelayP99 = Math.max(loopDelayP99, loop.percentile(99) / 1e6);
      loopDelayMax = Math.max(loopDelayMax, loop.max / 1e6);

      const e64 = await timed(async () => {
        for (const ops of capturedConcurrent) await rawEngineOps.write(ops, true);
      });
      best.engineOps64 = Math.max(best.engineOps64, capturedConcurrentEvents / e64.seconds);
      const raw64Events = upTo(20_000);
      const rawLoop = monitorEventLoopDelay({ resolution: 1 });
      rawLoop.enable();
      best.raw64 = Math.max(best.raw64, raw64Events / (await rawBatches(raw64Events, 64)));
      rawLoop.disable();
      rawLoopDelayP99 = Math.max(rawLoopDelayP99, rawLoop.percentile(99) / 1e6);

      const single = workCommands(SINGLE, ACCOUNTS, seed++);
      const s = await timed(() => oneCommandPerCall(store, single, 1));
      best.single = Math.max(best.single, s.result / s.seconds);
      best.rawSingle = Math.max(best.rawSingle, SINGLE / (await rawBatches(SINGLE, 1)));
    }
    const ev = (value: number) => ({ value, unit: 'ev/s' });
    const ceiling = { baselineName: `raw RocksDB: synced ${BATCH_KEYS}-key batches, ${Math.round(bytesPerEvent)} B/key`, baseline: ev(best.ceiling), ratio: 'percent' as const };
    bench.row(g, { measurement: 'bulk: store.execute(1,000 commands) ×8 in flight', figure: ev(best.bulk), ...ceiling, target: { on: 'ratio', op: '>=', value: 0.6 } });
    // Where the gap to the ceiling is: the engine's own WriteBatches (its key layout) through the raw
    // wrapper, without any of its JS, and then the whole engine against that.
    bench.row(g, { measurement: "raw RocksDB: the engine's own batches rewritten", figure: ev(best.engineOps), ...ceiling });
    bench.row(g, { measurement: 'bulk: store.execute(1,000 commands) ×8 in flight', figure: ev(best.bulk), baselineName: "raw RocksDB: the engine's own batches rewritten", baseline: ev(best.engineOps), ratio: 'percent' });
    bench.row(g, { measurement: '64 concurrent loops of store.executeOne', figure: ev(best.concurrent), ...ceiling, target: { on: 'ratio', op: '>=', value: 0.4 } });
    // The same for the 64 callers: their batches are ~64 events, so each carries a whole fsync, and
    // RocksDB alone, writing one synced 64-event batch after another, sets how far this can go.
    bench.row(g, { measurement: 'raw RocksDB: synced 64-key batches, one at a time', figure: ev(best.raw64), ...ceiling });
    bench.row(g, { measurement: "raw RocksDB: the engine's own 64-caller batches rewritten", figure: ev(best.engineOps64), ...ceiling });
    bench.row(g, { measurement: '64 concurrent loops of store.executeOne', figure: ev(best.concurrent), baselineName: "raw RocksDB: the engine's own 64-caller batches rewritten", baseline: ev(best.engineOps64), ratio: 'percent' });
    bench.row(g, { measurement: 'one store.executeOne at a time', figure: ev(best.single), ...ceiling });
    bench.row(g, { measurement: 'one store.executeOne at a time', figure: ev(best.single), baselineName: 'raw RocksDB: one synced 1-key batch at a time', baseline: ev(best.rawSingle), ratio: 'percent' });
    const us = (value: number) => ({ value, unit: 'µs' });
    bench.row(g, { measurement: 'CPU per event: bulk store.execute', figure: us(cpu.bulk), baselineName: "raw RocksDB: the engine's own batches rewritten", baseline: us(cpu.engineOps), ratio: 'times' });
    bench.row(g, { measurement: 'CPU per event: 64 concurrent loops of store.executeOne', figure: us(cpu.concurrent), baselineName: "raw RocksDB: the engine's own batches rewritten", baseline: us(cpu.engineOps), ratio: 'times' });
    const msFigure = (value: number) => ({ value, unit: 'ms' });
    bench.row(g, {
      measurement: 'event-loop delay p99 during 64 concurrent loops (worst round)',
      figure: msFigure(loopDelayP99),
      baselineName: 'the same during raw synced 64-key batches',
      baseline: msFigure(rawLoopDelayP99),
      ratio: 'times',
      target: { on: 'figure', op: '<', value: 5 },
    });
    bench.note(g, `event-loop delay during 64 concurrent loops: worst p99 ${loopDelayP99.toFixed(2)} ms, worst max ${loopDelayMax.toFixed(2)} ms (monitorEventLoopDelay, 1 ms resolution); CPU per event is process.cpuUsage (all threads) over the run, the lowest round`);
    bench.note(g, `the engine's own batches: the first ${captured.length} of the bulk run (${capturedEvents.toLocaleString('en-US')} events, ${(captured.reduce((n, ops) => n + ops.length, 0) / capturedEvents).toFixed(2)} keys per event), synced, same key order`);
    bench.note(g, `64 concurrent loops: ${(concurrentBatches.events / concurrentBatches.batches).toFixed(1)} events per synced batch on average; their batches rewritten raw: the first ${capturedConcurrent.length} (${capturedConcurrentEvents.toLocaleString('en-US')} events, ${(capturedConcurrent.reduce((n, ops) => n + ops.length, 0) / capturedConcurrentEvents).toFixed(2)} keys per event), synced, one at a time`);
    bench.note(g, `per round: bulk ${BULK.toLocaleString('en-US')}, 64-concurrent ${CONCURRENT.toLocaleString('en-US')}, one-at-a-time ${SINGLE.toLocaleString('en-US')} commands; raw ceiling ${upTo(200_000).toLocaleString('en-US')} keys`);
  } finally {
    await store.close();
    await raw.close();
    await rawEngineOps.close();
  }
}

/** Events in one of the engine's batches: the count in its log block (the one L key). */
function eventsIn(ops: readonly BatchOp[]): number {
  let n = 0;
  for (const op of ops) if (op.type === 'put' && op.key[0] === LOG_START[0] && op.key.length === LOG_START.length) n += op.value.readUInt32BE(1);
  return n;
}

/** `lanes` async loops, each awaiting one `executeOne` at a time, until the commands run out. */
async function oneCommandPerCall(store: LedgerStore, commands: readonly import('../../src/domain/commands.ts').Command[], lanes: number): Promise<number> {
  let next = 0;
  let appended = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < commands.length) {
        const result = await store.executeOne(commands[next++]!);
        if (!result.ok) throw new Error(`bench workload refused: ${JSON.stringify(result.error)}`);
        appended++;
      }
    }),
  );
  return appended;
}

// --- the big store ---------------------------------------------------------------------------------

interface BigStore {
  readonly ledgerDir: string;
  /** The same events, one key per event (the bytes of each block entry), for the raw scan. */
  readonly rawDir: string;
  readonly events: number;
}

/** A store of BIG events, built once by bulk appends and kept under the OS temp dir for later runs. */
async function bigStore(bench: Bench): Promise<BigStore> {
  const root = join(tmpdir(), `evledger-bench-${CACHE_VERSION}-${BIG}`);
  const marker = join(root, 'complete.json');
  const big = { ledgerDir: join(root, 'ledger'), rawDir: join(root, 'raw'), events: BIG };
  const g = bench.group(`the big store: ${BIG.toLocaleString('en-US')} events`);
  if (existsSync(marker)) {
    const built = JSON.parse(await readFile(marker, 'utf8')) as { builtAt: string; seconds: number; accounts: number };
    bench.note(g, `REUSED the cached store at ${root} (built ${built.builtAt} in ${built.seconds.toFixed(0)} s, ${built.accounts} accounts); delete it to rebuild`);
    return big;
  }
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  const accounts = Math.min(10_000, Math.max(100, Math.floor(BIG / 100)));
  const started = now();
  progress(`  building ${BIG.toLocaleString('en-US')} events over ${accounts} accounts in ${root} (durability none) …`);
  const store = await LedgerStore.open(big.ledgerDir, { durability: 'none' });
  try {
    await appendInChunks(store, chunksOf(openCommands(accounts), 2_000), 1);
    let left = BIG - accounts;
    let seed = 1_000;
    const next = () => {
      if (left <= 0) return undefined;
      const n = Math.min(2_000, left);
      left -= n;
      return workCommands(n, accounts, seed++);
    };
    await appendInChunks(store, next, 8);
    if (store.head !== BIG) throw new Error(`built ${store.head} events, wanted ${BIG}`);
  } finally {
    await store.close();
  }
  const ledgerSeconds = (now() - started) / 1000;
  // The same events one per key, copied from the blocks, for the raw scan baseline.
  const ledger = await Rocks.open(big.ledgerDir);
  const raw = await Rocks.open(big.rawDir);
  try {
    let ops: BatchOp[] = [];
    let seq = 0;
    for await (const [, block] of ledger.range({ gte: LOG_START, lte: LOG_END })) {
      for (const entry of blockEntries(block)) {
        ops.push({ type: 'put', key: logKey(++seq), value: Buffer.concat([entry.bytes, entry.hash]) });
        if (ops.length === 10_000) {
          await raw.write(ops, false);
          ops = [];
        }
      }
    }
    await raw.write(ops, true);
  } finally {
    await ledger.close();
    await raw.close();
  }
  // Settle: the first open after a build replays the write-ahead log; do it here, not in the probe.
  await (await LedgerStore.open(big.ledgerDir)).close();
  const seconds = (now() - started) / 1000;
  await writeFile(marker, JSON.stringify({ builtAt: new Date().toISOString(), seconds, accounts, events: BIG }));
  bench.note(g, `BUILT the store at ${root} in ${seconds.toFixed(0)} s (${(BIG / ledgerSeconds).toFixed(0)} ev/s bulk, durability none; ${accounts} accounts); later runs reuse it`);
  return big;
}

// --- start-up, accountAt, RSS: measured in a fresh process that only opens and reads the store ----

async function storeProbe(bench: Bench, big: BigStore): Promise<void> {
  const g = bench.group(`a fresh process on the big store (${BIG.toLocaleString('en-US')} events)`);
  const probe = join(dirname(fileURLToPath(import.meta.url)), 'storeProbe.ts');
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), probe, big.ledgerDir, '20000'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`store probe exited with ${code}: ${out}`))));
  });
  const r = JSON.parse(output.trim().split('\n').pop()!) as ProbeResult;
  const ms = (value: number) => ({ value, unit: 'ms' });
  const us = (value: number) => ({ value: value * 1000, unit: 'µs' });
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  bench.row(g, {
    measurement: 'start-up: LedgerStore.open, first in a new process',
    figure: ms(r.openMs[0]!),
    baselineName: 'raw Rocks.open of the same dir (median of 3)',
    baseline: ms(median(r.rawOpenMs)),
    ratio: 'times',
    target: { on: 'figure', op: '<', value: 1000 },
  });
  bench.row(g, { measurement: 'start-up: LedgerStore.open, median of 3', figure: ms(median(r.openMs)), baselineName: 'raw Rocks.open of the same dir (median of 3)', baseline: ms(median(r.rawOpenMs)), ratio: 'times', target: { on: 'figure', op: '<', value: 1000 } });
  const base = 'raw rocks.get of a random projection row';
  bench.row(g, { measurement: 'accountAt(random account, random sequence) p50', figure: us(r.accountAt.p50), baselineName: `${base}, p50`, baseline: us(r.get.p50), ratio: 'times' });
  bench.row(g, { measurement: 'accountAt(random account, random sequence) p99', figure: us(r.accountAt.p99), baselineName: `${base}, p99`, baseline: us(r.get.p99), ratio: 'times', target: { on: 'figure', op: '<', value: 1000 } });
  bench.row(g, { measurement: 'peak RSS: open + the reads above', figure: { value: r.maxRssKiB / 1024, unit: 'MiB' }, baselineName: 'peak RSS of the process before open', baseline: { value: r.baseRssKiB / 1024, unit: 'MiB' }, ratio: 'times' });
  bench.note(g, `${r.samples} sequential reads each; ${(r.indexedShare * 100).toFixed(1)} % of accountAt calls needed the history index (the rest were answered from memory); accounts ${r.accounts}; all opens ${r.openMs.map((x) => x.toFixed(0)).join(', ')} ms`);
}

// --- replay vs a raw scan --------------------------------------------------------------------------

async function replayVsScan(bench: Bench, big: BigStore): Promise<void> {
  const g = bench.group(`replay: a full rebuild of ${BIG.toLocaleString('en-US')} events (best of ${ROUNDS} interleaved rounds)`);
  const store = await LedgerStore.open(big.ledgerDir);
  const raw = await Rocks.open(big.rawDir);
  try {
    let replayRate = 0;
    let scanRate = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const r = await timed(() => replay(store, store.head, { fromScratch: true }));
      if (r.result.eventsReplayed !== store.head) throw new Error(`replayed ${r.result.eventsReplayed} of ${store.head}`);
      replayRate = Math.max(replayRate, r.result.eventsReplayed / r.seconds);
      const s = await timed(async () => {
        let n = 0;
        for await (const _ of raw.range({ gte: LOG_START, lte: LOG_END })) n++;
        return n;
      });
      if (s.result !== store.head) throw new Error(`the raw table holds ${s.result} keys, the store ${store.head} events`);
      scanRate = Math.max(scanRate, s.result / s.seconds);
    }
    bench.row(g, {
      measurement: 'replay(store, head, { fromScratch: true })',
      figure: { value: replayRate, unit: 'ev/s' },
      baselineName: 'raw Rocks.range over one key per event, no decoding',
      baseline: { value: scanRate, unit: 'ev/s' },
      ratio: 'times',
      target: { on: 'ratio', op: '>=', value: 1 },
    });
  } finally {
    await store.close();
    await raw.close();
  }
}

/** timed(), plus the CPU time the whole process (all threads) spent meanwhile, in µs. */
async function cpuTimed<T>(fn: () => Promise<T>): Promise<{ result: T; seconds: number; cpuMicros: number }> {
  const before = process.cpuUsage();
  const t = await timed(fn);
  const used = process.cpuUsage(before);
  return { ...t, cpuMicros: used.user + used.system };
}
