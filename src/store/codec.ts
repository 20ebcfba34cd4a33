// How values are laid out in bytes. Events are MessagePack (msgpackr: of JSON, msgpackr and cbor-x the
// fastest here, though for one event tuple only ~1.1x JSON to encode+decode and ~1.2x to decode, with
// values ~12% smaller; `npm run bench -- engine:codec`); small fixed-shape index values are plain
// binary. Every stored structure that outlives a release carries a format version byte first.
import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { Packr } from 'msgpackr';
import { CURRENT_SCHEMA_VERSION, EVENT_TYPES, type EventType, type RecordedEvent } from '../domain/events.ts';
import { upcast } from '../domain/upcasters.ts';
import type { AccountState, AccountStatus, CurrencyTotal, Money, Sequence } from '../domain/types.ts';
import { StoreError } from './rocks.ts';

export const BLOCK_FORMAT = 1;
export const ROW_FORMAT = 1;
export const HASH_BYTES = 32;
export const GENESIS_HASH: Buffer = Buffer.alloc(HASH_BYTES);

const packr = new Packr({ useRecords: false, int64AsType: 'number' });
export const pack = (value: unknown): Buffer => packr.pack(value);
export const unpack = (bytes: Buffer): any => packr.unpack(bytes);

const EVENT_TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);

/** An event as stored: a MessagePack array, with the data at the schema version it was written in. */
export type StoredEventTuple = [
  sequence: number,
  type: EventType,
  schemaVersion: number,
  id: string,
  timestamp: number,
  transactionId: string | null,
  data: Record<string, unknown>,
];

export const eventTuple = (e: RecordedEvent): StoredEventTuple => [
  e.sequence,
  e.type,
  e.schemaVersion,
  e.id,
  e.timestamp,
  e.transactionId,
  e.data as Record<string, unknown>,
];

export function decodeEvent(bytes: Buffer): RecordedEvent {
  let tuple: StoredEventTuple;
  try {
    tuple = unpack(bytes);
  } catch (cause) {
    throw new StoreError('STORE_CORRUPT', 'an event record does not decode', { cause });
  }
  const [seq, type, schemaVersion, id, timestamp, transactionId, data] = tuple;
  if (!Array.isArray(tuple) || !EVENT_TYPE_SET.has(type) || !Number.isSafeInteger(seq)) {
    throw new StoreError('STORE_CORRUPT', `an event record has an unexpected shape: ${JSON.stringify(tuple).slice(0, 200)}`);
  }
  // Events of the current version (nearly all) skip the upcaster and the object it would build.
  const current = schemaVersion === CURRENT_SCHEMA_VERSION[type] ? data : upcast(type, schemaVersion, data).data;
  // Every field spelled out, in one fixed order (not `...upcast(…)`): one hidden class for every
  // decoded event, which replay and everything that reads events afterwards are much faster on.
  return {
    type,
    data: current,
    sequence: seq as Sequence,
    id,
    timestamp,
    schemaVersion,
    transactionId,
  } as RecordedEvent;
}

// crypto.hash (Node ≥ 20.12) is a one-shot digest, about twice as fast as a Hash object per event.
const oneShotHash = (crypto as { hash?: (algorithm: string, data: Buffer, encoding: 'buffer') => Buffer }).hash;

export const chainHash = (previous: Buffer, eventBytes: Buffer): Buffer =>
  oneShotHash ? oneShotHash('sha256', Buffer.concat([previous, eventBytes], previous.length + eventBytes.length), 'buffer') : createHash('sha256').update(previous).update(eventBytes).digest();

/**
 * A log block holds every event of one committed batch, so an append is one key and a replay reads
 * few, large values (per-key iteration costs ~6 µs; per-event decoding far less). Layout:
 *   [format u8][count u32] then per event [length u32][event bytes][sha256(previous hash ‖ event bytes)]
 */
export class BlockWriter {
  private buf: Buffer;
  private at = 5;
  private count = 0;

  constructor(private previousHash: Buffer, sizeHint = 4096) {
    this.buf = Buffer.allocUnsafe(Math.max(64, sizeHint));
  }

  /** Appends an event already encoded as bytes (used for fixtures of older schema versions too). */
  addEncoded(eventBytes: Buffer): Buffer {
    this.ensure(4 + eventBytes.length + HASH_BYTES);
    this.buf.writeUInt32BE(eventBytes.length, this.at);
    eventBytes.copy(this.buf, this.at + 4);
    const hash = chainHash(this.previousHash, eventBytes);
    hash.copy(this.buf, this.at + 4 + eventBytes.length);
    this.at += 4 + eventBytes.length + HASH_BYTES;
    this.count++;
    this.previousHash = hash;
    return hash;
  }

  add(event: RecordedEvent): Buffer {
    return this.addEncoded(pack(eventTuple(event)));
  }

  get lastHash(): Buffer {
    return this.previousHash;
  }

  finish(): Buffer {
    this.buf[0] = BLOCK_FORMAT;
    this.buf.writeUInt32BE(this.count, 1);
    return this.buf.subarray(0, this.at);
  }

  private ensure(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + bytes));
    this.buf.copy(grown, 0, 0, this.at);
    this.buf = grown;
  }
}

export interface BlockEntry {
  readonly bytes: Buffer;
  readonly hash: Buffer;
}

/** The raw entries of a block, in order, without decoding the events. */
export function* blockEntries(block: Buffer): Generator<BlockEntry> {
  if (block[0] !== BLOCK_FORMAT) {
    throw new StoreError('STORE_FORMAT', `log block format ${block[0]} is not one this build reads (${BLOCK_FORMAT})`);
  }
  const count = block.readUInt32BE(1);
  let at = 5;
  for (let i = 0; i < count; i++) {
    if (at + 4 > block.length) throw new StoreError('STORE_CORRUPT', 'a log block is truncated');
    const len = block.readUInt32BE(at);
    const end = at + 4 + len;
    if (end + HASH_BYTES > block.length) throw new StoreError('STORE_CORRUPT', 'a log block is truncated');
    yield { bytes: block.subarray(at + 4, end), hash: block.subarray(end, end + HASH_BYTES) };
    at = end + HASH_BYTES;
  }
}

/** Every event of a block, decoded (the fast path of replay: no generator, no entry objects). */
export function decodeBlock(block: Buffer): RecordedEvent[] {
  if (block[0] !== BLOCK_FORMAT) {
    throw new StoreError('STORE_FORMAT', `log block format ${block[0]} is not one this build reads (${BLOCK_FORMAT})`);
  }
  const count = block.readUInt32BE(1);
  const events = new Array<RecordedEvent>(count);
  let at = 5;
  for (let i = 0; i < count; i++) {
    const end = at + 4 + (at + 4 <= block.length ? block.readUInt32BE(at) : 0);
    if (at + 4 > block.length || end + HASH_BYTES > block.length) throw new StoreError('STORE_CORRUPT', 'a log block is truncated');
    events[i] = decodeEvent(block.subarray(at + 4, end));
    at = end + HASH_BYTES;
  }
  return events;
}

// --- account history (H): what an account was after one of its events -----------------------

export interface HistoryEntry {
  readonly version: number;
  readonly balance: Money;
  readonly status: AccountStatus;
}

export function encodeHistory(a: AccountState): Buffer {
  const buf = Buffer.allocUnsafe(13);
  buf.writeUInt32BE(a.version, 0);
  buf.writeDoubleBE(a.balance, 4);
  buf[12] = a.status === 'OPEN' ? 0 : 1;
  return buf;
}

export const decodeHistory = (buf: Buffer): HistoryEntry => ({
  version: buf.readUInt32BE(0),
  balance: buf.readDoubleBE(4) as Money,
  status: buf[12] === 0 ? 'OPEN' : 'CLOSED',
});

// --- projection rows (A): an account now -----------------------------------------------------

export function encodeAccount(a: AccountState): Buffer {
  const cur = Buffer.byteLength(a.currency, 'latin1');
  const buf = Buffer.allocUnsafe(31 + cur);
  buf[0] = ROW_FORMAT;
  buf.writeUInt32BE(a.version, 1);
  buf.writeDoubleBE(a.balance, 5);
  buf[13] = a.status === 'OPEN' ? 0 : 1;
  buf.writeDoubleBE(a.lastSequence, 14);
  buf.writeDoubleBE(a.openedSequence, 22);
  buf[30] = cur;
  buf.write(a.currency, 31, 'latin1');
  return buf;
}

export function decodeAccount(id: string, buf: Buffer): AccountState {
  if (buf[0] !== ROW_FORMAT) throw new StoreError('STORE_FORMAT', `projection row format ${buf[0]} is not ${ROW_FORMAT}`);
  return {
    id,
    version: buf.readUInt32BE(1),
    balance: buf.readDoubleBE(5) as Money,
    status: buf[13] === 0 ? 'OPEN' : 'CLOSED',
    lastSequence: buf.readDoubleBE(14) as Sequence,
    openedSequence: buf.readDoubleBE(22) as Sequence,
    currency: buf.toString('latin1', 31, 31 + buf[30]!),
  };
}

// --- idempotency (T), checkpoints (C), head (M) ----------------------------------------------

export interface TransactionRecord {
  readonly sequence: Sequence;
  readonly fingerprint: string;
}
export const encodeTransaction = (t: TransactionRecord): Buffer => pack([t.sequence, t.fingerprint]);
export function decodeTransaction(buf: Buffer): TransactionRecord {
  const [seq, fingerprint] = unpack(buf) as [Sequence, string];
  return { sequence: seq, fingerprint };
}

export interface Checkpoint {
  readonly accountCount: number;
  readonly totals: readonly CurrencyTotal[];
}
export const encodeCheckpoint = (c: Checkpoint): Buffer =>
  pack([c.accountCount, c.totals.map((t) => [t.currency, t.balance, t.accounts])]);
export function decodeCheckpoint(buf: Buffer): Checkpoint {
  const [accountCount, totals] = unpack(buf) as [number, [string, Money, number][]];
  return { accountCount, totals: totals.map(([currency, balance, accounts]) => ({ currency, balance, accounts })) };
}

export interface Head {
  readonly sequence: Sequence;
  readonly hash: Buffer;
  readonly timestamp: number;
  /**
   * Batches (log blocks) in the log: the log's position, the same on every replica — in a cluster the
   * stream sequence of the last batch applied. Absent in heads written before it was kept.
   */
  readonly blocks?: number;
}
export const encodeHead = (h: Head): Buffer => pack(h.blocks === undefined ? [h.sequence, h.hash, h.timestamp] : [h.sequence, h.hash, h.timestamp, h.blocks]);
export function decodeHead(buf: Buffer): Head {
  const [seq, hash, timestamp, blocks] = unpack(buf) as [Sequence, Uint8Array, number, number | undefined];
  return blocks === undefined ? { sequence: seq, hash: Buffer.from(hash), timestamp } : { sequence: seq, hash: Buffer.from(hash), timestamp, blocks };
}

// --- snapshots --------------------------------------------------------------------------------

export const SNAPSHOT_FORMAT = 1;
type AccountTuple = [string, string, number, 0 | 1, number, number, number];

export const encodeAccounts = (accounts: readonly AccountState[]): Buffer =>
  pack(accounts.map((a): AccountTuple => [a.id, a.currency, a.balance, a.status === 'OPEN' ? 0 : 1, a.version, a.lastSequence, a.openedSequence]));

export const decodeAccounts = (buf: Buffer): AccountState[] =>
  (unpack(buf) as AccountTuple[]).map(([id, currency, balance, status, version, lastSequence, openedSequence]) => ({
    id,
    currency,
    balance: balance as Money,
    status: status === 0 ? 'OPEN' : 'CLOSED',
    version,
    lastSequence: lastSequence as Sequence,
    openedSequence: openedSequence as Sequence,
  }));

export interface SnapshotHeader extends Checkpoint {
  readonly sequence: Sequence;
  readonly timestamp: number;
  readonly chunks: number;
}
export const encodeSnapshotHeader = (h: SnapshotHeader): Buffer =>
  pack([SNAPSHOT_FORMAT, h.sequence, h.timestamp, h.chunks, h.accountCount, h.totals.map((t) => [t.currency, t.balance, t.accounts])]);
export function decodeSnapshotHeader(buf: Buffer): SnapshotHeader {
  const [format, seq, timestamp, chunks, accountCount, totals] = unpack(buf);
  if (format !== SNAPSHOT_FORMAT) throw new StoreError('STORE_FORMAT', `snapshot format ${format} is not ${SNAPSHOT_FORMAT}`);
  return {
    sequence: seq,
    timestamp,
    chunks,
    accountCount,
    totals: (totals as [string, Money, number][]).map(([currency, balance, accounts]) => ({ currency, balance, accounts })),
  };
}
