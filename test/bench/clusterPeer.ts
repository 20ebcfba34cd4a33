// A second API node for the cluster bench, in a worker thread: its own event loop, as its own process
// would have, so that applying the stream and forwarding do not take turns with the writer's thread.
// (Both nodes on one thread measured the sum of their work: the writer's bulk rate halved.)
import { parentPort, workerData } from 'node:worker_threads';
import type { Command } from '../../src/domain/commands.ts';
import { ClusterNode, type ClusterOptions } from '../../src/cluster/clusterNode.ts';

export interface PeerData {
  readonly dataDir: string;
  readonly cluster: Omit<ClusterOptions, 'log'>;
}

export type PeerRequest =
  | { readonly type: 'load'; readonly commands: readonly Command[]; readonly taken: Int32Array<ArrayBufferLike> }
  | { readonly type: 'callers'; readonly lanes: number }
  | { readonly type: 'close' };

export type PeerReply =
  | { readonly type: 'opened' }
  | { readonly type: 'loaded' }
  | { readonly type: 'callers'; readonly appended: number; readonly latencies: number[] }
  | { readonly type: 'log'; readonly line: string }
  | { readonly type: 'closed' }
  | { readonly type: 'failed'; readonly message: string };

const port = parentPort!;
const { dataDir, cluster } = workerData as PeerData;
const send = (reply: PeerReply) => port.postMessage(reply);

const node = await ClusterNode.open(dataDir, {}, {
  ...cluster,
  log: (level, message, details) => level !== 'info' && send({ type: 'log', line: `node ${cluster.nodeId} ${level}: ${message} ${details ? JSON.stringify(details) : ''}` }),
});
send({ type: 'opened' });

/** The commands the callers take, by the count shared with the other thread's callers. */
let load: { commands: readonly Command[]; taken: Int32Array<ArrayBufferLike> } = { commands: [], taken: new Int32Array(1) };

port.on('message', (request: PeerRequest) => {
  if (request.type === 'load') {
    load = { commands: request.commands, taken: request.taken };
    send({ type: 'loaded' });
    return;
  }
  if (request.type === 'close') {
    void node.close().then(() => {
      send({ type: 'closed' });
      port.close();
    });
    return;
  }
  void (async () => {
    const { commands, taken } = load;
    const latencies: number[] = [];
    let appended = 0;
    await Promise.all(
      Array.from({ length: request.lanes }, async () => {
        for (let i = Atomics.add(taken, 0, 1); i < commands.length; i = Atomics.add(taken, 0, 1)) {
          const t = performance.now();
          const [result] = await node.execute([commands[i]!]);
          latencies.push(performance.now() - t);
          if (!result!.ok) throw new Error(`bench workload refused: ${JSON.stringify(result!.error)}`);
          appended++;
        }
      }),
    );
    send({ type: 'callers', appended, latencies });
  })().catch((err: Error) => send({ type: 'failed', message: err.message }));
});
