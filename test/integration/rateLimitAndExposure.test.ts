// Operator safety: a per-client mutation rate limit (429 with retry advice, on HTTP and graphql-ws),
// and no serving beyond loopback without authentication unless told so.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/server/app.ts';
import { DEFAULT_CONFIG } from '../../src/server/config.ts';
import { tempDir } from '../support/tempStore.ts';
import { startTServer, type TServer } from '../support/testServer.ts';

const OPEN = `mutation { openAccount(input: { accountId: "a", currency: "EUR" }) { __typename } }`;
const deposit = (n: number) => `mutation { deposit(input: { accountId: "a", amount: 1, transactionId: "t-${n}" }) { __typename } }`;

async function post(server: TServer, query: string) {
  const res = await fetch(server.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' }, body: JSON.stringify({ query }) });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] } };
}

describe('mutation rate limit', () => {
  let server: TServer | undefined;
  afterEach(async () => server?.stop());

  it('refuses mutations past the limit with 429 and retry advice, and changes nothing', async () => {
    server = await startTServer({ mutationRateLimit: 2 }); // bursts of 4, two more a second
    await post(server, OPEN);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => post(server!, deposit(i))));
    const refused = results.filter((r) => r.status === 429);
    const accepted = results.filter((r) => r.status === 200);
    expect(accepted.length).toBeGreaterThanOrEqual(3); // the burst, less the open
    expect(refused.length).toBeGreaterThanOrEqual(8);
    expect(refused[0]!.retryAfter).toMatch(/^\d+$/);
    expect(refused[0]!.body.errors?.[0]).toMatchObject({ extensions: { code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) } });
    expect(refused[0]!.body.data).toBeUndefined();
    // Only the accepted deposits reached the log; queries are never limited.
    const head = await post(server, '{ ledger { head } }');
    expect(head.status).toBe(200);
    expect((head.body.data as { ledger: { head: number } }).ledger.head).toBe(1 + accepted.length);

  });

  it('limits mutations over graphql-ws the same way', async () => {
    server = await startTServer({ mutationRateLimit: 1 }); // bursts of 2, one more a second
    await post(server, OPEN); // takes one token
    const client = createClient({ url: `${server.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    const run = (query: string) =>
      new Promise<{ errors?: readonly { extensions?: Record<string, unknown> }[] }>((resolve, reject) =>
        client.subscribe({ query }, { next: resolve, error: reject, complete: () => {} }),
      );
    try {
      const results = [await run(deposit(1)), await run(deposit(2)), await run(deposit(3))];
      const limited = results.filter((r) => r.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
      expect(limited.length).toBeGreaterThanOrEqual(1);
      expect(limited[0]!.errors![0]!.extensions).toMatchObject({ retryAfterMs: expect.any(Number) });
    } finally {
      await client.dispose();
    }
  });

  it('lets mutations through again once the bucket refills', async () => {
    server = await startTServer({ mutationRateLimit: 20 }); // bursts of 40
    await post(server, OPEN);
    await Promise.all(Array.from({ length: 60 }, (_, i) => post(server!, deposit(i))));
    await new Promise((r) => setTimeout(r, 200)); // 4 tokens
    expect((await post(server, deposit(1_000))).status).toBe(200);
  });
});

describe('exposure without authentication', () => {
  it('refuses a non-loopback HOST unless --insecure, and says why', async () => {
    const { dir, remove } = await tempDir();
    try {
      await expect(buildApp({ ...DEFAULT_CONFIG, host: '0.0.0.0', port: 0, dataDir: dir, logLevel: 'silent' }).start()).rejects.toThrow(/authentication is off.*JWT_SECRET.*--insecure/);
      const app = await buildApp({ ...DEFAULT_CONFIG, host: '0.0.0.0', port: 0, dataDir: dir, logLevel: 'silent', insecure: true }).start();
      await app.stop();
    } finally {
      await remove();
    }
  });
});
