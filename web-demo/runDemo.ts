// `npm run demo`: opens the sample accounts and sends a steady stream of payments through the GraphQL
// API, so the page at / has something moving. Uses the ledger already listening on $HOST:$PORT, or
// starts one (same flags and variables as `npm start`); `--url` points it at any other ledger.
//
//   npm run demo                         # the ledger on 127.0.0.1:4000, started here if none is running
//   npm run demo -- --rate 20            # commands per second (default 4)
//   npm run demo -- --url http://host:4001
import { buildApp, type App } from '../src/server/app.ts';
import { loadConfig } from '../src/server/config.ts';
import { ensureWebDemoBuilt } from '../src/server/webDemoBuild.ts';
import { httpClient } from './src/graphqlHttp.ts';
import { loadSampleData, startTraffic } from './src/sampleData.ts';

const REPORT_EVERY_MS = 10_000; // 10 seconds between progress lines
const HEALTH_TIMEOUT_MS = 1_000; // 1 second to answer /healthz

/** Removes `--name value` or `--name=value` from argv and returns the value. */
function takeFlag(argv: string[], name: string): string | undefined {
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const arg = argv[i]!;
  if (arg.includes('=')) {
    argv.splice(i, 1);
    return arg.slice(arg.indexOf('=') + 1);
  }
  const value = argv[i + 1];
  argv.splice(i, 2);
  return value;
}

async function healthy(baseUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
    return res.ok;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const url = takeFlag(argv, 'url');
  const rate = Number(takeFlag(argv, 'rate') ?? 4);
  if (!(rate > 0 && rate <= 1_000)) throw new Error(`--rate must be between 0 and 1000 commands per second, got ${rate}`);

  let app: App | null = null;
  let base = url?.replace(/\/+$/, '');
  if (!base) {
    const config = loadConfig(argv);
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const running = `http://${host}:${config.port}`;
    if (config.port !== 0 && (await healthy(running))) {
      base = running;
      console.log(`using the ledger already running at ${base}`);
    } else {
      await ensureWebDemoBuilt();
      app = await buildApp(config).start();
      base = app.url;
      console.log(`started a ledger at ${base}, store ${config.dataDir} at head ${app.store.head}`);
    }
  }

  const request = httpClient(`${base}/graphql`);
  const opened = await loadSampleData(request);
  console.log(opened > 0 ? `opened ${opened} sample accounts` : 'the sample accounts are already open');
  let sent = 0;
  let failures = 0;
  const traffic = startTraffic(request, {
    perSecond: rate,
    onCommand: () => sent++,
    onFailure: (err) => {
      if (failures++ % 20 === 0) console.error(`request failed (${err.message}); still trying`);
    },
  });
  console.log(`open ${base}/ to watch; sending about ${rate} commands a second. Ctrl-C stops.`);
  const report = setInterval(() => console.log(`${sent} commands sent`), REPORT_EVERY_MS);

  const stop = async () => {
    clearInterval(report);
    traffic.stop();
    console.log(`\nstopped after ${sent} commands`);
    await app?.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((err) => {
  console.error(`demo: ${(err as Error).message}`);
  process.exit(1);
});
