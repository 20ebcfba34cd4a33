// Fan-out for subscribers that share one operation (same document and variables, whatever their
// afterSequence): the live messages of a batch are computed and prepared (executed and serialized by
// the caller's `prepare`) once per group, and the same prepared message goes to every member.
import type { ChangeFeed, LiveBatch } from './changeFeed.ts';
import type { LiveSource } from './liveSubscription.ts';
import type { Item, Topic } from './topics.ts';

interface Group {
  readonly members: Set<(items: Item<unknown>[]) => void>;
  unlisten: () => void;
  /** Preparation may be async; messages still reach members in commit order. */
  tail: Promise<void>;
}

export class Fanout {
  private readonly groups = new Map<string, Group>();

  constructor(private readonly feed: ChangeFeed) {}

  /** A live source for a subscriber of the operation `key`, which shares `topic`'s messages with its group. */
  source<P>(key: string, topic: Topic<P>, prepare: (item: Item<P>) => unknown): LiveSource<P> {
    return (push) => {
      let group = this.groups.get(key);
      if (!group) {
        const created: Group = { members: new Set(), unlisten: () => {}, tail: Promise.resolve() };
        created.unlisten = this.feed.listen(topic.accountIds, (batch) => this.publish(created, topic, batch, prepare));
        this.groups.set(key, (group = created));
      }
      const members = group.members;
      members.add(push as (items: Item<unknown>[]) => void);
      return () => {
        members.delete(push as (items: Item<unknown>[]) => void);
        if (members.size === 0 && this.groups.get(key) === group) {
          group.unlisten();
          this.groups.delete(key);
        }
      };
    };
  }

  private publish<P>(group: Group, topic: Topic<P>, batch: LiveBatch, prepare: (item: Item<P>) => unknown): void {
    const items = topic.fromBatch(batch);
    if (items.length === 0) return;
    const pending = items.map((item) => prepare(item));
    const send = (results: unknown[]) => {
      items.forEach((item, i) => (item.result = results[i]));
      for (const push of group.members) push(items as Item<unknown>[]);
    };
    group.tail = group.tail.then(async () => send(await Promise.all(pending))).catch((err) => console.error('subscription fan-out failed', err));
  }
}
