// Sequence, Money and DateTime, parsed strictly: a float, a string, a negative or an integer past
// 2^53−1 is refused with BAD_USER_INPUT, never coerced — money that silently rounds is not money.
import { GraphQLError, Kind, type ValueNode } from 'graphql';
import { builder } from '../builder.ts';

export function badInput(message: string, extensions: Record<string, unknown> = {}, node?: ValueNode): GraphQLError {
  return new GraphQLError(message, { nodes: node, extensions: { code: 'BAD_USER_INPUT', ...extensions } });
}

function nonNegativeSafeInteger(scalar: string, value: unknown, node?: ValueNode): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw badInput(`${scalar} must be an integer (a JSON number), got ${JSON.stringify(value)}`, {}, node);
  }
  if (value < 0) throw badInput(`${scalar} must not be negative, got ${value}`, {}, node);
  if (!Number.isSafeInteger(value)) throw badInput(`${scalar} must be at most 2^53-1 (${Number.MAX_SAFE_INTEGER}), got ${value}`, {}, node);
  return value;
}

function literalNumber(node: ValueNode): unknown {
  if (node.kind === Kind.INT) return Number(node.value);
  if (node.kind === Kind.FLOAT) return Number(node.value);
  if (node.kind === Kind.STRING) return node.value;
  return `<${node.kind}>`;
}

function integerScalar(name: 'Sequence' | 'Money', description: string) {
  return builder.scalarType(name, {
    description,
    serialize: (value) => {
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new Error(`${name} output ${String(value)} is not a safe integer`);
      return value;
    },
    parseValue: (value) => nonNegativeSafeInteger(name, value),
    parseLiteral: (node) => {
      // An INT literal past 2^53 reaches us as text; Number() would round it, so check the text.
      if (node.kind === Kind.INT && !Number.isSafeInteger(Number(node.value))) {
        throw badInput(`${name} must be at most 2^53-1 (${Number.MAX_SAFE_INTEGER}), got ${node.value}`, {}, node);
      }
      return nonNegativeSafeInteger(name, literalNumber(node), node);
    },
  });
}

export const SequenceScalar = integerScalar(
  'Sequence',
  'A position in the global log: 1, 2, 3, … with no gaps; 0 is before the first event. A JSON number (safe integer).',
);
export const MoneyScalar = integerScalar(
  'Money',
  'An amount in minor units (cents) as a JSON number: a safe integer, never a float. Inputs are non-negative.',
);

export const DateTimeScalar = builder.scalarType('DateTime', {
  description: 'An instant as an ISO 8601 string in UTC, e.g. 2026-11-26T06:48:52.123Z.',
  serialize: (value) => new Date(value as Date | number).toISOString(),
  parseValue: (value) => parseDate(value),
  parseLiteral: (node) => parseDate(node.kind === Kind.STRING ? node.value : `<${node.kind}>`, node),
});

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function parseDate(value: unknown, node?: ValueNode): Date {
  if (typeof value !== 'string' || !ISO_8601.test(value) || Number.isNaN(Date.parse(value))) {
    throw badInput(`DateTime must be an ISO 8601 string with a time zone, e.g. 2026-11-26T06:48:52Z; got ${JSON.stringify(value)}`, {}, node);
  }
  return new Date(value);
}
