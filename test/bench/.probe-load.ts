// scratch: argv url kind(deposit|bulk) seconds connections
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import { accountId, openCommands, workCommands } from './workload.ts';
const [url, kind, secs, conns] = process.argv.slice(2);
const SUBMIT = `mutation Submit($input: SubmitCommandsInput!) { submitCommands(input: $input) { head results { __typename ... on DomainError { code } } } }`;
const DEPOSIT = `mutation Deposit($input: DepositInput!) { deposit(input: $input) { __typename ... on DepositSuccess { sequence replayed account { id balance version } } ... on DomainError { code message } } }`;
const post = async (body: string) => (await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).text();
if (process.env.OPEN === "1") { const o = openCommands(1000).map((c: any) => ({ openAccount: { accountId: c.accountId, currency: c.currency, initialBalance: c.initialBalance } }));
  await post(JSON.stringify({ query: SUBMIT, variables: { input: { commands: o.slice(0, 500) } } })); await post(JSON.stringify({ query: SUBMIT, variables: { input: { commands: o.slice(500) } } })); }
const conv = (c: any) => c.type === 'Deposit' ? { deposit: { accountId: c.accountId, amount: c.amount, transactionId: c.transactionId } } : { transfer: { fromAccountId: c.fromAccountId, toAccountId: c.toAccountId, amount: c.amount, transactionId: c.transactionId } };
let n = 0, seed = 5000;
const body = kind === 'deposit' ? () => JSON.stringify({ query: DEPOSIT, variables: { input: { accountId: accountId(n++ % 1000), amount: 5, transactionId: randomUUID() } } })
  : kind === 'noop' ? () => JSON.stringify({ query: 'mutation Noop($input: JSON) { noop(input: $input) }', variables: { input: { accountId: accountId(n++ % 1000), amount: 5, transactionId: randomUUID() } } })
  : () => JSON.stringify({ query: SUBMIT, variables: { input: { commands: workCommands(500, 1000, seed++).map(conv) } } });
if (process.env.PID) process.kill(Number(process.env.PID), 'SIGUSR2');
const r = await autocannon({ url, connections: Number(conns), duration: Number(secs), requests: [{ method: 'POST', path: '/graphql', headers: { 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: body() }) }] });
console.log(`${kind}: ${r.requests.mean.toFixed(0)} req/s, p50 ${r.latency.p50} ms p99 ${r.latency.p99} ms, non2xx ${r.non2xx} errors ${r.errors} total ${r.requests.total}`);
