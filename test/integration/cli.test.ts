// The command line as an operator meets it: the commands that read a store refuse a path with no
// store and create nothing; import says in one line why it stopped and leaves nothing half-made; and
// verify, replay and export of a store that a running server holds go through that server (its
// control socket), with the same answers as on a stopped store.
import { existsSync } from 'node:fs';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../../src/domain/commands.ts';
import { money } from '../../src/domain/types.ts';
import { CONTROL_SOCKET } from '../../src/server/controlSocket.ts';
import { LedgerStore } from '../../src/store/ledgerStore.ts';
import { runCli, type CliRun } from '../support/cli.ts';
import { tempDir } from '../support/tempStore.ts';
import { startTServer, type TServer } from '../support/testServer.ts';

/** One line on stderr, `evledger: …`, and exit 1: what a script or an operator can act on. */
function expectRefusal(run: CliRun, message: RegExp): void {
  expect(run.code, run.stderr).toBe(1);
  expect(run.stderr.trim().split('\n'), run.stderr).toHaveLength(1);
  expect(run.stderr).toMatch(/^evledger: /);
  expect(run.stderr).toMatch(message);
  expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

const commands = (n: number): Command[] => [
  { type: 'OpenAccount', accountId: 'a', currency: 'EUR', initialBalance: money(1_000) },
  { type: 'OpenAccount', accountId: 'b', currency: 'EUR', initialBalance: money(0) },
  ...Array.from({ length: n }, (_, i): Command => ({ type: 'Transfer', fromAccountId: 'a', toAccountId: 'b', amount: money(1), transactionId: `t-${i}` })),
];

describe('the command line', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    work = await tempDir('evledger-cli-');
  });
  afterAll(async () => {
    await work.remove();
  });

  it('refuses verify, replay and export of a path with no store, and creates nothing there', async () => {
    const missing = join(work.dir, 'typo');
    const empty = join(work.dir, 'empty');
    await mkdir(empty);
    const runs = await Promise.all(
      [missing, empty].flatMap((dir) => [runCli(['verify', '--data', dir]), runCli(['replay', '--data', dir, '--to', '1']), runCli(['export', '--data', dir])]),
    );
    for (const run of runs) expectRefusal(run, /there is no store at/);
    expect(existsSync(missing)).toBe(false);
    expect(await readdir(empty)).toEqual([]);
  });

  it('stops an import with one clear line, and leaves no store behind where it made one', async () => {
    const target = join(work.dir, 'restored');
    expectRefusal(await runCli(['import', '--data', target, join(work.dir, 'no-such-export.ndjson')]), /cannot read .*no-such-export\.ndjson: no such file/);
    expect(existsSync(target)).toBe(false);

    const notJson = join(work.dir, 'not-json.ndjson');
    await writeFile(notJson, 'this is not an export\n');
    expectRefusal(await runCli(['import', '--data', target, notJson]), /line 1 is not JSON/);
    expect(existsSync(target)).toBe(false);

    const full = join(work.dir, 'full');
    const store = await LedgerStore.open(full);
    await store.execute(commands(3));
    await store.close();
    expectRefusal(await runCli(['import', '--data', full, notJson]), /import needs an empty store; the one at .* is at sequence 5/);
    const reopened = await LedgerStore.open(full);
    expect(reopened.head).toBe(5); // untouched
    await reopened.close();
  });

  describe('on a store a running server holds', () => {
    let server: TServer;
    let stopped: { verify: CliRun; replay: CliRun; exported: CliRun };
    const dataDir = () => server.dataDir;
    beforeAll(async () => {
      const dir = join(work.dir, 'live');
      const store = await LedgerStore.open(dir);
      await store.execute(commands(40));
      await store.close();
      // The answers on the stopped store, to compare with what the server gives.
      // One after another: each opens the store, and RocksDB lets one process at a time do that.
      stopped = {
        verify: await runCli(['verify', '--data', dir]),
        replay: await runCli(['replay', '--data', dir, '--to', '20']),
        exported: await runCli(['export', '--data', dir, '--from', '3']),
      };
      for (const run of Object.values(stopped)) expect(run.code, run.stderr).toBe(0);
      server = await startTServer({ dataDir: dir });
    });
    afterAll(async () => {
      await server?.stop();
    });

    it('serves a control socket in the data folder, owner-only', async () => {
      const socket = await stat(join(dataDir(), CONTROL_SOCKET));
      expect(socket.isSocket()).toBe(true);
      expect(socket.mode & 0o777).toBe(0o600);
    });

    it('verifies it through the server', async () => {
      const run = await runCli(['verify', '--data', dataDir()]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout.toString()).toMatch(/^ok: 42 events, head 42, hash chain intact/);
      expect(stopped.verify.stdout.toString()).toMatch(/^ok: 42 events, head 42/);
    });

    it('replays it through the server, to the same ledger as on the stopped store', async () => {
      const run = await runCli(['replay', '--data', dataDir(), '--to', '20']);
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout.toString())).toEqual(JSON.parse(stopped.replay.stdout.toString()));
      expect(JSON.parse(run.stdout.toString())).toMatchObject({ eventsReplayed: 20, ledger: { sequence: 20 } });
    });

    it('exports it through the server, byte for byte what the stopped store exported, while writes go on', async () => {
      const writes = Array.from({ length: 20 }, (_, i) => server.app.store.executeOne({ type: 'Deposit', accountId: 'b', amount: money(1), transactionId: `live-${i}` }));
      const run = await runCli(['export', '--data', dataDir(), '--from', '3']);
      await Promise.all(writes);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/read by the running server/);
      const lines = run.stdout.toString().trim().split('\n');
      const head = Number(/log head (\d+)/.exec(run.stderr)![1]);
      expect(lines.map((l) => JSON.parse(l).sequence)).toEqual(Array.from({ length: head - 2 }, (_, i) => i + 3)); // no gap up to its head
      expect(run.stdout.subarray(0, stopped.exported.stdout.length).equals(stopped.exported.stdout)).toBe(true);
    });

    it('says so, in one line, when the process holding the store serves no control socket', async () => {
      const other = join(work.dir, 'held');
      const store = await LedgerStore.open(other); // held by this test process, which serves no socket
      try {
        expectRefusal(await runCli(['verify', '--data', other]), /open in another process that serves no control socket/);
      } finally {
        await store.close();
      }
    });

    it('removes the socket when it stops', async () => {
      await server.app.stop();
      expect(await readdir(dataDir())).not.toContain(CONTROL_SOCKET);
    });
  });
});
