// Run by api.ts in a child process (`node --import tsx apiServer.ts <mode> [dataDir]`), so the server
// has a core of its own and autocannon, in the bench process, the other: a server sharing its event
// loop with its own load generator measures the generator as much as the server. Prints one JSON line
// `{"port": n}` once listening; on SIGTERM or SIGINT it stops cleanly and exits 0 (so that node's
// --cpu-prof, passed through BENCH_API_NODE_FLAGS, writes its profile).
//
// Modes:
//   bare  node:http answering a fixed JSON: the ceiling of node:http itself.
//   noop  graphql-yoga 5 on node:http with a trivial schema, one mutation `noop(input: JSON): Int`
//         returning at once: what any yoga mutation costs before it does anything.
//   app   our real app: buildApp(DEFAULT_CONFIG) on <dataDir>, port 0, fsync durability, with the
//         mutation rate limit off (the baselines have none, and one client address sending 50
//         connections' worth of mutations is exactly what it refuses) and the log at warn (an info
//         line per operation would measure pino as much as the server).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga } from 'graphql-yoga';
import { buildApp } from '../../src/server/app.ts';
import { DEFAULT_CONFIG } from '../../src/server/config.ts';

export type ServerMode = 'bare' | 'noop' | 'app';

const FIXED = JSON.stringify({ data: { noop: 1 } });

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

async function start(mode: ServerMode, dataDir: string | undefined): Promise<{ port: number; stop: () => Promise<void> }> {
  switch (mode) {
    case 'bare': {
      const server = createServer((req, res) => {
        // Read the body, as any real handler must, then answer.
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(FIXED) });
          res.end(FIXED);
        });
      });
      return { port: await listen(server), stop: () => closeServer(server) };
    }
    case 'noop': {
      const yoga = createYoga({
        schema: createSchema({
          typeDefs: /* GraphQL */ `
            scalar JSON
            type Query { ok: Boolean }
            type Mutation { noop(input: JSON): Int }
          `,
          resolvers: { Mutation: { noop: () => 1 } },
        }),
        landingPage: false,
        logging: 'warn',
      });
      const server = createServer(yoga);
      return { port: await listen(server), stop: () => closeServer(server) };
    }
    case 'app': {
      if (!dataDir) throw new Error('app mode needs a data directory');
      const app = await buildApp({ ...DEFAULT_CONFIG, port: 0, dataDir, mutationRateLimit: 0, logLevel: 'warn' }).start();
      return { port: app.port, stop: () => app.stop() };
    }
  }
}

const [mode, dataDir] = process.argv.slice(2);
if (mode !== 'bare' && mode !== 'noop' && mode !== 'app') throw new Error(`usage: apiServer.ts bare|noop|app [dataDir], got ${mode}`);
const running = await start(mode, dataDir);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  running.stop().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(`${JSON.stringify({ port: running.port })}\n`);
