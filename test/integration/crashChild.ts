// The process the crash test kills. Opens the store in argv[2] (opening its accounts if missing), then
// runs 32 concurrent loops of deposits, withdrawals and transfers, each with a fresh transaction id,
// and reports on stdout, one line each:
//   READY <head>              the store is open and its accounts exist; <head> = the sequence it opened at
//   ACK <txId> <sequence>     execute() resolved ok: the command is durable at <sequence>
//   REJ <txId> <code>         a domain rejection (nothing appended); not an acknowledgement
// It runs until killed. With `--batches N` it instead stops once N batches have committed, closes the
// store and prints `DONE batches=<b> events=<e>` (used to count fsyncs per batch under strace; the
// stop is checked between commands, so a few batches more than N may commit).
//
// stdout on Linux is a pipe written synchronously, so a line printed is in the parent's pipe before the
// next statement runs: an ACK the parent reads was printed after the command's batch was durable.
import { randomBytes } from 'node:crypto';
import type { Command } from '../../src/domain/commands.ts';
import { money } from '../../src/domain/types.ts';
import { LedgerStore } from '../../src/store/ledgerStore.ts';

const CHILD_ACCOUNTS = Array.from({ length: 16 }, (_, i) => `crash-${String(i).padStart(2, '0')}`);
const CHILD_LOOPS = 32;
const INITIAL_BALANCE = 1_000_000_000;

const dir = process.argv[2];
const batchesFlag = process.argv.indexOf('--batches');
const stopAfterBatches = batchesFlag > 0 ? Number(process.argv[batchesFlag + 1]) : Infinity;
// `--durability none` exists only to contrast the fsync count under strace; the crash test uses the default.
const durabilityFlag = process.argv.indexOf('--durability');
const durability = durabilityFlag > 0 ? process.argv[durabilityFlag + 1] : 'fsync';
if (!dir || Number.isNaN(stopAfterBatches) || (durability !== 'fsync' && durability !== 'none')) {
  process.stderr.write('usage: crashChild.ts <dataDir> [--batches N] [--durability fsync|none]\n');
  process.exit(2);
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const runTag = randomBytes(4).toString('hex');

const store = await LedgerStore.open(dir, { durability });
const missing = CHILD_ACCOUNTS.filter((id) => !store.state.account(id));
if (missing.length > 0) {
  const results = await store.execute(missing.map((accountId): Command => ({ type: 'OpenAccount', accountId, currency: 'USD', initialBalance: money(INITIAL_BALANCE) })));
  const failed = results.find((r) => !r.ok);
  if (failed) throw new Error(`could not open the accounts: ${JSON.stringify(failed)}`);
}

let batches = 0;
let events = 0;
let stopping = stopAfterBatches <= 0;
store.onCommit((commit) => {
  batches++;
  events += commit.events.length;
  if (batches >= stopAfterBatches) stopping = true;
});
out(`READY ${store.head}`);

function nextCommand(loop: number, n: number): Command {
  const transactionId = `${runTag}-${loop}-${n}`;
  const roll = Math.random();
  const accountId = pick(CHILD_ACCOUNTS);
  if (roll < 0.35) return { type: 'Deposit', accountId, amount: money(1 + Math.floor(Math.random() * 5_000)), transactionId };
  if (roll < 0.6) {
    // One withdrawal in ten asks for more than any account holds: a domain rejection, never an ack.
    const amount = Math.random() < 0.1 ? 1_000_000_000_000 : 1 + Math.floor(Math.random() * 5_000);
    return { type: 'Withdraw', accountId, amount: money(amount), transactionId };
  }
  if (roll < 0.65) {
    // A stale expectedVersion: rejected with WRONG_EXPECTED_VERSION (every account is past version 0).
    return { type: 'Deposit', accountId, amount: money(1), transactionId, expectedVersion: 0 };
  }
  let toAccountId = pick(CHILD_ACCOUNTS);
  while (toAccountId === accountId) toAccountId = pick(CHILD_ACCOUNTS);
  return { type: 'Transfer', fromAccountId: accountId, toAccountId, amount: money(1 + Math.floor(Math.random() * 5_000)), transactionId };
}

async function loop(id: number): Promise<void> {
  for (let n = 0; !stopping; n++) {
    const command = nextCommand(id, n);
    const txId = (command as { transactionId: string }).transactionId;
    const result = await store.executeOne(command);
    if (result.ok) {
      if (result.replayed) throw new Error(`fresh transaction ${txId} came back as a replay`);
      out(`ACK ${txId} ${result.sequence}`);
    } else {
      out(`REJ ${txId} ${result.error.code}`);
    }
  }
}

await Promise.all(Array.from({ length: CHILD_LOOPS }, (_, i) => loop(i)));
await store.close();
out(`DONE batches=${batches} events=${events}`);
