// Configuration from the environment, overridable by flags (`--port 4001` or `--port=4001`).
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  /** Interface to bind. @default '127.0.0.1' */
  readonly host: string;
  /** TCP port; 0 picks a free one. @default 4000 */
  readonly port: number;
  /** Where the RocksDB store lives. @default './data' */
  readonly dataDir: string;
  /** `fsync`: acknowledged = on disk. `none`: faster, and a power cut may lose acknowledged commands. @default 'fsync' */
  readonly durability: 'fsync' | 'none';
  /** Events between projection snapshots. @default 10_000 */
  readonly snapshotInterval: number;
  /** Commands that may wait for the writer before OVERLOADED. @default 20_000 */
  readonly queueLimit: number;
  /** Largest accepted HTTP body or WebSocket message. @default 1_048_576 (1 MiB) */
  readonly maxBodyBytes: number;
  /** Least severe level written to the JSON log on stdout; `silent` writes nothing. @default 'info' */
  readonly logLevel: LogLevel;
  /** Mutations per second per client (its IP), with bursts of twice that; 0 turns the limit off. @default 5_000 */
  readonly mutationRateLimit: number;
  /** Allow a non-loopback HOST without authentication (something in front must authenticate). @default false */
  readonly insecure: boolean;
  /** HS256 shared secret (≥ 32 bytes): turns authentication on. @default unset */
  readonly jwtSecret: string | null;
  /** RS256 (RSA) or ES256 (P-256) public key, as PEM or a path to a PEM file: turns authentication on. @default unset */
  readonly jwtPublicKey: string | null;
  /** Required `iss` of every token. @default unset (not checked) */
  readonly jwtIssuer: string | null;
  /** Required `aud` of every token. @default unset (not checked) */
  readonly jwtAudience: string | null;
  /** Run as a node of a cluster on this NATS JetStream (DESIGN §7); null: the embedded single node. @default unset */
  readonly cluster: ClusterConfig | null;
}

export interface ClusterConfig {
  /** Comma-separated nats:// URLs (NATS_URL). */
  readonly urls: string;
  /** The stream holding the log (NATS_STREAM). @default 'evledger' */
  readonly stream: string;
  /** Replicas of the stream (NATS_REPLICAS): 3 survives one NATS server lost. @default 3 */
  readonly replicas: number;
  /** This node's name in the cluster (NODE_ID). @default hostname-port */
  readonly nodeId: string | null;
}

export const DEFAULT_CONFIG: Config = {
  host: '127.0.0.1',
  port: 4000,
  dataDir: './data',
  durability: 'fsync',
  snapshotInterval: 10_000,
  queueLimit: 20_000,
  maxBodyBytes: 1 << 20,
  logLevel: 'info',
  mutationRateLimit: 5_000,
  insecure: false,
  jwtSecret: null,
  jwtPublicKey: null,
  jwtIssuer: null,
  jwtAudience: null,
  cluster: null,
};

const OPTIONS = {
  host: { type: 'string', env: 'HOST' },
  port: { type: 'string', env: 'PORT' },
  data: { type: 'string', env: 'DATA_DIR' },
  durability: { type: 'string', env: 'DURABILITY' },
  'snapshot-interval': { type: 'string', env: 'SNAPSHOT_INTERVAL' },
  'queue-limit': { type: 'string', env: 'QUEUE_LIMIT' },
  'max-body-bytes': { type: 'string', env: 'MAX_BODY_BYTES' },
  'log-level': { type: 'string', env: 'LOG_LEVEL' },
  'rate-limit': { type: 'string', env: 'RATE_LIMIT' },
  'jwt-secret': { type: 'string', env: 'JWT_SECRET' },
  'jwt-public-key': { type: 'string', env: 'JWT_PUBLIC_KEY' },
  'jwt-issuer': { type: 'string', env: 'JWT_ISSUER' },
  'jwt-audience': { type: 'string', env: 'JWT_AUDIENCE' },
  'nats-url': { type: 'string', env: 'NATS_URL' },
  'nats-stream': { type: 'string', env: 'NATS_STREAM' },
  'nats-replicas': { type: 'string', env: 'NATS_REPLICAS' },
  'node-id': { type: 'string', env: 'NODE_ID' },
} as const;

export class ConfigError extends Error {}

export function loadConfig(argv: string[] = [], env: NodeJS.ProcessEnv = process.env): Config {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...(Object.fromEntries(Object.entries(OPTIONS).map(([k, v]) => [k, { type: v.type }])) as Record<keyof typeof OPTIONS, { type: 'string' }>),
      insecure: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
  const get = (name: keyof typeof OPTIONS) => (values[name] as string | undefined) ?? env[OPTIONS[name].env];
  const int = (name: keyof typeof OPTIONS, fallback: number, min: number) => {
    const raw = get(name);
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min) throw new ConfigError(`${OPTIONS[name].env} / --${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
    return n;
  };
  const durability = get('durability') ?? DEFAULT_CONFIG.durability;
  if (durability !== 'fsync' && durability !== 'none') throw new ConfigError(`DURABILITY / --durability must be fsync or none, got ${JSON.stringify(durability)}`);
  const logLevel = get('log-level') || DEFAULT_CONFIG.logLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new ConfigError(`LOG_LEVEL / --log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  const port = int('port', DEFAULT_CONFIG.port, 0);
  if (port > 65_535) throw new ConfigError(`PORT must be at most 65535, got ${port}`);
  const natsUrl = get('nats-url') || null;
  if (natsUrl && !natsUrl.split(',').every((u) => /^(nats|tls):\/\/[^\s/]+$/.test(u.trim()))) {
    throw new ConfigError(`NATS_URL / --nats-url must be comma-separated nats://host:port URLs, got ${JSON.stringify(natsUrl)}`);
  }
  const stream = get('nats-stream') || 'evledger';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(stream)) throw new ConfigError(`NATS_STREAM / --nats-stream must be 1-64 letters, digits, _ or -, got ${JSON.stringify(stream)}`);
  const replicas = int('nats-replicas', 3, 1);
  if (replicas > 5) throw new ConfigError(`NATS_REPLICAS must be at most 5 (JetStream's limit), got ${replicas}`);
  return {
    host: get('host') || DEFAULT_CONFIG.host,
    port,
    dataDir: resolve(get('data') || DEFAULT_CONFIG.dataDir),
    durability,
    snapshotInterval: int('snapshot-interval', DEFAULT_CONFIG.snapshotInterval, 1),
    queueLimit: int('queue-limit', DEFAULT_CONFIG.queueLimit, 1),
    maxBodyBytes: int('max-body-bytes', DEFAULT_CONFIG.maxBodyBytes, 1024),
    logLevel: logLevel as LogLevel,
    mutationRateLimit: int('rate-limit', DEFAULT_CONFIG.mutationRateLimit, 0),
    insecure: values.insecure === true || env.INSECURE === '1' || env.INSECURE === 'true',
    jwtSecret: get('jwt-secret') || null,
    jwtPublicKey: get('jwt-public-key') || null,
    jwtIssuer: get('jwt-issuer') || null,
    jwtAudience: get('jwt-audience') || null,
    cluster: natsUrl ? { urls: natsUrl, stream, replicas, nodeId: get('node-id') || null } : null,
  };
}

/** Loopback only: 127.0.0.0/8, ::1, localhost. */
export const isLoopback = (host: string): boolean => /^127(\.\d{1,3}){3}$/.test(host) || host === '::1' || host === 'localhost';

export const authEnabled = (config: Config): boolean => config.jwtSecret !== null || config.jwtPublicKey !== null;

/** Refuses to expose the API beyond this machine without authentication: anyone who can reach it could move money. */
export function checkExposure(config: Config): void {
  if (isLoopback(config.host) || config.insecure || authEnabled(config)) return;
  throw new ConfigError(
    `refusing to serve on HOST=${config.host}: authentication is off, so anyone who can reach it could move money. ` +
      'Set JWT_SECRET or JWT_PUBLIC_KEY, bind 127.0.0.1, or pass --insecure (INSECURE=1) if something in front of it authenticates every request.',
  );
}
