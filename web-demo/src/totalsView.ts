// Ledger totals: one tile per currency with the sum of its balances and how many accounts hold it.
import { flash, h } from './dom.ts';
import { formatMoney } from './money.ts';

export interface CurrencyTotal {
  currency: string;
  balance: number;
  accounts: number;
}

export function renderTotals(list: HTMLUListElement, totals: readonly CurrencyTotal[]): void {
  const previous = new Map([...list.querySelectorAll<HTMLElement>('[data-currency]')].map((li) => [li.dataset.currency!, li]));
  const sorted = [...totals].sort((a, b) => a.currency.localeCompare(b.currency));
  if (sorted.length === 0) {
    list.replaceChildren(h('li', { class: 'total total-empty' }, h('span', { class: 'total-label' }, 'No money in the ledger yet')));
    return;
  }
  const items = sorted.map((total) => {
    const old = previous.get(total.currency);
    const amount = h('span', { class: 'total-amount', 'data-minor': String(total.balance) }, formatMoney(total.balance, total.currency));
    const item = h(
      'li',
      { class: 'total', 'data-currency': total.currency },
      h('span', { class: 'total-label' }, total.currency),
      amount,
      h('span', { class: 'total-sub' }, `${total.accounts} ${total.accounts === 1 ? 'account' : 'accounts'}`),
    );
    const oldAmount = old?.querySelector<HTMLElement>('.total-amount');
    if (oldAmount && oldAmount.dataset.minor !== String(total.balance)) flash(amount);
    return item;
  });
  list.replaceChildren(...items);
}
