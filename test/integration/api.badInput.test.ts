// Malformed input over real HTTP: every case of the table is refused with a clear error carrying
// extensions.code = BAD_USER_INPUT (a @oneOf violation: whatever graphql-js says, as long as it is an
// error), and the log head does not move — each malformed command would have succeeded had it been
// coerced into something valid, so a silent coercion would show as a moved head. Then the transport
// limits (body size, query depth, aliases, tokens) and the masking of unexpected errors.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { buildClientSchema, getIntrospectionQuery, Kind, parse, print, type IntrospectionQuery, type SelectionSetNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AccountDocument,
  AccountsDocument,
  CloseAccountDocument,
  DepositDocument,
  DepositLiteralFloatDocument,
  DepositLiteralNegativeDocument,
  DepositLiteralPastTwoPow53Document,
  DepositLiteralStringDocument,
  DepositLiteralTwoPow53Document,
  DepositLiteralZeroDocument,
  EventsDocument,
  LedgerDocument,
  LedgerLiteralBadTimeDocument,
  LedgerLiteralNegativeSequenceDocument,
  OpenAccountDocument,
  ReplayDocument,
  SubmitCommandsDocument,
  TransferDocument,
  WithdrawDocument,
  type Command,
} from '../generated/graphql.ts';
import { as, expectHeadUnmoved, headOf, postRaw } from '../support/api.ts';
import { startTServer, type TServer } from '../support/testServer.ts';

const ACCOUNT = 'bad-input';
const PEER = 'bad-peer';
const TWO_POW_53 = 2 ** 53;

let server: TServer;

beforeAll(async () => {
  server = await startTServer();
  as((await server.data(OpenAccountDocument, { input: { accountId: ACCOUNT, currency: 'EUR', initialBalance: 1_000 } })).openAccount, 'OpenAccountSuccess');
  as((await server.data(OpenAccountDocument, { input: { accountId: PEER, currency: 'EUR', initialBalance: 0 } })).openAccount, 'OpenAccountSuccess');
});
afterAll(async () => {
  await server?.stop();
});

interface Outcome {
  status: number;
  data?: unknown;
  errors?: readonly { message: string; extensions?: Record<string, unknown> }[] | undefined;
}

/** Sends a typed document with variables that may break its types on purpose. */
const send = <R, V>(document: TypedDocumentNode<R, V>, variables?: unknown): Promise<Outcome> => server.request(document, variables as V);

/** Sends a body as written, for JSON numbers that a JS value cannot hold (2^53 + 1). */
async function sendRaw(body: string): Promise<Outcome> {
  const r = await postRaw(server.graphqlUrl, body);
  return { status: r.status, ...(r.json ?? {}) };
}

const deposit = (fields: Record<string, unknown>) => ({ input: { accountId: ACCOUNT, amount: 1, transactionId: `bad-${Math.random()}`, ...fields } });
const validDeposit = (i: number): Command => ({ deposit: { accountId: ACCOUNT, amount: 1, transactionId: `bad-bulk-${i}` } });

interface Case {
  readonly name: string;
  readonly run: () => Promise<Outcome>;
  /** What the first error's message must say. */
  readonly message: RegExp;
  /** BAD_USER_INPUT, or 'any' for @oneOf violations (graphql-js's own coercion error). */
  readonly code?: 'BAD_USER_INPUT' | 'any';
}

const CASES: Case[] = [
  // Money: positive safe integers only, as variables and as literals.
  { name: 'amount 0 (variable)', run: () => send(DepositDocument, deposit({ amount: 0 })), message: /amount must be a positive integer/ },
  { name: 'amount 0 (literal)', run: () => send(DepositLiteralZeroDocument), message: /amount must be a positive integer/ },
  { name: 'amount -5 (variable)', run: () => send(DepositDocument, deposit({ amount: -5 })), message: /input\.amount.*Money must not be negative/ },
  { name: 'amount -5 (literal)', run: () => send(DepositLiteralNegativeDocument), message: /Money must not be negative, got -5/ },
  { name: 'amount 1.5 (variable)', run: () => send(DepositDocument, deposit({ amount: 1.5 })), message: /input\.amount.*Money must be an integer.*1\.5/ },
  { name: 'amount 1.5 (literal)', run: () => send(DepositLiteralFloatDocument), message: /Money must be an integer.*1\.5/ },
  { name: 'amount "100" (variable)', run: () => send(DepositDocument, deposit({ amount: '100' })), message: /input\.amount.*Money must be an integer.*"100"/ },
  { name: 'amount "100" (literal)', run: () => send(DepositLiteralStringDocument), message: /Money must be an integer.*"100"/ },
  { name: 'amount 2^53 (variable)', run: () => send(DepositDocument, deposit({ amount: TWO_POW_53 })), message: /input\.amount.*at most 2\^53-1/ },
  { name: 'amount 2^53 (literal)', run: () => send(DepositLiteralTwoPow53Document), message: /at most 2\^53-1.*9007199254740992/ },
  { name: 'amount 2^53 + 1 (literal)', run: () => send(DepositLiteralPastTwoPow53Document), message: /at most 2\^53-1.*9007199254740993/ },
  {
    name: 'amount 2^53 + 1 (variable, as JSON text)',
    run: () =>
      sendRaw(
        `{"query":${JSON.stringify(print(DepositDocument))},"variables":{"input":{"accountId":"${ACCOUNT}","amount":9007199254740993,"transactionId":"bad-raw-past"}}}`,
      ),
    message: /input\.amount.*at most 2\^53-1/,
  },
  { name: 'withdraw amount 1.5', run: () => send(WithdrawDocument, deposit({ amount: 1.5 })), message: /Money must be an integer/ },
  {
    name: 'transfer amount 0',
    run: () => send(TransferDocument, { input: { fromAccountId: ACCOUNT, toAccountId: PEER, amount: 0, transactionId: 'bad-tr-0' } }),
    message: /amount must be a positive integer/,
  },
  { name: 'initialBalance -1', run: () => send(OpenAccountDocument, { input: { accountId: 'bad-new', currency: 'EUR', initialBalance: -1 } }), message: /initialBalance.*must not be negative/ },
  { name: 'initialBalance 0.5', run: () => send(OpenAccountDocument, { input: { accountId: 'bad-new', currency: 'EUR', initialBalance: 0.5 } }), message: /initialBalance.*integer/ },

  // Ids: 1–128 characters of letters, digits and _ - . : @
  { name: 'empty accountId (openAccount)', run: () => send(OpenAccountDocument, { input: { accountId: '', currency: 'EUR' } }), message: /accountId must not be empty/ },
  { name: 'empty accountId (deposit)', run: () => send(DepositDocument, deposit({ accountId: '' })), message: /accountId must not be empty/ },
  { name: '129-character accountId', run: () => send(OpenAccountDocument, { input: { accountId: 'a'.repeat(129), currency: 'EUR' } }), message: /accountId must be at most 128 characters/ },
  { name: '129-character transactionId', run: () => send(DepositDocument, deposit({ transactionId: 't'.repeat(129) })), message: /transactionId must be at most 128 characters/ },
  { name: 'accountId with a space', run: () => send(OpenAccountDocument, { input: { accountId: 'has space', currency: 'EUR' } }), message: /accountId may only contain/ },
  { name: 'accountId with an emoji', run: () => send(OpenAccountDocument, { input: { accountId: 'acct-\u{1F600}', currency: 'EUR' } }), message: /accountId may only contain/ },
  {
    name: 'toAccountId with a space',
    run: () => send(TransferDocument, { input: { fromAccountId: ACCOUNT, toAccountId: 'bad peer', amount: 1, transactionId: 'bad-tr-sp' } }),
    message: /toAccountId may only contain/,
  },
  { name: 'empty id (account query)', run: () => send(AccountDocument, { id: '' }), message: /id must be 1–128 characters/ },
  { name: 'accountId with a space (events query)', run: () => send(EventsDocument, { accountId: 'a b' }), message: /accountId must be 1–128 characters/ },

  // Currency: an ISO 4217 code, exactly.
  { name: "currency 'XXX'", run: () => send(OpenAccountDocument, { input: { accountId: 'bad-xxx', currency: 'XXX' } }), message: /currency must be an ISO 4217 code, got "XXX"/ },
  { name: "currency 'eur'", run: () => send(OpenAccountDocument, { input: { accountId: 'bad-eur', currency: 'eur' } }), message: /currency must be an ISO 4217 code, got "eur"/ },

  // Paging.
  { name: 'accounts first: 0', run: () => send(AccountsDocument, { first: 0 }), message: /first must be between 1 and 1000, got 0/ },
  { name: 'accounts first: 1001', run: () => send(AccountsDocument, { first: 1001 }), message: /first must be between 1 and 1000, got 1001/ },
  { name: 'events first: 0', run: () => send(EventsDocument, { first: 0 }), message: /first must be between 1 and 1000/ },
  { name: 'events first: 1001', run: () => send(EventsDocument, { first: 1001 }), message: /first must be between 1 and 1000/ },
  { name: 'accounts after a made-up cursor', run: () => send(AccountsDocument, { after: 'not-a-cursor' }), message: /after is not a cursor this API issued/ },
  { name: 'events after a made-up cursor', run: () => send(EventsDocument, { after: 'abc' }), message: /after is not a cursor this API issued/ },
  { name: 'events after a negative cursor', run: () => send(EventsDocument, { after: '-1' }), message: /after is not a cursor this API issued/ },

  // Sequences: non-negative safe integers.
  { name: 'ledger atSequence -1 (variable)', run: () => send(LedgerDocument, { atSequence: -1 }), message: /atSequence.*Sequence must not be negative/ },
  { name: 'ledger atSequence -1 (literal)', run: () => send(LedgerLiteralNegativeSequenceDocument), message: /Sequence must not be negative/ },
  { name: 'account atSequence -1', run: () => send(AccountDocument, { id: ACCOUNT, atSequence: -1 }), message: /Sequence must not be negative/ },
  { name: 'replay toSequence -1', run: () => send(ReplayDocument, { toSequence: -1, id: ACCOUNT }), message: /Sequence must not be negative/ },
  { name: 'events afterSequence 1.5', run: () => send(EventsDocument, { afterSequence: 1.5 }), message: /Sequence must be an integer/ },

  // DateTime: ISO 8601 with a zone.
  { name: 'ledger atTime "yesterday" (variable)', run: () => send(LedgerDocument, { atTime: 'yesterday' }), message: /DateTime must be an ISO 8601 string/ },
  { name: 'ledger atTime (literal)', run: () => send(LedgerLiteralBadTimeDocument), message: /DateTime must be an ISO 8601 string/ },
  { name: 'account atTime without a zone', run: () => send(AccountDocument, { id: ACCOUNT, atTime: '2026-01-01T00:00:00' }), message: /DateTime must be an ISO 8601 string/ },
  { name: 'account atTime month 13', run: () => send(AccountDocument, { id: ACCOUNT, atTime: '2026-13-45T10:00:00Z' }), message: /DateTime must be an ISO 8601 string/ },
  { name: 'ledger atTime as a number', run: () => send(LedgerDocument, { atTime: 1_700_000_000_000 }), message: /DateTime must be an ISO 8601 string/ },

  // A point of the log: atSequence or atTime, never both (they may name two different points).
  {
    name: 'ledger with atSequence and atTime',
    run: () => send(LedgerDocument, { atSequence: 1, atTime: '2026-01-01T00:00:00Z' }),
    message: /^give atSequence or atTime, not both: they may name different points of the log$/,
  },
  {
    name: 'account with atSequence and atTime',
    run: () => send(AccountDocument, { id: ACCOUNT, atSequence: 1, atTime: new Date().toISOString() }),
    message: /^give atSequence or atTime, not both/,
  },
  {
    name: 'account with atSequence 0 and atTime (literal)',
    run: () => sendRaw(JSON.stringify({ query: `{ account(id: "${ACCOUNT}", atSequence: 0, atTime: "2020-01-01T00:00:00Z") { balance } }` })),
    message: /^give atSequence or atTime, not both/,
  },

  // submitCommands: 1..1000 commands, each well-formed; one bad command refuses the whole list.
  { name: 'submitCommands with 0 commands', run: () => send(SubmitCommandsDocument, { input: { commands: [] } }), message: /commands must hold 1 to 1000 commands, got 0/ },
  {
    name: 'submitCommands with 1001 commands',
    run: () => send(SubmitCommandsDocument, { input: { commands: Array.from({ length: 1001 }, (_, i) => validDeposit(i)) } }),
    message: /commands must hold 1 to 1000 commands, got 1001/,
  },
  {
    name: 'submitCommands with one malformed command among good ones',
    run: () => send(SubmitCommandsDocument, { input: { commands: [validDeposit(0), { deposit: { accountId: ACCOUNT, amount: 0, transactionId: 'bad-in-list' } }, validDeposit(2)] } }),
    message: /input\.commands\[1\]\.deposit: amount must be a positive integer/,
  },
  {
    name: 'a Command with two fields set (variable)',
    run: () => send(SubmitCommandsDocument, { input: { commands: [{ ...validDeposit(0), withdraw: { accountId: ACCOUNT, amount: 1, transactionId: 'bad-two' } }] } }),
    message: /exactly one key must be specified for oneOf type "Command"/i,
    code: 'any',
  },
  {
    name: 'a Command with two fields set (literal)',
    run: () =>
      sendRaw(
        JSON.stringify({
          query: `mutation { submitCommands(input: { commands: [{ deposit: { accountId: "${ACCOUNT}", amount: 1, transactionId: "bad-lit-two" }, withdraw: { accountId: "${ACCOUNT}", amount: 1, transactionId: "bad-lit-two-w" } }] }) { head } }`,
        }),
      ),
    message: /OneOf Input Object "Command" must specify exactly one key/i,
    code: 'any',
  },
  { name: 'a Command with no field set', run: () => send(SubmitCommandsDocument, { input: { commands: [{}] } }), message: /exactly one key must be specified/i, code: 'any' },

  // Other command fields.
  { name: 'closeAccount reason over 500 characters', run: () => send(CloseAccountDocument, { input: { accountId: PEER, reason: 'r'.repeat(501) } }), message: /reason must be a string of at most 500 characters/ },
  { name: 'expectedVersion -1', run: () => send(DepositDocument, deposit({ expectedVersion: -1 })), message: /expectedVersion must be a non-negative integer/ },
];

describe('malformed input is refused with BAD_USER_INPUT and changes nothing', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const outcome = await expectHeadUnmoved(server, c.run);
    expect(outcome.errors?.length, `no error for ${c.name}: ${JSON.stringify(outcome)}`).toBeGreaterThan(0);
    const [error] = outcome.errors!;
    expect(error!.message).toMatch(c.message);
    if ((c.code ?? 'BAD_USER_INPUT') === 'BAD_USER_INPUT') expect(error!.extensions?.code, JSON.stringify(error)).toBe('BAD_USER_INPUT');
    // Nothing that looks like a result came back: no data at all, or the field is null.
    const data = outcome.data as Record<string, unknown> | null | undefined;
    if (data) for (const value of Object.values(data)) expect(value).toBeNull();
    // Refused before execution → 400; refused by a resolver → 200 with a field error (GraphQL-over-HTTP).
    expect([200, 400]).toContain(outcome.status);
  });

  it('left the accounts exactly as they were', async () => {
    expect((await server.data(AccountDocument, { id: ACCOUNT })).account).toMatchObject({ balance: 1_000, version: 1 });
    expect((await server.data(AccountDocument, { id: PEER })).account).toMatchObject({ balance: 0, version: 1, status: 'OPEN' });
    for (const id of ['bad-new', 'bad-xxx', 'bad-eur', 'has space', 'a'.repeat(128)]) {
      expect((await server.request(AccountDocument, { id })).data?.account ?? null).toBeNull();
    }
  });
});

describe('transport and query-shape limits', () => {
  const depositBody = (padBytes: number, transactionId: string) =>
    JSON.stringify({ query: print(DepositDocument), variables: { input: { accountId: ACCOUNT, amount: 1, transactionId }, pad: 'x'.repeat(padBytes) } });

  it('a body over 1 MiB gets 413 and is not executed; one just under is', async () => {
    const big = depositBody(1 << 20, 'bad-big-body');
    expect(Buffer.byteLength(big)).toBeGreaterThan(1 << 20);
    const refusedBig = await expectHeadUnmoved(server, () => postRaw(server.graphqlUrl, big));
    expect(refusedBig.status).toBe(413);
    expect(refusedBig.json?.errors?.[0]?.message).toMatch(/request body over 1048576 bytes/);

    const fits = depositBody((1 << 20) - 4_096, 'bad-fits-body');
    expect(Buffer.byteLength(fits)).toBeLessThan(1 << 20);
    const head = await headOf(server);
    const accepted = await postRaw(server.graphqlUrl, fits);
    expect(accepted.status).toBe(200);
    expect((accepted.json?.data as { deposit: { __typename: string } }).deposit.__typename).toBe('DepositSuccess');
    expect(await headOf(server)).toBe(head + 1);
  });

  const query = (text: string) => postRaw(server.graphqlUrl, JSON.stringify({ query: text }));
  /** Depth as the server counts it: nested fields of the deepest path, fragments inlined. */
  const depthOf = (text: string): number => {
    const document = parse(text);
    const fragments = new Map(document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])));
    const depth = (set: SelectionSetNode | undefined): number =>
      Math.max(
        0,
        ...(set?.selections ?? []).map((s) =>
          s.kind === Kind.FIELD ? 1 + depth(s.selectionSet) : s.kind === Kind.INLINE_FRAGMENT ? depth(s.selectionSet) : depth(fragments.get(s.name.value)!.selectionSet),
        ),
      );
    return Math.max(...document.definitions.map((d) => (d.kind === Kind.OPERATION_DEFINITION ? depth(d.selectionSet) : 0)));
  };

  // Depth counts nested fields (fragments add no level) and is the same for introspection as for any
  // other query. No field of this schema nests deeper than a few levels, so introspection is where the
  // limit bites: it must admit the standard introspection query (GraphiQL's) and nothing deeper.
  describe('one depth limit of 15, introspection included', () => {
    const nest = (levels: number): string => (levels === 0 ? 'name' : `ofType { ${nest(levels - 1)} }`);
    const expectDepthRefused = (refused: Awaited<ReturnType<typeof query>>, found: number) => {
      expect(refused.status).toBe(400);
      expect(refused.json?.errors).toHaveLength(1);
      expect(refused.json?.errors?.[0]).toMatchObject({
        message: `Query depth limit of 15 exceeded, found ${found}.`,
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      });
      expect(refused.json?.data).toBeUndefined();
    };

    it('the standard introspection query (getIntrospectionQuery, as GraphiQL sends it) works over HTTP', async () => {
      for (const options of [undefined, { descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true, oneOf: true }]) {
        const text = getIntrospectionQuery(options);
        expect(depthOf(text)).toBe(15);
        const r = await postRaw(server.graphqlUrl, JSON.stringify({ query: text, operationName: 'IntrospectionQuery' }));
        expect(r.status, r.text.slice(0, 300)).toBe(200);
        expect(r.json?.errors).toBeUndefined();
        // What GraphiQL does with the answer: build a client schema from it.
        const client = buildClientSchema(r.json!.data as unknown as IntrospectionQuery);
        expect(client.getType('Account')).toBeDefined();
      }
    });

    it('a 300-deep __schema query is refused like any too-deep query', async () => {
      expectDepthRefused(await query(`{ __schema { types { fields { type { ${nest(300)} } } } } }`), 305);
      expectDepthRefused(await query(`{ __schema { types { fields { type { ${nest(11)} } } } } }`), 16);
    });

    it('a __type query one level past the limit is refused the same way; at the limit it is fine', async () => {
      // __type › fields › type › 12 × ofType › name = 16 levels.
      expectDepthRefused(await query(`{ __type(name: "Account") { fields { type { ${nest(12)} } } } }`), 16);
      const fine = await query(`{ __type(name: "Account") { fields { type { ${nest(11)} } } } }`);
      expect(fine.status).toBe(200);
      expect(fine.json?.errors).toBeUndefined();
    });

    it('fragments add no level: the same fields through fragments count the same', async () => {
      const fragments = `fragment T on __Type { fields { type { ${nest(12)} } } }`;
      expectDepthRefused(await query(`{ __type(name: "Account") { ...T } } ${fragments}`), 16);
      expectDepthRefused(await query(`{ __type(name: "Account") { ... on __Type { ...T } } } ${fragments}`), 16);
    });
  });

  it('more than 30 aliases are refused, naming the limit; 30 are fine', async () => {
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ledger { head }`).join(' ')} }`;
    const tooMany = await query(aliases(31));
    expect(tooMany.status).toBe(400);
    expect(tooMany.json?.errors?.[0]).toMatchObject({ message: 'Aliases limit of 30 exceeded, found 31.', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    expect(tooMany.json?.data).toBeUndefined();
    const fine = await query(aliases(30));
    expect(fine.status).toBe(200);
    expect(Object.keys(fine.json?.data as object)).toHaveLength(30);
  });

  it('a query costing more than 200,000 is refused, naming the limit', async () => {
    // The cost model multiplies a selection by a literal `first`: one full page of events with the
    // accounts on both sides of each fits, three such pages in one query do not.
    const fields = 'id currency balance status version lastSequence openedSequence';
    const page = (alias: string, first: number) =>
      `${alias}: events(first: ${first}) { edges { cursor node { sequence type ... on MoneyTransferred { from { ${fields} } to { ${fields} } } } } }`;
    const heavy = (first: number, pages = 3) => `{ ${Array.from({ length: pages }, (_, i) => page(`p${i}`, first)).join(' ')} }`;
    expect((await query(heavy(1000, 1))).status).toBe(200);
    const tooCostly = await query(heavy(1000));
    expect(tooCostly.status).toBe(400);
    expect(tooCostly.json?.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/^Query Cost limit of 200000 exceeded, found [\d.]+\.$/),
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    const fine = await query(heavy(10));
    expect(fine.status).toBe(200);
    expect(fine.json?.errors).toBeUndefined();
  });

  it('more than 5000 tokens are refused, naming the limit', async () => {
    const long = await query(`{ ledger { ${'head '.repeat(5_000)} } }`);
    expect(long.status).toBe(400);
    expect(long.json?.errors?.[0]?.message).toMatch(/Token limit of 5000 exceeded/);
  });
});

describe('unexpected errors are masked', () => {
  it('a failure inside the server says "Unexpected error." with no message, stack or path of its own', async () => {
    const broken = await startTServer();
    try {
      await broken.data(OpenAccountDocument, { input: { accountId: 'm-1', currency: 'EUR', initialBalance: 5 } });
      // The store's database closes under the running server: every read of it now throws an
      // internal StoreError whose message names the data dir.
      await broken.app.store.rocks.close();
      const leaks = (text: string) => {
        expect(text).not.toContain(broken.dataDir);
        expect(text).not.toMatch(/StoreError|not open|\.ts\b|node_modules|\n\s+at /);
      };

      const read = await postRaw(broken.graphqlUrl, JSON.stringify({ query: print(EventsDocument) }));
      expect(read.json?.errors?.[0]).toMatchObject({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
      leaks(read.text);

      // A write that cannot be stored says so, and that it is safe to retry — still without internals.
      const write = await postRaw(
        broken.graphqlUrl,
        JSON.stringify({ query: print(DepositDocument), variables: { input: { accountId: 'm-1', amount: 1, transactionId: 'm-1-d' } } }),
      );
      expect(write.json?.errors?.[0]).toMatchObject({
        message: expect.stringMatching(/could not store the command. Retry in \d+ ms with the same transactionId/),
        extensions: { code: 'STORE_UNAVAILABLE', retryAfterMs: expect.any(Number) },
      });
      leaks(write.text);
    } finally {
      await broken.stop();
    }
  });
});
