// The page: loads the ledger at its head, then stays live over graphql-ws (ledger updates for
// balances, totals and the chart; events for the feed). Time travel swaps the live view for a read
// at a past sequence until "Back to live".
import './styles.css';
import { AccountsTable, type AccountRow } from './accountsTable.ts';
import { BalanceChart } from './balanceChart.ts';
import { mountCommandForms } from './commandForms.ts';
import { byId } from './dom.ts';
import { EventFeed } from './eventFeed.ts';
import {
  AccountHistoryDocument,
  FeedEventsDocument,
  HeadDocument,
  LedgerUpdatesDocument,
  RecentEventsDocument,
  SequenceAtTimeDocument,
  SnapshotDocument,
  type AccountHistoryQuery,
  type FeedEventFragment,
  type LedgerUpdatesSubscription,
} from './generated/graphql.ts';
import { httpClient } from './graphqlHttp.ts';
import { liveClient, type ConnectionState } from './liveClient.ts';
import { loadSampleData, startTraffic, type Traffic } from './sampleData.ts';
import { TimeTravel } from './timeTravel.ts';
import { renderTotals, type CurrencyTotal } from './totalsView.ts';

const MAX_ACCOUNT_PAGES = 4; // 4 pages of 500: the page shows at most 2,000 accounts
const RETRY_LOAD_MS = 2_000; // 2 seconds between attempts while the server is unreachable

const graphqlUrl = new URL('/graphql', location.href).toString();
const request = httpClient(graphqlUrl);

interface View {
  sequence: number;
  accounts: AccountRow[];
  totals: CurrencyTotal[];
  accountCount: number;
  more: boolean;
  timestamp?: string;
}

/** The ledger as of `head`, kept current by ledger updates. */
const live = {
  head: 0,
  accounts: new Map<string, Omit<AccountRow, 'currency'>>(),
  currencies: new Map<string, string>(),
  totals: [] as CurrencyTotal[],
  accountCount: 0,
  more: false,
  loaded: false,
};
let past: View | null = null;
let pastRequest = 0;
let selected: string | null = null;
let historyRequest = 0;
let traffic: Traffic | null = null;

const currencyOf = (id: string) => live.currencies.get(id);

const table = new AccountsTable(byId<HTMLTableSectionElement>('accounts-body'), (id) => select(id));
const feed = new EventFeed(byId<HTMLOListElement>('feed'), byId('feed-empty'), currencyOf);
const chart = new BalanceChart(byId('chart'), byId('chart-caption'), byId('chart-note'), byId('chart-placeholder'));
const forms = mountCommandForms(byId('command-tabs'), byId('command-panels'), {
  request,
  currencyOf,
  versionOf: (id) => live.accounts.get(id)?.version,
});
const timeTravel = new TimeTravel(
  {
    slider: byId<HTMLInputElement>('timetravel-slider'),
    sliderMax: byId('slider-max'),
    sequenceForm: byId<HTMLFormElement>('goto-sequence'),
    sequenceInput: byId<HTMLInputElement>('goto-sequence-input'),
    timeForm: byId<HTMLFormElement>('goto-time'),
    timeInput: byId<HTMLInputElement>('goto-time-input'),
    statusText: byId('view-status-text'),
    backToLive: byId<HTMLButtonElement>('back-to-live'),
    error: byId('timetravel-error'),
    note: byId('timetravel-note'),
  },
  {
    view: (sequence) => void viewPast(sequence),
    live: () => goLive(),
    sequenceAt: async (atTime) => (await request(SequenceAtTimeDocument, { atTime })).ledger.sequence,
  },
);

// ---- rendering, at most once a frame however fast updates arrive

let frame = 0;
function render(): void {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    if (feedBacklog.length > 0) {
      feed.add(feedBacklog);
      feedBacklog = [];
    }
    const view = past ?? liveView();
    byId('head-sequence').textContent = String(live.head);
    byId('account-count').textContent = String(live.accountCount);
    timeTravel.setHead(live.head);
    table.render(view.accounts, selected);
    renderTotals(byId<HTMLUListElement>('totals'), view.totals);
    byId('totals-note').textContent = past ? `at sequence ${past.sequence}` : 'per currency, now';
    byId('accounts-note').textContent = view.more
      ? `Showing the first ${view.accounts.length} of ${view.accountCount} accounts.`
      : past
        ? `${view.accounts.length} ${view.accounts.length === 1 ? 'account' : 'accounts'} at sequence ${past.sequence}.`
        : 'Select an account to chart it and fill the forms.';
    byId('empty-state').hidden = !(live.loaded && live.head === 0 && !past);
    byId('accounts-table').hidden = view.accounts.length === 0;
    forms.setAccountIds([...live.accounts.keys()].sort());
    forms.refreshHints();
    if (selected === null && live.accounts.size > 0) select([...live.accounts.keys()].sort()[0]!);
  });
}

function liveView(): View {
  const accounts = [...live.accounts.values()].map((a) => ({ ...a, currency: live.currencies.get(a.id) ?? '…' }));
  return { sequence: live.head, accounts, totals: live.totals, accountCount: live.accountCount, more: live.more };
}

// ---- reads

async function readAt(sequence: number): Promise<View> {
  const eventAfter = Math.max(0, sequence - 1);
  let result = await request(SnapshotDocument, { atSequence: sequence, eventAfter });
  const view: View = {
    sequence,
    accounts: [...result.accounts.nodes],
    totals: result.ledger.totals,
    accountCount: result.ledger.accountCount,
    more: false,
    timestamp: sequence > 0 ? result.point.nodes[0]?.timestamp : undefined,
  };
  for (let page = 1; result.accounts.pageInfo.hasNextPage; page++) {
    if (page === MAX_ACCOUNT_PAGES) {
      view.more = true;
      break;
    }
    result = await request(SnapshotDocument, { atSequence: sequence, eventAfter, after: result.accounts.pageInfo.endCursor });
    view.accounts.push(...result.accounts.nodes);
  }
  return view;
}

async function loadLive(): Promise<void> {
  const { ledger } = await request(HeadDocument, {});
  const view = await readAt(ledger.head);
  live.head = view.sequence;
  live.totals = view.totals;
  live.accountCount = view.accountCount;
  live.more = view.more;
  for (const a of view.accounts) {
    live.accounts.set(a.id, { id: a.id, balance: a.balance, status: a.status, version: a.version });
    live.currencies.set(a.id, a.currency);
  }
  const recent = await request(RecentEventsDocument, { afterSequence: Math.max(0, live.head - 30) });
  noteCurrencies(recent.events.nodes);
  feed.add(recent.events.nodes);
  live.loaded = true;
  render();
}

// ---- live updates

function applyLedgerUpdate({ ledgerUpdates: u }: LedgerUpdatesSubscription): void {
  if (u.toSequence <= live.head) return; // already applied (a resubscribe's seam)
  for (const change of u.accounts) {
    live.accounts.set(change.accountId, { id: change.accountId, balance: change.balance, status: change.status, version: change.version });
    if (change.accountId === chart.account) chart.addLive(u.toSequence, change.balance);
  }
  live.head = u.toSequence;
  live.totals = u.totals;
  live.accountCount = u.accountCount;
  chart.setHead(live.head);
  render();
}

function noteCurrencies(events: readonly { __typename: string; accountId?: string; currency?: string }[]): void {
  for (const e of events) if (e.__typename === 'AccountOpened' && e.accountId && e.currency) live.currencies.set(e.accountId, e.currency);
}

function setConnection(state: ConnectionState | 'offline', detail = ''): void {
  const pill = byId('connection');
  pill.className = `pill pill-${state}`;
  pill.textContent = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', offline: 'Server unreachable', error: 'Live (with errors)' }[state];
  pill.title = detail;
}

const ws = liveClient(graphqlUrl.replace(/^http/, 'ws'), setConnection);

/** Events wait here until the next frame, so a burst costs one DOM update, not one per event. */
let feedBacklog: FeedEventFragment[] = [];

function subscribeLive(): void {
  ws.subscribe(LedgerUpdatesDocument, () => ({ afterSequence: live.head }), applyLedgerUpdate);
  ws.subscribe(
    FeedEventsDocument,
    () => ({ afterSequence: Math.max(feed.lastSequence, feedBacklog[feedBacklog.length - 1]?.sequence ?? 0) }),
    ({ events }) => {
      noteCurrencies([events]);
      feedBacklog.push(events);
      render();
    },
  );
}

// ---- selection and the chart

function select(accountId: string): void {
  if (selected === accountId) return;
  selected = accountId;
  forms.prefill(accountId);
  chart.show(accountId, live.currencies.get(accountId) ?? past?.accounts.find((a) => a.id === accountId)?.currency ?? 'EUR');
  chart.setHead(live.head);
  void loadHistory(accountId, ++historyRequest);
  render();
}

/** Reads the account's events page by page, each with its balance right after it. */
async function loadHistory(accountId: string, ticket: number): Promise<void> {
  let after = 0;
  for (;;) {
    let page: AccountHistoryQuery['events'];
    try {
      page = (await request(AccountHistoryDocument, { accountId, afterSequence: after })).events;
    } catch {
      if (ticket !== historyRequest) return;
      await new Promise((resolve) => setTimeout(resolve, RETRY_LOAD_MS));
      continue;
    }
    if (ticket !== historyRequest) return; // another account was selected meanwhile
    chart.addHistory(page.nodes.map((e) => [e.sequence, balanceAfter(e, accountId)] as const));
    after = page.nodes[page.nodes.length - 1]?.sequence ?? after;
    if (!page.pageInfo.hasNextPage) break;
  }
  chart.historyDone();
}

// Account fields on events are null only for an account outside the token's scope; the history asked
// for is this account's own, which a viewer who may read it always sees.
function balanceAfter(event: AccountHistoryQuery['events']['nodes'][number], accountId: string): number {
  if ('account' in event) return event.account!.balance;
  if ('from' in event) return (event.fromAccountId === accountId ? event.from : event.to)!.balance;
  return 0;
}

// ---- time travel

async function viewPast(sequence: number): Promise<void> {
  const ticket = ++pastRequest;
  try {
    const view = await readAt(sequence);
    if (ticket !== pastRequest) return; // a later move superseded this one
    past = view;
    document.body.classList.add('viewing-past');
    timeTravel.setViewing(sequence, view.timestamp);
    feed.setViewing(sequence);
    chart.setMarker(sequence);
    render();
  } catch (err) {
    if (ticket === pastRequest) timeTravel.showError(`Could not read sequence ${sequence}: ${(err as Error).message}`);
  }
}

function goLive(): void {
  pastRequest++;
  past = null;
  document.body.classList.remove('viewing-past');
  timeTravel.setViewing(null);
  feed.setViewing(null);
  chart.setMarker(null);
  render();
}

// ---- sample data and traffic

const trafficToggle = byId<HTMLButtonElement>('traffic-toggle');

async function runTraffic(on: boolean): Promise<void> {
  traffic?.stop();
  traffic = null;
  if (on) {
    await loadSampleData(request);
    traffic = startTraffic(request, { perSecond: 4 });
  }
  trafficToggle.setAttribute('aria-pressed', String(on));
  trafficToggle.textContent = on ? 'Stop traffic' : 'Start traffic';
}

trafficToggle.addEventListener('click', () => {
  trafficToggle.disabled = true;
  runTraffic(!traffic).finally(() => (trafficToggle.disabled = false));
});

byId('load-sample').addEventListener('click', async () => {
  const button = byId<HTMLButtonElement>('load-sample');
  const status = byId('load-sample-status');
  button.disabled = true;
  status.textContent = 'Opening sample accounts…';
  try {
    await runTraffic(true);
    status.textContent = 'Sample accounts opened; traffic is running. Stop it from the header.';
  } catch (err) {
    status.textContent = `Could not load the sample data: ${(err as Error).message}`;
    button.disabled = false;
  }
});

// ---- start

timeTravel.setViewing(null);
(async function start() {
  for (;;) {
    try {
      await loadLive();
      subscribeLive();
      return;
    } catch (err) {
      setConnection('offline', (err as Error).message);
      await new Promise((resolve) => setTimeout(resolve, RETRY_LOAD_MS));
    }
  }
})();
