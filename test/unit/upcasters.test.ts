// Old event shapes read through upcasters: v1 OPENED (no currency) is a dollar account.
import { describe, expect, it } from 'vitest';
import { CURRENT_SCHEMA_VERSION } from '../../src/domain/events.ts';
import { upcast } from '../../src/domain/upcasters.ts';
import { decodeEvent, pack } from '../../src/store/codec.ts';

describe('upcast', () => {
  it('reads a v1 OPENED, which had no currency, as a USD account', () => {
    expect(upcast('OPENED', 1, { accountId: 'alice', initialBalance: 250 })).toEqual({
      type: 'OPENED',
      data: { accountId: 'alice', currency: 'USD', initialBalance: 250 },
    });
  });

  it('passes events at the current version through unchanged', () => {
    expect(CURRENT_SCHEMA_VERSION.OPENED).toBe(2);
    const data = { accountId: 'alice', currency: 'EUR', initialBalance: 7 };
    expect(upcast('OPENED', 2, data)).toEqual({ type: 'OPENED', data });
    expect(upcast('DEPOSITED', 1, { accountId: 'alice', amount: 3 })).toEqual({ type: 'DEPOSITED', data: { accountId: 'alice', amount: 3 } });
    expect(upcast('TRANSFERRED', 1, { fromAccountId: 'a', toAccountId: 'b', amount: 3 })).toEqual({
      type: 'TRANSFERRED',
      data: { fromAccountId: 'a', toAccountId: 'b', amount: 3 },
    });
  });

  it('refuses a version newer than this build knows, rather than misreading it', () => {
    expect(() => upcast('OPENED', 3, { accountId: 'alice', currency: 'EUR', initialBalance: 1, overdraft: 5 })).toThrow(/schema version 3, newer than this build knows \(2\)/);
    expect(() => upcast('DEPOSITED', 2, { accountId: 'alice', amount: 1 })).toThrow(/newer than this build knows \(1\)/);
  });

  it('refuses a version it has no upcaster for', () => {
    expect(() => upcast('OPENED', 0, { accountId: 'alice' })).toThrow(/no upcaster for OPENED v0/);
  });

  it('applies through the codec: a stored v1 tuple decodes to the current shape and keeps its schema version', () => {
    const bytes = pack([1, 'OPENED', 1, 'e-1', 1_600_000_000_000, null, { accountId: 'alice', initialBalance: 250 }]);
    expect(decodeEvent(bytes)).toEqual({
      type: 'OPENED',
      data: { accountId: 'alice', currency: 'USD', initialBalance: 250 },
      sequence: 1,
      id: 'e-1',
      timestamp: 1_600_000_000_000,
      schemaVersion: 1,
      transactionId: null,
    });
  });

  it('makes the codec refuse a stored event newer than this build knows', () => {
    const bytes = pack([1, 'OPENED', 3, 'e-1', 1_600_000_000_000, null, { accountId: 'alice', currency: 'EUR', initialBalance: 1 }]);
    expect(() => decodeEvent(bytes)).toThrow(/newer than this build knows/);
  });
});
