// Schema evolution: events are immutable, so an old shape stays in the log forever and is read
// through an upcaster that turns it into the current shape. Each step lifts one version.
import { CURRENT_SCHEMA_VERSION, type DomainEvent, type EventType } from './events.ts';

type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;

/** UPCASTERS[type][v] lifts data of version v to version v + 1. */
const UPCASTERS: Partial<Record<EventType, Record<number, Upcaster>>> = {
  OPENED: {
    // The first ledger was single-currency: accounts opened before currencies existed hold dollars.
    1: (data) => ({ accountId: data.accountId, currency: 'USD', initialBalance: data.initialBalance }),
  },
};

export function upcast(type: EventType, schemaVersion: number, data: Record<string, unknown>): DomainEvent {
  const current = CURRENT_SCHEMA_VERSION[type];
  if (schemaVersion > current) {
    throw new Error(`${type} event has schema version ${schemaVersion}, newer than this build knows (${current})`);
  }
  let lifted = data;
  for (let v = schemaVersion; v < current; v++) {
    const step = UPCASTERS[type]?.[v];
    if (!step) throw new Error(`no upcaster for ${type} v${v}`);
    lifted = step(lifted);
  }
  return { type, data: lifted } as DomainEvent;
}
