// Backup and restore as NDJSON: one line per event, exactly as stored (the schema version it was
// written in, its data in that version's shape, its hash), so that an import reproduces the log byte
// for byte and the hash chain proves it.
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { ImportedEvent } from './appendPipeline.ts';
import { blockEntries, decodeEvent, pack, unpack, type StoredEventTuple } from './codec.ts';
import type { LedgerStore } from './ledgerStore.ts';

/** One line of an export. */
export interface ExportedEvent {
  readonly sequence: number;
  readonly type: string;
  readonly schemaVersion: number;
  readonly id: string;
  /** Commit time, epoch milliseconds. */
  readonly timestamp: number;
  readonly transactionId: string | null;
  /** As stored: in the shape of `schemaVersion`. */
  readonly data: Record<string, unknown>;
  /** sha256(previous hash ‖ stored event), hex. */
  readonly hash: string;
}

/**
 * Streams the log from `from` on, up to the head committed when it starts (blocks up to it never
 * change, so the export is one consistent point while the store goes on taking writes). Calls `write`
 * with each line; returns the count. `onHead` learns that head before the first line (a progress bar's total).
 */
export async function exportLog(store: LedgerStore, write: (line: string) => void | Promise<void>, from = 1, onHead?: (head: number) => void): Promise<{ events: number; head: number }> {
  const head = store.head;
  onHead?.(head);
  let events = 0;
  if (from > head) return { events, head };
  for await (const { block } of store.readBlocks(from)) {
    for (const { bytes, hash } of blockEntries(block)) {
      const [sequence, type, schemaVersion, id, timestamp, transactionId, data] = unpack(bytes) as StoredEventTuple;
      if (sequence > head) return { events, head };
      if (sequence < from) continue;
      const line: ExportedEvent = { sequence, type, schemaVersion, id, timestamp, transactionId, data, hash: hash.toString('hex') };
      await write(`${JSON.stringify(line)}\n`);
      events++;
    }
  }
  return { events, head };
}

/** Events per atomic import batch. */
const IMPORT_CHUNK = 1_000;

/**
 * Appends an export to an empty store through the writer: every event is decided again by the rules
 * and must come out the same, at the same sequence, with the same hash.
 */
export async function importLog(store: LedgerStore, input: Readable, onProgress?: (sequence: number) => void): Promise<{ events: number; head: number }> {
  if (store.head !== 0) throw new Error(`import needs an empty store; this one is at sequence ${store.head}`);
  let chunk: ImportedEvent[] = [];
  let events = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    await store.importEvents(chunk);
    events += chunk.length;
    onProgress?.(store.head);
    chunk = [];
  };
  let lineNo = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    lineNo++;
    if (line.trim() === '') continue;
    chunk.push(parseLine(line, lineNo));
    if (chunk.length === IMPORT_CHUNK) await flush();
  }
  await flush();
  return { events, head: store.head };
}

function parseLine(line: string, lineNo: number): ImportedEvent {
  let e: ExportedEvent;
  try {
    e = JSON.parse(line) as ExportedEvent;
  } catch {
    throw new Error(`line ${lineNo} is not JSON`);
  }
  if (typeof e !== 'object' || e === null || !/^[0-9a-f]{64}$/.test(String(e.hash))) throw new Error(`line ${lineNo} is not an exported event`);
  const tuple: StoredEventTuple = [e.sequence, e.type as StoredEventTuple[1], e.schemaVersion, e.id, e.timestamp, e.transactionId, e.data];
  const bytes = pack(tuple);
  let event;
  try {
    event = decodeEvent(bytes);
  } catch (err) {
    throw new Error(`line ${lineNo}: ${(err as Error).message}`);
  }
  return { event, bytes, hash: Buffer.from(e.hash, 'hex') };
}

