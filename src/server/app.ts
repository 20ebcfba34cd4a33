// The app: one node:http server carrying yoga (GraphQL over HTTP and SSE) and graphql-ws on /graphql,
// /healthz, /metrics (Prometheus), and the web demo on /. `buildApp(config)` is how both `npm start` and the tests assemble it.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DestinationStream } from 'pino';
import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { GraphQLError, type ValidationContext } from 'graphql';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Context } from '../graphql/builder.ts';
import { schema } from '../graphql/schema.ts';
import { subscriptionHeadPlugin } from '../graphql/schema/subscriptions.ts';
import { sharedSubscribe } from '../graphql/sharedSubscriptions.ts';
import { LiveHub } from '../live/liveHub.ts';
import { PointInTime } from '../projection/pointInTime.ts';
import { Snapshotter } from '../projection/snapshots.ts';
import { LedgerStore } from '../store/ledgerStore.ts';
import { checkExposure, type Config } from './config.ts';
import { mutationRateLimit } from './rateLimit.ts';
import { createLogger, requestIdFor, yogaLogging, type Logger } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { serveWebDemo } from './webDemo.ts';

export const GRAPHQL_PATH = '/graphql';

/** Query shape limits: generous for real clients, fatal for amplification attacks. */
export const QUERY_LIMITS = {
  maxDepth: 12,
  maxAliases: 30,
  maxCost: 200_000, // a full page (first: 1000) of accounts or events with their fields fits
  maxTokens: 5_000,
};

/**
 * graphql-armor throws its depth / alias / cost errors out of validation as "Syntax Error: …", which
 * yoga answers with status 200 and no code. Reported as validation errors, they get what every other
 * validation failure gets: 400 (for application/graphql-response+json), code GRAPHQL_VALIDATION_FAILED.
 */
const REJECT_AS_VALIDATION_ERROR = {
  propagateOnRejection: false,
  onReject: [(ctx: ValidationContext | null, error: GraphQLError) => ctx?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, '')))],
};

/** What GraphiQL opens with: a first deposit, end to end. Run the operations one by one. */
const GRAPHIQL_EXAMPLE = `# Welcome to evledger. Pick an operation with the run button: open, deposit, then read it back.

mutation Open {
  openAccount(input: { accountId: "alice", currency: "EUR", initialBalance: 10000 }) {
    __typename
    ... on OpenAccountSuccess { sequence account { balance version } }
    ... on DomainError { code message }
  }
}

mutation Deposit {
  deposit(input: { accountId: "alice", amount: 2500, transactionId: "tx-1" }) {
    __typename
    ... on DepositSuccess { sequence replayed account { balance version } }
    ... on DomainError { code message }
  }
}

query ThenAndNow {
  now: account(id: "alice") { balance version lastSequence }
  atFirstEvent: account(id: "alice", atSequence: 1) { balance }
  ledger { head totals { currency balance accounts } }
}

subscription Live {
  accountUpdates(accountIds: ["alice"], afterSequence: 0) { sequence change balance event { type } }
}
`;

/** How long a WebSocket may stay open without sending connection_init. */
const CONNECTION_INIT_WAIT_MS = 3_000; // 3 seconds
/** WebSocket close code 1001: the server is going away. */
const GOING_AWAY = 1001;
/** WebSocket close code 1013: try again later (too many connections). */
const TRY_AGAIN_LATER = 1013;
/** Open graphql-ws connections, and subscriptions on each. */
export const MAX_CONNECTIONS = 10_000;
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 100;
/** Ping interval on idle WebSockets. */
const KEEP_ALIVE_MS = 12_000; // 12 seconds

export interface App {
  readonly store: LedgerStore;
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface AppOptions {
  /** Where the JSON log goes instead of stdout (tests read it). */
  readonly logDestination?: DestinationStream;
}

/** Each HTTP request's id (and each WebSocket's, from its upgrade request), for the log. */
const requestIds = new WeakMap<IncomingMessage, string>();
const requestIdOf = (context: unknown) => {
  const req = (context as { req?: IncomingMessage } | null)?.req;
  return req ? requestIds.get(req) : undefined;
};

export function buildApp(config: Config, options: AppOptions = {}) {
  return {
    async start(): Promise<App> {
      checkExposure(config);
      const logger = createLogger(config.logLevel, options.logDestination);
      const store = await LedgerStore.open(config.dataDir, { durability: config.durability, queueLimit: config.queueLimit });
      const snapshotter = await Snapshotter.start(store, config.snapshotInterval);
      const live = new LiveHub(store);
      const metrics = createMetrics({ store, live, logger, requestIdOf });
      const context: Context = { store, pointInTime: new PointInTime(store), live, telemetry: metrics.telemetry };
      const yoga = createYoga<{ req: IncomingMessage; res: ServerResponse }, Context>({
        schema,
        graphqlEndpoint: GRAPHQL_PATH,
        context: () => ({ ...context }),
        graphiql: { title: 'evledger', subscriptionsProtocol: 'WS', defaultQuery: GRAPHIQL_EXAMPLE },
        // GraphiQL bundled into the page rather than fetched from a CDN: it works offline too.
        renderGraphiQL,
        landingPage: false,
        logging: yogaLogging(logger),
        // handle() already refuses bodies over maxBodyBytes (413, by Content-Length) and chunked POSTs
        // (411), so yoga's own limit could never trigger — yet it pipes every body through a
        // TransformStream (a stream pipeline, an AbortController and a DOMException per request): ≈ 30 %
        // of the server's CPU for a deposit (`npm run bench -- api`).
        maxRequestBodySize: false,
        plugins: [
          maxDepthPlugin({ n: QUERY_LIMITS.maxDepth, exposeLimits: true, ...REJECT_AS_VALIDATION_ERROR }),
          maxAliasesPlugin({ n: QUERY_LIMITS.maxAliases, exposeLimits: true, ...REJECT_AS_VALIDATION_ERROR }),
          costLimitPlugin({ maxCost: QUERY_LIMITS.maxCost, exposeLimits: true, ...REJECT_AS_VALIDATION_ERROR }),
          maxTokensPlugin({ n: QUERY_LIMITS.maxTokens, exposeLimits: true }),
          subscriptionHeadPlugin,
          metrics.plugin,
          mutationRateLimit(config.mutationRateLimit),
        ],
      });

      const server = createServer((req, res) => handle(req, res, yoga, store, config, metrics, logger));
      const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxBodyBytes });
      const wsServer = attachGraphqlWs(wss, yoga);
      server.on('upgrade', (req, socket, head) => {
        if (new URL(req.url ?? '/', 'http://x').pathname !== GRAPHQL_PATH) return socket.destroy();
        requestIds.set(req, requestIdFor(req));
        wss.handleUpgrade(req, socket, head, (ws) => {
          if (wss.clients.size > MAX_CONNECTIONS) return ws.close(TRY_AGAIN_LATER, `at most ${MAX_CONNECTIONS} connections`);
          wss.emit('connection', ws, req);
        });
      });

      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => resolve());
      });
      const { port } = server.address() as AddressInfo;
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;

      let stopping: Promise<void> | null = null;
      return {
        store,
        port,
        url: `http://${host}:${port}`,
        stop: () =>
          (stopping ??= (async () => {
            // Stop accepting, let in-flight requests finish, then flush the writer and close the store.
            const closed = new Promise<void>((resolve) => server.close(() => resolve()));
            for (const ws of wss.clients) ws.close(GOING_AWAY, 'server shutting down');
            await wsServer.dispose();
            server.closeIdleConnections();
            await Promise.race([closed, new Promise((r) => setTimeout(r, 5_000).unref())]);
            server.closeAllConnections();
            await snapshotter.stop();
            live.close();
            metrics.close();
            await store.close();
            logger.flush();
          })()),
      };
    },
  };
}

function handle(req: IncomingMessage, res: ServerResponse, yoga: YogaServerInstance<any, any>, store: LedgerStore, config: Config, metrics: Metrics, logger: Logger): void {
  const requestId = requestIdFor(req);
  requestIds.set(req, requestId);
  res.setHeader('x-request-id', requestId);
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/metrics') {
    metrics.registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(text);
      },
      (err) => {
        logger.error({ err, requestId }, 'metrics collection failed');
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('metrics collection failed\n');
      },
    );
    return;
  }
  if (path === '/healthz') {
    const ok = store.rocks.open;
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: ok ? 'ok' : 'closed', head: store.head }));
    return;
  }
  if (path === GRAPHQL_PATH) {
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > config.maxBodyBytes) return refuse(res, 413, `request body over ${config.maxBodyBytes} bytes`);
    if (req.headers['transfer-encoding'] && req.method === 'POST') return refuse(res, 411, 'send a Content-Length (chunked bodies are not accepted)');
    void yoga.handle(req, res);
    return;
  }
  serveWebDemo(req, res);
}

function refuse(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] }));
}

/** graphql-ws over the same schema and plugins (limits, masking) as HTTP, via yoga's envelop. */
function attachGraphqlWs(wss: WebSocketServer, yoga: YogaServerInstance<any, any>) {
  return useServer(
    {
      connectionInitWaitTimeout: CONNECTION_INIT_WAIT_MS,
      execute: (args: any) => args.rootValue.execute(args),
      subscribe: (args: any) => sharedSubscribe(args) as any,
      onSubscribe: async (ctx, _id, params) => {
        if (Object.keys(ctx.subscriptions).length > MAX_SUBSCRIPTIONS_PER_CONNECTION) { // this one is already in the count
          return [new GraphQLError(`at most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection`, { extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } })];
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
        });
        const args = {
          schema,
          operationName: params.operationName,
          document: parse(params.query),
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        if (errors.length) return errors;
        return args;
      },
    },
    wss,
    KEEP_ALIVE_MS,
  );
}
