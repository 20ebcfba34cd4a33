// scratch: instrumented app server. argv: dataDir. Prints {port}; on SIGTERM prints stats to stderr.
import { performance } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
const session = new Session(); session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 200 });
import { Rocks } from '../../src/store/rocks.ts';
import { buildApp } from '../../src/server/app.ts';
import { DEFAULT_CONFIG } from '../../src/server/config.ts';
const stats = { write: [] as number[], writeOps: [] as number[], getMany: [] as number[], getManyKeys: [] as number[], gaps: [] as number[] };
let lastWriteEnd = 0;
const w = Rocks.prototype.write;
Rocks.prototype.write = function (ops, sync) { const t = performance.now(); if (lastWriteEnd) stats.gaps.push(t - lastWriteEnd); return w.call(this, ops, sync).then(() => { const e = performance.now(); stats.write.push(e - t); stats.writeOps.push(ops.length); lastWriteEnd = e; }); };
const g = Rocks.prototype.getMany;
Rocks.prototype.getMany = function (keys) { const t = performance.now(); return g.call(this, keys).then((v) => { stats.getMany.push(performance.now() - t); stats.getManyKeys.push(keys.length); return v; }); };
import { createServer } from 'node:http';
import { createSchema, createYoga } from 'graphql-yoga';
const app = process.env.NOOP ? await (async () => {
  const yoga = createYoga({ schema: createSchema({ typeDefs: 'scalar JSON type Query { ok: Boolean } type Mutation { noop(input: JSON): Int }', resolvers: { Mutation: { noop: () => 1 } } }), landingPage: false, logging: 'warn', ...(process.env.NOOP_NOLIMIT ? { maxRequestBodySize: false as const } : {}) });
  const server = createServer(yoga); await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as any).port, stop: async () => { server.closeAllConnections(); server.close(); } };
})() : await buildApp({ ...DEFAULT_CONFIG, port: 0, dataDir: process.argv[2]!, durability: (process.env.DUR as 'none') ?? 'fsync' }).start();
let elu0 = performance.eventLoopUtilization(); let cpu0 = process.cpuUsage(); let t0 = performance.now();
process.on('SIGUSR2', () => { for (const k of Object.keys(stats)) (stats as any)[k] = []; elu0 = performance.eventLoopUtilization(); cpu0 = process.cpuUsage(); t0 = performance.now(); if (process.env.PROF) void session.post('Profiler.start'); if (process.env.HEAPPROF) void session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as any); });
const q = (a: number[], p: number) => { const s = [...a].sort((x, y) => x - y); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(2) : '-'; };
const mean = (a: number[]) => (a.reduce((x, y) => x + y, 0) / (a.length || 1)).toFixed(2);
process.on('SIGTERM', async () => {
  const elu = performance.eventLoopUtilization(elu0); const cpu = process.cpuUsage(cpu0); const secs = (performance.now() - t0) / 1000;
  console.error(`window ${secs.toFixed(1)} s; event-loop utilisation ${(elu.utilization * 100).toFixed(1)} %; process CPU ${((cpu.user + cpu.system) / 1e4 / secs).toFixed(1)} % of a core`);
  console.error(`writes ${stats.write.length} (${(stats.write.length / secs).toFixed(1)}/s): ms p50 ${q(stats.write, .5)} p90 ${q(stats.write, .9)} mean ${mean(stats.write)}; ops/write mean ${mean(stats.writeOps)}`);
  console.error(`getMany ${stats.getMany.length}: ms p50 ${q(stats.getMany, .5)} p90 ${q(stats.getMany, .9)} mean ${mean(stats.getMany)}; keys mean ${mean(stats.getManyKeys)}`);
  console.error(`gap between write end and next write start: ms p50 ${q(stats.gaps, .5)} p90 ${q(stats.gaps, .9)} mean ${mean(stats.gaps)}`);
  if (process.env.PROF) { const { profile } = await session.post('Profiler.stop'); writeFileSync(process.env.PROF, JSON.stringify(profile)); }
  if (process.env.HEAPPROF) { const { profile } = await session.post('HeapProfiler.stopSampling'); writeFileSync(process.env.HEAPPROF, JSON.stringify(profile)); }
  await app.stop(); process.exit(0);
});
console.log(JSON.stringify({ port: app.port }));
