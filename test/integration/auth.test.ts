// Authentication and authorization end to end, on real servers over real stores: bearer tokens (JWT:
// HS256 with a shared secret, RS256 and ES256 with a public key) turned into a role (reader < teller <
// admin) and an optional accounts scope, checked on every transport — HTTP POST, graphql-ws and SSE.
// Table-driven: token handling, role × operation × transport, scope × operation × transport, expiry of
// live subscriptions, and the admin export / import endpoints.
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/server/app.ts';
import { DEFAULT_CONFIG, checkExposure } from '../../src/server/config.ts';
import { Collected, sseEvents } from '../support/subscriptionClients.ts';
import { tempDir } from '../support/tempStore.ts';
import { startTServer, type TServer } from '../support/testServer.ts';

// --- keys and tokens --------------------------------------------------------------------------------

/** Exactly the minimum the server accepts (32 bytes). */
const SECRET = randomBytes(16).toString('hex');
const SECRET_KEY = new TextEncoder().encode(SECRET);
const ISSUER = 'https://issuer.evledger.test';
const AUDIENCE = 'evledger-api';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }) as string;

type Alg = 'HS256' | 'HS512' | 'RS256' | 'ES256';
interface SignOptions {
  readonly alg?: Alg;
  readonly key?: KeyObject | Uint8Array;
  /** Epoch seconds; null for no `exp`. @default 10 minutes from now */
  readonly exp?: number | null;
  readonly iss?: string | null;
  readonly aud?: string | null;
  readonly nbf?: number;
}

const nowSeconds = () => Math.floor(Date.now() / 1_000);

/** A JWT with `claims`; HS256 with SECRET, the test issuer and audience, and 10 minutes to live unless told otherwise. */
async function sign(claims: Record<string, unknown>, o: SignOptions = {}): Promise<string> {
  const jwt = new SignJWT({ sub: 'test', ...claims }).setProtectedHeader({ alg: o.alg ?? 'HS256', typ: 'JWT' }).setIssuedAt();
  const iss = o.iss === undefined ? ISSUER : o.iss;
  const aud = o.aud === undefined ? AUDIENCE : o.aud;
  const exp = o.exp === undefined ? nowSeconds() + 600 : o.exp;
  if (iss !== null) jwt.setIssuer(iss);
  if (aud !== null) jwt.setAudience(aud);
  if (exp !== null) jwt.setExpirationTime(exp);
  if (o.nbf !== undefined) jwt.setNotBefore(o.nbf);
  return jwt.sign(o.key ?? SECRET_KEY);
}
const rsToken = (claims: Record<string, unknown>, o: SignOptions = {}) => sign(claims, { alg: 'RS256', key: rsa.privateKey, ...o });
const esToken = (claims: Record<string, unknown>, o: SignOptions = {}) => sign(claims, { alg: 'ES256', key: ec.privateKey, ...o });

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** An unsigned token (`alg: none`). */
const unsigned = (claims: Record<string, unknown>) => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 'test', iss: ISSUER, aud: AUDIENCE, exp: nowSeconds() + 600, ...claims })}.`;
/** `token` with its payload replaced and its (now wrong) signature kept. */
function tampered(token: string, claims: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.');
  const changed = { ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), ...claims };
  return `${header}.${b64url(changed)}.${signature}`;
}

// --- transports -------------------------------------------------------------------------------------

interface GqlError {
  readonly message: string;
  readonly extensions?: { readonly code?: string } & Record<string, unknown>;
}
interface Result {
  readonly data?: any;
  readonly errors?: readonly GqlError[];
}
interface HttpResult extends Result {
  readonly status: number;
  readonly wwwAuthenticate: string | null;
}

const codeOf = (r: Result | Collected<unknown>) => r.errors?.[0]?.extensions?.code;
const bearer = (token: string | null | undefined): Record<string, string> => (token == null ? {} : { authorization: `Bearer ${token}` });

/** POST /graphql with an optional bearer token (or a raw Authorization value). */
async function gql(url: string, query: string, variables: Record<string, unknown> | undefined, auth: string | null | { raw: string }): Promise<HttpResult> {
  const authorization = auth === null ? {} : typeof auth === 'string' ? bearer(auth) : { authorization: auth.raw };
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...authorization },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  let body: Result;
  try {
    body = JSON.parse(text) as Result;
  } catch {
    throw new Error(`HTTP ${res.status}: not JSON: ${text.slice(0, 300)}`);
  }
  return { ...body, status: res.status, wwwAuthenticate: res.headers.get('www-authenticate') };
}

/** A WebSocket class that sends `headers` with its upgrade request (for graphql-ws's createClient). */
const withHeaders = (headers: Record<string, string>) =>
  class extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers });
    }
  };

const wsUrl = (graphqlUrl: string) => graphqlUrl.replace(/^http/, 'ws');

/** A graphql-ws client on one WebSocket, kept open between operations, authenticated by connection_init params (or upgrade headers). */
function wsClient(graphqlUrl: string, params?: Record<string, unknown>, headers?: Record<string, string>): Client {
  return createClient({
    url: wsUrl(graphqlUrl),
    webSocketImpl: headers ? withHeaders(headers) : WebSocket,
    connectionParams: params,
    retryAttempts: 0,
    lazy: true,
    lazyCloseTimeout: 120_000,
  });
}
const wsClientWith = (graphqlUrl: string, token: string) => wsClient(graphqlUrl, { authorization: `Bearer ${token}` });

/** One query or mutation over graphql-ws: its result, the errors of an `error` message, or the socket's close as a WS_CLOSED error. */
function wsRun(client: Client, query: string, variables?: Record<string, unknown>): Promise<Result> {
  return new Promise((resolve) => {
    let last: Result = {};
    client.subscribe(
      { query, variables },
      {
        next: (r) => void (last = r as Result),
        error: (e) => {
          if (Array.isArray(e)) return resolve({ errors: e as GqlError[] });
          const close = e as { code?: number; reason?: string };
          resolve({ errors: [{ message: `socket closed ${close.code} ${close.reason}`, extensions: { code: 'WS_CLOSED', closeCode: close.code, reason: close.reason } }] });
        },
        complete: () => resolve(last),
      },
    );
  });
}

type Sub = Collected<any> & { close(): Promise<void> };
let labels = 0;

function wsSubscribe(client: Client, query: string, variables?: Record<string, unknown>, label = `ws#${++labels}`): Sub {
  const sub = new Collected<any>(label) as Sub;
  const unsubscribe = client.subscribe({ query, variables }, { next: (m) => sub.push(m as any), error: (e) => sub.end(e), complete: () => sub.end() });
  sub.close = async () => {
    unsubscribe();
    sub.end();
  };
  return sub;
}

/** A subscription over SSE (POST, `accept: text/event-stream`) with a bearer token; a non-SSE answer becomes one message and the end. */
function sseSubscribe(graphqlUrl: string, token: string, query: string, variables?: Record<string, unknown>, label = `sse#${++labels}`): Sub {
  const sub = new Collected<any>(label) as Sub;
  const abort = new AbortController();
  const reading = (async () => {
    const res = await fetch(graphqlUrl, {
      method: 'POST',
      headers: { accept: 'text/event-stream', 'content-type': 'application/json', ...bearer(token) },
      body: JSON.stringify({ query, variables: variables ?? {} }),
      signal: abort.signal,
    });
    if (!res.headers.get('content-type')?.startsWith('text/event-stream')) {
      sub.push({ ...(JSON.parse(await res.text()) as object), extensions: { status: res.status } });
      return sub.end();
    }
    for await (const { event, data } of sseEvents(res.body as unknown as AsyncIterable<Uint8Array>)) {
      if (event === 'next') sub.push(JSON.parse(data));
      else if (event === 'complete') return sub.end();
    }
    sub.end(new Error('the SSE stream closed without `event: complete`'));
  })().catch((err) => sub.end(abort.signal.aborted ? undefined : err));
  sub.close = async () => {
    sub.end();
    abort.abort();
    await reading;
  };
  return sub;
}

interface RawMessage {
  readonly type: string;
  readonly id?: string;
  readonly payload?: any;
}
interface RawWs {
  readonly ws: WebSocket;
  readonly received: RawMessage[];
  /** Date.now() at each message's arrival, to compare with a token's `exp`. */
  readonly arrivals: number[];
  readonly closed: Promise<{ code: number; reason: string }>;
  send(message: Record<string, unknown>): void;
  waitFor(what: string, predicate: (m: RawMessage) => boolean, timeoutMs?: number): Promise<number>;
}

/** graphql-transport-ws by hand: exact protocol messages and close codes. */
async function rawWs(graphqlUrl: string, headers: Record<string, string> = {}): Promise<RawWs> {
  const ws = new WebSocket(wsUrl(graphqlUrl), 'graphql-transport-ws', { headers });
  const received: RawMessage[] = [];
  const arrivals: number[] = [];
  const listeners = new Set<() => void>();
  ws.on('message', (data) => {
    received.push(JSON.parse(String(data)) as RawMessage);
    arrivals.push(Date.now());
    for (const l of [...listeners]) l();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  ws.on('error', () => {}); // surfaces as 'close'
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    received,
    arrivals,
    closed,
    send: (message) => ws.send(JSON.stringify(message)),
    /** Resolves with the index of the first message matching `predicate`. */
    waitFor: (what, predicate, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const i = received.findIndex(predicate);
          if (i < 0) return;
          listeners.delete(check);
          clearTimeout(timer);
          resolve(i);
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`raw socket: timed out waiting for ${what}; received ${JSON.stringify(received.slice(-4))}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
  };
}

/** connection_init with `payload`: 'ack', or the close code and reason the server answered with. */
async function wsHandshake(graphqlUrl: string, payload: Record<string, unknown> | undefined, headers: Record<string, string> = {}): Promise<'ack' | { code: number; reason: string }> {
  const raw = await rawWs(graphqlUrl, headers);
  raw.send(payload === undefined ? { type: 'connection_init' } : { type: 'connection_init', payload });
  const outcome = await Promise.race([raw.waitFor('connection_ack', (m) => m.type === 'connection_ack').then(() => 'ack' as const), raw.closed]);
  raw.ws.close();
  await raw.closed;
  return outcome;
}

// --- servers and helpers over them ------------------------------------------------------------------

interface Srv {
  readonly t: TServer;
  /** Reached through 127.0.0.1 whatever the server binds. */
  readonly graphqlUrl: string;
  readonly base: string;
  readonly adminToken: string;
}

async function serve(config: Parameters<typeof startTServer>[0], adminToken: string): Promise<Srv> {
  const t = await startTServer(config);
  const base = `http://127.0.0.1:${t.app.port}`;
  return { t, base, graphqlUrl: `${base}/graphql`, adminToken };
}

/** As the server's unrestricted admin, failing on any error. */
async function admin(s: Srv, query: string, variables?: Record<string, unknown>): Promise<any> {
  const r = await gql(s.graphqlUrl, query, variables, s.adminToken);
  if (r.status !== 200 || r.errors?.length || !r.data) throw new Error(`admin request failed: HTTP ${r.status} ${JSON.stringify(r.errors)}`);
  return r.data;
}
const headOf = async (s: Srv): Promise<number> => (await admin(s, '{ ledger { head } }')).ledger.head;

let tx = 0;
async function command(s: Srv, field: string, input: string): Promise<number> {
  const success = `${field[0]!.toUpperCase()}${field.slice(1)}Success`;
  const data = await admin(s, `mutation { r: ${field}(input: ${input}) { __typename ... on DomainError { code message } ... on ${success} { sequence } } }`);
  if (typeof data.r.sequence !== 'number') throw new Error(`${field} failed: ${JSON.stringify(data.r)}`);
  return data.r.sequence;
}
const open = (s: Srv, id: string, currency = 'EUR', initialBalance = 0) => command(s, 'openAccount', `{ accountId: "${id}", currency: "${currency}", initialBalance: ${initialBalance} }`);
const deposit = (s: Srv, id: string, amount: number) => command(s, 'deposit', `{ accountId: "${id}", amount: ${amount}, transactionId: "setup-${++tx}" }`);
const transfer = (s: Srv, from: string, to: string, amount: number) => command(s, 'transfer', `{ fromAccountId: "${from}", toAccountId: "${to}", amount: ${amount}, transactionId: "setup-${++tx}" }`);

/** Totals as the API reports them, computed from the given accounts. */
function totalsOver(accounts: readonly { currency: string; balance: number }[]) {
  const byCurrency = new Map<string, { currency: string; balance: number; accounts: number }>();
  for (const a of accounts) {
    const t = byCurrency.get(a.currency) ?? { currency: a.currency, balance: 0, accounts: 0 };
    t.balance += a.balance;
    t.accounts += 1;
    byCurrency.set(a.currency, t);
  }
  return [...byCurrency.values()].sort((x, y) => x.currency.localeCompare(y.currency));
}
const sortedTotals = (totals: readonly { currency: string; balance: number; accounts: number }[]) =>
  [...totals].map(({ currency, balance, accounts }) => ({ currency, balance, accounts })).sort((x, y) => x.currency.localeCompare(y.currency));

/** The accounts `ids` at `atSequence` as the unrestricted admin reads them (absent ones left out). */
async function accountsAt(s: Srv, ids: readonly string[], atSequence: number) {
  const data = await admin(s, `query($at: Sequence) { ${ids.map((id, i) => `a${i}: account(id: "${id}", atSequence: $at) { id currency balance }`).join(' ')} }`, { at: atSequence });
  return ids.map((_, i) => data[`a${i}`]).filter((a): a is { id: string; currency: string; balance: number } => a != null);
}

const EVENT_FIELDS = `sequence type accountIds
  ... on AccountOpened { accountId account { id balance } }
  ... on MoneyDeposited { accountId account { id balance } }
  ... on MoneyWithdrawn { accountId account { id balance } }
  ... on MoneyTransferred { fromAccountId toAccountId from { id balance } to { id balance } }
  ... on AccountClosed { accountId account { id balance } }`;

// --- the servers ------------------------------------------------------------------------------------

/** HS256 with a required issuer and audience: token handling and the roles matrix. */
let hs: Srv;
/** HS256, no issuer or audience configured: the scope matrix, expiry, and the export source. */
let sc: Srv;
/** RS256, bound to 0.0.0.0 (authentication on, so no --insecure needed). */
let rs: Srv;
/** ES256, its public key given as a path to a PEM file. */
let es: Srv;
/** HS256 and empty: the import target. */
let imp: Srv;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  const keys = await tempDir('evledger-keys-');
  cleanups.push(keys.remove);
  const ecPath = join(keys.dir, 'es256.pem');
  await writeFile(ecPath, pem(ec.publicKey));
  const [hsAdmin, scAdmin, rsAdmin, esAdmin] = await Promise.all([sign({ role: 'admin' }), sign({ role: 'admin' }, { iss: null, aud: null }), rsToken({ role: 'admin' }), esToken({ role: 'admin' })]);
  [hs, sc, rs, es, imp] = await Promise.all([
    serve({ jwtSecret: SECRET, jwtIssuer: ISSUER, jwtAudience: AUDIENCE }, hsAdmin),
    serve({ jwtSecret: SECRET }, scAdmin),
    serve({ jwtPublicKey: pem(rsa.publicKey), host: '0.0.0.0' }, rsAdmin),
    serve({ jwtPublicKey: ecPath }, esAdmin),
    serve({ jwtSecret: SECRET }, scAdmin),
  ]);
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await Promise.all([hs, sc, rs, es, imp].filter(Boolean).map((s) => s.t.stop()));
});

// --- 1. token handling ------------------------------------------------------------------------------

describe('token handling', () => {
  interface TokenCase {
    readonly name: string;
    /** A bearer token, a raw Authorization value, or none. */
    readonly auth: () => Promise<string | { raw: string } | null>;
    readonly code: 'UNAUTHENTICATED' | 'TOKEN_EXPIRED';
  }
  const hsWith = (claims: Record<string, unknown>, o: SignOptions = {}) => () => sign(claims, o);
  const CASES: TokenCase[] = [
    { name: 'no Authorization header', auth: async () => null, code: 'UNAUTHENTICATED' },
    { name: 'a Basic credential', auth: async () => ({ raw: `Basic ${Buffer.from('admin:admin').toString('base64')}` }), code: 'UNAUTHENTICATED' },
    { name: 'Bearer without a token', auth: async () => ({ raw: 'Bearer ' }), code: 'UNAUTHENTICATED' },
    { name: 'not a JWT', auth: async () => 'not-a-jwt', code: 'UNAUTHENTICATED' },
    { name: 'signed with another secret', auth: hsWith({ role: 'admin' }, { key: new TextEncoder().encode('another-secret-of-at-least-32-bytes!!') }), code: 'UNAUTHENTICATED' },
    { name: 'payload tampered (reader → admin)', auth: async () => tampered(await sign({ role: 'reader' }), { role: 'admin' }), code: 'UNAUTHENTICATED' },
    { name: 'alg none', auth: async () => unsigned({ role: 'admin' }), code: 'UNAUTHENTICATED' },
    { name: 'HS512 with the right secret (algorithm not allowed)', auth: hsWith({ role: 'admin' }, { alg: 'HS512' }), code: 'UNAUTHENTICATED' },
    { name: 'RS256 against an HS256 server', auth: () => rsToken({ role: 'admin' }), code: 'UNAUTHENTICATED' },
    { name: 'expired', auth: hsWith({ role: 'admin' }, { exp: nowSeconds() - 60 }), code: 'TOKEN_EXPIRED' },
    { name: 'not yet valid (nbf in the future)', auth: hsWith({ role: 'admin' }, { nbf: nowSeconds() + 300 }), code: 'UNAUTHENTICATED' },
    { name: 'wrong issuer', auth: hsWith({ role: 'admin' }, { iss: 'https://elsewhere.test' }), code: 'UNAUTHENTICATED' },
    { name: 'no issuer', auth: hsWith({ role: 'admin' }, { iss: null }), code: 'UNAUTHENTICATED' },
    { name: 'wrong audience', auth: hsWith({ role: 'admin' }, { aud: 'another-api' }), code: 'UNAUTHENTICATED' },
    { name: 'no audience', auth: hsWith({ role: 'admin' }, { aud: null }), code: 'UNAUTHENTICATED' },
    { name: 'no role claim', auth: hsWith({}), code: 'UNAUTHENTICATED' },
    { name: 'unknown role', auth: hsWith({ role: 'superuser' }), code: 'UNAUTHENTICATED' },
    { name: 'role in the wrong case', auth: hsWith({ role: 'Admin' }), code: 'UNAUTHENTICATED' },
    { name: 'role not a string', auth: hsWith({ role: ['admin'] }), code: 'UNAUTHENTICATED' },
    { name: 'accounts not an array', auth: hsWith({ role: 'teller', accounts: 'a' }), code: 'UNAUTHENTICATED' },
    { name: 'accounts null', auth: hsWith({ role: 'teller', accounts: null }), code: 'UNAUTHENTICATED' },
    { name: 'accounts empty', auth: hsWith({ role: 'teller', accounts: [] }), code: 'UNAUTHENTICATED' },
    { name: 'accounts holding a number', auth: hsWith({ role: 'teller', accounts: ['a', 1] }), code: 'UNAUTHENTICATED' },
    { name: 'accounts holding an invalid id', auth: hsWith({ role: 'teller', accounts: ['a', 'has space'] }), code: 'UNAUTHENTICATED' },
    { name: 'accounts over 1000 ids', auth: hsWith({ role: 'teller', accounts: Array.from({ length: 1_001 }, (_, i) => `x${i}`) }), code: 'UNAUTHENTICATED' },
  ];

  it.each(CASES)('HTTP refuses $name: 401 $code with WWW-Authenticate, and runs nothing', async ({ auth, code }) => {
    const before = await headOf(hs);
    const sent = await auth();
    const r = await gql(hs.graphqlUrl, 'mutation { openAccount(input: { accountId: "never", currency: "EUR" }) { __typename } }', undefined, sent);
    expect(r.status).toBe(401);
    expect(r.data).toBeUndefined();
    expect(r.errors).toHaveLength(1);
    expect(codeOf(r)).toBe(code);
    expect(r.wwwAuthenticate).toMatch(/^Bearer\b/);
    if (typeof sent === 'string') expect(r.wwwAuthenticate).toContain('error="invalid_token"'); // a token was sent, and refused
    else expect(r.wwwAuthenticate).not.toContain('error='); // RFC 6750 §3.1: no error code when no token was sent
    expect(await headOf(hs)).toBe(before);
  });

  it.each(CASES.filter((c) => c.name !== 'a Basic credential' && c.name !== 'Bearer without a token'))('graphql-ws closes 4403 on $name ($code)', async ({ auth, code }) => {
    const token = await auth();
    const params = token === null ? undefined : typeof token === 'string' ? { authorization: `Bearer ${token}` } : { authorization: token.raw };
    const outcome = await wsHandshake(hs.graphqlUrl, params);
    expect(outcome).not.toBe('ack');
    expect(outcome).toMatchObject({ code: 4403, reason: expect.stringMatching(new RegExp(`^${code}: `)) });
  });

  it('SSE without a token or with an expired one: 401, no stream', async () => {
    for (const [token, code] of [
      [null, 'UNAUTHENTICATED'],
      [await sign({ role: 'admin' }, { exp: nowSeconds() - 5 }), 'TOKEN_EXPIRED'],
    ] as const) {
      const res = await fetch(hs.graphqlUrl, {
        method: 'POST',
        headers: { accept: 'text/event-stream', 'content-type': 'application/json', ...bearer(token) },
        body: JSON.stringify({ query: 'subscription { ledgerUpdates { toSequence } }' }),
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(((await res.json()) as Result).errors?.[0]?.extensions?.code).toBe(code);
    }
  });

  // The refusal's message quotes what the token's header says (jose: `Extension Header Parameter "<name>" is not
  // recognized`, checked before the signature): characters a header or a close reason cannot carry must not
  // turn a 401 into a crash, nor a 4403 into a 4500.
  it('a token whose refusal message holds non-ASCII text (a crafted "crit" header): still 401 with a valid WWW-Authenticate, and the server lives on', async () => {
    for (const name of ['中', 'line\r\nbreak', '\u0001']) {
      const token = `${b64url({ alg: 'HS256', typ: 'JWT', crit: [name] })}.${b64url({ role: 'admin' })}.AAAA`;
      const res = await fetch(hs.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...bearer(token) },
        body: JSON.stringify({ query: '{ ledger { head } }' }),
        signal: AbortSignal.timeout(3_000),
      }).catch((err: Error) => err);
      expect(res instanceof Response ? res.status : `no answer (${(res as Error).name}): the server failed while refusing the token`, JSON.stringify(name)).toBe(401);
      if (!(res instanceof Response)) continue;
      expect(((await res.json()) as Result).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="evledger", error="invalid_token", error_description="[\x20-\x7e]*"$/);
    }
    expect((await fetch(`${hs.base}/healthz`)).status).toBe(200);
  });

  it('graphql-ws: a refusal message over 123 bytes once UTF-8 encoded still closes 4403, not 4500', async () => {
    const token = `${b64url({ alg: 'HS256', typ: 'JWT', crit: ['é'.repeat(60)] })}.${b64url({ role: 'admin' })}.AAAA`;
    expect(await wsHandshake(hs.graphqlUrl, { token })).toMatchObject({ code: 4403, reason: expect.stringMatching(/^UNAUTHENTICATED: /) });
  });

  it('GET /graphql operations need a token too; the GraphiQL page does not (and runs nothing)', async () => {
    const query = encodeURIComponent('{ ledger { head } }');
    const denied = await fetch(`${hs.graphqlUrl}?query=${query}`, { headers: { accept: 'application/graphql-response+json' } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const allowed = await fetch(`${hs.graphqlUrl}?query=${query}`, { headers: { accept: 'application/graphql-response+json', ...bearer(hs.adminToken) } });
    expect(allowed.status).toBe(200);
    expect(((await allowed.json()) as Result).data).toEqual({ ledger: { head: expect.any(Number) } });

    const before = await headOf(hs);
    const mutation = encodeURIComponent('mutation { openAccount(input: { accountId: "via-graphiql", currency: "EUR" }) { __typename } }');
    for (const [url, accept] of [
      [hs.graphqlUrl, 'text/html'],
      [`${hs.graphqlUrl}?query=${query}`, 'text/html'],
      [`${hs.graphqlUrl}?query=${mutation}`, 'application/graphql-response+json, text/html;q=0.1'],
    ] as const) {
      const page = await fetch(url, { headers: { accept } });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await page.text();
      expect(html).toContain('evledger');
      expect(html).not.toMatch(/"ledger":\s*\{\s*"head"/); // the page, not the query's result
    }
    expect(await headOf(hs)).toBe(before);
    expect((await admin(hs, '{ account(id: "via-graphiql") { id } }')).account).toBeNull();
  });

  it('graphql-ws takes the token as {authorization}, {Authorization}, {token}, or the upgrade request header', async () => {
    const token = await sign({ role: 'reader' });
    const ways: { name: string; client: Client }[] = [
      { name: 'authorization', client: wsClient(hs.graphqlUrl, { authorization: `Bearer ${token}` }) },
      { name: 'Authorization', client: wsClient(hs.graphqlUrl, { Authorization: `Bearer ${token}` }) },
      { name: 'token', client: wsClient(hs.graphqlUrl, { token }) },
      { name: 'upgrade header', client: wsClient(hs.graphqlUrl, undefined, bearer(token)) },
    ];
    try {
      for (const { name, client } of ways) {
        const r = await wsRun(client, '{ ledger { head } }');
        expect(r.errors, name).toBeUndefined();
        expect(r.data, name).toEqual({ ledger: { head: expect.any(Number) } });
      }
    } finally {
      await Promise.all(ways.map((w) => w.client.dispose()));
    }
    // Without connection_init params at all, and without a header: refused.
    expect(await wsHandshake(hs.graphqlUrl, undefined)).toMatchObject({ code: 4403, reason: expect.stringMatching(/^UNAUTHENTICATED: /) });
  });

  describe.each([
    { alg: 'RS256', server: () => rs, own: rsToken, foreign: [
      { name: 'HS256 signed with the public key as the secret', token: () => sign({ role: 'admin' }, { alg: 'HS256', key: new TextEncoder().encode(pem(rsa.publicKey)) }) },
      { name: 'RS256 from another key', token: () => rsToken({ role: 'admin' }, { key: otherRsa.privateKey }) },
      { name: 'ES256', token: () => esToken({ role: 'admin' }) },
      { name: 'HS256 with the shared secret', token: () => sign({ role: 'admin' }) },
      { name: 'alg none', token: async () => unsigned({ role: 'admin' }) },
    ] },
    { alg: 'ES256', server: () => es, own: esToken, foreign: [
      { name: 'HS256 signed with the public key as the secret', token: () => sign({ role: 'admin' }, { alg: 'HS256', key: new TextEncoder().encode(pem(ec.publicKey)) }) },
      { name: 'RS256', token: () => rsToken({ role: 'admin' }) },
      { name: 'alg none', token: async () => unsigned({ role: 'admin' }) },
    ] },
  ])('an $alg server', ({ server, own, foreign }) => {
    it('accepts its own tokens over HTTP and graphql-ws (issuer and audience not configured: not checked)', async () => {
      const s = server();
      for (const token of [await own({ role: 'teller' }), await own({ role: 'teller' }, { iss: null, aud: null }), await own({ role: 'teller' }, { iss: 'anyone', aud: 'anything' })]) {
        const r = await gql(s.graphqlUrl, `mutation { openAccount(input: { accountId: "own-${++tx}", currency: "EUR" }) { __typename } }`, undefined, token);
        expect(r.status).toBe(200);
        expect(r.data).toEqual({ openAccount: { __typename: 'OpenAccountSuccess' } });
      }
      const client = wsClientWith(s.graphqlUrl, await own({ role: 'reader' }));
      try {
        expect((await wsRun(client, '{ ledger { head } }')).data).toEqual({ ledger: { head: expect.any(Number) } });
      } finally {
        await client.dispose();
      }
      expect(await wsHandshake(s.graphqlUrl, { authorization: `Bearer ${await own({ role: 'reader' }, { exp: nowSeconds() - 5 })}` })).toMatchObject({ code: 4403, reason: expect.stringMatching(/^TOKEN_EXPIRED: /) });
      expect((await gql(s.graphqlUrl, '{ ledger { head } }', undefined, await own({ role: 'reader' }, { exp: nowSeconds() - 5 }))).errors?.[0]?.extensions?.code).toBe('TOKEN_EXPIRED');
    });

    it.each(foreign)('refuses $name (HTTP 401, graphql-ws 4403)', async ({ token }) => {
      const t = await token();
      const r = await gql(server().graphqlUrl, '{ ledger { head } }', undefined, t);
      expect(r.status).toBe(401);
      expect(codeOf(r)).toBe('UNAUTHENTICATED');
      expect(await wsHandshake(server().graphqlUrl, { token: t })).toMatchObject({ code: 4403, reason: expect.stringMatching(/^UNAUTHENTICATED: /) });
    });
  });

  it('with authentication on, binds 0.0.0.0 without --insecure (reached here through 127.0.0.1)', async () => {
    expect(rs.t.app.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
    expect(() => checkExposure({ ...DEFAULT_CONFIG, host: '0.0.0.0', jwtSecret: SECRET })).not.toThrow();
    const health = await fetch(`${rs.base}/healthz`);
    expect(health.status).toBe(200);
  });

  it.each([
    { name: 'a JWT_SECRET shorter than 32 bytes', config: { jwtSecret: SECRET.slice(0, 31) }, error: /JWT_SECRET must be at least 32 bytes/ },
    { name: 'both JWT_SECRET and JWT_PUBLIC_KEY', config: { jwtSecret: SECRET, jwtPublicKey: pem(rsa.publicKey) }, error: /not both/ },
    { name: 'a JWT_PUBLIC_KEY that is no key', config: { jwtPublicKey: '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----' }, error: /JWT_PUBLIC_KEY is not a PEM public key/ },
    { name: 'an Ed25519 JWT_PUBLIC_KEY', config: { jwtPublicKey: pem(generateKeyPairSync('ed25519').publicKey) }, error: /RSA key \(RS256\) or a P-256 EC key/ },
    { name: 'a P-384 JWT_PUBLIC_KEY', config: { jwtPublicKey: pem(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey) }, error: /RSA key \(RS256\) or a P-256 EC key/ },
  ])('refuses to start with $name', async ({ config, error }) => {
    const { dir, remove } = await tempDir();
    try {
      await expect(buildApp({ ...DEFAULT_CONFIG, host: '0.0.0.0', port: 0, dataDir: dir, logLevel: 'silent', ...config }).start()).rejects.toThrow(error);
    } finally {
      await remove();
    }
  });
});

// --- 2. roles ---------------------------------------------------------------------------------------

describe('roles: reader < teller < admin, on HTTP and graphql-ws (SSE for the subscription)', () => {
  const ROLES = ['reader', 'teller', 'admin'] as const;
  type Role = (typeof ROLES)[number];
  type Transport = 'http' | 'ws';
  const tokens = {} as Record<Role, string>;
  const clients = {} as Record<Role, Client>;

  beforeAll(async () => {
    for (const role of ROLES) {
      tokens[role] = await sign({ role, sub: `${role}-1` });
      clients[role] = wsClientWith(hs.graphqlUrl, tokens[role]);
    }
    await open(hs, 'base', 'EUR', 1_000);
  });
  afterAll(async () => {
    await Promise.all(Object.values(clients).map((c) => c.dispose()));
  });

  interface Op {
    readonly name: string;
    readonly minRole: Role;
    /** Admin-side setup for case `n`. */
    readonly prepare?: (n: string) => Promise<unknown>;
    readonly query: (n: string) => string;
    /** Head movement when allowed. */
    readonly moves: number;
    readonly expectData: (data: any, n: string) => void;
  }
  const OPS: Op[] = [
    {
      name: 'queries (ledger, account, accounts, events, replay, snapshots)',
      minRole: 'reader',
      query: () => '{ ledger { head } account(id: "base") { balance } accounts(first: 2) { nodes { id } } events(first: 1) { nodes { sequence } } replay(toSequence: 1) { eventsReplayed } snapshots }',
      moves: 0,
      expectData: (d) => expect(d).toMatchObject({ ledger: { head: expect.any(Number) }, account: { balance: expect.any(Number) }, replay: { eventsReplayed: 1 } }),
    },
    {
      name: 'openAccount',
      minRole: 'teller',
      query: (n) => `mutation { openAccount(input: { accountId: "${n}", currency: "EUR", initialBalance: 5 }) { __typename } }`,
      moves: 1,
      expectData: (d) => expect(d).toEqual({ openAccount: { __typename: 'OpenAccountSuccess' } }),
    },
    {
      name: 'deposit',
      minRole: 'teller',
      prepare: (n) => open(hs, n),
      query: (n) => `mutation { deposit(input: { accountId: "${n}", amount: 10, transactionId: "${n}-d" }) { __typename } }`,
      moves: 1,
      expectData: (d) => expect(d).toEqual({ deposit: { __typename: 'DepositSuccess' } }),
    },
    {
      name: 'withdraw',
      minRole: 'teller',
      prepare: (n) => open(hs, n, 'EUR', 100),
      query: (n) => `mutation { withdraw(input: { accountId: "${n}", amount: 10, transactionId: "${n}-w" }) { __typename } }`,
      moves: 1,
      expectData: (d) => expect(d).toEqual({ withdraw: { __typename: 'WithdrawSuccess' } }),
    },
    {
      name: 'transfer',
      minRole: 'teller',
      prepare: async (n) => Promise.all([open(hs, `${n}-from`, 'EUR', 100), open(hs, `${n}-to`)]),
      query: (n) => `mutation { transfer(input: { fromAccountId: "${n}-from", toAccountId: "${n}-to", amount: 10, transactionId: "${n}-t" }) { __typename } }`,
      moves: 1,
      expectData: (d) => expect(d).toEqual({ transfer: { __typename: 'TransferSuccess' } }),
    },
    {
      name: 'closeAccount',
      minRole: 'teller',
      prepare: (n) => open(hs, n),
      query: (n) => `mutation { closeAccount(input: { accountId: "${n}", reason: "done" }) { __typename } }`,
      moves: 1,
      expectData: (d) => expect(d).toEqual({ closeAccount: { __typename: 'CloseAccountSuccess' } }),
    },
    {
      name: 'submitCommands',
      minRole: 'teller',
      prepare: (n) => open(hs, n),
      query: (n) =>
        `mutation { submitCommands(input: { atomic: true, commands: [
          { deposit: { accountId: "${n}", amount: 30, transactionId: "${n}-s1" } },
          { withdraw: { accountId: "${n}", amount: 5, transactionId: "${n}-s2" } } ] }) { head results { __typename } } }`,
      moves: 2,
      expectData: (d) => expect(d.submitCommands.results).toEqual([{ __typename: 'DepositSuccess' }, { __typename: 'WithdrawSuccess' }]),
    },
    {
      name: 'createSnapshot',
      minRole: 'admin',
      prepare: (n) => open(hs, n), // a new head to snapshot at
      query: () => 'mutation { createSnapshot }',
      moves: 0,
      expectData: (d) => expect(d.createSnapshot).toEqual(expect.any(Number)),
    },
  ];

  let n = 0;
  const CASES = ROLES.flatMap((role) => OPS.flatMap((op) => (['http', 'ws'] as Transport[]).map((transport) => ({ role, op, transport, opName: op.name }))));

  it.each(CASES)('$role × $opName over $transport', async ({ role, op, transport }) => {
    const id = `r${++n}-${role}-${transport}`;
    await op.prepare?.(id);
    const allowed = ROLES.indexOf(role) >= ROLES.indexOf(op.minRole);
    const before = await headOf(hs);
    const snapshotsBefore = (await admin(hs, '{ snapshots }')).snapshots as number[];
    const r = transport === 'http' ? await gql(hs.graphqlUrl, op.query(id), undefined, tokens[role]) : await wsRun(clients[role], op.query(id));
    if (allowed) {
      expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
      op.expectData(r.data, id);
      expect(await headOf(hs)).toBe(before + op.moves);
      if (op.name === 'createSnapshot') expect((await admin(hs, '{ snapshots }')).snapshots).toContain(r.data.createSnapshot);
    } else {
      expect(codeOf(r), JSON.stringify(r)).toBe('FORBIDDEN');
      expect(r.errors?.[0]?.message).toMatch(new RegExp(`needs the ${op.minRole} role; this token has ${role}`));
      expect(r.data ?? null).toBeNull();
      if ('status' in r) expect(r.status).not.toBe(401);
      expect(await headOf(hs), 'a refused mutation moved the head').toBe(before);
      expect((await admin(hs, '{ snapshots }')).snapshots).toEqual(snapshotsBefore);
    }
  });

  it.each(ROLES.flatMap((role) => (['sse', 'ws'] as const).map((transport) => ({ role, transport }))))('$role may subscribe over $transport', async ({ role, transport }) => {
    const id = `sub-${role}-${transport}`;
    const opened = await open(hs, id, 'EUR', 7);
    const query = `subscription($ids: [ID!]!) { accountUpdates(accountIds: $ids, afterSequence: 0) { sequence accountId balance } }`;
    const sub = transport === 'ws' ? wsSubscribe(clients[role], query, { ids: [id] }) : sseSubscribe(hs.graphqlUrl, tokens[role], query, { ids: [id] });
    try {
      await sub.waitFor(1);
      expect(sub.errors).toEqual([]);
      expect(sub.messages[0]!.data).toEqual({ accountUpdates: { sequence: opened, accountId: id, balance: 7 } });
    } finally {
      await sub.close();
    }
  });
});

// --- 3. account scope -------------------------------------------------------------------------------

describe('account scope: a token for accounts a and b, against a, b, c (EUR) and d (USD)', () => {
  type Transport = 'http' | 'ws';
  const TRANSPORTS: Transport[] = ['http', 'ws'];
  let scoped: string; // teller, accounts a and b
  let client: Client;
  /** Sequences of the setup events, by name. */
  const seq: Record<string, number> = {};
  const run = (transport: Transport, query: string, variables?: Record<string, unknown>): Promise<Result> =>
    transport === 'http' ? gql(sc.graphqlUrl, query, variables, scoped) : wsRun(client, query, variables);

  beforeAll(async () => {
    scoped = await sign({ role: 'teller', accounts: ['a', 'b'], sub: 'desk-ab' }, { iss: null, aud: null });
    client = wsClientWith(sc.graphqlUrl, scoped);
    seq.openA = await open(sc, 'a', 'EUR', 1_000);
    seq.openB = await open(sc, 'b', 'EUR', 500);
    seq.openC = await open(sc, 'c', 'EUR', 300);
    seq.openD = await open(sc, 'd', 'USD', 700);
    seq.depositA = await deposit(sc, 'a', 50);
    seq.transferBC = await transfer(sc, 'b', 'c', 100);
    seq.depositC = await deposit(sc, 'c', 25);
    seq.transferCA = await transfer(sc, 'c', 'a', 10);
    expect(Object.values(seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
  afterAll(async () => client?.dispose());

  describe.each(TRANSPORTS)('reads over %s', (transport) => {
    it('account(a) is readable; account(c), account(c, atSequence) and an unknown account are FORBIDDEN', async () => {
      expect(await run(transport, '{ account(id: "a") { id balance } }')).toMatchObject({ data: { account: { id: 'a', balance: 1_060 } } });
      expect(await run(transport, '{ account(id: "b", atSequence: 5) { balance } }')).toMatchObject({ data: { account: { balance: 500 } } });
      for (const query of ['{ account(id: "c") { id balance } }', '{ account(id: "c", atSequence: 3) { balance } }', '{ account(id: "c", atTime: "2100-01-01T00:00:00Z") { balance } }', '{ account(id: "nobody") { id } }']) {
        const r = await run(transport, query);
        expect(codeOf(r), query).toBe('FORBIDDEN');
        expect(r.data?.account ?? null).toBeNull();
        expect(JSON.stringify(r)).not.toContain('415'); // c's balance
      }
    });

    it('accounts lists a and b only, now and atSequence', async () => {
      const ids = async (args: string) => ((await run(transport, `{ accounts${args} { nodes { id } pageInfo { hasNextPage } } }`)).data.accounts as { nodes: { id: string }[] }).nodes.map((a) => a.id);
      expect(await ids('')).toEqual(['a', 'b']);
      expect(await ids('(atSequence: 1)')).toEqual(['a']);
      expect(await ids('(atSequence: 4)')).toEqual(['a', 'b']);
      expect(await ids('(first: 1)')).toEqual(['a']);
      const page = (await run(transport, '{ accounts(first: 1) { pageInfo { hasNextPage endCursor } } }')).data.accounts.pageInfo;
      expect(page.hasNextPage).toBe(true);
      expect(await ids(`(first: 5, after: "${page.endCursor}")`)).toEqual(['b']);
      // The unrestricted admin sees all four.
      expect((await admin(sc, '{ accounts { nodes { id } } }')).accounts.nodes.map((a: { id: string }) => a.id)).toEqual(['a', 'b', 'c', 'd']);
    });

    it('ledger totals and accountCount are over a and b only, and agree at every atSequence', async () => {
      const now = (await run(transport, '{ ledger { sequence head accountCount totals { currency balance accounts } } }')).data.ledger;
      expect(now).toEqual({ sequence: 8, head: expect.any(Number), accountCount: 2, totals: [{ currency: 'EUR', balance: 1_060 + 400, accounts: 2 }] });
      for (let at = 0; at <= 8; at++) {
        const r = await run(transport, '{ ledger(atSequence: ' + at + ') { sequence accountCount totals { currency balance accounts } } }');
        const inScope = await accountsAt(sc, ['a', 'b'], at);
        expect(r.data.ledger, `at ${at}`).toEqual({ sequence: at, accountCount: inScope.length, totals: totalsOver(inScope) });
      }
      // The whole ledger, for contrast: c and d are in it.
      const whole = (await admin(sc, '{ ledger(atSequence: 8) { accountCount totals { currency balance } } }')).ledger;
      expect(whole).toEqual({ accountCount: 4, totals: [{ currency: 'EUR', balance: 1_060 + 400 + 415 }, { currency: 'USD', balance: 700 }] });
    });

    it('events lists only events touching a or b; the other side of a transfer is null; events(accountId: c) is FORBIDDEN', async () => {
      const events = (await run(transport, `{ events(first: 100) { nodes { ${EVENT_FIELDS} } } }`)).data.events.nodes as any[];
      expect(events.map((e) => e.sequence)).toEqual([seq.openA, seq.openB, seq.depositA, seq.transferBC, seq.transferCA]);
      const bc = events.find((e) => e.sequence === seq.transferBC);
      expect(bc).toMatchObject({ type: 'TRANSFERRED', fromAccountId: 'b', toAccountId: 'c', from: { id: 'b', balance: 400 }, to: null });
      const ca = events.find((e) => e.sequence === seq.transferCA);
      expect(ca).toMatchObject({ type: 'TRANSFERRED', fromAccountId: 'c', toAccountId: 'a', from: null, to: { id: 'a', balance: 1_060 } });
      expect(events.find((e) => e.sequence === seq.openA)).toMatchObject({ account: { id: 'a', balance: 1_000 } });

      const ofA = (await run(transport, '{ events(accountId: "a") { nodes { sequence } } }')).data.events.nodes.map((e: { sequence: number }) => e.sequence);
      expect(ofA).toEqual([seq.openA, seq.depositA, seq.transferCA]);
      const transfers = (await run(transport, '{ events(types: [TRANSFERRED], afterSequence: 6) { nodes { sequence } } }')).data.events.nodes;
      expect(transfers).toEqual([{ sequence: seq.transferCA }]);
      for (const query of ['{ events(accountId: "c") { nodes { sequence } } }', '{ events(accountId: "d", first: 1) { nodes { sequence } } }']) {
        const r = await run(transport, query);
        expect(codeOf(r), query).toBe('FORBIDDEN');
        expect(r.data ?? null).toBeNull();
      }
    });

    it('replay is scoped: its ledger over a and b, account(a) readable, account(c) FORBIDDEN', async () => {
      for (const at of [6, 8]) {
        const r = await run(transport, `{ replay(toSequence: ${at}) { ledger { sequence accountCount totals { currency balance accounts } } account(id: "a") { balance } } ledger(atSequence: ${at}) { sequence accountCount totals { currency balance accounts } } }`);
        expect(r.errors).toBeUndefined();
        expect(r.data.replay.ledger).toEqual(r.data.ledger);
        expect(r.data.replay.account).toEqual({ balance: at === 6 ? 1_050 : 1_060 });
      }
      const r = await run(transport, '{ replay(toSequence: 8) { account(id: "c") { balance } } }');
      expect(codeOf(r)).toBe('FORBIDDEN');
    });
  });

  describe.each(TRANSPORTS)('mutations over %s', (transport) => {
    const REFUSED = [
      { name: 'deposit to c', m: (k: string) => `mutation { deposit(input: { accountId: "c", amount: 1, transactionId: "${k}" }) { __typename } }` },
      { name: 'withdraw from c', m: (k: string) => `mutation { withdraw(input: { accountId: "c", amount: 1, transactionId: "${k}" }) { __typename } }` },
      { name: 'transfer a → c', m: (k: string) => `mutation { transfer(input: { fromAccountId: "a", toAccountId: "c", amount: 1, transactionId: "${k}" }) { __typename } }` },
      { name: 'transfer c → a', m: (k: string) => `mutation { transfer(input: { fromAccountId: "c", toAccountId: "a", amount: 1, transactionId: "${k}" }) { __typename } }` },
      { name: 'openAccount e', m: () => 'mutation { openAccount(input: { accountId: "e", currency: "EUR" }) { __typename } }' },
      { name: 'closeAccount c', m: () => 'mutation { closeAccount(input: { accountId: "c" }) { __typename } }' },
      ...[false, true].map((atomic) => ({
        name: `submitCommands mixing a and c (atomic: ${atomic})`,
        m: (k: string) => `mutation { submitCommands(input: { atomic: ${atomic}, commands: [
          { deposit: { accountId: "a", amount: 1, transactionId: "${k}-1" } },
          { transfer: { fromAccountId: "a", toAccountId: "b", amount: 1, transactionId: "${k}-2" } },
          { deposit: { accountId: "c", amount: 1, transactionId: "${k}-3" } } ] }) { head results { __typename } } }`,
      })),
    ];
    it.each(REFUSED)('$name: FORBIDDEN, refused whole, head and balances unmoved', async ({ m }) => {
      const before = await admin(sc, '{ ledger { head totals { currency balance } } a: account(id: "a") { balance version } }');
      const r = await run(transport, m(`scope-${transport}-${++tx}`));
      expect(codeOf(r), JSON.stringify(r)).toBe('FORBIDDEN');
      expect(r.errors?.[0]?.message).toMatch(/outside this token's accounts/);
      expect(r.data ?? null).toBeNull();
      expect(await admin(sc, '{ ledger { head totals { currency balance } } a: account(id: "a") { balance version } }')).toEqual(before);
    });

    it('within the scope, a transfer a → b and a bulk request on a and b go through', async () => {
      const before = await headOf(sc);
      const t = await run(transport, `mutation { transfer(input: { fromAccountId: "a", toAccountId: "b", amount: 1, transactionId: "in-${transport}" }) { __typename ... on TransferSuccess { from { id } to { id } event { from { id } to { id } } } } }`);
      expect(t.errors).toBeUndefined();
      expect(t.data.transfer).toEqual({ __typename: 'TransferSuccess', from: { id: 'a' }, to: { id: 'b' }, event: { from: { id: 'a' }, to: { id: 'b' } } });
      const bulk = await run(transport, `mutation { submitCommands(input: { commands: [
        { deposit: { accountId: "b", amount: 2, transactionId: "in-${transport}-1" } },
        { transfer: { fromAccountId: "b", toAccountId: "a", amount: 2, transactionId: "in-${transport}-2" } } ] }) { results { __typename } } }`);
      expect(bulk.data.submitCommands.results).toEqual([{ __typename: 'DepositSuccess' }, { __typename: 'TransferSuccess' }]);
      expect(await headOf(sc)).toBe(before + 3);
    });
  });

  it('a transaction id first used on an account outside the scope: DUPLICATE_TRANSACTION that says neither where nor what', async () => {
    const foreign = await command(sc, 'deposit', '{ accountId: "c", amount: 3, transactionId: "dup-foreign" }');
    const own = await command(sc, 'deposit', '{ accountId: "a", amount: 3, transactionId: "dup-own" }');
    const reuse = (transactionId: string) =>
      gql(sc.graphqlUrl, `mutation { deposit(input: { accountId: "a", amount: 4, transactionId: "${transactionId}" }) { __typename ... on DuplicateTransactionError { message originalSequence } } }`, undefined, scoped);
    const before = await headOf(sc);
    const hidden = (await reuse('dup-foreign')).data.deposit;
    expect(hidden).toEqual({ __typename: 'DuplicateTransactionError', message: expect.any(String), originalSequence: null });
    expect(hidden.message).not.toContain(String(foreign));
    expect((await reuse('dup-own')).data.deposit).toMatchObject({ __typename: 'DuplicateTransactionError', originalSequence: own });
    expect(await headOf(sc)).toBe(before);
  });

  describe.each(['ws', 'sse'] as const)('subscriptions over %s', (transport) => {
    const subscribe = (query: string, variables?: Record<string, unknown>) => (transport === 'ws' ? wsSubscribe(client, query, variables) : sseSubscribe(sc.graphqlUrl, scoped, query, variables));

    it.each([
      { name: 'accountUpdates([c])', query: 'subscription { accountUpdates(accountIds: ["c"]) { sequence } }' },
      { name: 'accountUpdates([a, c])', query: 'subscription { accountUpdates(accountIds: ["a", "c"]) { sequence } }' },
      { name: 'events(accountIds: [d])', query: 'subscription { events(accountIds: ["d"]) { sequence } }' },
    ])('$name is FORBIDDEN', async ({ query }) => {
      const sub = subscribe(query);
      try {
        await sub.until('an error', (c) => c.errors.length > 0);
        expect(codeOf(sub)).toBe('FORBIDDEN');
        await sub.completed();
        expect(sub.messages.filter((m) => m.data != null)).toEqual([]);
      } finally {
        await sub.close();
      }
    });

    it('events (no accountIds) and ledgerUpdates carry only what touches a or b, while c and d get traffic', async () => {
      const head = await headOf(sc);
      const events = subscribe(`subscription($after: Sequence) { events(afterSequence: $after) { ${EVENT_FIELDS} } }`, { after: head });
      const ledger = subscribe('subscription($after: Sequence) { ledgerUpdates(afterSequence: $after) { fromSequence toSequence accounts { accountId change balance } accountCount totals { currency balance accounts } } }', { after: head });
      const accountSub = subscribe(`subscription($after: Sequence) { accountUpdates(accountIds: ["a", "b"], afterSequence: $after) { sequence accountId change event { ${EVENT_FIELDS} } } }`, { after: head });
      try {
        const s = {
          depositC: await deposit(sc, 'c', 5),
          depositD: await deposit(sc, 'd', 5),
          transferBC: await transfer(sc, 'b', 'c', 7),
          depositC2: await deposit(sc, 'c', 5),
          transferCA: await transfer(sc, 'c', 'a', 3),
          depositA: await deposit(sc, 'a', 1), // the last one: both streams are in sequence order
        };
        const touching = [s.transferBC, s.transferCA, s.depositA];
        await events.until('the last deposit to a', (c) => c.messages.some((m) => m.data?.events?.sequence === s.depositA));
        await ledger.until('the last deposit to a', (c) => c.messages.some((m) => m.data?.ledgerUpdates?.toSequence === s.depositA));
        expect(events.errors).toEqual([]);
        expect(ledger.errors).toEqual([]);

        const got = events.data.map((d) => d.events);
        expect(got.map((e) => e.sequence)).toEqual(touching);
        expect(got[0]).toMatchObject({ type: 'TRANSFERRED', fromAccountId: 'b', toAccountId: 'c', from: { id: 'b' }, to: null });
        expect(got[1]).toMatchObject({ type: 'TRANSFERRED', fromAccountId: 'c', toAccountId: 'a', from: null, to: { id: 'a' } });
        expect(got[2]).toMatchObject({ type: 'DEPOSITED', accountId: 'a', account: { id: 'a' } });

        const updates = ledger.data.map((d) => d.ledgerUpdates);
        expect(updates.map((u) => u.toSequence)).toEqual(touching);
        expect(updates.map((u) => u.accounts.map((a: { accountId: string; change: number }) => [a.accountId, a.change]))).toEqual([[['b', -7]], [['a', 3]], [['a', 1]]]);
        for (const u of updates) {
          const inScope = await accountsAt(sc, ['a', 'b'], u.toSequence);
          expect(u.accountCount).toBe(2);
          expect(sortedTotals(u.totals), `totals at ${u.toSequence}`).toEqual(totalsOver(inScope));
          for (const a of u.accounts) expect(a.balance).toBe(inScope.find((x) => x.id === a.accountId)!.balance);
          // … and they agree with the scoped ledger query at that point.
          const q = await gql(sc.graphqlUrl, `{ ledger(atSequence: ${u.toSequence}) { accountCount totals { currency balance accounts } } }`, undefined, scoped);
          expect({ accountCount: u.accountCount, totals: sortedTotals(u.totals) }).toEqual({ accountCount: q.data.ledger.accountCount, totals: sortedTotals(q.data.ledger.totals) });
        }
        expect(JSON.stringify(updates)).not.toMatch(/"accountId":"[cd]"|"USD"/);

        await accountSub.until('the last deposit to a', (c) => c.messages.some((m) => m.data?.accountUpdates?.sequence === s.depositA));
        expect(accountSub.errors).toEqual([]);
        const perAccount = accountSub.data.map((d) => d.accountUpdates);
        expect(perAccount.map((u) => [u.sequence, u.accountId, u.change])).toEqual([
          [s.transferBC, 'b', -7],
          [s.transferCA, 'a', 3],
          [s.depositA, 'a', 1],
        ]);
        expect(perAccount[0].event).toMatchObject({ from: { id: 'b' }, to: null });
        expect(perAccount[1].event).toMatchObject({ from: null, to: { id: 'a' } });
      } finally {
        await Promise.all([events.close(), ledger.close(), accountSub.close()]);
      }
    });

    it('catch-up (afterSequence: 0) is scoped the same way', async () => {
      const head = await headOf(sc);
      const ledger = subscribe('subscription { ledgerUpdates(afterSequence: 0) { toSequence accounts { accountId } accountCount totals { currency balance accounts } } }');
      const events = subscribe('subscription { events(afterSequence: 0) { sequence accountIds } }');
      try {
        const all = (await admin(sc, `{ events(first: 1000) { nodes { sequence accountIds } } }`)).events.nodes as { sequence: number; accountIds: string[] }[];
        const expected = all.filter((e) => e.sequence <= head && e.accountIds.some((id) => id === 'a' || id === 'b'));
        await events.until('the head', (c) => c.messages.some((m) => m.data?.events?.sequence === expected[expected.length - 1]!.sequence));
        expect(events.data.map((d) => d.events.sequence)).toEqual(expected.map((e) => e.sequence));
        await ledger.until('the head', (c) => c.messages.some((m) => m.data?.ledgerUpdates?.toSequence >= expected[expected.length - 1]!.sequence));
        for (const u of ledger.data.map((d) => d.ledgerUpdates)) {
          expect(u.accounts.every((a: { accountId: string }) => a.accountId === 'a' || a.accountId === 'b')).toBe(true);
          expect(sortedTotals(u.totals)).toEqual(totalsOver(await accountsAt(sc, ['a', 'b'], u.toSequence)));
        }
      } finally {
        await Promise.all([events.close(), ledger.close()]);
      }
    });
  });

  it('graphql-ws clients with different scopes on the same documents never see each other’s accounts (shared execution is per scope)', async () => {
    const tokens = {
      ab: scoped,
      abReader: await sign({ role: 'reader', accounts: ['b', 'a'] }, { iss: null, aud: null }), // same scope, other order and role: may share with ab
      cd: await sign({ role: 'reader', accounts: ['c', 'd'] }, { iss: null, aud: null }),
      all: sc.adminToken,
    };
    const clients = Object.fromEntries(Object.entries(tokens).map(([k, t]) => [k, k === 'ab' ? client : wsClientWith(sc.graphqlUrl, t)])) as Record<keyof typeof tokens, Client>;
    const head = await headOf(sc);
    const EVENTS = `subscription Shared($after: Sequence) { events(afterSequence: $after) { ${EVENT_FIELDS} } }`;
    const LEDGER = 'subscription SharedLedger($after: Sequence) { ledgerUpdates(afterSequence: $after) { toSequence accounts { accountId balance } accountCount totals { currency balance accounts } } }';
    const subs = Object.fromEntries(
      Object.keys(tokens).map((k) => [k, { events: wsSubscribe(clients[k as keyof typeof tokens], EVENTS, { after: head }, `${k}-events`), ledger: wsSubscribe(clients[k as keyof typeof tokens], LEDGER, { after: head }, `${k}-ledger`) }]),
    ) as Record<keyof typeof tokens, { events: Sub; ledger: Sub }>;
    try {
      const s = {
        depositA: await deposit(sc, 'a', 11),
        depositC: await deposit(sc, 'c', 12),
        transferBC: await transfer(sc, 'b', 'c', 13),
        depositD: await deposit(sc, 'd', 14),
        transferAC: await transfer(sc, 'a', 'c', 15), // touches both scopes: the last message for everyone
      };
      for (const [k, sub] of Object.entries(subs)) {
        await sub.events.until(`${k}: the last transfer`, (c) => c.messages.some((m) => m.data?.events?.sequence === s.transferAC));
        await sub.ledger.until(`${k}: the last transfer`, (c) => c.messages.some((m) => m.data?.ledgerUpdates?.toSequence === s.transferAC));
        expect(sub.events.errors, k).toEqual([]);
        expect(sub.ledger.errors, k).toEqual([]);
      }
      const seqs = (k: keyof typeof tokens) => subs[k].events.data.map((d) => d.events.sequence);
      const ev = (k: keyof typeof tokens, sequence: number) => subs[k].events.data.map((d) => d.events).find((e) => e.sequence === sequence);
      expect(seqs('ab')).toEqual([s.depositA, s.transferBC, s.transferAC]);
      expect(seqs('abReader')).toEqual(seqs('ab'));
      expect(seqs('cd')).toEqual([s.depositC, s.transferBC, s.depositD, s.transferAC]);
      expect(seqs('all')).toEqual(Object.values(s));
      expect(ev('ab', s.transferBC)).toMatchObject({ from: { id: 'b' }, to: null });
      expect(ev('cd', s.transferBC)).toMatchObject({ from: null, to: { id: 'c' } });
      expect(ev('all', s.transferBC)).toMatchObject({ from: { id: 'b' }, to: { id: 'c' } });
      expect(ev('ab', s.transferAC)).toMatchObject({ from: { id: 'a' }, to: null });
      expect(ev('cd', s.transferAC)).toMatchObject({ from: null, to: { id: 'c' } });
      expect(subs.abReader.events.data).toEqual(subs.ab.events.data);

      const scopeOf = { ab: ['a', 'b'], abReader: ['a', 'b'], cd: ['c', 'd'], all: ['a', 'b', 'c', 'd'] } as const;
      for (const k of Object.keys(scopeOf) as (keyof typeof scopeOf)[]) {
        for (const u of subs[k].ledger.data.map((d) => d.ledgerUpdates)) {
          const inScope = await accountsAt(sc, scopeOf[k], u.toSequence);
          expect(u.accounts.map((a: { accountId: string }) => a.accountId).every((id: string) => (scopeOf[k] as readonly string[]).includes(id)), `${k} at ${u.toSequence}`).toBe(true);
          expect(sortedTotals(u.totals), `${k} totals at ${u.toSequence}`).toEqual(totalsOver(inScope));
          expect(u.accountCount, `${k} accountCount at ${u.toSequence}`).toBe(inScope.length);
        }
      }
      expect(subs.ab.ledger.data.map((d) => d.ledgerUpdates.toSequence)).toEqual([s.depositA, s.transferBC, s.transferAC]);
      expect(subs.cd.ledger.data.map((d) => d.ledgerUpdates.toSequence)).toEqual([s.depositC, s.transferBC, s.depositD, s.transferAC]);
    } finally {
      for (const sub of Object.values(subs)) await Promise.all([sub.events.close(), sub.ledger.close()]);
      await Promise.all(Object.entries(clients).filter(([k]) => k !== 'ab').map(([, c]) => c.dispose()));
    }
  });
});

// --- 4. expiry --------------------------------------------------------------------------------------

describe('token expiry', () => {
  it('ends idle ws and SSE subscriptions with TOKEN_EXPIRED at expiry, refuses new operations on the connection, and leaves longer-lived subscribers of the same operation alone', async () => {
    const exp = Math.ceil(Date.now() / 1_000) + 2; // 2–3 s from now
    const expiresAt = exp * 1_000;
    const short = await sign({ role: 'reader', accounts: ['a', 'b'] }, { iss: null, aud: null, exp });
    const long = await sign({ role: 'reader', accounts: ['a', 'b'] }, { iss: null, aud: null });
    const AU = 'subscription { accountUpdates(accountIds: ["a"]) { sequence balance } }';
    const LU = 'subscription { ledgerUpdates { toSequence } }';

    // graphql-ws by hand: exact protocol messages on one connection.
    const raw = await rawWs(sc.graphqlUrl);
    raw.send({ type: 'connection_init', payload: { token: short } });
    await raw.waitFor('connection_ack', (m) => m.type === 'connection_ack');
    raw.send({ id: 'au', type: 'subscribe', payload: { query: AU } });
    raw.send({ id: 'lu', type: 'subscribe', payload: { query: LU } });
    // A query on the connection while the token is valid: it works.
    raw.send({ id: 'q1', type: 'subscribe', payload: { query: '{ account(id: "a") { id } }' } });
    await raw.waitFor('q1 complete', (m) => m.id === 'q1' && m.type === 'complete');
    expect(raw.received.find((m) => m.id === 'q1' && m.type === 'next')?.payload).toEqual({ data: { account: { id: 'a' } } });

    const sse = sseSubscribe(sc.graphqlUrl, short, AU, undefined, 'sse-expiring');
    // Same scope and documents, a token that outlives the test: the same shared groups as `raw`.
    const longClient = wsClientWith(sc.graphqlUrl, long);
    const longAU = wsSubscribe(longClient, AU, undefined, 'ws-long');
    try {
      for (const id of ['au', 'lu']) {
        const next = await raw.waitFor(`${id}: TOKEN_EXPIRED`, (m) => m.id === id && m.type === 'next', 8_000);
        const message = raw.received[next]!;
        expect(message.payload.errors?.[0]?.extensions?.code, JSON.stringify(message)).toBe('TOKEN_EXPIRED');
        expect(message.payload.data ?? null).toBeNull();
        const lateness = raw.arrivals[next]! - expiresAt;
        expect(lateness, `${id} ended ${lateness} ms after expiry`).toBeGreaterThanOrEqual(-20);
        expect(lateness, `${id} ended ${lateness} ms after expiry`).toBeLessThanOrEqual(1_000);
        const complete = await raw.waitFor(`${id}: complete`, (m) => m.id === id && m.type === 'complete');
        expect(complete).toBeGreaterThan(next);
      }

      await sse.until('TOKEN_EXPIRED', (c) => c.errors.length > 0, 8_000);
      const sseLateness = Date.now() - expiresAt;
      expect(sse.messages).toHaveLength(1);
      expect(codeOf(sse)).toBe('TOKEN_EXPIRED');
      expect(sseLateness).toBeGreaterThanOrEqual(-20);
      expect(sseLateness, `SSE ended ${sseLateness} ms after expiry`).toBeLessThanOrEqual(1_000);
      await sse.completed();
      expect(sse.ended).toEqual({});

      // The connection stays open, but every new operation on it is refused.
      for (const [id, query] of [
        ['q2', '{ ledger { head } }'],
        ['s2', AU],
      ] as const) {
        raw.send({ id, type: 'subscribe', payload: { query } });
        const i = await raw.waitFor(`${id}: refused`, (m) => m.id === id && (m.type === 'error' || m.type === 'next'));
        expect(raw.received[i]).toMatchObject({ type: 'error', payload: [{ extensions: { code: 'TOKEN_EXPIRED' } }] });
      }
      // A new connection, an HTTP request: refused too.
      expect(await wsHandshake(sc.graphqlUrl, { token: short })).toMatchObject({ code: 4403, reason: expect.stringMatching(/^TOKEN_EXPIRED: /) });
      const http = await gql(sc.graphqlUrl, '{ ledger { head } }', undefined, short);
      expect(http.status).toBe(401);
      expect(codeOf(http)).toBe('TOKEN_EXPIRED');

      // The longer-lived subscriber of the same shared operation is still live.
      const sequence = await deposit(sc, 'a', 3);
      await longAU.until('the deposit after expiry', (c) => c.messages.some((m) => m.data?.accountUpdates?.sequence === sequence));
      expect(longAU.errors).toEqual([]);
      expect(longAU.ended).toBeNull();
      expect(raw.received.filter((m) => m.type === 'next' && m.payload?.data)).toEqual([expect.objectContaining({ id: 'q1' })]);
    } finally {
      await Promise.all([sse.close(), longAU.close()]);
      await longClient.dispose();
      raw.ws.close();
      await raw.closed;
    }
  });
});

// --- 5. /admin/export and /admin/import --------------------------------------------------------------

describe('/admin/export and /admin/import', () => {
  const tokenFor = (claims: Record<string, unknown>) => sign(claims, { iss: null, aud: null });
  const FORBIDDEN_TOKENS = [
    { name: 'reader', claims: { role: 'reader' } },
    { name: 'teller', claims: { role: 'teller' } },
    { name: 'admin limited to some accounts', claims: { role: 'admin', accounts: ['a', 'b', 'c', 'd'] } },
  ];
  const exportFrom = (s: Srv, token: string | null) => fetch(`${s.base}/admin/export`, { headers: bearer(token) });
  const importInto = (s: Srv, token: string | null, body: string) => fetch(`${s.base}/admin/import`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', ...bearer(token) }, body });
  const STATE = '{ ledger { head accountCount totals { currency balance accounts } } accounts(first: 1000) { nodes { id currency balance status version lastSequence } } }';

  it.each(FORBIDDEN_TOKENS)('$name: 403 FORBIDDEN on both, nothing exported or imported', async ({ claims }) => {
    const token = await tokenFor(claims);
    const exported = await exportFrom(sc, token);
    expect(exported.status).toBe(403);
    expect(((await exported.json()) as Result).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const imported = await importInto(imp, token, '');
    expect(imported.status).toBe(403);
    expect(((await imported.json()) as Result).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await headOf(imp)).toBe(0);
  });

  it('no token or an expired one: 401', async () => {
    for (const [token, code] of [
      [null, 'UNAUTHENTICATED'],
      [await sign({ role: 'admin' }, { iss: null, aud: null, exp: nowSeconds() - 5 }), 'TOKEN_EXPIRED'],
    ] as const) {
      for (const res of [await exportFrom(sc, token), await importInto(imp, token, '')]) {
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect(((await res.json()) as Result).errors?.[0]?.extensions?.code).toBe(code);
      }
    }
  });

  it('an admin exports NDJSON; importing it into a fresh auth server reproduces head and balances; a second import is 409', async () => {
    const exported = await exportFrom(sc, sc.adminToken);
    expect(exported.status).toBe(200);
    expect(exported.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const text = await exported.text();
    const lines = text.split('\n').filter((l) => l.length > 0);
    const source = await admin(sc, STATE);
    expect(lines).toHaveLength(source.ledger.head);
    expect(lines.map((l) => (JSON.parse(l) as { sequence: number }).sequence)).toEqual(Array.from({ length: lines.length }, (_, i) => i + 1));

    const imported = await importInto(imp, imp.adminToken, text);
    expect(imported.status, await imported.clone().text()).toBe(200);
    expect(await admin(imp, STATE)).toEqual(source);

    const again = await importInto(imp, imp.adminToken, text);
    expect(again.status).toBe(409);
    expect(((await again.json()) as Result).errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const intoSource = await importInto(sc, sc.adminToken, text);
    expect(intoSource.status).toBe(409);
    expect(await admin(imp, '{ ledger { head } }')).toEqual({ ledger: { head: source.ledger.head } });
  });
});
