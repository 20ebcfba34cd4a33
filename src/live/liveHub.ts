// The live side of the ledger: the change feed, per-subscriber streams and shared fan-out groups.
import type { LedgerStore } from '../store/ledgerStore.ts';
import { ChangeFeed } from './changeFeed.ts';
import { Fanout } from './fanout.ts';
import { DEFAULT_LIVE_OPTIONS, LiveSubscription, type LiveOptions, type LiveSource } from './liveSubscription.ts';
import type { Item, Topic } from './topics.ts';

export class LiveHub {
  readonly feed: ChangeFeed;
  readonly fanout: Fanout;

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
    return new LiveSubscription(topic, source, () => this.store.head, afterSequence, this.options);
  }

  /** A subscriber whose live messages are shared with every other subscriber of operation `key`. */
  subscribeShared<P>(key: string, topic: Topic<P>, afterSequence: number | null, prepare: (item: Item<P>) => unknown): LiveSubscription<P> {
    return new LiveSubscription(topic, this.fanout.source(key, topic, prepare), () => this.store.head, afterSequence, this.options);
  }

  close(): void {
    this.feed.close();
  }
}
