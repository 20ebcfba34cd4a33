// The event feed, newest first. Items are added as events arrive (a role="log" live region) and the
// list keeps the latest few dozen; when the page views the past, events after that point are dimmed.
// Each shows its date as well as its time: a log read days later (or across midnight) is otherwise
// ambiguous.
import { formatDate, formatTime, h } from './dom.ts';
import type { FeedEventFragment } from './generated/graphql.ts';
import { formatMoney } from './money.ts';

const KEEP = 60;

export class EventFeed {
  private newest = 0;
  private viewing: number | null = null;

  constructor(
    private readonly list: HTMLOListElement,
    private readonly empty: HTMLElement,
    private readonly currencyOf: (accountId: string) => string | undefined,
  ) {}

  get lastSequence(): number {
    return this.newest;
  }

  /** Adds events (in sequence order); any at or below the newest shown are repeats and are dropped. */
  add(events: readonly FeedEventFragment[]): void {
    const fresh = events.filter((e) => e.sequence > this.newest);
    if (fresh.length === 0) return;
    this.newest = fresh[fresh.length - 1]!.sequence;
    const items = fresh.slice(-KEEP).reverse().map((e) => this.item(e));
    this.list.prepend(...items);
    while (this.list.children.length > KEEP) this.list.lastElementChild!.remove();
    this.empty.hidden = true;
  }

  /** Dims events after `sequence` (null: live, nothing dimmed). */
  setViewing(sequence: number | null): void {
    this.viewing = sequence;
    for (const li of this.list.children) this.mark(li as HTMLLIElement);
  }

  private mark(li: HTMLLIElement): void {
    const after = this.viewing !== null && Number(li.dataset.sequence) > this.viewing;
    li.classList.toggle('after-view', after);
  }

  private item(event: FeedEventFragment): HTMLLIElement {
    const money = (minor: number, accountId: string, currency?: string) => formatMoney(minor, currency ?? this.currencyOf(accountId));
    let kind: string;
    let what: (Node | string)[];
    let amount = '';
    switch (event.__typename) {
      case 'AccountOpened':
        kind = 'Opened';
        what = [acct(event.accountId), ` in ${event.currency}`];
        amount = money(event.initialBalance, event.accountId, event.currency);
        break;
      case 'MoneyDeposited':
        kind = 'Deposit';
        what = ['into ', acct(event.accountId)];
        amount = `+${money(event.amount, event.accountId)}`;
        break;
      case 'MoneyWithdrawn':
        kind = 'Withdrawal';
        what = ['from ', acct(event.accountId)];
        amount = `−${money(event.amount, event.accountId)}`;
        break;
      case 'MoneyTransferred':
        kind = 'Transfer';
        what = [acct(event.fromAccountId), h('span', { 'aria-label': 'to' }, ' → '), acct(event.toAccountId)];
        amount = money(event.amount, event.fromAccountId);
        break;
      case 'AccountClosed':
        kind = 'Closed';
        what = [acct(event.accountId), event.reason ? ` (${event.reason})` : ''];
        break;
    }
    const li = h(
      'li',
      { class: `event event-${event.type.toLowerCase()}`, 'data-sequence': String(event.sequence) },
      h('span', { class: 'event-seq' }, `#${event.sequence}`),
      h('span', { class: 'event-kind' }, kind),
      h('span', { class: 'event-what' }, ...what),
      h('span', { class: 'event-amount' }, amount),
      h(
        'time',
        { class: 'event-time', datetime: event.timestamp },
        h('span', { class: 'event-date' }, formatDate(event.timestamp)),
        ' ',
        h('span', { class: 'event-clock' }, formatTime(event.timestamp)),
      ),
    );
    this.mark(li);
    return li;
  }
}

function acct(id: string): HTMLElement {
  return h('span', { class: 'event-account' }, id);
}
