// The app: one node:http server carrying yoga (GraphQL over HTTP and SSE) and graphql-ws on /graphql,
// /healthz (liveness), /readyz (readiness), /metrics (Prometheus), and the web demo on /. `buildApp(config)` is how both `npm start` and the tests assemble it.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { DestinationStream } from 'pino';
import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { GraphQLError, execute as graphqlExecute, type ValidationContext } from 'graphql';
import { useEngine } from '@envelop/core';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { tokenExpired, UNRESTRICTED, type Viewer } from '../graphql/access.ts';
import type { Context } from '../graphql/builder.ts';
import { schema } from '../graphql/schema.ts';
import { subscriptionHeadPlugin } from '../graphql/schema/subscriptions.ts';
import { sharedSubscribe } from '../graphql/sharedSubscriptions.ts';
import { LiveHub } from '../live/liveHub.ts';
import { PointInTime } from '../projection/pointInTime.ts';
import { Snapshotter } from '../projection/snapshots.ts';
import { LedgerStore, SequenceNotReachedError, STORE_RETRY_AFTER_MS } from '../store/ledgerStore.ts';
import { ClusterNode } from '../cluster/clusterNode.ts';
import { importLog } from '../store/exportImport.ts';
import { AuthError, authorizationOf, createAuthenticator, type Authenticator } from './auth.ts';
import { checkExposure, type Config } from './config.ts';
import { mutationRateLimit } from './rateLimit.ts';
import { createLogger, requestIdFor, yogaLogging, type Logger } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { listenControl, streamExport } from './controlSocket.ts';
import { serveWebDemo } from './webDemo.ts';

export const GRAPHQL_PATH = '/graphql';

/**
 * Read-your-writes across the nodes of a cluster: a request with `Evledger-Min-Sequence: N` (the
 * `sequence` a mutation returned on any node) is answered only once this node has applied N, waiting
 * at most this long.
 */
export const MIN_SEQUENCE_HEADER = 'evledger-min-sequence';
export const MIN_SEQUENCE_WAIT_MS = 5_000;

function minSequenceOf(req: IncomingMessage | undefined): number {
  const raw = req?.headers[MIN_SEQUENCE_HEADER];
  if (raw === undefined) return 0;
  // Digits only: Number() would also take '', '0x1', '1e3' and ' 7 '.
  const n = typeof raw === 'string' && /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new GraphQLError(`the ${MIN_SEQUENCE_HEADER} header must be a sequence (a non-negative integer), got ${JSON.stringify(raw)}`, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
  }
  return n;
}

/** Query shape limits: generous for real clients, fatal for amplification attacks. */
export const QUERY_LIMITS = {
  /**
   * Nested fields, fragments not counted (a fragment adds no level to the response), the same for
   * introspection as for everything else: 15 is exactly what graphql-js's getIntrospectionQuery()
   * needs (__schema › types › fields › type, then TypeRef's nine ofType levels and their name) —
   * GraphiQL's own introspection query, built by the same function — and anything deeper is refused.
   */
  maxDepth: 15,
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
/** graphql-ws's close code for a refused connection_init. */
const FORBIDDEN_CLOSE = 4403;
/** A WebSocket close frame's reason holds at most 123 bytes. */
const MAX_CLOSE_REASON_BYTES = 123;
/** WebSocket close code 1013: try again later (too many connections). */
const TRY_AGAIN_LATER = 1013;
/** Open graphql-ws connections, and subscriptions on each. */
export const MAX_CONNECTIONS = 10_000;
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 100;
/** Ping interval on idle WebSockets. */
const KEEP_ALIVE_MS = 12_000; // 12 seconds

export interface App {
  readonly store: LedgerStore;
  /** This node of a cluster, or null for the embedded single node. */
  readonly cluster: ClusterNode | null;
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface AppOptions {
  /** Where the JSON log goes instead of stdout (tests read it). */
  readonly logDestination?: DestinationStream;
}

/** The viewer of each authenticated HTTP request (set before yoga sees it). */
const viewers = new WeakMap<IncomingMessage, Viewer>();

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
      const auth = createAuthenticator(config);
      const logger = createLogger(config.logLevel, options.logDestination);
      const storeOptions = { durability: config.durability, queueLimit: config.queueLimit };
      const cluster = config.cluster
        ? await ClusterNode.open(config.dataDir, storeOptions, {
            ...config.cluster,
            nodeId: config.cluster.nodeId ?? `${hostname()}-${config.port || process.pid}`,
            log: (level, message, details) => logger[level](details ?? {}, message),
          })
        : null;
      const store = cluster?.store ?? (await LedgerStore.open(config.dataDir, storeOptions));
      const snapshotter = await Snapshotter.start(store, config.snapshotInterval);
      const live = new LiveHub(store);
      const metrics = createMetrics({ store, live, logger, requestIdOf, cluster });
      const context: Omit<Context, 'viewer'> = {
        store,
        commands: cluster ?? store,
        replica: cluster !== null,
        pointInTime: new PointInTime(store),
        live,
        snapshotter,
        telemetry: metrics.telemetry,
      };
      const yoga = createYoga<{ req: IncomingMessage; res: ServerResponse }, Context>({
        schema,
        graphqlEndpoint: GRAPHQL_PATH,
        // graphql-ws passes the viewer it authenticated at connection_init; HTTP requests were authenticated
        // in handle(). With authentication on, an operation without a viewer is refused, never let through.
        context: (initial: { req: IncomingMessage; viewer?: Viewer }): Context | Promise<Context> => {
          const viewer = initial.viewer ?? viewers.get(initial.req) ?? (auth.enabled ? null : UNRESTRICTED);
          if (!viewer) throw new GraphQLError('send a token: Authorization: Bearer <JWT>', { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
          const minSequence = minSequenceOf(initial.req);
          if (minSequence <= store.head) return { ...context, viewer };
          return store.waitForSequence(minSequence, MIN_SEQUENCE_WAIT_MS).then(
            () => ({ ...context, viewer }),
            (err: SequenceNotReachedError) => {
              throw new GraphQLError(err.message, { extensions: { code: err.code, head: store.head, http: { status: 503 } } });
            },
          );
        },
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
          // graphql-js's own execute for queries and mutations: yoga's default (@graphql-tools/executor)
          // first deep-copies every variable (snapshotInputValue), ≈ 7 % of the server's CPU for a
          // 500-command submitCommands, for features this API does not use (@defer/@stream, abort
          // signals). Subscriptions keep yoga's (sharedSubscribe and SSE).
          useEngine({ execute: graphqlExecute }),
          // ignoreIntrospection (on by default) skips only `__schema` subtrees, so a 300-deep __schema
          // query went through while a deep `__type` did not: one limit for all, introspection included.
          maxDepthPlugin({ n: QUERY_LIMITS.maxDepth, flattenFragments: true, ignoreIntrospection: false, exposeLimits: true, ...REJECT_AS_VALIDATION_ERROR }),
          maxAliasesPlugin({ n: QUERY_LIMITS.maxAliases, exposeLimits: true, ...REJECT_AS_VALIDATION_ERROR }),
          costLimitPlugin({ maxCost: QUERY_LIMITS.maxCost, exposeLimits: true, ...REJECT_AS_VALIDATION_ERROR }),
          maxTokensPlugin({ n: QUERY_LIMITS.maxTokens, exposeLimits: true }),
          subscriptionHeadPlugin,
          metrics.plugin,
          mutationRateLimit(config.mutationRateLimit),
        ],
      });

      const lifecycle = { stopping: false };
      const server = createServer((req, res) => handle(req, res, { yoga, store, cluster, config, metrics, logger, auth, lifecycle }));
      const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxBodyBytes });
      const wsServer = attachGraphqlWs(wss, yoga, auth);
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
      const control = await listenControl(store, config.dataDir, logger);

      let stopping: Promise<void> | null = null;
      return {
        store,
        cluster,
        port,
        url: `http://${host}:${port}`,
        stop: () =>
          (stopping ??= (async () => {
            // Stop accepting, let in-flight requests finish, then flush the writer and close the store.
            lifecycle.stopping = true; // /readyz says so at once, on connections still open
            await control?.close();
            const closed = new Promise<void>((resolve) => server.close(() => resolve()));
            for (const ws of wss.clients) ws.close(GOING_AWAY, 'server shutting down');
            await wsServer.dispose();
            server.closeIdleConnections();
            await Promise.race([closed, new Promise((r) => setTimeout(r, 5_000).unref())]);
            server.closeAllConnections();
            await snapshotter.stop();
            live.close();
            metrics.close();
            await (cluster ?? store).close();
            logger.flush();
          })()),
      };
    },
  };
}

interface Serving {
  readonly yoga: YogaServerInstance<any, any>;
  readonly store: LedgerStore;
  readonly cluster: ClusterNode | null;
  readonly config: Config;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly auth: Authenticator;
  readonly lifecycle: { readonly stopping: boolean };
}

/** Why this node should not be sent traffic now, or null when it is ready (the store open and the writer taking commands). */
function notReady(store: LedgerStore, cluster: ClusterNode | null, lifecycle: Serving['lifecycle']): string | null {
  if (lifecycle.stopping) return 'shutting down';
  if (!store.rocks.open) return 'the store is closed';
  // A replica is ready once connected and caught up with the stream; it writes only through the writer.
  if (cluster) return cluster.notReady();
  if (store.acceptingWrites) return null;
  if (store.rocks.needsReopen) {
    // A balancer that takes this node out of rotation sends no commands, and a command is what
    // would retry the reopen: the probe does it instead (paced by the store).
    store.retryRecovery();
    return 'writes are suspended after a failed write (disk full or I/O error) until the store can be reopened';
  }
  return 'the writer is closing';
}

function handle(req: IncomingMessage, res: ServerResponse, serving: Serving): void {
  const { yoga, store, config, metrics, logger, auth } = serving;
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
  if (path === '/readyz') {
    // Liveness is /healthz (the process serves, reads work); readiness also needs the writer, since
    // a node that refuses every command should get no traffic while another can take it.
    const reason = notReady(store, serving.cluster, serving.lifecycle);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'cache-control': 'no-store' };
    if (reason) headers['retry-after'] = String(Math.ceil(STORE_RETRY_AFTER_MS / 1000));
    res.writeHead(reason ? 503 : 200, headers);
    const cluster = serving.cluster?.status;
    res.end(JSON.stringify({ ...(reason ? { status: 'not ready', reason } : { status: 'ready' }), head: store.head, ...(cluster && { cluster }) }));
    return;
  }
  if (path === GRAPHQL_PATH) {
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > config.maxBodyBytes) return refuse(res, 413, `request body over ${config.maxBodyBytes} bytes`);
    if (req.headers['transfer-encoding'] && req.method === 'POST') return refuse(res, 411, 'send a Content-Length (chunked bodies are not accepted)');
    // The GraphiQL page itself is public (it holds no data); every operation needs a token.
    const graphiqlPage = req.method === 'GET' && (req.headers.accept ?? '').includes('text/html');
    if (!auth.enabled || graphiqlPage) return void yoga.handle(req, res);
    authenticated(req, res, auth, () => void yoga.handle(req, res));
    return;
  }
  if (path === '/admin/export' || path === '/admin/import') {
    authenticated(req, res, auth, (viewer) => {
      if (viewer.role !== 'admin' || viewer.accounts !== null) return refuse(res, 403, `${path} needs an admin token for every account`, 'FORBIDDEN');
      if (path === '/admin/import' && serving.cluster) {
        return refuse(res, 409, 'import into a single node (no NATS_URL), then start the cluster empty and append through it: a cluster node only applies what its stream holds', 'CONFLICT');
      }
      const work = path === '/admin/export' ? exportOverHttp(req, res, store) : importOverHttp(req, res, store);
      work.catch((err) => {
        logger.error({ err, requestId }, `${path} failed`);
        if (!res.headersSent) refuse(res, 500, `${path} failed`, 'INTERNAL_SERVER_ERROR');
        else res.destroy();
      });
    });
    return;
  }
  serveWebDemo(req, res);
}

/** Runs `next` with the request's viewer, or answers 401 (a missing, invalid or expired token). */
function authenticated(req: IncomingMessage, res: ServerResponse, auth: Authenticator, next: (viewer: Viewer) => void): void {
  auth.authenticate(req.headers.authorization).then(
    (viewer) => {
      viewers.set(req, viewer);
      next(viewer);
    },
    (err: unknown) => {
      if (!(err instanceof AuthError)) return refuse(res, 500, 'could not check the token', 'INTERNAL_SERVER_ERROR');
      // RFC 6750: no error attribute when no token was sent. The description is made header-safe: a
      // refusal may quote the token's own (attacker-chosen) header text.
      const challenge = err.tokenSent ? `, error="invalid_token", error_description="${headerSafe(err.message)}"` : '';
      res.setHeader('www-authenticate', `Bearer realm="evledger"${challenge}`);
      refuse(res, 401, err.message, err.code);
    },
  );
}

/** Printable ASCII only, without quotes or backslashes: safe in a header value and one byte per character. */
const headerSafe = (text: string) => text.replace(/[^\x20-\x7e]|["\\]/g, '?');

/** GET /admin/export: the log as NDJSON from one consistent point, while the server keeps serving. */
async function exportOverHttp(req: IncomingMessage, res: ServerResponse, store: LedgerStore): Promise<void> {
  if (req.method !== 'GET') return refuse(res, 405, 'use GET');
  const from = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('from') ?? 1);
  if (!Number.isSafeInteger(from) || from < 1) return refuse(res, 400, 'from must be a sequence ≥ 1', 'BAD_USER_INPUT');
  await streamExport(res, store, from);
}

/** POST /admin/import: an export (NDJSON body) appended to this empty store through the writer. */
async function importOverHttp(req: IncomingMessage, res: ServerResponse, store: LedgerStore): Promise<void> {
  if (req.method !== 'POST') return refuse(res, 405, 'use POST');
  if (store.head !== 0) return refuse(res, 409, `import needs an empty store; this one is at sequence ${store.head}`, 'CONFLICT');
  let result;
  try {
    result = await importLog(store, req);
  } catch (err) {
    // A malformed line or an event that does not reproduce: what was imported before it stays.
    return refuse(res, 400, `import stopped at sequence ${store.head}: ${(err as Error).message}`, 'BAD_USER_INPUT');
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(result));
}

function refuse(res: ServerResponse, status: number, message: string, code = 'BAD_REQUEST'): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

/** graphql-ws over the same schema and plugins (limits, masking) as HTTP, via yoga's envelop. */
function attachGraphqlWs(wss: WebSocketServer, yoga: YogaServerInstance<any, any>, auth: Authenticator) {
  return useServer<Record<string, unknown> | undefined, { viewer?: Viewer }>(
    {
      connectionInitWaitTimeout: CONNECTION_INIT_WAIT_MS,
      // The token comes in connection_init (browsers cannot set headers on a WebSocket), or else in the
      // upgrade request's Authorization header. Refused: closed with 4403 and the reason.
      onConnect: async (ctx) => {
        try {
          ctx.extra.viewer = await auth.authenticate(authorizationOf(ctx.connectionParams) ?? ctx.extra.request.headers.authorization);
          return true;
        } catch (err) {
          if (!(err instanceof AuthError)) throw err;
          ctx.extra.socket.close(FORBIDDEN_CLOSE, headerSafe(`${err.code}: ${err.message}`).slice(0, MAX_CLOSE_REASON_BYTES));
          return false;
        }
      },
      execute: (args: any) => args.rootValue.execute(args),
      subscribe: (args: any) => sharedSubscribe(args) as any,
      onSubscribe: async (ctx, _id, params) => {
        if (Object.keys(ctx.subscriptions).length > MAX_SUBSCRIPTIONS_PER_CONNECTION) { // this one is already in the count
          return [new GraphQLError(`at most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection`, { extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } })];
        }
        const viewer = ctx.extra.viewer; // set by onConnect (UNRESTRICTED when authentication is off)
        if (viewer?.expiresAt != null && viewer.expiresAt <= Date.now()) return [tokenExpired()];
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          viewer,
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
