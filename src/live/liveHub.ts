// The live side of the ledger: the change feed, per-subscriber streams and shared fan-out groups.
import type { LedgerStore } from '../store/ledgerStore.ts';
import { ChangeFeed } from './changeFeed.ts';
import { Fanout } from './fanout.ts';
import { DEFAULT_LIVE_OPTIONS, LiveSubscription, type LiveOptions, type LiveSource } from './liveSubscription.ts';
import type { Item, Topic } from './topics.ts';

export class LiveHub {
  readonly feed: ChangeFeed;
  readonly fanout: Fanout;
  /** Subscriptions not yet finished, for the subscriber and lag metrics. */
  private readonly subscriptions = new Set<LiveSubscription<unknown>>();

  constructor(
    readonly store: LedgerStore,
    readonly options: LiveOptions = DEFAULT_LIVE_OPTIONS,
  ) {
    this.feed = new ChangeFeed(store);
    this.fanout = new Fanout(this.feed);
  }

  /** A subscriber of its own: catch-up from the log after `afterSequence`, then live from the feed. */
  subscribe<P>(topic: Topic<P>, afterSequence: number | null): LiveSubscription<P> {
    const source: LiveSource<P> = (push) => this.feed.listen(topic.accountIds, (batch) => push(topic.fromBatch(batch)));
    return this.tracked(source, (tracked) => new LiveSubscription(topic, tracked, () => this.store.head, afterSequence, this.options));
  }

  /** A subscriber whose live messages are shared with every other subscriber of operation `key`. */
  subscribeShared<P>(key: string, topic: Topic<P>, afterSequence: number | null, prepare: (item: Item<P>) => unknown): LiveSubscription<P> {
    return this.tracked(this.fanout.source(key, topic, prepare), (tracked) => new LiveSubscription(topic, tracked, () => this.store.head, afterSequence, this.options));
  }

  /** Live subscriptions now. */
  get subscriberCount(): number {
    return this.subscriptions.size;
  }

  /** The lowest sequence delivered to a live subscription, or null without any: head − this is the lag. */
  lowestDelivered(): number | null {
    let lowest: number | null = null;
    for (const s of this.subscriptions) if (lowest === null || s.delivered < lowest) lowest = s.delivered;
    return lowest;
  }

  /**
   * Counts a subscription from its creation until it finishes. A subscription unsubscribes from its
   * source exactly when it finishes, so wrapping the source's unsubscribe is the finish hook.
   */
  private tracked<P>(source: LiveSource<P>, create: (source: LiveSource<P>) => LiveSubscription<P>): LiveSubscription<P> {
    let subscription: LiveSubscription<P> | null = null;
    let finished = false;
    const wrapped: LiveSource<P> = (push) => {
      const unsubscribe = source(push);
      return () => {
        finished = true;
        if (subscription) this.subscriptions.delete(subscription as LiveSubscription<unknown>);
        unsubscribe();
      };
    };
    subscription = create(wrapped);
    if (!finished) this.subscriptions.add(subscription as LiveSubscription<unknown>);
    return subscription;
  }

  close(): void {
    this.feed.close();
  }
}
