// scratch A/B: starts .probe-server.ts twice with different env (A: ENV_A, B: ENV_B as "K=V,K=V"), loads each alternately,
// reports server CPU (all threads and main thread) per request and req/s. argv: kind rounds seconds conns
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { accountId, openCommands, workCommands } from './workload.ts';
const [kind = 'deposit', rounds = '5', secs = '3', conns = '50'] = process.argv.slice(2);
const envOf = (s = '') => Object.fromEntries(s.split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const start = async (extra: Record<string, string>) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/bench/.probe-server.ts', mkdtempSync(join(tmpdir(), 'ab-'))], { env: { ...process.env, ...extra }, stdio: ['ignore', 'pipe', 'ignore'] });
  const line = await new Promise<string>((r) => createInterface({ input: child.stdout! }).once('line', r));
  return { child, url: `http://127.0.0.1:${JSON.parse(line).port}` };
};
const SUBMIT = `mutation Submit($input: SubmitCommandsInput!) { submitCommands(input: $input) { head results { __typename ... on DomainError { code } } } }`;
const DEPOSIT = `mutation Deposit($input: DepositInput!) { deposit(input: $input) { __typename ... on DepositSuccess { sequence replayed account { id balance version } } ... on DomainError { code message } } }`;
const conv = (c: any) => c.type === 'Deposit' ? { deposit: { accountId: c.accountId, amount: c.amount, transactionId: c.transactionId } } : { transfer: { fromAccountId: c.fromAccountId, toAccountId: c.toAccountId, amount: c.amount, transactionId: c.transactionId } };
let n = 0, seed = 5000;
const NOOPQ = 'mutation Noop($input: JSON) { noop(input: $input) }';
const bodyFor = (k: string) => k === 'noop' ? () => JSON.stringify({ query: NOOPQ, variables: { input: { accountId: accountId(n++ % 1000), amount: 5, transactionId: randomUUID() } } })
  : k === 'noop-bulk' ? () => JSON.stringify({ query: NOOPQ, variables: { input: { commands: workCommands(500, 1000, seed++).map(conv) } } })
  : k === 'deposit' ? () => JSON.stringify({ query: DEPOSIT, variables: { input: { accountId: accountId(n++ % 1000), amount: 5, transactionId: randomUUID() } } })
  : () => JSON.stringify({ query: SUBMIT, variables: { input: { commands: workCommands(500, 1000, seed++).map(conv) } } });
const bodies: Record<string, () => string> = { A: bodyFor(process.env.KIND_A ?? kind), B: bodyFor(process.env.KIND_B ?? kind) };
const cpu = (pid: number) => { const t = (f: string) => { const s = readFileSync(f, 'utf8'); const x = s.slice(s.lastIndexOf(')') + 2).split(' '); return (Number(x[11]) + Number(x[12])) * 10; }; return { all: t(`/proc/${pid}/stat`), main: t(`/proc/${pid}/task/${pid}/stat`) }; };
const servers = { A: await start(envOf(process.env.ENV_A)), B: await start(envOf(process.env.ENV_B)) };
for (const s of Object.values(servers)) {
  if (s === servers.A && process.env.ENV_A?.includes('NOOP') || s === servers.B && process.env.ENV_B?.includes('NOOP')) continue;
  const o = openCommands(1000).map((c: any) => ({ openAccount: { accountId: c.accountId, currency: c.currency, initialBalance: c.initialBalance } }));
  for (const part of [o.slice(0, 500), o.slice(500)]) await fetch(`${s.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: SUBMIT, variables: { input: { commands: part } } }) }).then((r) => r.text());
}
const res: Record<string, { main: number[]; all: number[]; rps: number[] }> = { A: { main: [], all: [], rps: [] }, B: { main: [], all: [], rps: [] } };
const run = (url: string, d: number, body: () => string) => autocannon({ url, connections: Number(conns), duration: d, timeout: 60, requests: [{ method: 'POST', path: '/graphql', headers: { 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: body() }) }] });
for (const [name, s] of Object.entries(servers)) await run(s.url, 2, bodies[name]!);
for (let r = 0; r < Number(rounds); r++) {
  for (const [name, s] of Object.entries(servers)) {
    const c0 = cpu(s.child.pid!);
    const out = await run(s.url, Number(secs), bodies[name]!);
    const c1 = cpu(s.child.pid!);
    const done = out.requests.total;
    if (out.non2xx || out.errors) console.log(`${name}: non2xx ${out.non2xx} errors ${out.errors}`);
    res[name]!.main.push((c1.main - c0.main) / done); res[name]!.all.push((c1.all - c0.all) / done); res[name]!.rps.push(out.requests.mean);
  }
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
for (const [name, r] of Object.entries(res)) console.log(`${name} (${(name === 'A' ? process.env.ENV_A : process.env.ENV_B) || 'default'}): main-thread CPU/req median ${med(r.main).toFixed(3)} ms [${r.main.map((x) => x.toFixed(2)).join(' ')}], all threads ${med(r.all).toFixed(3)} ms, req/s median ${med(r.rps).toFixed(0)} [${r.rps.map((x) => x.toFixed(0)).join(' ')}]`);
for (const s of Object.values(servers)) s.child.kill('SIGTERM');
