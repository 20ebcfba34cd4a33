// Sample accounts and a steady traffic generator, so an empty ledger has something to show. Runs in
// the page ("Load sample data") and in Node (`npm run demo`), through the public GraphQL API only.
import {
  DepositDocument,
  HeadDocument,
  SnapshotDocument,
  SubmitCommandsDocument,
  TransferDocument,
  WithdrawDocument,
  type AcctFragment,
} from './generated/graphql.ts';
import type { Request } from './graphqlHttp.ts';

export const SAMPLE_ACCOUNTS = [
  { accountId: 'alice', currency: 'EUR', initialBalance: 250_000 },
  { accountId: 'bob', currency: 'EUR', initialBalance: 120_000 },
  { accountId: 'carol', currency: 'EUR', initialBalance: 80_000 },
  { accountId: 'dave', currency: 'EUR', initialBalance: 45_000 },
  { accountId: 'erin', currency: 'USD', initialBalance: 300_000 },
  { accountId: 'frank', currency: 'USD', initialBalance: 150_000 },
  { accountId: 'grace', currency: 'GBP', initialBalance: 200_000 },
  { accountId: 'heidi', currency: 'GBP', initialBalance: 90_000 },
] as const;

const SAMPLE_IDS = new Set<string>(SAMPLE_ACCOUNTS.map((a) => a.accountId));

/** Opens the sample accounts (those that already exist are left as they are). Returns how many it opened. */
export async function loadSampleData(request: Request): Promise<number> {
  const { submitCommands } = await request(SubmitCommandsDocument, {
    input: { commands: SAMPLE_ACCOUNTS.map((openAccount) => ({ openAccount })), atomic: false },
  });
  return submitCommands.results.filter((r) => r.__typename === 'OpenAccountSuccess').length;
}

export interface TrafficOptions {
  /** Commands per second, one at a time. @default 4 */
  perSecond?: number;
  /** Called after each command with what it did, for a log line. */
  onCommand?: (summary: string) => void;
  /** Called when a request fails outright (network, server gone); traffic keeps trying. */
  onFailure?: (error: Error) => void;
}

export interface Traffic {
  stop(): void;
  readonly running: boolean;
}

/**
 * Moves money between the open sample accounts at a steady rate: mostly transfers within a currency,
 * some deposits (salaries) and withdrawals (card payments). Balances come from each command's result,
 * so it rarely asks for more than an account holds; when it does, the ledger refuses and it goes on.
 */
export function startTraffic(request: Request, options: TrafficOptions = {}): Traffic {
  const interval = 1000 / (options.perSecond ?? 4);
  const run = Math.random().toString(36).slice(2, 8);
  let count = 0;
  let running = true;
  let accounts = new Map<string, AcctFragment>();

  const note = (account: AcctFragment | null | undefined) => {
    if (account) accounts.set(account.id, account);
  };
  const refresh = async () => {
    const { ledger } = await request(HeadDocument, {});
    const { accounts: page } = await request(SnapshotDocument, { atSequence: ledger.head, eventAfter: Math.max(0, ledger.head - 1) });
    accounts = new Map(page.nodes.filter((a) => SAMPLE_IDS.has(a.id) && a.status === 'OPEN').map((a) => [a.id, a]));
  };

  const step = async () => {
    const open = [...accounts.values()].filter((a) => a.status === 'OPEN');
    if (open.length === 0) return refresh();
    const transactionId = `demo-${run}-${++count}`;
    const roll = Math.random();
    const account = pick(open);
    if (roll < 0.15) {
      const amount = randomInt(50_00, 2_500_00);
      const { deposit } = await request(DepositDocument, { input: { accountId: account.id, amount, transactionId } });
      if (deposit.__typename === 'DepositSuccess') note(deposit.account);
      options.onCommand?.(`deposit ${amount} → ${account.id}: ${deposit.__typename}`);
      return;
    }
    if (roll < 0.3 || open.length < 2) {
      const amount = randomInt(5_00, 250_00);
      const { withdraw } = await request(WithdrawDocument, { input: { accountId: account.id, amount, transactionId } });
      if (withdraw.__typename === 'WithdrawSuccess') note(withdraw.account);
      options.onCommand?.(`withdraw ${amount} ← ${account.id}: ${withdraw.__typename}`);
      return;
    }
    const peers = open.filter((a) => a.currency === account.currency && a.id !== account.id);
    if (peers.length === 0) return;
    const to = pick(peers);
    const amount = Math.max(1_00, Math.floor(account.balance * (0.01 + Math.random() * 0.09)));
    const { transfer } = await request(TransferDocument, { input: { fromAccountId: account.id, toAccountId: to.id, amount, transactionId } });
    if (transfer.__typename === 'TransferSuccess') {
      note(transfer.from);
      note(transfer.to);
    } else if (transfer.__typename === 'AccountClosedError' || transfer.__typename === 'AccountNotFoundError') {
      await refresh();
    }
    options.onCommand?.(`transfer ${amount} ${account.id} → ${to.id}: ${transfer.__typename}`);
  };

  void (async () => {
    while (running) {
      const started = Date.now();
      try {
        await step();
      } catch (err) {
        options.onFailure?.(err as Error);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, interval - (Date.now() - started))));
    }
  })();

  return {
    stop() {
      running = false;
    },
    get running() {
      return running;
    },
  };
}

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)]!;
}

function randomInt(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}
