// The key layout. One byte of prefix per keyspace; sequences and times as 8-byte big-endian so that
// byte order is numeric order and "the last X at or below S" is one reverse seek.
//
//   M<name>                   meta: head (sequence, hash, time), store format, projection format
//   L<seq8>                   log block: every event of one committed batch, first sequence in the key
//   H<account>\0<seq8>        account history: version, balance, status after each event of the account
//   A<account>                projection row: the account now
//   T<transactionId>          idempotency: the sequence a transaction id committed at, and what it did
//   C<seq8>                   ledger checkpoint: account count and totals after the batch ending at seq
//   W<time8><seq8>            time index: the last sequence of a batch committed at that time
//   S<seq8> / s<seq8><n4>     snapshot header / its chunks of accounts
import type { Sequence } from '../domain/types.ts';

const P = {
  meta: 0x4d, // M
  log: 0x4c, // L
  history: 0x48, // H
  account: 0x41, // A
  transaction: 0x54, // T
  checkpoint: 0x43, // C
  time: 0x57, // W
  snapshot: 0x53, // S
  snapshotChunk: 0x73, // s
} as const;

const TWO_32 = 2 ** 32;

function writeU64(buf: Buffer, n: number, offset: number): void {
  buf.writeUInt32BE(Math.floor(n / TWO_32), offset);
  buf.writeUInt32BE(n >>> 0, offset + 4);
}

export function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * TWO_32 + buf.readUInt32BE(offset + 4);
}

function prefixed(prefix: number, n: number): Buffer {
  const key = Buffer.allocUnsafe(9);
  key[0] = prefix;
  writeU64(key, n, 1);
  return key;
}

function prefixedString(prefix: number, s: string, extra = 0): Buffer {
  const len = Buffer.byteLength(s, 'latin1');
  const key = Buffer.allocUnsafe(1 + len + extra);
  key[0] = prefix;
  key.write(s, 1, 'latin1');
  return key;
}

export const metaKey = (name: 'head' | 'format' | 'projection') => Buffer.from(`M${name}`, 'latin1');

export const logKey = (firstSequence: number) => prefixed(P.log, firstSequence);
export const LOG_START = prefixed(P.log, 0);
export const LOG_END = prefixed(P.log, Number.MAX_SAFE_INTEGER);
export const sequenceOfLogKey = (key: Buffer): Sequence => readU64(key, 1) as Sequence;

/** Ids are ASCII (see domain/validation), so latin1 is their exact byte form and \0 sorts before any. */
export function historyKey(accountId: string, seq: number): Buffer {
  const key = prefixedString(P.history, accountId, 9);
  const at = key.length - 9;
  key[at] = 0;
  writeU64(key, seq, at + 1);
  return key;
}
export const historyStart = (accountId: string) => historyKey(accountId, 0);
export const historyEnd = (accountId: string) => historyKey(accountId, Number.MAX_SAFE_INTEGER);
export const sequenceOfHistoryKey = (key: Buffer): Sequence => readU64(key, key.length - 8) as Sequence;
export const HISTORY_START = Buffer.from([P.history]);
export const HISTORY_END = Buffer.from([P.history + 1]);

export const accountKey = (accountId: string) => prefixedString(P.account, accountId);
export const accountIdOfKey = (key: Buffer) => key.toString('latin1', 1);
export const ACCOUNTS_START = Buffer.from([P.account]);
export const ACCOUNTS_END = Buffer.from([P.account + 1]);

export const transactionKey = (transactionId: string) => prefixedString(P.transaction, transactionId);

export const checkpointKey = (lastSequence: number) => prefixed(P.checkpoint, lastSequence);
export const CHECKPOINTS_START = prefixed(P.checkpoint, 0);

export function timeKey(timestamp: number, lastSequence: number): Buffer {
  const key = Buffer.allocUnsafe(17);
  key[0] = P.time;
  writeU64(key, timestamp, 1);
  writeU64(key, lastSequence, 9);
  return key;
}
export const TIME_START = timeKey(0, 0);
export const sequenceOfTimeKey = (key: Buffer): Sequence => readU64(key, 9) as Sequence;

export const snapshotKey = (seq: number) => prefixed(P.snapshot, seq);
export const SNAPSHOTS_START = prefixed(P.snapshot, 0);
export function snapshotChunkKey(seq: number, chunk: number): Buffer {
  const key = Buffer.allocUnsafe(13);
  key[0] = P.snapshotChunk;
  writeU64(key, seq, 1);
  key.writeUInt32BE(chunk, 9);
  return key;
}
