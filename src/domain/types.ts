// Branded integers for the two quantities that must never be floats or mixed up: amounts in minor
// units and positions in the global log. Brands cost nothing at run time.
export type Money = number & { readonly __brand: 'Money' };
export type Sequence = number & { readonly __brand: 'Sequence' };
export type AccountId = string;

export const money = (n: number) => n as Money;
export const sequence = (n: number) => n as Sequence;

export type AccountStatus = 'OPEN' | 'CLOSED';

/** One account's state after its `version`-th event, the `lastSequence` of the log. Immutable. */
export interface AccountState {
  readonly id: AccountId;
  readonly currency: string;
  readonly balance: Money;
  readonly status: AccountStatus;
  readonly version: number;
  readonly lastSequence: Sequence;
  readonly openedSequence: Sequence;
}

export interface CurrencyTotal {
  readonly currency: string;
  readonly balance: Money;
  readonly accounts: number;
}
