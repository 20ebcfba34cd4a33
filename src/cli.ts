// The command line: `serve` (the default), `verify`, `replay`, and `schema` (print or check the SDL).
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { buildApp } from './server/app.ts';
import { ConfigError, loadConfig } from './server/config.ts';
import { ensureWebDemoBuilt } from './server/webDemoBuild.ts';

const SCHEMA_FILE = fileURLToPath(new URL('../schema/schema.graphql', import.meta.url));

const USAGE = `usage: evledger <command> [flags]
  serve   [--host H] [--port P] [--data DIR] [--durability fsync|none] [--snapshot-interval N] [--queue-limit N]
  verify  [--data DIR]          walk the whole store; exit 1 at the first inconsistency
  replay  [--data DIR] --to N   print the ledger rebuilt by replaying the log to sequence N
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
    case 'schema':
      return schemaFile(rest.includes('--check'));
    case '--help':
    case 'help':
      console.log(USAGE);
      return 0;
    default:
      console.error(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
      return 2;
  }
}

async function serve(argv: string[]): Promise<number> {
  const config = loadConfig(argv);
  // The API does not need the page: if the build fails, say so and serve without it.
  await ensureWebDemoBuilt().catch((err) => console.error(`evledger: could not build the web demo (${(err as Error).message}); / shows a placeholder`));
  const app = await buildApp(config).start();
  console.log(`evledger serving ${app.url}/graphql (GraphiQL), ${app.url}/ (demo), store ${config.dataDir} at head ${app.store.head}`);
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) {
      console.error(`${signal} again: exiting now`);
      process.exit(130);
    }
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

/** Opens the store with only --data, ignoring the server flags. */
async function openStore(argv: string[]) {
  const { LedgerStore } = await import('./store/ledgerStore.ts');
  const dataIndex = argv.findIndex((a) => a === '--data' || a.startsWith('--data='));
  const dataArgs = dataIndex < 0 ? [] : argv[dataIndex]!.includes('=') ? [argv[dataIndex]!] : [argv[dataIndex]!, argv[dataIndex + 1] ?? ''];
  return LedgerStore.open(loadConfig(dataArgs).dataDir);
}

async function verifyStore(argv: string[]): Promise<number> {
  const { verify } = await import('./projection/verify.ts');
  const store = await openStore(argv);
  try {
    const started = Date.now();
    const report = await verify(store);
    const seconds = (Date.now() - started) / 1000;
    if (report.ok) {
      console.log(`ok: ${report.events} events, head ${report.head}, hash chain intact, indexes and projection agree (${seconds.toFixed(1)} s)`);
      return 0;
    }
    console.error(`INCONSISTENT at sequence ${report.problem!.sequence}: ${report.problem!.message}`);
    return 1;
  } finally {
    await store.close();
  }
}

async function replayStore(argv: string[]): Promise<number> {
  const { replay } = await import('./projection/replay.ts');
  const toIndex = argv.indexOf('--to');
  const to = Number(argv[toIndex + 1]);
  if (toIndex < 0 || !Number.isSafeInteger(to) || to < 0) throw new ConfigError('replay needs --to <sequence>');
  const store = await openStore(argv.filter((_, i) => i !== toIndex && i !== toIndex + 1));
  try {
    const r = await replay(store, to);
    console.log(JSON.stringify({ fromSnapshot: r.fromSnapshot, eventsReplayed: r.eventsReplayed, ledger: r.state.summary() }, null, 2));
    return 0;
  } finally {
    await store.close();
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
    console.error(err instanceof ConfigError || (err as { code?: string }).code?.startsWith('STORE_') ? `evledger: ${(err as Error).message}` : err);
    process.exit(1);
  },
);
