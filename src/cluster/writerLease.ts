// Who writes: a lease in a JetStream KV bucket (replicated like the log). The holder renews it well
// inside its TTL; when the holder dies its entry ages out of the bucket and the next node to try takes
// it. The lease only keeps writers from racing — racing writers waste each other's publishes — while
// safety rests on the log's fencing (streamLog.ts): a deposed writer's next publish is refused.
import type { JetStreamClient } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';

const KEY = 'writer';

export class WriterLease {
  private revision = 0;
  private held = false;
  private renewedAt = 0;

  private constructor(
    private readonly kv: KV,
    private readonly nodeId: string,
    /** How long an entry lives without renewal: the longest a dead writer holds up the writes. */
    readonly ttlMs: number,
  ) {}

  static async open(js: JetStreamClient, stream: string, replicas: number, nodeId: string, ttlMs: number): Promise<WriterLease> {
    const kv = await new Kvm(js).create(`${stream}-writer`, { history: 1, ttl: ttlMs, replicas });
    return new WriterLease(kv, nodeId, ttlMs);
  }

  /**
   * Takes the lease if it is free, renews it if this node holds it; returns whether it does now. A
   * holder that could not renew for most of the TTL gives it up on its own: by then another node may
   * have taken it.
   */
  async tick(): Promise<boolean> {
    try {
      this.revision = this.held ? await this.kv.update(KEY, this.nodeId, this.revision) : await this.kv.create(KEY, this.nodeId);
      this.held = true;
      this.renewedAt = Date.now();
    } catch (err) {
      // A wrong revision: someone else holds it. A taken key on create: so does someone else.
      // Anything else (an election, a reconnect): unknown, so keep what we had until it times out.
      if ((err as { code?: number }).code === 10071 || /wrong last sequence|exists/i.test((err as Error).message)) this.held = false;
    }
    if (this.held && Date.now() - this.renewedAt > (this.ttlMs * 2) / 3) this.held = false;
    return this.held;
  }

  /** Held, and renewed recently enough that no other node can have taken it. */
  get holds(): boolean {
    return this.held && Date.now() - this.renewedAt <= (this.ttlMs * 2) / 3;
  }

  /** The node that holds the lease, as the bucket says now. */
  async holder(): Promise<string | null> {
    const entry = await this.kv.get(KEY);
    return entry && entry.operation === 'PUT' ? entry.string() : null;
  }

  /** Gives the lease up (a clean shutdown), so another node need not wait for it to age out. */
  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    await this.kv.delete(KEY, { previousSeq: this.revision }).catch(() => {});
  }
}
