// The command line: `serve` (the default), `verify`, `replay`, and `schema` (print or check the SDL).
import type { ReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { buildApp } from './server/app.ts';
import { ConfigError, loadConfig } from './server/config.ts';
import { ensureWebDemoBuilt } from './server/webDemoBuild.ts';
import type { VerifyReport } from './projection/verify.ts';
import type { LedgerStore } from './store/ledgerStore.ts';

const SCHEMA_FILE = fileURLToPath(new URL('../schema/schema.graphql', import.meta.url));

const USAGE = `usage: evledger <command> [flags]
  serve   [--host H] [--port P] [--data DIR] [--durability fsync|none] [--snapshot-interval N] [--queue-limit N]
          [--max-body-bytes N] [--log-level L] [--rate-limit N] [--insecure]
          [--jwt-secret S | --jwt-public-key PEM_OR_FILE] [--jwt-issuer I] [--jwt-audience A]   (README: Configuration)
          [--nats-url nats://H:P,… [--nats-stream S] [--nats-replicas N] [--node-id ID]]   (README: Running a cluster)
  verify  [--data DIR]          walk the whole store; exit 1 at the first inconsistency
          (verify, replay and export read a store a running server holds through that server)
  replay  [--data DIR] --to N   print the ledger rebuilt by replaying the log to sequence N
  export  [--data DIR] [--from N] > log.ndjson   stream the log as NDJSON
  import  --data NEW_DIR [FILE]   rebuild an empty store from an export (stdin without FILE), checking the hash chain
  cluster [--data DIR]          try a cluster on this machine: 3 nats-servers and 3 API nodes on ports 4001-4003
  schema  [--check]             print the SDL to schema/schema.graphql, or fail if it is stale`;

async function main(argv: string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'verify':
      return verifyStore(rest);
    case 'replay':
      return replayStore(rest);
    case 'export':
      return exportStore(rest);
    case 'import':
      return importStore(rest);
    case 'schema':
      return schemaFile(rest.includes('--check'));
    case 'cluster': {
      const { runLocalCluster } = await import('./cluster/localCluster.ts');
      return runLocalCluster(dataArgs(rest).length > 0 ? { dataDir: dataDirOf(rest) } : {});
    }
    case '--help':
    case 'help':
      console.log(USAGE);
      return 0;
    default:
      console.error(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
      return 2;
  }
}

/** A second SIGINT/SIGTERM within this long of the first is the same one delivered twice, not "exit now". */
const REPEATED_SIGNAL_GRACE_MS = 1_000; // 1 second

async function serve(argv: string[]): Promise<number> {
  const config = loadConfig(argv);
  // The API does not need the page: if the build fails, say so and serve without it.
  await ensureWebDemoBuilt().catch((err) => console.error(`evledger: could not build the web demo (${(err as Error).message}); / shows a placeholder`));
  const app = await buildApp(config).start();
  const cluster = app.cluster && `, node ${app.cluster.nodeId} of the cluster on ${config.cluster!.urls} (stream ${config.cluster!.stream})`;
  console.log(`evledger serving ${app.url}/graphql (GraphiQL), ${app.url}/ (demo), store ${config.dataDir} at head ${app.store.head}${cluster ?? ''}`);
  let firstSignalAt: number | null = null;
  const shutdown = (signal: string) => {
    if (firstSignalAt !== null) {
      // Ctrl-C under `npm start` arrives twice at once: from the terminal (to the whole process group)
      // and forwarded by npm. Only a repeat the operator sends on purpose cuts the shutdown short.
      if (Date.now() - firstSignalAt < REPEATED_SIGNAL_GRACE_MS) return;
      console.error(`${signal} again: exiting now`);
      process.exit(130);
    }
    firstSignalAt = Date.now();
    console.log(`${signal}: finishing in-flight commands and closing the store…`);
    app.stop().then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  return new Promise(() => {}); // runs until a signal
}

/** Just the --data flag of a command line, for commands that take no server flags. */
function dataArgs(argv: string[]): string[] {
  const i = argv.findIndex((a) => a === '--data' || a.startsWith('--data='));
  return i < 0 ? [] : argv[i]!.includes('=') ? [argv[i]!] : [argv[i]!, argv[i + 1] ?? ''];
}

/** The --data folder of a command line, ignoring the server flags. */
const dataDirOf = (argv: string[]) => loadConfig(dataArgs(argv)).dataDir;

/**
 * Opens the existing store at `dir` for a command that reads it, creating nothing; null when a running
 * server holds it (RocksDB lets one process open a store): the command then asks that server, through
 * the store's control socket.
 */
async function openExisting(dir: string): Promise<LedgerStore | null> {
  const { LedgerStore } = await import('./store/ledgerStore.ts');
  try {
    return await LedgerStore.open(dir, { existing: true });
  } catch (err) {
    if ((err as { code?: string }).code === 'STORE_LOCKED') return null;
    throw err;
  }
}

/** The non-empty lines of an NDJSON response. */
async function* lines(res: IncomingMessage): AsyncGenerator<string> {
  for await (const line of createInterface({ input: res, crlfDelay: Infinity })) if (line) yield line;
}

/** The lines of an NDJSON response, parsed. */
async function* jsonLines(res: IncomingMessage): AsyncGenerator<Record<string, unknown>> {
  for await (const line of lines(res)) yield JSON.parse(line);
}

/** The server's answer, or its refusal as an error. */
async function askOk(dir: string, path: string): Promise<IncomingMessage> {
  const { askServer } = await import('./server/controlSocket.ts');
  const res = await askServer(dir, path);
  if (res.statusCode === 200) return res;
  let body = '';
  for await (const chunk of res) body += chunk;
  throw new Error(`the server holding ${dir} refused: ${(JSON.parse(body) as { error?: string }).error ?? body}`);
}

async function verifyStore(argv: string[]): Promise<number> {
  const dir = dataDirOf(argv);
  const store = await openExisting(dir);
  const started = Date.now();
  let report: VerifyReport | undefined;
  if (store) {
    const { verify } = await import('./projection/verify.ts');
    try {
      const bar = await progress('verify', store.head);
      report = await verify(store, (s) => bar.update(s));
      bar.stop();
    } finally {
      await store.close();
    }
  } else {
    const res = await askOk(dir, '/verify');
    const bar = await progress('verify (by the running server)', Number(res.headers['x-evledger-head']));
    for await (const line of jsonLines(res)) {
      if (typeof line.progress === 'number') bar.update(line.progress);
      else report = line.report as VerifyReport;
    }
    bar.stop();
    if (!report) throw new Error('the server ended the verify without a report');
  }
  const seconds = (Date.now() - started) / 1000;
  if (report.ok) {
    console.log(`ok: ${report.events} events, head ${report.head}, hash chain intact, indexes and projection agree (${seconds.toFixed(1)} s)`);
    return 0;
  }
  console.error(`INCONSISTENT at sequence ${report.problem!.sequence}: ${report.problem!.message}`);
  return 1;
}

async function replayStore(argv: string[]): Promise<number> {
  const toIndex = argv.indexOf('--to');
  const to = Number(argv[toIndex + 1]);
  if (toIndex < 0 || !Number.isSafeInteger(to) || to < 0) throw new ConfigError('replay needs --to <sequence>');
  const dir = dataDirOf(argv.filter((_, i) => i !== toIndex && i !== toIndex + 1));
  const store = await openExisting(dir);
  if (!store) {
    const res = await askOk(dir, `/replay?to=${to}`);
    for await (const line of jsonLines(res)) console.log(JSON.stringify(line, null, 2));
    return 0;
  }
  const { replay } = await import('./projection/replay.ts');
  try {
    const r = await replay(store, to);
    console.log(JSON.stringify({ fromSnapshot: r.fromSnapshot, eventsReplayed: r.eventsReplayed, ledger: r.state.summary() }, null, 2));
    return 0;
  } finally {
    await store.close();
  }
}

interface Progress {
  /** `done` of `total` units so far; `events` for the label when the units are not events (bytes). */
  update(done: number, events?: number): void;
  setTotal(total: number): void;
  stop(): void;
}

/** Progress on stderr: a bar with rate and ETA on a terminal, a plain line every few seconds otherwise. */
async function progress(label: string, total: number): Promise<Progress> {
  const started = Date.now();
  const rate = (events: number) => Math.round(events / Math.max(0.001, (Date.now() - started) / 1000));
  if (process.stderr.isTTY) {
    const { SingleBar, Presets } = await import('cli-progress');
    const bar = new SingleBar(
      { stream: process.stderr, format: `${label} [{bar}] {percentage}% | {events} events | {rate} ev/s | ETA {eta_formatted}`, etaBuffer: 50 },
      Presets.shades_classic,
    );
    bar.start(total, 0, { events: 0, rate: 0 });
    return {
      update: (done, events = done) => bar.update(done, { events, rate: rate(events) }),
      setTotal: (n) => bar.setTotal(n),
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  return {
    update: (done, events = done) => {
      if (Date.now() - last < 5_000) return;
      last = Date.now();
      console.error(`${label}: ${events} events${total ? ` (${Math.floor((100 * done) / total)} %)` : ''}, ${rate(events)} ev/s`);
    },
    setTotal: (n) => (total = n),
    stop: () => {},
  };
}

async function exportStore(argv: string[]): Promise<number> {
  const fromIndex = argv.indexOf('--from');
  const from = fromIndex < 0 ? 1 : Number(argv[fromIndex + 1]);
  if (!Number.isSafeInteger(from) || from < 1) throw new ConfigError('--from takes a sequence ≥ 1');
  const dir = dataDirOf(argv);
  const store = await openExisting(dir);
  const bar = await progress('export', 0);
  let events = 0;
  // Respect backpressure: a slow consumer (a pipe to gzip, a disk) must not make us buffer the log.
  const write = (line: string) => {
    bar.update(++events);
    if (!process.stdout.write(line)) return new Promise<void>((resolve) => process.stdout.once('drain', () => resolve()));
  };
  let head: number;
  if (store) {
    const { exportLog } = await import('./store/exportImport.ts');
    ({ head } = await exportLog(store, write, from, (h) => bar.setTotal(Math.max(0, h - from + 1))).finally(() => store.close()));
  } else {
    const res = await askOk(dir, `/export?from=${from}`);
    head = Number(res.headers['x-evledger-head']);
    bar.setTotal(Math.max(0, head - from + 1));
    for await (const line of lines(res)) await write(`${line}\n`);
  }
  bar.stop();
  console.error(`exported ${events} events (log head ${head}${store ? '' : ', read by the running server'})`);
  return 0;
}

async function importStore(argv: string[]): Promise<number> {
  const { createReadStream } = await import('node:fs');
  const { rm, stat } = await import('node:fs/promises');
  const { LedgerStore } = await import('./store/ledgerStore.ts');
  const { importLog } = await import('./store/exportImport.ts');
  const { verify } = await import('./projection/verify.ts');
  const data = dataArgs(argv);
  const file = argv.find((a) => !a.startsWith('--') && !data.includes(a));
  const dir = dataDirOf(argv);
  // Checked before anything is created: the input is there, and the target holds no events.
  const size = file ? (await stat(file).catch(() => null))?.size : 0;
  if (size === undefined) throw new ConfigError(`cannot read ${file}: no such file`);
  const existed = await stat(dir).then(
    () => true,
    () => false,
  );
  const store = await LedgerStore.open(dir);
  let ok = false;
  try {
    if (store.head !== 0) throw new ConfigError(`import needs an empty store; the one at ${dir} is at sequence ${store.head}`);
    // From a file, progress is in bytes read of its size (the events it holds are not known up front).
    const input = file ? createReadStream(file) : process.stdin;
    const bar = await progress('import', size);
    const { events, head } = await importLog(store, input, (s) => bar.update(file ? (input as ReadStream).bytesRead : s, s)).finally(() => bar.stop());
    const report = await verify(store);
    if (!report.ok) throw new Error(`imported ${events} events but verify failed at ${report.problem!.sequence}: ${report.problem!.message}`);
    console.error(`imported ${events} events; head ${head}, hash ${store.headHash.toString('hex')}; verify ok`);
    ok = true;
    return 0;
  } finally {
    await store.close();
    // A failed import leaves nothing behind that it made: a store half-imported is no backup.
    if (!ok && !existed) await rm(dir, { recursive: true, force: true });
  }
}

async function schemaFile(check: boolean): Promise<number> {
  const { printedSchema } = await import('./graphql/schema.ts');
  const sdl = printedSchema();
  if (!check) {
    await writeFile(SCHEMA_FILE, sdl);
    console.log(`wrote ${SCHEMA_FILE}`);
    return 0;
  }
  const committed = await readFile(SCHEMA_FILE, 'utf8').catch(() => '');
  if (committed === sdl) {
    console.log('schema/schema.graphql is up to date');
    return 0;
  }
  console.error('schema/schema.graphql is stale: run `npm run schema:print` and commit the result');
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exit(code);
  },
  (err) => {
    // One line for the operator; the stack only on request (EVLEDGER_DEBUG=1).
    console.error(`evledger: ${err instanceof Error ? err.message : String(err)}`);
    if (process.env.EVLEDGER_DEBUG) console.error(err);
    process.exit(1);
  },
);
