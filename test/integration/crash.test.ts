// A real crash: a child process appends under 32-way concurrency and prints each acknowledgement; we
// SIGKILL it at a random moment mid-load, reopen the store here, and check that verify passes, every
// acknowledged command is in the log exactly once at the sequence it was acknowledged with, and no
// rejected command left anything behind. Three kill/reopen cycles on one data dir, each continuing
// on top of the last.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../../src/domain/commands.ts';
import type { RecordedEvent } from '../../src/domain/events.ts';
import { verify } from '../../src/projection/verify.ts';
import { LedgerStore } from '../../src/store/ledgerStore.ts';
import { tempDir } from '../support/tempStore.ts';

const childPath = fileURLToPath(new URL('./crashChild.ts', import.meta.url));
const CYCLES = 3;
const MIN_ACKS = 300;
/** The child opens this many accounts on a fresh store, one event each, before its first READY. */
const CHILD_ACCOUNT_COUNT = 16;

interface CycleRun {
  readyHead: number;
  acks: Map<string, number>;
  rejected: Map<string, string>;
  killedAfterAcks: number;
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
}

/**
 * Runs the child until it has acknowledged `killAt` commands (or at least MIN_ACKS once a few seconds
 * have passed, so a slow machine still gets its cycle in), then SIGKILLs it after a random delay.
 */
async function runAndKill(dir: string, killAt: number): Promise<CycleRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', childPath, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const run: CycleRun = { readyHead: -1, acks: new Map(), rejected: new Map(), killedAfterAcks: -1, signal: null, code: null, stderr: '' };
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (run.stderr += chunk));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const softDeadline = Date.now() + 6_000;
  // Never wait forever: a child that stalls before MIN_ACKS is killed too, and the checks fail.
  const watchdog = setTimeout(() => child.kill('SIGKILL'), 30_000);
  let killScheduled = false;
  try {
    // Lines printed before the kill are still in the pipe and are read here: stdout ends only at exit.
    for await (const line of createInterface({ input: child.stdout, crlfDelay: Infinity })) {
      const [kind, txId, value] = line.split(' ') as [string, string, string];
      if (kind === 'READY') {
        run.readyHead = Number(txId);
      } else if (kind === 'ACK') {
        if (run.acks.has(txId)) throw new Error(`transaction ${txId} acknowledged twice`);
        run.acks.set(txId, Number(value));
        if (!killScheduled && (run.acks.size >= killAt || (run.acks.size >= MIN_ACKS && Date.now() > softDeadline))) {
          killScheduled = true;
          // A random moment: mid-print of a batch's acks, mid-decide, or mid-fsync of the next batch.
          setTimeout(() => {
            run.killedAfterAcks = run.acks.size;
            child.kill('SIGKILL');
          }, Math.random() * 25);
        }
      } else if (kind === 'REJ') {
        run.rejected.set(txId, value);
      } else {
        throw new Error(`unexpected line from the child: ${line}`);
      }
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    [run.code, run.signal] = await exited;
    clearTimeout(watchdog);
  }
  return run;
}

/** The command an event was decided from, to retry it and expect the original result back. */
function commandOf(event: RecordedEvent): Command | null {
  const transactionId = event.transactionId!;
  switch (event.type) {
    case 'DEPOSITED':
      return { type: 'Deposit', accountId: event.data.accountId, amount: event.data.amount, transactionId };
    case 'WITHDRAWN':
      return { type: 'Withdraw', accountId: event.data.accountId, amount: event.data.amount, transactionId };
    case 'TRANSFERRED':
      return { type: 'Transfer', ...event.data, transactionId };
    default:
      return null;
  }
}

describe('kill -9 mid-load', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeAll(async () => ({ dir, remove } = await tempDir('evledger-crash-')));
  afterAll(async () => remove?.());

  it(`loses no acknowledged command and leaves no half-written one, over ${CYCLES} kill/reopen cycles`, async () => {
    const allAcks = new Map<string, number>();
    const allRejected = new Set<string>();
    let headAfterReopen = 0;

    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const killAt = MIN_ACKS + Math.floor(Math.random() * 2_500);
      const run = await runAndKill(dir, killAt);
      const context = `cycle ${cycle}, kill after ${killAt} acks (${run.killedAfterAcks} seen at kill); child stderr:\n${run.stderr}`;

      expect(run.signal, `the child must die by our SIGKILL, not exit on its own — ${context}`).toBe('SIGKILL');
      expect(run.killedAfterAcks, context).toBeGreaterThanOrEqual(MIN_ACKS);
      // The child opened exactly the store we closed: same head, so this cycle continues on top of the last.
      expect(run.readyHead, context).toBe(cycle === 1 ? CHILD_ACCOUNT_COUNT : headAfterReopen);
      for (const [txId, seq] of run.acks) {
        expect(seq, `${txId} acknowledged at a sequence before this run began — ${context}`).toBeGreaterThan(run.readyHead);
        allAcks.set(txId, seq);
      }
      for (const txId of run.rejected.keys()) allRejected.add(txId);
      expect(run.rejected.size, `the child's load includes domain rejections — ${context}`).toBeGreaterThan(0);

      const store = await LedgerStore.open(dir);
      try {
        const report = await verify(store);
        expect(report, context).toMatchObject({ ok: true });
        expect(report.head).toBe(store.head);

        const seen = new Map<string, number[]>();
        const outOfOrder: number[] = [];
        let count = 0;
        for await (const event of store.readEvents(1)) {
          if (event.sequence !== ++count) outOfOrder.push(event.sequence);
          if (event.transactionId === null) continue;
          const at = seen.get(event.transactionId);
          if (at) at.push(event.sequence);
          else seen.set(event.transactionId, [event.sequence]);
        }
        expect(outOfOrder, 'the log read back is gapless and in order').toEqual([]);
        expect(count).toBe(store.head);

        const lost = [...allAcks].filter(([txId, seq]) => JSON.stringify(seen.get(txId)) !== JSON.stringify([seq]));
        expect(lost.map(([txId, seq]) => `${txId}@${seq} found at ${JSON.stringify(seen.get(txId) ?? [])}`), context).toEqual([]);
        const duplicated = [...seen].filter(([, seqs]) => seqs.length !== 1);
        expect(duplicated, context).toEqual([]);
        const rejectedButLogged = [...allRejected].filter((txId) => seen.has(txId));
        expect(rejectedButLogged, context).toEqual([]);

        // A client retrying an acknowledged command after the crash gets the original result, and nothing is appended.
        const sample = [...run.acks].filter((_, i) => i % Math.ceil(run.acks.size / 20) === 0);
        const events = await store.eventsAt(sample.map(([, seq]) => seq));
        const headBefore = store.head;
        for (const [i, [txId, seq]] of sample.entries()) {
          const command = commandOf(events[i]!);
          expect(command, `${txId} is a money movement`).not.toBeNull();
          const retry = await store.executeOne(command!);
          expect(retry, `retry of ${txId}`).toMatchObject({ ok: true, replayed: true, sequence: seq });
        }
        expect(store.head).toBe(headBefore);
        headAfterReopen = store.head;
      } finally {
        await store.close();
      }
    }
    expect(allAcks.size).toBeGreaterThanOrEqual(CYCLES * MIN_ACKS);
  });
});
