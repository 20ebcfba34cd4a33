// One subscriber's stream: what the log holds after `afterSequence`, then live, with no gap and no
// repeat at the seam. The live listener is registered in the same tick as the head is read, so the
// catch-up covers (after, head] and every live message is past head.
//
// Memory per subscriber is bounded: past `queueLimit` pending messages, a topic that can merge them
// (ledgerUpdates) coalesces, and the others drop the queue and go back to reading the log from the
// last delivered message, rejoining live when caught up. A subscriber still behind after `maxBehindMs`
// is completed with SubscriptionTooSlow, which carries the sequence to resume from.
import type { Item, Topic } from './topics.ts';

/** Subscribes a push function to live messages; returns the unsubscribe. */
export type LiveSource<P> = (push: (items: Item<P>[]) => void) => () => void;

export interface LiveOptions {
  /** Pending messages per subscriber before it counts as slow. @default 1_000 */
  readonly queueLimit: number;
  /** How long a subscriber may stay behind live before it is completed with an error. @default 30_000 (30 s) */
  readonly maxBehindMs: number;
  /** Accounts a coalesced ledgerUpdates message may hold before the subscriber counts as too slow. @default 100_000 */
  readonly maxCoalescedAccounts: number;
}

export const DEFAULT_LIVE_OPTIONS: LiveOptions = { queueLimit: 1_000, maxBehindMs: 30_000, maxCoalescedAccounts: 100_000 };

export class SubscriptionTooSlow extends Error {
  readonly code = 'SUBSCRIBER_TOO_SLOW';
  constructor(readonly resumeAfterSequence: number) {
    super(`This subscriber fell too far behind the log and was stopped. Subscribe again with afterSequence: ${resumeAfterSequence} to resume exactly where it stopped.`);
  }
}

export class LiveSubscription<P> implements AsyncIterableIterator<Item<P>> {
  private queue: Item<P>[] = [];
  private catchUp: AsyncIterator<Item<P>> | null = null;
  /** Set when live messages were dropped during a catch-up: read the log again up to here. */
  private catchUpAgainTo = 0;
  private lastSequence: number;
  private lastPart = Number.MAX_SAFE_INTEGER;
  private behindSince: number | null = null;
  /** Set when stopped for being too slow: the rest of the last sequence is read, then the error thrown. */
  private failed = false;
  private finishingRead: AsyncIterator<Item<P>> | null = null;
  /** The head when this subscribed: live messages up to it (in flight to a shared group) are the log's. */
  private readonly liveAfter: number;
  private finished = false;
  private wake: (() => void) | null = null;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly topic: Topic<P>,
    source: LiveSource<P>,
    private readonly readHead: () => number,
    afterSequence: number | null,
    private readonly options: LiveOptions = DEFAULT_LIVE_OPTIONS,
  ) {
    // Same tick: register, then read the head. Everything live is after it.
    this.unsubscribe = source((items) => this.push(items));
    const head = this.readHead();
    this.liveAfter = head;
    this.lastSequence = afterSequence ?? head;
    if (afterSequence !== null && afterSequence < head) this.catchUp = this.readLog(afterSequence, head);
  }

  /** The sequence of the last message delivered: where this subscriber would resume from. */
  get delivered(): number {
    return this.lastSequence;
  }

  /** True while reading the log rather than taking live messages. */
  get catchingUp(): boolean {
    return this.catchUp !== null;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<Item<P>>> {
    for (;;) {
      if (this.finished) return { done: true, value: undefined };
      if (this.failed) {
        // Deliver the rest of the last sequence first (the other side of a transfer), so that resuming
        // after it is exact; then stop, once.
        if (this.lastPart !== Number.MAX_SAFE_INTEGER) {
          this.finishingRead ??= this.readLog(this.lastSequence - 1, this.lastSequence);
          const r = await this.finishingRead.next();
          if (!r.done) {
            if (this.deliverable(r.value)) return this.deliver(r.value);
            continue;
          }
        }
        const failure = new SubscriptionTooSlow(this.lastSequence);
        this.finish();
        throw failure;
      }
      if (this.catchUp) {
        const r = await this.catchUp.next();
        if (!r.done) {
          if (this.deliverable(r.value)) return this.deliver(r.value);
          continue;
        }
        this.catchUp = null;
        if (this.catchUpAgainTo > this.lastSequence) {
          this.catchUp = this.readLog(this.resumePoint(), this.catchUpAgainTo);
          this.catchUpAgainTo = 0;
          continue;
        }
        this.behindSince = null;
      }
      const item = this.queue.shift();
      if (item) {
        if (this.deliverable(item)) return this.deliver(item);
        continue;
      }
      this.behindSince = null; // caught up with live
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }

  async return(): Promise<IteratorResult<Item<P>>> {
    this.finish();
    return { done: true, value: undefined };
  }

  private push(items: Item<P>[]): void {
    if (this.finished || this.failed || items.length === 0) return;
    // A shared group's messages reach a new member late: those up to the head it started from are the log's
    // (or before its start), and must not be merged into a coalesced message.
    for (const item of items) if (item.sequence > this.liveAfter) this.queue.push(item);
    if (this.queue.length > this.options.queueLimit) this.fallBehind();
    this.wake?.();
  }

  private fallBehind(): void {
    const now = Date.now();
    this.behindSince ??= now;
    if (now - this.behindSince > this.options.maxBehindMs) return this.fail();
    if (this.topic.coalesce) {
      const merged = this.topic.coalesce(this.queue);
      if (((merged.payload as { accounts?: unknown[] }).accounts?.length ?? 0) > this.options.maxCoalescedAccounts) return this.fail();
      this.queue = [merged];
      return;
    }
    // Drop what is queued; the log has it. Read it from the last delivered message when we get there.
    this.queue = [];
    const head = this.readHead();
    if (this.catchUp) this.catchUpAgainTo = head;
    else this.catchUp = this.readLog(this.resumePoint(), head);
  }

  /**
   * Where to read the log from to continue after the last delivered message: its own sequence again,
   * as the dropped queue may have held the other side of the transfer it was one side of (the seam
   * guard drops the side already delivered).
   */
  private resumePoint(): number {
    return this.lastPart === Number.MAX_SAFE_INTEGER ? this.lastSequence : this.lastSequence - 1;
  }

  private fail(): void {
    this.failed = true;
    this.queue = [];
    this.unsubscribe();
    this.wake?.();
  }

  private readLog(after: number, to: number): AsyncIterator<Item<P>> {
    return this.topic.readLog(after, to)[Symbol.asyncIterator]();
  }

  /** Not already delivered: the seam guard (sequence, then part for the two sides of a transfer). */
  private deliverable(item: Item<P>): boolean {
    return item.sequence > this.lastSequence || (item.sequence === this.lastSequence && item.part > this.lastPart);
  }

  private deliver(item: Item<P>): IteratorResult<Item<P>> {
    this.lastSequence = item.sequence;
    this.lastPart = item.part;
    return { done: false, value: item };
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.queue = [];
    this.unsubscribe();
    void this.catchUp?.return?.();
    void this.finishingRead?.return?.();
    this.catchUp = null;
    this.finishingRead = null;
    this.wake?.();
  }
}
