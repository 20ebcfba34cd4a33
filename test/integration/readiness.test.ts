// /readyz (readiness) beside /healthz (liveness), on a real server: ready while the store is open and
// the writer takes commands; 503 once the store is closed, and while a failed write (a disk that really
// fills up: this process's RLIMIT_FSIZE at 0, test/support/fullDisk.ts) suspends writes — when /healthz
// stays 200, since reads are still served. Ready again once there is room, without any command being
// sent: a balancer that took the node out of rotation sends none.
import { afterEach, describe, expect, it } from 'vitest';
import { DepositDocument, OpenAccountDocument } from '../generated/graphql.ts';
import { as, eventually } from '../support/api.ts';
import { makeDisk, type FullDisk } from '../support/fullDisk.ts';
import { startTServer, type TServer } from '../support/testServer.ts';

const probe = async (server: TServer, path: '/readyz' | '/healthz') => {
  const res = await fetch(`${server.url}${path}`);
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, unknown> };
};

let server: TServer | undefined;
let disk: FullDisk | undefined;
afterEach(async () => {
  await disk?.free(); // the file size limit back first, however the test ended; the store's dir goes last
  await server?.stop();
  server = undefined;
  await disk?.dispose();
  disk = undefined;
});

describe('/readyz', () => {
  it('should be 200 and ready, with the head, while the store is open and the writer takes commands', async () => {
    server = await startTServer();
    expect(await probe(server, '/readyz')).toEqual({ status: 200, retryAfter: null, body: { status: 'ready', head: 0 } });
    as((await server.data(OpenAccountDocument, { input: { accountId: 'r', currency: 'EUR', initialBalance: 1 } })).openAccount, 'OpenAccountSuccess');
    expect((await probe(server, '/readyz')).body).toEqual({ status: 'ready', head: 1 });
  });

  it('should be 503 once the store is closed, like /healthz', async () => {
    server = await startTServer();
    await server.app.store.close();
    const ready = await probe(server, '/readyz');
    expect(ready).toMatchObject({ status: 503, retryAfter: '1', body: { status: 'not ready', reason: 'the store is closed' } });
    expect((await probe(server, '/healthz')).status).toBe(503);
  });

  it('should be 503 while a failed write suspends writes, with /healthz still 200, and ready again once there is room without a command', async () => {
    disk = await makeDisk('RLIMIT_FSIZE');
    server = await startTServer({ dataDir: disk.dataDir });
    as((await server.data(OpenAccountDocument, { input: { accountId: 'full', currency: 'EUR', initialBalance: 1 } })).openAccount, 'OpenAccountSuccess');

    await disk.fill();
    const refused = await server.request(DepositDocument, { input: { accountId: 'full', amount: 1, transactionId: 'on-a-full-disk' } });
    expect(refused.errors?.[0]?.extensions?.code, JSON.stringify(refused)).toBe('STORE_UNAVAILABLE');
    expect(server.app.store.rocks.needsReopen).toBe(true);

    const notReady = await probe(server, '/readyz');
    expect(notReady).toMatchObject({ status: 503, retryAfter: '1', body: { status: 'not ready', head: 1 } });
    expect(notReady.body.reason).toMatch(/writes are suspended after a failed write/);
    expect(await probe(server, '/healthz')).toMatchObject({ status: 200, body: { status: 'ok', head: 1 } });
    // Probing while the disk is still full retries the reopen, which cannot succeed yet.
    expect((await probe(server, '/readyz')).status).toBe(503);

    await disk.free();
    // Only probes from here on: each may retry the reopen (paced at one a second by the store).
    const ready = await eventually('ready again', async () => {
      const p = await probe(server!, '/readyz');
      return p.status === 200 ? p : undefined;
    });
    expect(ready.body).toEqual({ status: 'ready', head: 1 });
    const retried = await server.request(DepositDocument, { input: { accountId: 'full', amount: 1, transactionId: 'on-a-full-disk' } });
    expect(as(retried.data!.deposit, 'DepositSuccess')).toMatchObject({ sequence: 2, replayed: false });
  });
});
