// Builds the GraphQL schema: each module under ./schema declares one family of types with its fields.
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.ts';
import './schema/scalars.ts';
import './schema/errors.ts';
import './schema/accounts.ts';
import './schema/events.ts';
import './schema/mutations.ts';
import './schema/replay.ts';
import './schema/snapshots.ts';
import './schema/subscriptions.ts';

export const schema: GraphQLSchema = builder.toSchema();

/** The SDL committed as schema/schema.graphql: sorted, so that diffs show only real changes. */
export const printedSchema = (): string => `${printSchema(lexicographicSortSchema(schema))}\n`;
