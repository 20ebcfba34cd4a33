// Forms for the five commands, as tabs. Each sends its mutation and shows the outcome beside the
// form: what happened on success, or the domain error in words (with its code) on refusal. A success
// fades after a few seconds (the balances and the feed keep the record); a refusal stays until the next
// try, since it asks the reader to do something.
import { h } from './dom.ts';
import {
  CloseAccountDocument,
  DepositDocument,
  OpenAccountDocument,
  TransferDocument,
  WithdrawDocument,
  type RefusalFragment,
} from './generated/graphql.ts';
import { RequestError, type Request } from './graphqlHttp.ts';
import { formatMoney, parseAmount } from './money.ts';
import { describeRefusal } from './refusals.ts';

export interface CommandContext {
  request: Request;
  currencyOf(accountId: string): string | undefined;
  versionOf(accountId: string): number | undefined;
}

type FieldKind = 'account' | 'amount' | 'currency' | 'version' | 'transaction' | 'text';

interface FieldSpec {
  name: string;
  label: string;
  kind: FieldKind;
  optional?: boolean;
  /** For an amount or a version: the account field it belongs to. */
  of?: string;
  placeholder?: string;
}

interface CommandSpec {
  id: 'open' | 'deposit' | 'withdraw' | 'transfer' | 'close';
  tab: string;
  submit: string;
  fields: FieldSpec[];
  run(values: Values, ctx: CommandContext): Promise<Outcome>;
}

type Outcome = { ok: string } | { refusal: RefusalFragment } | { problem: string; field?: string };
type Values = Record<string, string>;

const COMMON_CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF', 'JPY', 'SEK', 'NOK', 'DKK', 'PLN', 'CAD', 'AUD'];

const amountOf = (values: Values, field: string, currency: string, allowZero = false): number | Outcome => {
  const parsed = parseAmount(values[field] ?? '', currency, { allowZero });
  return parsed.ok ? parsed.minor : { problem: parsed.problem, field };
};

const parseVersion = (text: string | undefined): number | null | Outcome => {
  if (!text) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) && n >= 0 ? n : { problem: 'A version is a whole number, 0 or more', field: 'expectedVersion' };
};

const replayedNote = (replayed: boolean) => (replayed ? ' (already done earlier with this transaction id: nothing new was written)' : '');

/** Deposit and withdraw: the same form, and the same input. */
const MOVEMENT_FIELDS: FieldSpec[] = [
  { name: 'accountId', label: 'Account', kind: 'account' },
  { name: 'amount', label: 'Amount', kind: 'amount', of: 'accountId', placeholder: '0.00' },
  { name: 'expectedVersion', label: 'Expected version', kind: 'version', of: 'accountId', optional: true },
  { name: 'transactionId', label: 'Transaction id', kind: 'transaction' },
];

function movementInput(v: Values, ctx: CommandContext): { accountId: string; amount: number; expectedVersion: number | null; transactionId: string } | Outcome {
  const amount = amountOf(v, 'amount', ctx.currencyOf(v.accountId!) ?? 'EUR');
  if (typeof amount !== 'number') return amount;
  const expectedVersion = parseVersion(v.expectedVersion);
  if (expectedVersion !== null && typeof expectedVersion !== 'number') return expectedVersion;
  return { accountId: v.accountId!, amount, expectedVersion, transactionId: v.transactionId! };
}

const COMMANDS: CommandSpec[] = [
  {
    id: 'open',
    tab: 'Open',
    submit: 'Open account',
    fields: [
      { name: 'accountId', label: 'Account id', kind: 'text', placeholder: 'e.g. alice' },
      { name: 'currency', label: 'Currency', kind: 'currency' },
      { name: 'initialBalance', label: 'Initial balance', kind: 'amount', optional: true, placeholder: '0.00' },
    ],
    async run(v, ctx) {
      const currency = v.currency!.toUpperCase();
      const initialBalance = v.initialBalance ? amountOf(v, 'initialBalance', currency, true) : 0;
      if (typeof initialBalance !== 'number') return initialBalance;
      const { openAccount: r } = await ctx.request(OpenAccountDocument, { input: { accountId: v.accountId!, currency, initialBalance } });
      if (r.__typename !== 'OpenAccountSuccess') return { refusal: r };
      return { ok: `Opened ${r.account.id} in ${r.account.currency} with ${formatMoney(r.account.balance, r.account.currency)}, at sequence ${r.sequence}.` };
    },
  },
  {
    id: 'deposit',
    tab: 'Deposit',
    submit: 'Deposit',
    fields: MOVEMENT_FIELDS,
    async run(v, ctx) {
      const input = movementInput(v, ctx);
      if (!('amount' in input)) return input;
      const amount = input.amount;
      const { deposit: r } = await ctx.request(DepositDocument, { input });
      if (r.__typename !== 'DepositSuccess') return { refusal: r };
      const a = r.account;
      return { ok: `Deposited ${formatMoney(amount, a.currency)} into ${a.id}: balance ${formatMoney(a.balance, a.currency)}, sequence ${r.sequence}${replayedNote(r.replayed)}.` };
    },
  },
  {
    id: 'withdraw',
    tab: 'Withdraw',
    submit: 'Withdraw',
    fields: MOVEMENT_FIELDS,
    async run(v, ctx) {
      const input = movementInput(v, ctx);
      if (!('amount' in input)) return input;
      const amount = input.amount;
      const { withdraw: r } = await ctx.request(WithdrawDocument, { input });
      if (r.__typename !== 'WithdrawSuccess') return { refusal: r };
      const a = r.account;
      return { ok: `Withdrew ${formatMoney(amount, a.currency)} from ${a.id}: balance ${formatMoney(a.balance, a.currency)}, sequence ${r.sequence}${replayedNote(r.replayed)}.` };
    },
  },
  {
    id: 'transfer',
    tab: 'Transfer',
    submit: 'Transfer',
    fields: [
      { name: 'fromAccountId', label: 'From account', kind: 'account' },
      { name: 'toAccountId', label: 'To account', kind: 'account' },
      { name: 'amount', label: 'Amount', kind: 'amount', of: 'fromAccountId', placeholder: '0.00' },
      { name: 'transactionId', label: 'Transaction id', kind: 'transaction' },
    ],
    async run(v, ctx) {
      const currency = ctx.currencyOf(v.fromAccountId!) ?? 'EUR';
      const amount = amountOf(v, 'amount', currency);
      if (typeof amount !== 'number') return amount;
      const { transfer: r } = await ctx.request(TransferDocument, {
        input: { fromAccountId: v.fromAccountId!, toAccountId: v.toAccountId!, amount, transactionId: v.transactionId! },
      });
      if (r.__typename !== 'TransferSuccess') return { refusal: r };
      const money = (m: number) => formatMoney(m, r.from.currency);
      return {
        ok: `Moved ${money(amount)} from ${r.from.id} (now ${money(r.from.balance)}) to ${r.to.id} (now ${money(r.to.balance)}), sequence ${r.sequence}${replayedNote(r.replayed)}.`,
      };
    },
  },
  {
    id: 'close',
    tab: 'Close',
    submit: 'Close account',
    fields: [
      { name: 'accountId', label: 'Account', kind: 'account' },
      { name: 'reason', label: 'Reason', kind: 'text', optional: true, placeholder: 'e.g. customer request' },
      { name: 'expectedVersion', label: 'Expected version', kind: 'version', of: 'accountId', optional: true },
    ],
    async run(v, ctx) {
      const expectedVersion = parseVersion(v.expectedVersion);
      if (expectedVersion !== null && typeof expectedVersion !== 'number') return expectedVersion;
      const { closeAccount: r } = await ctx.request(CloseAccountDocument, { input: { accountId: v.accountId!, reason: v.reason ?? '', expectedVersion } });
      if (r.__typename !== 'CloseAccountSuccess') return { refusal: r };
      return { ok: `Closed ${r.account.id} at sequence ${r.sequence}.` };
    },
  },
];

const SUCCESS_SHOWN_MS = 5_000; // 5 seconds before a success message starts to fade
const SUCCESS_FADE_MS = 600; // matches the opacity transition of .form-ok.fading in styles.css

const newTransactionId = () => `web-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;

export interface CommandForms {
  /** Puts an account into the forms' account fields (the table's selection). */
  prefill(accountId: string): void;
  /** Refreshes the hints that depend on live state (an account's currency and version). */
  refreshHints(): void;
  /** Keeps the account suggestions in step with the accounts the page knows. */
  setAccountIds(ids: readonly string[]): void;
}

export function mountCommandForms(tabList: HTMLElement, panels: HTMLElement, ctx: CommandContext): CommandForms {
  const datalist = h('datalist', { id: 'known-accounts' });
  const currencies = h('datalist', { id: 'known-currencies' }, ...COMMON_CURRENCIES.map((c) => h('option', { value: c })));
  panels.append(datalist, currencies);
  const tabs: HTMLButtonElement[] = [];
  const hintUpdaters: (() => void)[] = [];
  const accountInputs: { command: CommandSpec['id']; name: string; input: HTMLInputElement }[] = [];

  for (const [index, spec] of COMMANDS.entries()) {
    const tab = h('button', {
      type: 'button',
      role: 'tab',
      id: `tab-${spec.id}`,
      class: 'tab',
      'aria-controls': `panel-${spec.id}`,
      'aria-selected': String(index === 0),
      tabindex: index === 0 ? '0' : '-1',
    }, spec.tab);
    tabs.push(tab);
    tabList.append(tab);

    const inputs = new Map<string, HTMLInputElement>();
    const fieldErrors = new Map<string, HTMLElement>();
    const form = h('form', { class: 'command-form', novalidate: true, 'aria-labelledby': `tab-${spec.id}` });
    const grid = h('div', { class: 'fields' });
    for (const field of spec.fields) {
      const id = `${spec.id}-${field.name}`;
      const input = h('input', {
        id,
        name: field.name,
        type: field.kind === 'version' ? 'number' : 'text',
        autocomplete: 'off',
        spellcheck: 'false',
        required: !field.optional,
        placeholder: field.placeholder,
        inputmode: field.kind === 'amount' ? 'decimal' : field.kind === 'version' ? 'numeric' : undefined,
        min: field.kind === 'version' ? '0' : undefined,
        list: field.kind === 'account' ? 'known-accounts' : field.kind === 'currency' ? 'known-currencies' : undefined,
        'aria-describedby': `${id}-hint ${id}-error`,
      });
      if (field.kind === 'currency') input.value = 'EUR';
      if (field.kind === 'transaction') input.value = newTransactionId();
      if (field.kind === 'account') accountInputs.push({ command: spec.id, name: field.name, input });
      inputs.set(field.name, input);
      const hint = h('span', { class: 'field-hint', id: `${id}-hint` });
      const error = h('span', { class: 'field-error', id: `${id}-error` });
      fieldErrors.set(field.name, error);
      const label = h('label', { for: id }, field.label, field.optional ? h('span', { class: 'optional' }, ' (optional)') : null);
      grid.append(h('div', { class: `field field-${field.kind}` }, label, input, hint, error));

      const updateHint = () => {
        const ref = field.of ? inputs.get(field.of)?.value.trim() : undefined;
        if (field.kind === 'amount' && spec.id !== 'open') {
          const currency = ref ? ctx.currencyOf(ref) : undefined;
          hint.textContent = currency ? `in ${currency}` : '';
        } else if (field.kind === 'amount') {
          hint.textContent = `in ${inputs.get('currency')?.value.trim().toUpperCase() || 'the currency'}`;
        } else if (field.kind === 'version') {
          const version = ref ? ctx.versionOf(ref) : undefined;
          hint.textContent = version === undefined ? 'fails if the account has moved on' : `now ${version}`;
        } else if (field.kind === 'transaction') {
          hint.textContent = 'a retry with the same id is applied once';
        }
      };
      hintUpdaters.push(updateHint);
      updateHint();
    }
    for (const input of inputs.values()) input.addEventListener('input', () => hintUpdaters.forEach((u) => u()));

    const submit = h('button', { type: 'submit', class: 'button button-primary' }, spec.submit);
    const status = h('p', { class: 'form-ok', role: 'status' });
    const alert = h('div', { class: 'form-refusal', role: 'alert' });
    form.append(grid, h('div', { class: 'form-actions' }, submit), h('div', { class: 'form-feedback' }, status, alert));

    // Timers, not transitionend: with reduced motion there is no transition to end.
    let fadeTimers: ReturnType<typeof setTimeout>[] = [];
    const clearSuccess = () => {
      fadeTimers.forEach(clearTimeout);
      fadeTimers = [];
      status.classList.remove('fading');
      status.textContent = '';
    };
    const showSuccess = (message: string) => {
      clearSuccess();
      status.textContent = message;
      fadeTimers = [
        setTimeout(() => status.classList.add('fading'), SUCCESS_SHOWN_MS),
        setTimeout(clearSuccess, SUCCESS_SHOWN_MS + SUCCESS_FADE_MS),
      ];
    };
    const clear = () => {
      clearSuccess();
      alert.replaceChildren();
      form.classList.remove('has-refusal');
      for (const [name, error] of fieldErrors) {
        error.textContent = '';
        inputs.get(name)!.removeAttribute('aria-invalid');
      }
    };
    const fieldProblem = (name: string, problem: string) => {
      fieldErrors.get(name)!.textContent = problem;
      inputs.get(name)!.setAttribute('aria-invalid', 'true');
      inputs.get(name)!.focus();
    };

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clear();
      const values: Values = {};
      for (const field of spec.fields) {
        const value = inputs.get(field.name)!.value.trim();
        if (!value && !field.optional) return fieldProblem(field.name, `${field.label} is required`);
        values[field.name] = value;
      }
      submit.disabled = true;
      form.setAttribute('aria-busy', 'true');
      try {
        const outcome = await spec.run(values, ctx);
        if ('ok' in outcome) {
          showSuccess(outcome.ok);
          const tx = inputs.get('transactionId');
          if (tx) tx.value = newTransactionId();
          const amount = inputs.get('amount');
          if (amount) amount.value = '';
        } else if ('refusal' in outcome) {
          const readable = describeRefusal(outcome.refusal, ctx.currencyOf);
          form.classList.add('has-refusal');
          alert.replaceChildren(
            h('p', { class: 'refusal-title' }, h('strong', {}, readable.title), h('code', { class: 'refusal-code' }, readable.code)),
            h('p', { class: 'refusal-detail' }, readable.detail),
          );
        } else if (outcome.field) {
          fieldProblem(outcome.field, outcome.problem);
        } else {
          alert.replaceChildren(h('p', { class: 'refusal-detail' }, outcome.problem));
        }
      } catch (err) {
        const message = err instanceof RequestError && err.code === 'BAD_USER_INPUT' ? `The server refused the input: ${err.message}` : (err as Error).message;
        form.classList.add('has-refusal');
        alert.replaceChildren(h('p', { class: 'refusal-title' }, h('strong', {}, 'Not sent'), err instanceof RequestError ? h('code', { class: 'refusal-code' }, err.code) : null), h('p', { class: 'refusal-detail' }, message));
      } finally {
        submit.disabled = false;
        form.removeAttribute('aria-busy');
        hintUpdaters.forEach((u) => u());
      }
    });

    const panel = h('div', { role: 'tabpanel', id: `panel-${spec.id}`, class: 'tab-panel', 'aria-labelledby': `tab-${spec.id}`, hidden: index !== 0 }, form);
    panels.append(panel);
  }

  const select = (index: number, focus: boolean) => {
    tabs.forEach((tab, i) => {
      const selected = i === index;
      tab.setAttribute('aria-selected', String(selected));
      tab.tabIndex = selected ? 0 : -1;
      document.getElementById(tab.getAttribute('aria-controls')!)!.hidden = !selected;
    });
    if (focus) tabs[index]!.focus();
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => select(i, false));
    tab.addEventListener('keydown', (event) => {
      const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
      if (next === undefined) return;
      event.preventDefault();
      select((next + tabs.length) % tabs.length, true);
    });
  });

  return {
    prefill(accountId) {
      for (const { name, input } of accountInputs) if (name !== 'toAccountId') input.value = accountId;
      hintUpdaters.forEach((u) => u());
    },
    refreshHints: () => hintUpdaters.forEach((u) => u()),
    setAccountIds(ids) {
      if (datalist.children.length === ids.length) return;
      datalist.replaceChildren(...ids.map((id) => h('option', { value: id })));
    },
  };
}
