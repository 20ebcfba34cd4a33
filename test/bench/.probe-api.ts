// scratch: sequential timings, in-process app
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../src/server/app.ts';
import { DEFAULT_CONFIG } from '../../src/server/config.ts';
import { openCommands, workCommands } from './workload.ts';
const dir = await mkdtemp(join(tmpdir(), 'probe-'));
const app = await buildApp({ ...DEFAULT_CONFIG, port: 0, dataDir: dir, durability: (process.env.DUR as any) ?? 'fsync' }).start();
const SUBMIT = `mutation Submit($input: SubmitCommandsInput!) { submitCommands(input: $input) { head results { __typename ... on DomainError { code } } } }`;
const post = async (body: string) => { const r = await fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }); return r.text(); };
const opens = openCommands(1000).map((c: any) => ({ openAccount: { accountId: c.accountId, currency: c.currency, initialBalance: c.initialBalance } }));
await post(JSON.stringify({ query: SUBMIT, variables: { input: { commands: opens.slice(0, 500) } } }));
await post(JSON.stringify({ query: SUBMIT, variables: { input: { commands: opens.slice(500) } } }));
const conv = (c: any) => c.type === 'Deposit' ? { deposit: { accountId: c.accountId, amount: c.amount, transactionId: c.transactionId } } : { transfer: { fromAccountId: c.fromAccountId, toAccountId: c.toAccountId, amount: c.amount, transactionId: c.transactionId } };
for (let round = 0; round < 20; round++) {
  const body = JSON.stringify({ query: SUBMIT, variables: { input: { commands: workCommands(500, 1000, round).map(conv) } } });
  const t = performance.now();
  const text = await post(body);
  const ms = performance.now() - t;
  const t2 = performance.now();
  await app.store.execute(workCommands(500, 1000, 1000 + round));
  console.log(`http ${ms.toFixed(1)} ms (${text.length} B)  store.execute ${(performance.now() - t2).toFixed(1)} ms`);
}
await app.stop();
