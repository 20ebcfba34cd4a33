// `npm run cluster`: the whole topology of DESIGN §7 on one machine, to try it — 3 nats-servers
// (JetStream, R3) and 3 API nodes, each a real `serve` process with its own store, on loopback. Every
// run starts fresh (the stream lives in a temp dir, so the nodes' stores under ./data/cluster are
// cleared with it: a store holding another stream's log is refused). Ctrl-C stops all of it.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNatsCluster } from './localNats.ts';

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));

export async function runLocalCluster(options: { nodes?: number; basePort?: number; dataDir?: string } = {}): Promise<number> {
  const count = options.nodes ?? 3;
  const basePort = options.basePort ?? 4001;
  const dataDir = resolve(options.dataDir ?? './data/cluster');
  await rm(dataDir, { recursive: true, force: true });
  const nats = await startNatsCluster();
  console.log(`NATS JetStream: ${nats.nodes.map((n) => `${n.name} ${n.url}`).join(', ')}`);
  const nodes: ChildProcess[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('stopping the API nodes, then NATS…');
    for (const node of nodes) node.kill('SIGTERM');
    await Promise.all(nodes.map((node) => (node.exitCode === null && node.signalCode === null ? once(node, 'exit') : null)));
    await nats.close();
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  for (let i = 1; i <= count; i++) {
    const port = basePort + i - 1;
    const env = { ...process.env, NATS_URL: nats.urls, NODE_ID: `node${i}`, PORT: String(port), DATA_DIR: join(dataDir, `node${i}`), LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' };
    const node = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    node.stdout!.setEncoding('utf8').on('data', (text: string) => process.stdout.write(text.replace(/^/gm, `[node${i}] `).replace(/\[node\d\] $/, '')));
    node.once('exit', (code, signal) => {
      if (!stopping) {
        console.error(`node${i} exited (${code ?? signal}); stopping the cluster`);
        void stop(1);
      }
    });
    nodes.push(node);
    // One after another: the first up takes the writer lease, the others join it.
    await new Promise<void>((ready) => node.stdout!.on('data', (text: string) => text.includes('evledger serving') && ready()));
  }
  console.log(`\n${count} API nodes on http://127.0.0.1:${basePort}…${basePort + count - 1} (GraphiQL on /graphql, the demo on /, /readyz says which one writes). Ctrl-C stops all of it.`);
  return new Promise(() => {});
}
