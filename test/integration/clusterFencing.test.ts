// Safety does not rest on the writer lease (DESIGN §7): here the lease is taken away from the writer
// again and again under load, so that for up to a lease tick two nodes write at once, each publishing
// pipelined batches. The stream's fencing (the batch before's sequence, and its id while it is still
// unacknowledged) must keep the log one hash chain: every acknowledged command in it exactly once, at
// its sequence, and the same log on every node.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { ClusterNode } from '../../src/cluster/clusterNode.ts';
import type { Command } from '../../src/domain/commands.ts';
import { money } from '../../src/domain/types.ts';
import { verify } from '../../src/projection/verify.ts';
import { readTruth } from '../support/ledgerTruth.ts';
import { startNatsCluster, type NatsCluster } from '../support/natsCluster.ts';
import { tempDir } from '../support/tempStore.ts';

const STREAM = 'fencing';
const ACCOUNTS = 12;
const LOOPS = 12;
const STEALS = 6;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('cluster fencing: writers deposed under load', () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let dir: { dir: string; remove: () => Promise<void> };
  const nodes: ClusterNode[] = [];

  beforeAll(async () => {
    nats = await startNatsCluster();
    nc = await connect({ servers: nats.urls.split(','), maxReconnectAttempts: -1 });
    dir = await tempDir('evledger-fencing-');
  }, 30_000);

  afterAll(async () => {
    for (const node of nodes) await node.close().catch(() => {});
    await nc?.close();
    await nats?.close();
    await dir?.remove();
  });

  it('keeps one hash chain while the lease moves between three nodes that all take writes', { timeout: 90_000 }, async ({ annotate }) => {
    // What the nodes say about their role: each takeover, and why each writer stopped.
    const takeovers: string[] = [];
    const stepDowns: string[] = [];
    const open = (id: string) =>
      ClusterNode.open(join(dir.dir, id), {}, {
        urls: nats.urls,
        stream: STREAM,
        replicas: 3,
        nodeId: id,
        log: (_level, message, details) => {
          if (message === 'this node is the writer now') takeovers.push(id);
          if (message === 'this node stopped writing') stepDowns.push(`${id}: ${String(details?.reason).slice(0, 60)}`);
        },
      });
    nodes.push(await open('a'));
    await until('a to write', () => nodes[0]!.status.role === 'writer');
    nodes.push(await open('b'), await open('c'));
    const accounts = Array.from({ length: ACCOUNTS }, (_, i) => `acct-${i}`);
    await nodes[0]!.execute(accounts.map((accountId) => ({ type: 'OpenAccount', accountId, currency: 'EUR', initialBalance: money(1_000_000) })));

    // The most nodes that took themselves for the writer at once, sampled.
    let overlap = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        overlap = Math.max(overlap, nodes.filter((n) => n.status.role === 'writer').length);
        await sleep(5);
      }
    })();

    // Load: each loop sends commands through one node, retrying an unanswered one as it is (same transactionId).
    const acked = new Map<string, number>();
    let retries = 0;
    let loading = true;
    const loops = Array.from({ length: LOOPS }, async (_, lane) => {
      const node = nodes[lane % nodes.length]!;
      for (let i = 0; loading; i++) {
        const from = accounts[(lane + i) % ACCOUNTS]!;
        const to = accounts[(lane + i + 1) % ACCOUNTS]!;
        const command: Command =
          i % 2 === 0
            ? { type: 'Deposit', accountId: from, amount: money(1 + (i % 50)), transactionId: randomUUID() }
            : { type: 'Transfer', fromAccountId: from, toAccountId: to, amount: money(1 + (i % 7)), transactionId: randomUUID() };
        for (;;) {
          try {
            const [result] = await node.execute([command]);
            if (!result!.ok) throw new Error(`refused: ${JSON.stringify(result!.error)}`);
            acked.set((command as { transactionId: string }).transactionId, result!.sequence);
            break;
          } catch (err) {
            if ((err as Error).message.startsWith('refused')) throw err;
            retries++;
            await sleep(20);
          }
        }
      }
    });

    // The lease taken away: its key deleted, so the next node to tick creates it, while the writer only
    // finds out at its own next renewal.
    const kv = await new Kvm(jetstream(nc)).open(`${STREAM}-writer`);
    for (let i = 0; i < STEALS; i++) {
      await sleep(800);
      await kv.delete('writer');
    }
    await sleep(1_500);
    loading = false;
    await Promise.all(loops);
    sampling = false;
    await sampler;
    await annotate(`${acked.size} commands acknowledged, ${retries} retried; writers in turn: ${takeovers.join(' → ')}; at most ${overlap} nodes writing at once; stepped down: ${stepDowns.join(' | ')}`);
    expect(takeovers.length, 'the lease moved').toBeGreaterThanOrEqual(1 + STEALS / 2);

    // One log on every node, and exactly the acknowledged commands in it, each at its sequence.
    await until('the nodes to converge', () => nodes.every((n) => n.store.logPosition === nodes[0]!.store.logPosition && n.store.head === nodes[0]!.store.head));
    const truth = await readTruth(nodes[0]!.store);
    const logged = new Map<string, number>();
    for (const event of truth.events) {
      if (event.transactionId === null) continue;
      expect(logged.has(event.transactionId), `transaction ${event.transactionId} twice in the log`).toBe(false);
      logged.set(event.transactionId, event.sequence);
    }
    expect(logged).toEqual(acked);
    expect(truth.head).toBe(ACCOUNTS + acked.size);
    for (const node of nodes) {
      expect(node.store.headHash.equals(nodes[0]!.store.headHash), `head hash on ${node.nodeId}`).toBe(true);
      expect((await readTruth(node.store)).events).toEqual(truth.events);
      expect(await verify(node.store), `verify on ${node.nodeId}`).toMatchObject({ ok: true, head: truth.head });
    }
  });
});
