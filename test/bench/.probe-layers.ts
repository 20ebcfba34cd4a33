// scratch: CPU per deposit through each layer, in-process (yoga.fetch, no HTTP), 50 concurrent callers.
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { createSchema, createYoga } from 'graphql-yoga';
import { schema } from '../../src/graphql/schema.ts';
import { PointInTime } from '../../src/projection/pointInTime.ts';
import { LedgerStore } from '../../src/store/ledgerStore.ts';
import { QUERY_LIMITS } from '../../src/server/app.ts';
import { accountId, openCommands, workCommands } from './workload.ts';

const DEPOSIT = process.env.Q ?? `mutation Deposit($input: DepositInput!) { deposit(input: $input) { __typename ... on DepositSuccess { sequence replayed account { id balance version } } ... on DomainError { code message } } }`;
const SUBMIT = `mutation Submit($input: SubmitCommandsInput!) { submitCommands(input: $input) { head results { __typename ... on DomainError { code } } } }`;
const NOOP = 'mutation Noop($input: JSON) { noop(input: $input) }';
const store = await LedgerStore.open(await mkdtemp(join(tmpdir(), 'layers-')), { durability: 'none' });
await store.execute(openCommands(1000));
let n = 0;
const stub = {
  head: 1, execute: async (cmds: any[]) => cmds.map((c) => ({ ok: true, sequence: ++n, replayed: false, event: { type: 'DEPOSITED', data: { accountId: c.accountId, amount: c.amount }, sequence: n, id: 'x', timestamp: 0, schemaVersion: 1, transactionId: c.transactionId }, accounts: [{ id: c.accountId ?? c.fromAccountId, currency: 'USD', balance: 5, status: 'OPEN', version: 3, lastSequence: n, openedSequence: 1 }, { id: c.toAccountId, currency: 'USD', balance: 5, status: 'OPEN', version: 3, lastSequence: n, openedSequence: 1 }] })),
};
const plugins = () => [
  maxDepthPlugin({ n: QUERY_LIMITS.maxDepth, exposeLimits: true }), maxAliasesPlugin({ n: QUERY_LIMITS.maxAliases, exposeLimits: true }),
  costLimitPlugin({ maxCost: QUERY_LIMITS.maxCost, exposeLimits: true }), maxTokensPlugin({ n: QUERY_LIMITS.maxTokens, exposeLimits: true }),
];
const appYoga = (s: any, withPlugins: boolean, extra: any = {}) => createYoga({ schema, context: () => ({ store: s, pointInTime: new PointInTime(store) }), landingPage: false, logging: 'warn', plugins: withPlugins ? plugins() : [], ...extra });
const noopYoga = createYoga({ schema: createSchema({ typeDefs: 'scalar JSON type Query { ok: Boolean } type Mutation { noop(input: JSON): Int }', resolvers: { Mutation: { noop: () => 1 } } }), landingPage: false, logging: 'warn' });
const conv = (c: any) => c.type === 'Deposit' ? { deposit: { accountId: c.accountId, amount: c.amount, transactionId: c.transactionId } } : { transfer: { fromAccountId: c.fromAccountId, toAccountId: c.toAccountId, amount: c.amount, transactionId: c.transactionId } };
const BULK = process.env.BULK === '1';
let seed = 1;
const vars = () => BULK ? { input: { commands: workCommands(500, 1000, seed++).map(conv) } } : { input: { accountId: accountId(n++ % 1000), amount: 5, transactionId: randomUUID() } };
const viaYoga = (yoga: any, q: string) => async () => {
  const r = await yoga.fetch('http://x/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: q, variables: vars() }) });
  const t = await r.text(); if (!t.includes('Success') && !t.includes('noop')) throw new Error(t.slice(0, 300));
};
const variants: Record<string, () => Promise<unknown>> = {
  'noop yoga': viaYoga(noopYoga, NOOP),
  'app yoga, stub store, armor': viaYoga(appYoga(stub, true), BULK ? SUBMIT : DEPOSIT),
  'app yoga, stub store, no armor': viaYoga(appYoga(stub, false), BULK ? SUBMIT : DEPOSIT),
  'app yoga, real store (none)': viaYoga(appYoga(store, true), BULK ? SUBMIT : DEPOSIT),
  'store.execute only (none)': async () => { const v: any = vars(); await store.execute(BULK ? workCommands(500, 1000, seed++) : [{ type: 'Deposit', ...v.input }]); },
  'vars() only': async () => { vars(); },
  'workCommands only': async () => { workCommands(500, 1000, seed++); },
};
const only = process.env.ONLY?.split(',');
const best: Record<string, number> = {};
const ROUNDS = Number(process.env.ROUNDS ?? 10);
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, op] of Object.entries(variants)) {
    if (only && !only.some((o) => name.includes(o))) continue;
    let count = 0; const until = performance.now() + Number(process.env.SLICE ?? (BULK ? 2000 : 500));
    const c0 = process.cpuUsage();
    await Promise.all(Array.from({ length: BULK ? 10 : 50 }, async () => { while (performance.now() < until) { await op(); count++; } }));
    const c = process.cpuUsage(c0); const us = (c.user + c.system) / count;
    best[name] = Math.min(best[name] ?? Infinity, us);
    if (round === ROUNDS - 1) console.log(`${name.padEnd(34)} ${best[name]!.toFixed(1).padStart(8)} µs CPU/op (best of rounds)`);
  }
}
await store.close();
