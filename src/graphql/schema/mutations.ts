// Commands as mutations. Each returns `<Command>Result = <Command>Success | <the DomainErrors it can
// raise>`; malformed input is a BAD_USER_INPUT error and never reaches the writer.
import { GraphQLError } from 'graphql';
import { accountIdsOfCommand, type Command } from '../../domain/commands.ts';
import { accountIdsOf, type RecordedEvent } from '../../domain/events.ts';
import { money, type AccountState } from '../../domain/types.ts';
import { validateCommand } from '../../domain/validation.ts';
import { STORE_RETRY_AFTER_MS, type CommandResult } from '../../store/ledgerStore.ts';
import { ClusterError } from '../../cluster/clusterError.ts';
import { inScope, requireAccounts, requireRole } from '../access.ts';
import { builder, type Context } from '../builder.ts';
import { AccountRef } from './accounts.ts';
import { ERRORS, LedgerError, errorTypeName, toLedgerError, withOriginalHidden } from './errors.ts';
import { AccountClosedRef, AccountOpenedRef, MoneyDepositedRef, MoneyTransferredRef, MoneyWithdrawnRef } from './events.ts';
import { badInput } from './scalars.ts';

export const MAX_COMMANDS = 1_000;

type CommandType = Command['type'];
interface Payload {
  readonly command: CommandType;
  readonly sequence: number;
  readonly event: RecordedEvent;
  readonly accounts: readonly AccountState[];
  readonly replayed: boolean;
}

// --- inputs -----------------------------------------------------------------------------------

const OpenAccountInput = builder.inputType('OpenAccountInput', {
  fields: (t) => ({
    accountId: t.id({ required: true, description: '1–128 characters of letters, digits and _ - . : @' }),
    currency: t.string({ required: true, description: 'ISO 4217 code, e.g. EUR.' }),
    initialBalance: t.field({ type: 'Money', defaultValue: 0 }),
  }),
});
const movement = (name: string) =>
  builder.inputType(name, {
    fields: (t) => ({
      accountId: t.id({ required: true }),
      amount: t.field({ type: 'Money', required: true, description: 'Positive, in minor units.' }),
      transactionId: t.id({ required: true, description: 'Idempotency key: a retry with the same content returns the original result.' }),
      expectedVersion: t.int({ description: 'Fail with WRONG_EXPECTED_VERSION unless the account is at this version.' }),
    }),
  });
const DepositInput = movement('DepositInput');
const WithdrawInput = movement('WithdrawInput');
const TransferInput = builder.inputType('TransferInput', {
  fields: (t) => ({
    fromAccountId: t.id({ required: true }),
    toAccountId: t.id({ required: true }),
    amount: t.field({ type: 'Money', required: true }),
    transactionId: t.id({ required: true }),
  }),
});
const CloseAccountInput = builder.inputType('CloseAccountInput', {
  fields: (t) => ({
    accountId: t.id({ required: true }),
    reason: t.string({ defaultValue: '' }),
    expectedVersion: t.int(),
  }),
});
const CommandInput = builder.inputType('Command', {
  description: 'Exactly one of the five commands.',
  isOneOf: true,
  fields: (t) => ({
    openAccount: t.field({ type: OpenAccountInput }),
    deposit: t.field({ type: DepositInput }),
    withdraw: t.field({ type: WithdrawInput }),
    transfer: t.field({ type: TransferInput }),
    closeAccount: t.field({ type: CloseAccountInput }),
  }),
});

type Input = Record<string, unknown>;
const toCommand: Record<CommandType, (input: Input) => Command> = {
  OpenAccount: (i) => ({ type: 'OpenAccount', accountId: i.accountId as string, currency: i.currency as string, initialBalance: money((i.initialBalance as number) ?? 0) }),
  Deposit: (i) => ({ type: 'Deposit', ...(i as { accountId: string; amount: never; transactionId: string }), expectedVersion: i.expectedVersion as number | null }),
  Withdraw: (i) => ({ type: 'Withdraw', ...(i as { accountId: string; amount: never; transactionId: string }), expectedVersion: i.expectedVersion as number | null }),
  Transfer: (i) => ({ type: 'Transfer', ...(i as { fromAccountId: string; toAccountId: string; amount: never; transactionId: string }) }),
  CloseAccount: (i) => ({ type: 'CloseAccount', accountId: i.accountId as string, reason: (i.reason as string) ?? '', expectedVersion: i.expectedVersion as number | null }),
};

function checked(command: Command, path: string): Command {
  const problem = validateCommand(command);
  if (problem) throw badInput(`${path}: ${problem}`, { path });
  return command;
}

// --- payloads ---------------------------------------------------------------------------------

function payloadType(name: string, command: CommandType, eventRef: any, accountFields: 'one' | 'two') {
  return builder.objectRef<Payload>(name).implement({
    isTypeOf: (p) => (p as Payload).command === command && !(p instanceof LedgerError),
    fields: (t) => ({
      sequence: t.field({ type: 'Sequence', resolve: (p) => p.sequence }),
      event: t.field({ type: eventRef, resolve: (p) => p.event as never }),
      replayed: t.boolean({ description: 'True when this is the original result of an earlier identical command: nothing new was appended.', resolve: (p) => p.replayed }),
      ...(accountFields === 'one'
        ? { account: t.field({ type: AccountRef, description: 'The account right after the event.', resolve: (p) => p.accounts[0]! }) }
        : {
            from: t.field({ type: AccountRef, description: 'The paying account right after the event.', resolve: (p) => p.accounts[0]! }),
            to: t.field({ type: AccountRef, description: 'The receiving account right after the event.', resolve: (p) => p.accounts[1]! }),
          }),
    }),
  });
}

const OpenAccountSuccess = payloadType('OpenAccountSuccess', 'OpenAccount', AccountOpenedRef, 'one');
const DepositSuccess = payloadType('DepositSuccess', 'Deposit', MoneyDepositedRef, 'one');
const WithdrawSuccess = payloadType('WithdrawSuccess', 'Withdraw', MoneyWithdrawnRef, 'one');
const TransferSuccess = payloadType('TransferSuccess', 'Transfer', MoneyTransferredRef, 'two');
const CloseAccountSuccess = payloadType('CloseAccountSuccess', 'CloseAccount', AccountClosedRef, 'one');

function toPayload(command: Command, result: CommandResult): Payload | LedgerError {
  if (!result.ok) return toLedgerError(result.error);
  return { command: command.type, sequence: result.sequence, event: result.event, accounts: result.accounts, replayed: result.replayed };
}

async function execute(ctx: Context, commands: Command[], atomic: boolean): Promise<(Payload | LedgerError)[]> {
  // Every command is checked before any is submitted: a request is refused whole, never half done.
  requireRole(ctx.viewer, 'teller', 'a mutation');
  for (const command of commands) requireAccounts(ctx.viewer, accountIdsOfCommand(command));
  try {
    const startedAt = performance.now();
    const results = await (ctx.commands ?? ctx.store).execute(commands, { atomic });
    ctx.telemetry?.appendLatency((performance.now() - startedAt) / 1_000);
    const payloads = results.map((r, i) => toPayload(commands[i]!, r));
    return ctx.viewer.accounts ? await hideForeignOriginals(ctx, payloads) : payloads;
  } catch (err) {
    if (err instanceof ClusterError) {
      // In a cluster: no writer right now, or one that went away mid-command. The message says whether it may have been applied.
      throw new GraphQLError(err.message, { extensions: { code: err.code, retryAfterMs: STORE_RETRY_AFTER_MS } });
    }
    // The writer failed (I/O, e.g. a full disk) or is closing: the command was not acknowledged. Say so
    // plainly, and that a retry is safe: the writer reopens the store before it writes again, and should
    // the failed write turn out to be stored after all, a retry with the same transactionId returns its
    // original result (appendPipeline.ts, recover()). The cause goes to the log, not into the error: yoga
    // masks every error that wraps a non-GraphQL one as "Unexpected error.", which would hide this
    // message from the client.
    if (ctx.telemetry) ctx.telemetry.failure('a write failed, its commands were not applied', err);
    else console.error('evledger: a write failed, its commands were not applied:', err);
    throw new GraphQLError(
      `The ledger could not store the command. Retry in ${STORE_RETRY_AFTER_MS} ms with the same transactionId: if it was stored after all, the retry returns the original result.`,
      { extensions: { code: 'STORE_UNAVAILABLE', retryAfterMs: STORE_RETRY_AFTER_MS } },
    );
  }
}

/**
 * Transaction ids are one namespace for the whole ledger: a token limited to some accounts that reuses
 * an id first used elsewhere learns that it is taken, but not where or what for.
 */
async function hideForeignOriginals(ctx: Context, payloads: (Payload | LedgerError)[]): Promise<(Payload | LedgerError)[]> {
  const duplicates = payloads.flatMap((p, i) => (p instanceof LedgerError && p.error.code === 'DUPLICATE_TRANSACTION' ? [{ i, error: p.error }] : []));
  if (duplicates.length === 0) return payloads;
  const originals = await ctx.store.eventsAt(duplicates.map((d) => d.error.originalSequence));
  duplicates.forEach(({ i, error }, k) => {
    const original = originals[k];
    if (!original || !accountIdsOf(original).every((id) => inScope(ctx.viewer, id))) payloads[i] = withOriginalHidden(error);
  });
  return payloads;
}

async function single(ctx: Context, type: CommandType, input: Input): Promise<Payload> {
  const command = checked(toCommand[type](input), 'input');
  const [result] = await execute(ctx, [command], false);
  if (result instanceof LedgerError) throw result;
  return result!;
}

const mutation = (
  name: string,
  type: CommandType,
  inputRef: any,
  success: ReturnType<typeof payloadType>,
  errors: (typeof ERRORS)[keyof typeof ERRORS],
  description: string,
) =>
  builder.mutationField(name, (t) =>
    t.field({
      type: success,
      description,
      errors: { types: errors, union: { name: `${type}Result` } },
      args: { input: t.arg({ type: inputRef, required: true }) },
      resolve: (_, { input }, ctx) => single(ctx, type, input as Input),
    }),
  );

mutation('openAccount', 'OpenAccount', OpenAccountInput, OpenAccountSuccess, ERRORS.openAccount, 'Opens an account in a currency, optionally with an initial balance.');
mutation('deposit', 'Deposit', DepositInput, DepositSuccess, ERRORS.deposit, 'Credits an open account.');
mutation('withdraw', 'Withdraw', WithdrawInput, WithdrawSuccess, ERRORS.withdraw, 'Debits an open account; never below zero.');
mutation('transfer', 'Transfer', TransferInput, TransferSuccess, ERRORS.transfer, 'Moves money between two open accounts of one currency, as one event.');
mutation('closeAccount', 'CloseAccount', CloseAccountInput, CloseAccountSuccess, ERRORS.closeAccount, 'Closes an account whose balance is zero.');

// --- bulk ---------------------------------------------------------------------------------------

const CommandResultUnion = builder.unionType('CommandResult', {
  types: [OpenAccountSuccess, DepositSuccess, WithdrawSuccess, TransferSuccess, CloseAccountSuccess, ...(ERRORS.any as any[])],
  resolveType: (value) => (value instanceof LedgerError ? errorTypeName(value.code) : `${(value as Payload).command}Success`),
});

const SubmitCommandsInput = builder.inputType('SubmitCommandsInput', {
  fields: (t) => ({
    commands: t.field({ type: [CommandInput], required: true, description: `At most ${MAX_COMMANDS}.` }),
    atomic: t.boolean({ defaultValue: false, description: 'All commands commit together or none does.' }),
  }),
});

const SubmitCommandsPayload = builder.objectRef<{ results: (Payload | LedgerError)[]; head: number }>('SubmitCommandsPayload').implement({
  fields: (t) => ({
    results: t.field({ type: [CommandResultUnion], description: 'One per command, in order.', resolve: (p) => p.results as never }),
    head: t.field({ type: 'Sequence', description: 'The head of the log once these were decided.', resolve: (p) => p.head }),
  }),
});

/** The Command input's fields and the command each holds. */
const ONE_OF: [string, CommandType][] = [
  ['openAccount', 'OpenAccount'],
  ['deposit', 'Deposit'],
  ['withdraw', 'Withdraw'],
  ['transfer', 'Transfer'],
  ['closeAccount', 'CloseAccount'],
];

builder.mutationField('submitCommands', (t) =>
  t.field({
    type: SubmitCommandsPayload,
    description: 'The bulk path: many commands in one request, decided in order into as few batches as possible.',
    args: { input: t.arg({ type: SubmitCommandsInput, required: true }) },
    resolve: async (_, { input }, ctx) => {
      if (input.commands.length === 0 || input.commands.length > MAX_COMMANDS) {
        throw badInput(`commands must hold 1 to ${MAX_COMMANDS} commands, got ${input.commands.length}`, { path: 'input.commands' });
      }
      const commands = input.commands.map((c, i) => {
        const [field, type] = ONE_OF.find(([f]) => (c as Input)[f] != null)!;
        return checked(toCommand[type]((c as Input)[field] as Input), `input.commands[${i}].${field}`);
      });
      const results = await execute(ctx, commands, input.atomic ?? false);
      return { results, head: ctx.store.head };
    },
  }),
);
