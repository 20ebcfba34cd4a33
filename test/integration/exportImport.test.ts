// Backup and restore: export → import gives the same log byte for byte (same head, balances and
// hashes), through the writer's own decisions, and refuses an export that was tampered with.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Command } from '../../src/domain/commands.ts';
import { money } from '../../src/domain/types.ts';
import { verify } from '../../src/projection/verify.ts';
import { exportLog, importLog } from '../../src/store/exportImport.ts';
import { LedgerStore } from '../../src/store/ledgerStore.ts';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/tempStore.ts';
import { writeV1Store } from '../support/v1Fixture.ts';

async function exported(store: LedgerStore): Promise<string[]> {
  const lines: string[] = [];
  await exportLog(store, (line) => void lines.push(line));
  return lines;
}

async function exportedFrom(dir: string): Promise<string[]> {
  const store = await LedgerStore.open(dir);
  try {
    return await exported(store);
  } finally {
    await store.close();
  }
}

/** A store whose log starts with v1 events (no currency on OPENED) and goes on with today's. */
async function mixedStore(dir: string): Promise<LedgerStore> {
  await writeV1Store(dir);
  const store = await LedgerStore.open(dir);
  const ids = [...store.state.accounts()].filter((a) => a.status === 'OPEN').map((a) => a.id);
  const commands: Command[] = [
    { type: 'OpenAccount', accountId: 'eur-1', currency: 'EUR', initialBalance: money(500) },
    { type: 'OpenAccount', accountId: 'eur-2', currency: 'EUR', initialBalance: money(0) },
  ];
  for (let i = 0; i < 300; i++) {
    commands.push(i % 3 === 0 ? { type: 'Transfer', fromAccountId: 'eur-1', toAccountId: 'eur-2', amount: money(1), transactionId: `tr-${i}` } : { type: 'Deposit', accountId: i % 2 ? 'eur-1' : ids[0]!, amount: money(7), transactionId: `dep-${i}` });
  }
  for (let i = 0; i < commands.length; i += 37) await store.execute(commands.slice(i, i + 37));
  return store;
}

describe('export and import', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });
  const dir = async () => {
    const d = await tempDir();
    cleanups.push(d.remove);
    return d.dir;
  };

  it('round-trips to the same head, balances and hashes, while the source store stays open', async () => {
    const source = await dir();
    const original = await mixedStore(source);
    cleanups.unshift(() => original.close());
    const lines = await exported(original);
    expect(lines).toHaveLength(original.head);
    expect(JSON.parse(lines[0]!)).toMatchObject({ sequence: 1, type: 'OPENED', schemaVersion: 1 });
    expect(JSON.parse(lines[0]!).data).not.toHaveProperty('currency'); // exported as stored, not upcast

    const target = await dir();
    const copy = await LedgerStore.open(target);
    cleanups.unshift(() => copy.close());
    const progress: number[] = [];
    const result = await importLog(copy, Readable.from(lines.join('')), (s) => progress.push(s));
    expect(result).toEqual({ events: original.head, head: original.head });
    expect(progress.at(-1)).toBe(original.head);
    expect(copy.headHash.equals(original.headHash)).toBe(true);
    expect(copy.state.summary()).toEqual(original.state.summary());
    expect([...copy.state.accounts()].sort((a, b) => a.id.localeCompare(b.id))).toEqual([...original.state.accounts()].sort((a, b) => a.id.localeCompare(b.id)));
    expect((await verify(copy)).ok).toBe(true);
    await copy.close();
    expect(await exportedFrom(target)).toEqual(lines); // every event, id, time and hash identical
  });

  it('refuses a tampered export at the first bad event and keeps what came before it whole', async () => {
    const source = await dir();
    const original = await mixedStore(source);
    const lines = await exported(original);
    await original.close();
    const at = 1_100 > lines.length ? lines.length - 5 : 1_100; // in the second import chunk
    const bad = JSON.parse(lines[at]!);
    bad.data.amount = (bad.data.amount ?? 0) + 1;
    lines[at] = `${JSON.stringify(bad)}\n`;

    const copy = await LedgerStore.open(await dir());
    cleanups.unshift(() => copy.close());
    await expect(importLog(copy, Readable.from(lines.join('')))).rejects.toThrow(new RegExp(`import refused at sequence ${bad.sequence}`));
    expect(copy.head).toBeLessThan(bad.sequence); // whole chunks only
    expect((await verify(copy)).ok).toBe(true);
  });

  it('refuses to import into a store that is not empty', async () => {
    const source = await dir();
    const original = await mixedStore(source);
    cleanups.unshift(() => original.close());
    await expect(importLog(original, Readable.from(''))).rejects.toThrow(/empty store/);
  });

  it('works from the command line: evledger export | evledger import', async () => {
    const source = await dir();
    const original = await mixedStore(source);
    const head = original.head;
    const hash = original.headHash.toString('hex');
    await original.close();
    const file = join(await dir(), 'log.ndjson');
    const exportRun = await runCli(['export', '--data', source]);
    expect(exportRun.code, exportRun.stderr).toBe(0);
    await writeFile(file, exportRun.stdout);
    expect((await readFile(file, 'utf8')).trim().split('\n')).toHaveLength(head);
    const target = await dir();
    const importRun = await runCli(['import', '--data', target, file]);
    expect(importRun.code, importRun.stderr).toBe(0);
    expect(importRun.stderr).toContain(`head ${head}, hash ${hash}; verify ok`);
  });
});
