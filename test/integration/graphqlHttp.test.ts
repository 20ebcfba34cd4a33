// GraphQL over HTTP conformance: graphql-http's server audits run against the real server, one test
// per audit. Every MUST audit must pass; every SHOULD and MAY audit passes today too, so each is held
// as a test as well (a regression in one is a failure, with the audit's reason in the message).
import { serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTServer, type TServer } from '../support/testServer.ts';

let server: TServer;

beforeAll(async () => {
  server = await startTServer();
});
afterAll(async () => {
  await server?.stop();
});

// The URL is read when each audit runs, after beforeAll has started the server.
const audits = serverAudits({ url: () => server.graphqlUrl, fetchFn: fetch });

describe('graphql-http server audits', () => {
  it('are all run below: each is a MUST, SHOULD or MAY, and the MUSTs are there', () => {
    const levels = audits.map((a) => a.name.split(' ')[0]);
    expect(levels.every((l) => l === 'MUST' || l === 'SHOULD' || l === 'MAY'), levels.join()).toBe(true);
    expect(levels.filter((l) => l === 'MUST').length).toBeGreaterThanOrEqual(13);
  });

  for (const level of ['MUST', 'SHOULD', 'MAY'] as const) {
    describe(level, () => {
      for (const audit of audits.filter((a) => a.name.startsWith(`${level} `))) {
        it(`${audit.id} ${audit.name}`, async () => {
          const result = await audit.fn();
          if (result.status !== 'ok') {
            const body = await result.response.text().catch(() => '<unreadable>');
            expect.fail(`${result.status}: ${result.reason}\nHTTP ${result.response.status} ${body.slice(0, 500)}`);
          }
          expect(result.status).toBe('ok');
        });
      }
    });
  }
});
