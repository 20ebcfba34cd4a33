// Run by subscriptions.ts in a child process (`node --import tsx subscriptionClients.ts <ws url>
// <clients> ledger|account`), so that the clients' work (WebSocket frames, finding the sequence in each
// message) does not take the server's core. Opens N raw WebSockets speaking graphql-transport-ws
// (connection_init, subscribe, then count `next` messages): lighter than graphql-ws's client, which
// JSON-parses every message. Client i subscribes to `ledgerUpdates`, or (account mode) to
// `accountUpdates` for accountId(i).
//
// Every `next` message is recorded as (client, first sequence it covers, last sequence, receive time);
// the sequences are found in the raw bytes, not by parsing the JSON. Receive times are wall-clock
// milliseconds (performance.timeOrigin + performance.now()), the clock the server side uses for its
// commit times: both processes read the same machine clock.
//
// Talks to the parent over the IPC channel:
//   child → parent  {type: 'subscribed'}                 every socket has been acked and has subscribed
//   parent → child  {type: 'status'}                     → {type: 'status', clientsWithMessages, received, errors, closed}
//   parent → child  {type: 'report', ...ReportRequest}   → {type: 'report', ...ClientReport}
//   parent → child  {type: 'close'}                      closes every socket and exits
//   child → parent  {type: 'failed', message}            a socket could not connect or subscribe
// The child exits when the IPC channel closes (its parent died), so it never outlives the bench.
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { accountId } from './workload.ts';

export type ClientMode = 'ledger' | 'account';

/** What the parent sends to ask for the figures: the commits it saw and the timed window. */
export interface ReportRequest {
  /** Committed batches, in order: first and last sequence, commit wall-clock time (ms). */
  readonly batches: { readonly from: number[]; readonly to: number[]; readonly at: number[] };
  /** The timed window (wall-clock ms): messages received in it make the rate. */
  readonly windowStart: number;
  readonly windowEnd: number;
  /** Account mode: the events committed in the window, as (sequence, account index). */
  readonly windowEvents?: { readonly sequence: number[]; readonly account: number[] };
}

export interface ClientReport {
  /** `next` messages received within the window. */
  readonly receivedInWindow: number;
  /** Delivery latency (ms) of every message whose content was committed in the window. */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly samples: number;
  /** Deliveries committed in the window that had not arrived by the time the report was asked for. */
  readonly undelivered: number;
  /** Messages covering more than one committed batch (slow subscribers' merged ledgerUpdates). */
  readonly coalesced: number;
  readonly errors: number;
  readonly firstError: string | null;
  readonly closed: number;
  /** CPU this process used during the window, as a share of one core. */
  readonly cpuShare: number;
}

const QUERIES: Record<ClientMode, string> = {
  ledger: `subscription Ledger {
  ledgerUpdates {
    fromSequence toSequence head batches accountCount
    accounts { accountId change balance version }
    totals { currency balance accounts }
  }
}`,
  account: `subscription Account($ids: [ID!]!) {
  accountUpdates(accountIds: $ids) {
    sequence accountId change balance version head
    event { __typename sequence timestamp }
  }
}`,
};
export const QUERY = QUERIES;

const wallNow = () => performance.timeOrigin + performance.now();

/** Growable columns of one record per received message. */
class Records {
  client = new Int32Array(1 << 16);
  from = new Float64Array(1 << 16);
  to = new Float64Array(1 << 16);
  at = new Float64Array(1 << 16);
  length = 0;

  push(client: number, from: number, to: number, at: number): void {
    if (this.length === this.at.length) {
      const grow = <T extends Int32Array | Float64Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.client = grow(this.client);
      this.from = grow(this.from);
      this.to = grow(this.to);
      this.at = grow(this.at);
    }
    const i = this.length++;
    this.client[i] = client;
    this.from[i] = from;
    this.to[i] = to;
    this.at[i] = at;
  }
}

/** The non-negative integer after `"name":` in a JSON text, or -1. */
function numberAfter(buf: Buffer, key: Buffer, start = 0): number {
  const at = buf.indexOf(key, start);
  if (at < 0) return -1;
  let n = 0;
  let i = at + key.length;
  for (let c = buf[i]!; c >= 48 && c <= 57; c = buf[++i]!) n = n * 10 + (c - 48);
  return i === at + key.length ? -1 : n;
}

const NEXT = Buffer.from('"type":"next"');
const ERRORS = Buffer.from('"errors"');
const FROM = Buffer.from('"fromSequence":');
const TO = Buffer.from('"toSequence":');
const SEQUENCE = Buffer.from('"sequence":');

async function main(): Promise<void> {
  const [url, countText, modeText] = process.argv.slice(2);
  const count = Number(countText);
  if (!url || !Number.isInteger(count) || count < 1 || (modeText !== 'ledger' && modeText !== 'account')) {
    throw new Error(`usage: subscriptionClients.ts <ws url> <clients> ledger|account, got ${process.argv.slice(2).join(' ')}`);
  }
  const mode: ClientMode = modeText;
  const send = (message: unknown) => process.send?.(message);
  process.on('disconnect', () => process.exit(0)); // the parent is gone

  const records = new Records();
  const sockets: WebSocket[] = [];
  const got = new Uint8Array(count);
  let clientsWithMessages = 0;
  let errors = 0;
  let firstError: string | null = null;
  let closed = 0;
  let closing = false;
  let subscribed = 0;
  const cpuAtStart = { usage: process.cpuUsage(), at: wallNow() };

  const fail = (text: string) => {
    errors++;
    firstError ??= text.slice(0, 300);
  };

  const open = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url, 'graphql-transport-ws', { perMessageDeflate: false });
      sockets[i] = ws;
      ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init' })));
      ws.on('error', (err) => {
        fail(`socket ${i}: ${err.message}`);
        reject(err);
      });
      ws.on('close', (code, reason) => {
        closed++;
        if (!closing) fail(`socket ${i} closed by the server: ${code} ${String(reason)}`);
        reject(new Error(`socket ${i} closed: ${code} ${String(reason)}`));
      });
      let acked = false;
      ws.on('message', (data: Buffer) => {
        const at = wallNow();
        if (acked && data.indexOf(NEXT) >= 0 && data.indexOf(ERRORS) < 0) {
          let from: number;
          let to: number;
          if (mode === 'ledger') {
            from = numberAfter(data, FROM);
            to = numberAfter(data, TO);
          } else {
            from = to = numberAfter(data, SEQUENCE);
          }
          if (from < 0 || to < 0) return fail(`client ${i}: no sequence in ${data.toString('utf8', 0, 200)}`);
          records.push(i, from, to, at);
          if (!got[i]) {
            got[i] = 1;
            clientsWithMessages++;
          }
          return;
        }
        const text = data.toString('utf8');
        const message = JSON.parse(text) as { type: string };
        if (message.type === 'connection_ack') {
          acked = true;
          const variables = mode === 'account' ? { ids: [accountId(i)] } : {};
          ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: QUERIES[mode], variables } }));
          resolve();
          return;
        }
        if (message.type === 'ping') return ws.send(JSON.stringify({ type: 'pong' }));
        fail(`client ${i}: ${text}`);
      });
    });

  // Connect in waves, so the server is not handed 1,000 handshakes at once.
  const WAVE = 100;
  try {
    for (let i = 0; i < count; i += WAVE) {
      await Promise.all(Array.from({ length: Math.min(WAVE, count - i) }, (_, j) => open(i + j).then(() => void subscribed++)));
    }
  } catch (err) {
    send({ type: 'failed', message: `connecting ${count} clients: ${(err as Error).message}; ${firstError ?? ''}` });
    return;
  }
  send({ type: 'subscribed', subscribed });

  process.on('message', (message: { type: string } & Partial<ReportRequest>) => {
    switch (message.type) {
      case 'status':
        send({ type: 'status', clientsWithMessages, received: records.length, errors, firstError, closed });
        return;
      case 'mark':
        cpuAtStart.usage = process.cpuUsage();
        cpuAtStart.at = wallNow();
        return;
      case 'report':
        send({ type: 'report', ...report(records, message as unknown as ReportRequest, count, mode, { errors, firstError, closed, cpuAtStart }) });
        return;
      case 'close':
        closing = true;
        for (const ws of sockets) ws?.terminate();
        setTimeout(() => process.exit(0), 50);
        return;
    }
  });
}

function report(
  records: Records,
  req: ReportRequest,
  clients: number,
  mode: ClientMode,
  state: { errors: number; firstError: string | null; closed: number; cpuAtStart: { usage: NodeJS.CpuUsage; at: number } },
): ClientReport {
  const cpu = process.cpuUsage(state.cpuAtStart.usage);
  const cpuShare = (cpu.user + cpu.system) / 1000 / (wallNow() - state.cpuAtStart.at);
  const { from: batchFrom, to: batchTo, at: batchAt } = req.batches;
  /** Commit time of the batch holding `sequence` (binary search over the batches' last sequences). */
  const commitTime = (sequence: number): number => {
    let lo = 0;
    let hi = batchTo.length - 1;
    if (hi < 0 || sequence > batchTo[hi]!) return NaN;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (batchTo[mid]! < sequence) lo = mid + 1;
      else hi = mid;
    }
    return batchFrom[lo]! <= sequence ? batchAt[lo]! : NaN;
  };
  const inWindow = (t: number) => t >= req.windowStart && t <= req.windowEnd;

  const latencies: number[] = [];
  let receivedInWindow = 0;
  let coalesced = 0;
  const lastTo = new Float64Array(clients);
  const windowReceived = new Int32Array(clients);
  for (let i = 0; i < records.length; i++) {
    const at = records.at[i]!;
    if (inWindow(at)) receivedInWindow++;
    const client = records.client[i]!;
    if (records.to[i]! > lastTo[client]!) lastTo[client] = records.to[i]!;
    // The oldest content of the message decides its latency (a merged message is as late as its first batch).
    const committed = commitTime(records.from[i]!);
    if (!inWindow(committed)) continue;
    if (mode === 'ledger' && commitTime(records.to[i]!) !== committed) coalesced++;
    latencies.push(at - committed);
    windowReceived[client]!++;
  }

  // What was committed in the window and never arrived counts, at least as late as now.
  const now = wallNow();
  let undelivered = 0;
  if (mode === 'ledger') {
    for (let b = 0; b < batchTo.length; b++) {
      if (!inWindow(batchAt[b]!)) continue;
      for (let c = 0; c < clients; c++) {
        if (lastTo[c]! < batchTo[b]!) {
          undelivered++;
          latencies.push(now - batchAt[b]!);
        }
      }
    }
  } else if (req.windowEvents) {
    // Each client's expected events in sequence order; messages arrive in order, so the missing ones
    // are the last ones.
    const expected: number[][] = Array.from({ length: clients }, () => []);
    const { sequence, account } = req.windowEvents;
    for (let e = 0; e < sequence.length; e++) if (account[e]! < clients) expected[account[e]!]!.push(commitTime(sequence[e]!));
    for (let c = 0; c < clients; c++) {
      const times = expected[c]!;
      for (let k = windowReceived[c]!; k < times.length; k++) {
        undelivered++;
        latencies.push(now - times[k]!);
      }
    }
  }

  const sorted = Float64Array.from(latencies).sort();
  const pct = (p: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!);
  return {
    receivedInWindow,
    p50: pct(50),
    p99: pct(99),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
    samples: sorted.length,
    undelivered,
    coalesced,
    errors: state.errors,
    firstError: state.firstError,
    closed: state.closed,
    cpuShare,
  };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main().catch((err) => {
    process.send?.({ type: 'failed', message: (err as Error).stack ?? String(err) });
    process.exit(1);
  });
}
