// verify: walks the whole store and reports the first inconsistency by sequence — a gap, a broken
// hash chain, an event that breaks the rules, or an index, checkpoint, snapshot or projection row
// that disagrees with a fold of the log.
import { fingerprintOfEvent } from '../domain/commands.ts';
import { accountIdsOf } from '../domain/events.ts';
import { LedgerState } from '../domain/ledger.ts';
import type { AccountState } from '../domain/types.ts';
import {
  GENESIS_HASH,
  blockEntries,
  chainHash,
  decodeAccount,
  decodeCheckpoint,
  decodeEvent,
  decodeHead,
  decodeHistory,
  decodeTransaction,
  encodeAccounts,
} from '../store/codec.ts';
import {
  ACCOUNTS_END,
  ACCOUNTS_START,
  HISTORY_END,
  HISTORY_START,
  LOG_END,
  LOG_START,
  accountIdOfKey,
  checkpointKey,
  historyKey,
  metaKey,
  sequenceOfLogKey,
  transactionKey,
} from '../store/keys.ts';
import type { LedgerStore } from '../store/ledgerStore.ts';
import { findSnapshot, listSnapshots, loadSnapshot } from './snapshots.ts';

export interface VerifyReport {
  readonly ok: boolean;
  readonly head: number;
  readonly events: number;
  /** The first inconsistency: at which sequence (0 when it is not tied to one) and what. */
  readonly problem?: { readonly sequence: number; readonly message: string };
}

class Inconsistency extends Error {
  constructor(
    readonly sequence: number,
    message: string,
  ) {
    super(message);
  }
}

export async function verify(store: LedgerStore, onProgress?: (sequence: number) => void): Promise<VerifyReport> {
  const state = new LedgerState();
  let events = 0;
  try {
    const snapshots = new Set(await listSnapshots(store).catch(undecodable(0, 'a snapshot header')));
    let hash = GENESIS_HASH;
    for await (const [key, block] of store.rocks.range({ gte: LOG_START, lte: LOG_END })) {
      const first = sequenceOfLogKey(key);
      if (first !== state.head + 1) throw new Inconsistency(state.head + 1, `the log jumps from ${state.head} to a block starting at ${first}`);
      const expectedHistory: [Buffer, AccountState, number][] = [];
      const transactions: [Buffer, number, string][] = [];
      let entries;
      try {
        entries = [...blockEntries(block)];
      } catch (err) {
        throw new Inconsistency(first, (err as Error).message);
      }
      for (const entry of entries) {
        const at = state.head + 1;
        let event;
        try {
          event = decodeEvent(entry.bytes);
        } catch (err) {
          throw new Inconsistency(at, (err as Error).message);
        }
        if (event.sequence !== at) throw new Inconsistency(at, `expected sequence ${at}, found ${event.sequence}`);
        const expectedHash = chainHash(hash, entry.bytes);
        if (!expectedHash.equals(entry.hash)) throw new Inconsistency(at, 'hash chain broken: the stored hash is not sha256(previous hash ‖ event)');
        hash = entry.hash;
        if (event.timestamp < state.lastTimestamp) throw new Inconsistency(at, 'timestamp earlier than the previous event');
        checkRules(state, event);
        state.apply(event);
        events++;
        for (const id of accountIdsOf(event)) expectedHistory.push([historyKey(id, at), state.account(id)!, at]);
        if (event.transactionId !== null) transactions.push([transactionKey(event.transactionId), at, fingerprintOfEvent(event)]);
      }
      await checkHistory(store, expectedHistory);
      await checkTransactions(store, transactions);
      await checkCheckpoint(store, state);
      if (snapshots.has(state.head)) await checkSnapshot(store, state);
      onProgress?.(state.head);
    }
    await checkHead(store, state, hash);
    await checkProjectionRows(store, state);
    await checkHistoryCount(store, state);
    return { ok: true, head: state.head, events };
  } catch (err) {
    if (err instanceof Inconsistency) return { ok: false, head: state.head, events, problem: { sequence: err.sequence, message: err.message } };
    throw err;
  }
}

/** A stored value that does not decode is an inconsistency at `seq` to report, not a reason for verify to throw. */
const undecodable =
  (seq: number, what: string) =>
  (err: unknown): never => {
    throw new Inconsistency(seq, `${what} does not decode: ${(err as Error).message}`);
  };

function decoded<T>(seq: number, what: string, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    return undecodable(seq, what)(err);
  }
}

/** An event in the log must have been acceptable when it was appended. */
function checkRules(state: LedgerState, event: ReturnType<typeof decodeEvent>): void {
  const fail = (why: string) => {
    throw new Inconsistency(event.sequence, `${event.type} breaks the rules: ${why}`);
  };
  for (const id of accountIdsOf(event)) {
    const account = state.account(id);
    if (event.type === 'OPENED') {
      if (account) fail(`account ${id} already exists`);
    } else if (!account) fail(`account ${id} does not exist`);
    else if (account.status === 'CLOSED') fail(`account ${id} is closed`);
  }
  const debit =
    event.type === 'WITHDRAWN' ? [event.data.accountId, event.data.amount] : event.type === 'TRANSFERRED' ? [event.data.fromAccountId, event.data.amount] : null;
  if (debit && state.account(debit[0] as string)!.balance < (debit[1] as number)) fail(`account ${debit[0]} would be overdrawn`);
}

async function checkHistory(store: LedgerStore, expected: [Buffer, AccountState, number][]): Promise<void> {
  const values = await store.rocks.getMany(expected.map(([key]) => key));
  expected.forEach(([, account, seq], i) => {
    const value = values[i];
    if (!value) throw new Inconsistency(seq, `history index has no entry for account ${account.id}`);
    const h = decoded(seq, `history index entry of account ${account.id}`, () => decodeHistory(value));
    if (h.version !== account.version || h.balance !== account.balance || h.status !== account.status) {
      throw new Inconsistency(seq, `history index says account ${account.id} was ${JSON.stringify(h)}, the log says ${JSON.stringify({ version: account.version, balance: account.balance, status: account.status })}`);
    }
  });
}

async function checkTransactions(store: LedgerStore, expected: [Buffer, number, string][]): Promise<void> {
  const values = await store.rocks.getMany(expected.map(([key]) => key));
  expected.forEach(([key, seq, fingerprint], i) => {
    const value = values[i];
    const t = value ? decoded(seq, `idempotency key ${key.toString('latin1', 1)}`, () => decodeTransaction(value)) : undefined;
    if (!t || t.sequence !== seq || t.fingerprint !== fingerprint) {
      throw new Inconsistency(seq, `idempotency key ${key.toString('latin1', 1)} ${t ? `points at ${t.sequence}` : 'is missing'}`);
    }
  });
}

async function checkCheckpoint(store: LedgerStore, state: LedgerState): Promise<void> {
  const value = await store.rocks.get(checkpointKey(state.head));
  if (!value) throw new Inconsistency(state.head, 'no ledger checkpoint at the end of this batch');
  const c = decoded(state.head, 'the ledger checkpoint', () => decodeCheckpoint(value));
  const expected = { accountCount: state.accountCount, totals: state.currencyTotals() };
  if (JSON.stringify(c) !== JSON.stringify(expected)) {
    throw new Inconsistency(state.head, `checkpoint ${JSON.stringify(c)} disagrees with the log ${JSON.stringify(expected)}`);
  }
}

async function checkSnapshot(store: LedgerStore, state: LedgerState): Promise<void> {
  const snap = await findSnapshot(store, state.head)
    .then((header) => loadSnapshot(store, header!))
    .catch(undecodable(state.head, 'the snapshot'));
  const sort = (s: LedgerState) => [...s.accounts()].sort((a, b) => (a.id < b.id ? -1 : 1));
  if (JSON.stringify(snap.summary()) !== JSON.stringify(state.summary()) || !encodeAccounts(sort(snap)).equals(encodeAccounts(sort(state)))) {
    throw new Inconsistency(state.head, 'snapshot disagrees with the log');
  }
}

async function checkHead(store: LedgerStore, state: LedgerState, hash: Buffer): Promise<void> {
  const value = await store.rocks.get(metaKey('head'));
  const head = value ? decoded(state.head, 'the head record', () => decodeHead(value)) : undefined;
  if ((head?.sequence ?? 0) !== state.head) throw new Inconsistency(state.head, `the head record says ${head?.sequence ?? 0}, the log ends at ${state.head}`);
  if (head && !head.hash.equals(hash)) throw new Inconsistency(state.head, 'the head record has the wrong hash');
}

async function checkProjectionRows(store: LedgerStore, state: LedgerState): Promise<void> {
  let rows = 0;
  for await (const [key, value] of store.rocks.range({ gte: ACCOUNTS_START, lt: ACCOUNTS_END })) {
    const id = accountIdOfKey(key);
    const folded = state.account(id);
    const row = decoded(folded?.lastSequence ?? 0, `projection row of account ${id}`, () => decodeAccount(id, value));
    rows++;
    if (!folded || !sameAccount(row, folded)) {
      throw new Inconsistency(folded?.lastSequence ?? 0, `projection row ${JSON.stringify(row)} disagrees with the log ${JSON.stringify(folded)}`);
    }
  }
  if (rows !== state.accountCount) throw new Inconsistency(0, `${rows} projection rows for ${state.accountCount} accounts in the log`);
}

async function checkHistoryCount(store: LedgerStore, state: LedgerState): Promise<void> {
  let entries = 0;
  for await (const _ of store.rocks.range({ gte: HISTORY_START, lt: HISTORY_END })) entries++;
  let expected = 0;
  for (const a of state.accounts()) expected += a.version;
  if (entries !== expected) throw new Inconsistency(0, `${entries} history entries where the log has ${expected}`);
}

const sameAccount = (a: AccountState, b: AccountState) =>
  a.id === b.id &&
  a.currency === b.currency &&
  a.balance === b.balance &&
  a.status === b.status &&
  a.version === b.version &&
  a.lastSequence === b.lastSequence &&
  a.openedSequence === b.openedSequence;
