// The accounts table: one keyed row per account, updated in place so a changed balance flashes
// instead of the whole table redrawing. A click anywhere on a row selects its account; the id in the
// first cell is a button, so the keyboard (Tab, Enter or Space) selects it too, and its click bubbles
// up to the row like any other.
import { flash, h } from './dom.ts';
import { formatMoney } from './money.ts';

export interface AccountRow {
  id: string;
  currency: string;
  balance: number;
  status: 'OPEN' | 'CLOSED';
  version: number;
}

interface RowElements {
  row: HTMLTableRowElement;
  button: HTMLButtonElement;
  currency: HTMLTableCellElement;
  balance: HTMLTableCellElement;
  status: HTMLSpanElement;
  version: HTMLTableCellElement;
  shown: AccountRow;
}

export class AccountsTable {
  private readonly rows = new Map<string, RowElements>();

  constructor(
    private readonly body: HTMLTableSectionElement,
    private readonly onSelect: (accountId: string) => void,
  ) {}

  /** Shows exactly `accounts`, in id order, marking `selected`. */
  render(accounts: Iterable<AccountRow>, selected: string | null): void {
    const wanted = [...accounts].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const keep = new Set(wanted.map((a) => a.id));
    for (const [id, elements] of this.rows) {
      if (!keep.has(id)) {
        elements.row.remove();
        this.rows.delete(id);
      }
    }
    let previous: HTMLTableRowElement | null = null;
    for (const account of wanted) {
      let elements = this.rows.get(account.id);
      if (!elements) {
        elements = this.create(account);
        this.rows.set(account.id, elements);
      } else {
        this.update(elements, account);
      }
      const isSelected = account.id === selected;
      elements.row.classList.toggle('selected', isSelected);
      elements.button.setAttribute('aria-pressed', String(isSelected));
      // Keep DOM order equal to id order without moving rows that are already in place.
      const expectedNext: ChildNode | null = previous ? previous.nextSibling : this.body.firstChild;
      if (expectedNext !== elements.row) this.body.insertBefore(elements.row, expectedNext);
      previous = elements.row;
    }
  }

  private create(account: AccountRow): RowElements {
    const button = h('button', { type: 'button', class: 'account-link', 'aria-pressed': 'false' }, account.id);
    const currency = h('td', {}, account.currency);
    const balance = h('td', { class: 'num balance' });
    const status = h('span', { class: 'badge' });
    const version = h('td', { class: 'num version' });
    const row = h('tr', { 'data-account-id': account.id, class: 'selectable' }, h('th', { scope: 'row' }, button), currency, balance, h('td', {}, status), version);
    row.addEventListener('click', () => {
      // Dragging across a row to copy a balance is not a request to select it.
      const selection = getSelection();
      if (selection && !selection.isCollapsed && row.contains(selection.anchorNode)) return;
      this.onSelect(account.id);
    });
    const elements: RowElements = { row, button, currency, balance, status, version, shown: account };
    this.fill(elements, account);
    return elements;
  }

  private update(elements: RowElements, account: AccountRow): void {
    const shown = elements.shown;
    if (shown.balance === account.balance && shown.status === account.status && shown.version === account.version && shown.currency === account.currency) return;
    const moved = shown.balance !== account.balance;
    this.fill(elements, account);
    if (moved) flash(elements.balance, account.balance > shown.balance ? 'flash-up' : 'flash-down');
  }

  private fill(elements: RowElements, account: AccountRow): void {
    elements.shown = account;
    elements.currency.textContent = account.currency;
    elements.balance.textContent = formatMoney(account.balance, account.currency);
    elements.balance.dataset.minor = String(account.balance);
    elements.status.textContent = account.status === 'OPEN' ? 'Open' : 'Closed';
    elements.status.className = `badge ${account.status === 'OPEN' ? 'badge-open' : 'badge-closed'}`;
    elements.version.textContent = String(account.version);
    elements.row.classList.toggle('closed', account.status === 'CLOSED');
  }
}
