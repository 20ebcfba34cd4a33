// `npm start` under a process manager: one SIGTERM or SIGINT to the process it started (npm) stops the
// server gracefully — the acknowledged command is in the store, the port refuses connections, nothing
// of the process tree is left (no node re-parented to PID 1 still serving), and the store's lock is
// released, so another LedgerStore.open gets it. And Ctrl-C in a terminal, which signals the whole
// process group (so node hears SIGINT from the terminal and again from npm), is one graceful shutdown,
// not "SIGINT again: exiting now".
import { describe, expect, it } from 'vitest';
import { print } from 'graphql';
import { LedgerStore } from '../../src/store/ledgerStore.ts';
import { OpenAccountDocument } from '../generated/graphql.ts';
import { cleanedAfterEach, settledGroup, startServerProcess, tryConnect, type ServerProcess } from '../support/serverProcess.ts';
import { tempDir } from '../support/tempStore.ts';

const { started, removals } = cleanedAfterEach();

async function npmStart(): Promise<{ server: ServerProcess; base: string; dataDir: string }> {
  const { dir, remove } = await tempDir('evledger-signals-');
  removals.push(remove);
  const server = startServerProcess('npm', ['start'], { PORT: '0', DATA_DIR: dir, LOG_LEVEL: 'warn' });
  started.push(server);
  return { server, base: await server.url, dataDir: dir };
}

async function openAccount(base: string, accountId: string): Promise<void> {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query: print(OpenAccountDocument), variables: { input: { accountId, currency: 'EUR', initialBalance: 100 } } }),
  });
  const body = (await res.json()) as { data?: { openAccount?: { __typename: string } } };
  expect(body.data?.openAccount?.__typename, JSON.stringify(body)).toBe('OpenAccountSuccess');
}

/** Everything a stopped server must have let go of: its processes, its port, its store. */
async function expectFullyStopped(server: ServerProcess, base: string, dataDir: string): Promise<void> {
  const exit = await server.exited;
  expect(exit, server.stderr()).toEqual({ code: 0, signal: null });
  // npm waits for its script (node) before exiting; what node started goes with it.
  expect(await settledGroup(server.pid), 'still running of the tree npm started').toEqual([]);
  const { hostname, port } = new URL(base);
  expect(await tryConnect(hostname, Number(port))).toBe('ECONNREFUSED');
  const store = await LedgerStore.open(dataDir); // STORE_LOCKED if the server still held it
  try {
    expect(store.head).toBe(1);
    expect(store.state.account('signalled')).toBeDefined();
  } finally {
    await store.close();
  }
}

describe('npm start and signals', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('should stop gracefully and release port, processes and store on %s to the npm process', async (signal) => {
    const { server, base, dataDir } = await npmStart();
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await openAccount(base, 'signalled');

    process.kill(server.pid, signal); // the npm process only, as systemd or a container runtime does

    await expectFullyStopped(server, base, dataDir);
    expect(server.stdout()).toContain(`${signal}: finishing in-flight commands and closing the store`);
  });

  it('should treat Ctrl-C (SIGINT to the whole process group) as one graceful shutdown', async () => {
    const { server, base, dataDir } = await npmStart();
    await openAccount(base, 'signalled');

    process.kill(-server.pid, 'SIGINT'); // what a terminal does: npm and node both get it; npm forwards its copy

    await expectFullyStopped(server, base, dataDir);
    expect(server.stdout()).toContain('SIGINT: finishing in-flight commands and closing the store');
    expect(server.stderr()).not.toContain('again: exiting now');
  });
});
