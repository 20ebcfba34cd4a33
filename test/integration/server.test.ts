// The server around the API: /healthz, GraphQL over GET, GraphiQL for browsers, and the process as
// `npm start` runs it — a real child (`node --import tsx src/cli.ts serve --port 0`) that, sent SIGTERM
// in the middle of a burst of deposits, exits 0 with every acknowledged deposit in the store; and that
// refuses to start a second time on a data dir that is already open.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verify } from '../../src/projection/verify.ts';
import { LedgerStore } from '../../src/store/ledgerStore.ts';
import { DepositDocument, HeadDocument, LedgerDocument, OpenAccountDocument } from '../generated/graphql.ts';
import { as, clientFor, headOf } from '../support/api.ts';
import { tempDir } from '../support/tempStore.ts';
import { startTServer, type TServer } from '../support/testServer.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

describe('HTTP endpoints', () => {
  let server: TServer;
  beforeAll(async () => {
    server = await startTServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('/healthz is 200 with the head of the log', async () => {
    const before = await fetch(`${server.url}/healthz`);
    expect(before.status).toBe(200);
    expect(await before.json()).toEqual({ status: 'ok', head: 0 });
    as((await server.data(OpenAccountDocument, { input: { accountId: 'hz', currency: 'EUR', initialBalance: 1 } })).openAccount, 'OpenAccountSuccess');
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ status: 'ok', head: 1 });
  });

  it('GET /graphql runs a query from the URL', async () => {
    const url = new URL(server.graphqlUrl);
    url.searchParams.set('query', print(LedgerDocument));
    url.searchParams.set('variables', JSON.stringify({ atSequence: 0 }));
    const res = await fetch(url, { headers: { accept: 'application/graphql-response+json' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/graphql-response\+json/);
    const body = (await res.json()) as { data: { ledger: { sequence: number; head: number; accountCount: number } } };
    expect(body.data.ledger).toMatchObject({ sequence: 0, accountCount: 0, head: await headOf(server) });
  });

  it('GET /graphql does not run a mutation', async () => {
    const head = await headOf(server);
    const url = new URL(server.graphqlUrl);
    url.searchParams.set('query', print(DepositDocument));
    url.searchParams.set('variables', JSON.stringify({ input: { accountId: 'hz', amount: 1, transactionId: 'get-mutation' } }));
    const res = await fetch(url, { headers: { accept: 'application/graphql-response+json' } });
    expect(res.status).toBe(405);
    expect(await headOf(server)).toBe(head);
  });

  it('GraphiQL is served on /graphql to a browser', async () => {
    const res = await fetch(server.graphqlUrl, { headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toMatch(/graphiql/i);
    expect(html).toContain('<title>evledger</title>');
  });

  it('/ serves the web demo (or the page saying how to build it); unknown paths are 404', async () => {
    const root = await fetch(`${server.url}/`);
    expect(root.status).toBe(200);
    expect(root.headers.get('content-type')).toMatch(/^text\/html/);
    expect((await fetch(`${server.url}/no-such-page`)).status).toBe(404);
  });
});

// --- the process ----------------------------------------------------------------------------------------

interface Child {
  readonly process: ChildProcessWithoutNullStreams;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout: string;
  stderr: string;
}

function startCli(dataDir: string): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--port', '0', '--data', dataDir], {
    cwd: REPO,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '', DATA_DIR: '' },
  });
  const c: Child = {
    process: child,
    exited: once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null })),
    stdout: '',
    stderr: '',
  };
  child.stdout.setEncoding('utf8').on('data', (s: string) => (c.stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (c.stderr += s));
  return c;
}

/**
 * The base URL from the line "evledger serving http://127.0.0.1:PORT/graphql …" — the first line, or
 * the first after the web demo's build notice when `serve` has to build it.
 */
async function urlOf(child: Child): Promise<string> {
  const lines = createInterface({ input: child.process.stdout });
  const serving = new Promise<string>((resolve) =>
    lines.on('line', (line: string) => {
      if (line.startsWith('evledger serving ')) resolve(line);
    }),
  );
  let timer: NodeJS.Timeout | undefined;
  try {
    const line = await Promise.race([
      serving,
      child.exited.then((e) => {
        throw new Error(`the server exited (${JSON.stringify(e)}) before printing its URL: ${child.stderr}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no URL within 60 s: ${child.stdout} ${child.stderr}`)), 60_000);
      }),
    ]);
    const match = /^evledger serving (http:\/\/[^\s/]+)\/graphql/.exec(line);
    if (!match) throw new Error(`no URL in: ${line}`);
    return match[1]!;
  } finally {
    clearTimeout(timer);
    lines.close();
    child.process.stdout.resume(); // closing readline paused the stream; the `data` listener still reads it
  }
}

describe('the server process (npm start)', () => {
  it('refuses a second process on the same data dir; on SIGTERM mid-burst exits 0 and keeps every acknowledged deposit', async () => {
    const { dir, remove } = await tempDir('evledger-cli-');
    const children: Child[] = [];
    try {
      const first = startCli(dir);
      children.push(first);
      const base = await urlOf(first);
      const client = clientFor(`${base}/graphql`);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      as((await client.data(OpenAccountDocument, { input: { accountId: 'burst', currency: 'EUR', initialBalance: 0 } })).openAccount, 'OpenAccountSuccess');

      // A second server on the same store: refused, with a message that says why.
      const second = startCli(dir);
      children.push(second);
      const { code } = await second.exited;
      expect(code).not.toBe(0);
      expect(second.stderr).toMatch(/already open/);
      expect(second.stderr).toContain(dir);
      // …and the first one is unharmed.
      expect((await client.data(HeadDocument)).ledger.head).toBe(1);

      // The burst: 16 clients depositing back to back; SIGTERM once 150 deposits are acknowledged.
      const acked = new Map<string, { sequence: number; amount: number }>();
      let inFlight = 0;
      let inFlightAtSignal = -1;
      let n = 0;
      const worker = async (w: number) => {
        for (;;) {
          const transactionId = `burst-${w}-${n++}`;
          const amount = 1 + (n % 9);
          inFlight++;
          try {
            const res = await fetch(`${base}/graphql`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
              body: JSON.stringify({ query: print(DepositDocument), variables: { input: { accountId: 'burst', amount, transactionId } } }),
            });
            const body = (await res.json()) as { data?: { deposit?: { __typename: string; sequence?: number } } };
            const d = body.data?.deposit;
            if (d?.__typename !== 'DepositSuccess') return; // refused while shutting down: not acknowledged
            acked.set(transactionId, { sequence: d.sequence!, amount });
          } catch {
            return; // connection refused or closed: the server is gone
          } finally {
            inFlight--;
          }
          if (acked.size >= 150 && inFlightAtSignal < 0) {
            inFlightAtSignal = inFlight;
            first.process.kill('SIGTERM');
          }
        }
      };
      await Promise.all(Array.from({ length: 16 }, (_, w) => worker(w)));
      const exit = await first.exited;
      expect(inFlightAtSignal, 'deposits in flight when SIGTERM was sent').toBeGreaterThan(0);
      expect(exit, first.stderr).toEqual({ code: 0, signal: null });
      expect(first.stdout).toMatch(/SIGTERM: finishing in-flight commands and closing the store/);

      // Every acknowledged deposit is in the store, at the sequence it was acknowledged with.
      const store = await LedgerStore.open(dir);
      try {
        expect(acked.size).toBeGreaterThanOrEqual(150);
        const sequences = [...acked.values()].map((a) => a.sequence);
        const events = await store.eventsAt(sequences);
        [...acked.entries()].forEach(([transactionId, { sequence, amount }], i) => {
          expect(events[i], `acknowledged ${transactionId} at ${sequence}`).toMatchObject({
            sequence,
            type: 'DEPOSITED',
            transactionId,
            data: { accountId: 'burst', amount },
          });
        });
        expect(store.head).toBeGreaterThanOrEqual(1 + acked.size);
        expect(store.state.account('burst')!.version).toBe(store.head);
        expect((await verify(store)).ok).toBe(true);
      } finally {
        await store.close();
      }
    } finally {
      for (const c of children) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
      await Promise.all(children.map((c) => c.exited));
      await remove();
    }
  });
});
