// A real JetStream cluster on this machine, for `npm run cluster`, the tests and the benches: nats-server processes on free loopback ports, each
// with its own store dir and log under one temp dir, that a test can kill, freeze and restart to see
// what the ledger's cluster does when the log itself fails over.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { connect as connectTcp, createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';

export const NATS_SERVER = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';

export interface NatsNode {
  /** The server_name, which is what JetStream reports as a stream's leader or replica. */
  readonly name: string;
  readonly port: number;
  readonly clusterPort: number;
  /** nats://127.0.0.1:port */
  readonly url: string;
  readonly pid: number | undefined;
  /** Everything the server wrote (all its runs, appended), for a failing test to print. */
  readonly logFile: string;
  /** Defaults to SIGKILL; resolves when the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGSTOP: the process keeps its sockets but answers nothing, as a node in a long GC pause or a partition. */
  stop(): void;
  /** SIGCONT */
  cont(): void;
  /** Starts it again with the same name, ports, store dir and config; resolves when it accepts client connections. */
  restart(): Promise<void>;
  /** Started and not exited (a stopped process is still running). */
  readonly running: boolean;
  /** Between stop() and cont(). */
  readonly stopped: boolean;
  logTail(lines?: number): string;
}

export interface NatsCluster {
  readonly nodes: NatsNode[];
  /** Comma-separated nats://127.0.0.1:port list of every node. */
  readonly urls: string;
  /** Until a client gets JetStream account info, which needs an elected meta leader. */
  waitForJetStream(timeoutMs?: number): Promise<void>;
  /** The node that leads `stream` now; waits out an election in progress. */
  streamLeader(stream: string, timeoutMs?: number): Promise<NatsNode>;
  /** Every node's log tail, headed by its name. */
  logs(lines?: number): string;
  /** Kills every node and removes the temp dir; idempotent. */
  close(): Promise<void>;
}

export interface NatsClusterOptions {
  nodes?: number;
  /** Bytes; the default, 8 MiB, lets a large batch go as one message. */
  maxPayload?: number;
}

// Whatever the test run leaves running when it ends. 'exit' handlers must be synchronous, and
// process.kill is; a worker killed outright (SIGKILL) runs no handler, which nothing can help here.
const live = new Set<ChildProcess>();
const roots = new Set<string>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const root of roots) rmSync(root, { recursive: true, force: true, maxRetries: 3 });
});

/** A TCP port on loopback that was free a moment ago (ours, closed). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

interface NodeSpec {
  name: string;
  port: number;
  clusterPort: number;
  dir: string;
}

function config(spec: NodeSpec, all: NodeSpec[], maxPayload: number): string {
  const routes = all.filter((n) => n !== spec).map((n) => `nats-route://127.0.0.1:${n.clusterPort}`);
  return `server_name: ${spec.name}
listen: 127.0.0.1:${spec.port}
max_payload: ${maxPayload}
jetstream {
  store_dir: ${JSON.stringify(join(spec.dir, 'store'))}
  max_file_store: 1GB
  max_memory_store: 256MB
}
cluster {
  name: evledger-test
  listen: 127.0.0.1:${spec.clusterPort}
  routes: [${routes.join(', ')}]
  # A client gets exactly the servers it was given: one connected to a single node stays on it.
  no_advertise: true
}
`;
}

class Node implements NatsNode {
  readonly name: string;
  readonly port: number;
  readonly clusterPort: number;
  readonly url: string;
  readonly logFile: string;
  readonly #configFile: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #stopped = false;
  readonly #env: NodeJS.ProcessEnv;

  constructor(spec: NodeSpec, servers: number) {
    this.name = spec.name;
    this.port = spec.port;
    this.clusterPort = spec.clusterPort;
    this.url = `nats://127.0.0.1:${spec.port}`;
    this.logFile = join(spec.dir, 'server.log');
    // The servers share this machine's cores: each one's Go runtime otherwise runs (and spins) on all
    // of them. One core's worth each on 2 cores cut the servers' CPU per event from about 75 µs to 43
    // µs and raised 64 callers' rate by a fifth (scratch A/B runs of the cluster bench's 64 callers).
    this.#env = { GOMAXPROCS: String(Math.max(1, Math.floor(availableParallelism() / servers))), ...process.env };
    this.#configFile = join(spec.dir, 'nats.conf');
  }

  get pid() {
    return this.#child?.pid;
  }

  get running() {
    return this.#child !== undefined;
  }

  get stopped() {
    return this.#stopped;
  }

  logTail(lines = 40) {
    return tail(this.logFile, lines);
  }

  async restart(): Promise<void> {
    if (this.#child) throw new Error(`${this.name} is running`);
    // stderr rather than log_file, so that what the server says before it reads its config (a bad
    // option, a port in use) lands in the same file.
    const fd = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(NATS_SERVER, ['-c', this.#configFile], { stdio: ['ignore', fd, fd], detached: false, env: this.#env });
    } finally {
      closeSync(fd);
    }
    this.#child = child;
    this.#stopped = false;
    live.add(child);
    let gone: string | undefined;
    this.#exited = new Promise((resolve) => {
      const ended = (how: string) => {
        gone = how;
        live.delete(child);
        if (this.#child === child) this.#child = undefined;
        resolve();
      };
      child.once('exit', (code, signal) => ended(`exited (${signal ?? code})`));
      child.once('error', (err) => ended(`did not start (${err.message})`));
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (gone) throw new Error(`${NATS_SERVER} ${this.name} ${gone} before accepting connections:\n${this.logTail()}`);
      if ((await tryConnect('127.0.0.1', this.port)) === 'connected') return;
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`nats-server ${this.name} did not accept connections within 10 s:\n${this.logTail()}`);
      }
      await delay(20);
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill(signal);
    // A stopped process only acts on a catchable signal once it runs again.
    if (this.#stopped && signal !== 'SIGKILL') child.kill('SIGCONT');
    await this.#exited;
    this.#stopped = false;
  }

  stop(): void {
    if (!this.#child) throw new Error(`${this.name} is not running`);
    this.#child.kill('SIGSTOP');
    this.#stopped = true;
  }

  cont(): void {
    if (!this.#child) throw new Error(`${this.name} is not running`);
    this.#child.kill('SIGCONT');
    this.#stopped = false;
  }
}

/**
 * Connects to the nodes that can answer now: a connection that lands on a stopped node would wait
 * for its connect timeout instead of trying the next.
 */
async function connectLive(nodes: Node[]): Promise<NatsConnection> {
  const servers = nodes.filter((n) => n.running && !n.stopped).map((n) => n.url);
  if (servers.length === 0) throw new Error('no nats-server running');
  return connect({ servers, timeout: 2_000, maxReconnectAttempts: 0 });
}

export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  const count = options.nodes ?? 3;
  const maxPayload = options.maxPayload ?? 8 * 1024 * 1024;
  const root = await mkdtemp(join(tmpdir(), 'evledger-nats-'));
  roots.add(root);
  const specs: NodeSpec[] = [];
  const taken = new Set<number>();
  // Ports are asked for one by one while the earlier ones are already closed, so the kernel may hand
  // one out twice; a set keeps the cluster's own ports apart.
  const port = async () => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };
  for (let i = 1; i <= count; i++) {
    const name = `n${i}`;
    specs.push({ name, port: await port(), clusterPort: await port(), dir: join(root, name) });
  }
  for (const spec of specs) {
    await mkdir(spec.dir);
    await writeFile(join(spec.dir, 'nats.conf'), config(spec, specs, maxPayload));
  }
  const nodes = specs.map((spec) => new Node(spec, specs.length));

  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await Promise.all(nodes.map((n) => n.kill()));
      await rm(root, { recursive: true, force: true });
      roots.delete(root);
    })());

  const logs = (lines = 40) => nodes.map((n) => `--- ${n.name} (${n.logFile})\n${n.logTail(lines)}`).join('\n');

  const waitForJetStream = async (timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      try {
        const nc = await connectLive(nodes);
        try {
          // Before the meta leader is elected the request is not answered at all: a timeout, not an
          // error, ends each try, short at first and longer as it goes, for a loaded machine.
          const timeout = Math.min(250 * 2 ** attempt, 2_000);
          const jsm = await jetstreamManager(nc, { timeout, checkAPI: false });
          await jsm.getAccountInfo();
          return;
        } finally {
          await nc.close();
        }
      } catch (err) {
        last = err;
        await delay(100);
      }
    }
    throw new Error(`JetStream not ready within ${timeoutMs} ms (last: ${String(last)}):\n${logs()}`);
  };

  const streamLeader = async (stream: string, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        const nc = await connectLive(nodes);
        try {
          const jsm = await jetstreamManager(nc, { timeout: 1_000, checkAPI: false });
          const name = (await jsm.streams.info(stream)).cluster?.leader;
          const leader = nodes.find((n) => n.name === name);
          if (leader) return leader;
          last = `no leader (${String(name)})`;
        } finally {
          await nc.close();
        }
      } catch (err) {
        last = err;
      }
      await delay(100);
    }
    throw new Error(`stream ${stream} has no leader within ${timeoutMs} ms (last: ${String(last)})`);
  };

  try {
    await Promise.all(nodes.map((n) => n.restart()));
    await waitForJetStream();
  } catch (err) {
    await close();
    throw err;
  }
  return { nodes, urls: nodes.map((n) => n.url).join(','), waitForJetStream, streamLeader, logs, close };
}

/** Resolves with how a TCP connection to host:port ended: 'connected' or the error code (ECONNREFUSED). */
export function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}
