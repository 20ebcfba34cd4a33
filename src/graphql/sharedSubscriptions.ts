// graphql-ws `subscribe` that executes each live message once per operation instead of once per
// subscriber: subscribers with the same document and variables (whatever their afterSequence) form a
// group; the group's messages are executed once and the same result object goes to every member.
// Catch-up messages (before a subscriber joins live) are executed per subscriber, as they differ.
import {
  GraphQLError,
  Kind,
  execute,
  getArgumentValues,
  getOperationAST,
  getVariableValues,
  print,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
} from 'graphql';
import { SubscriptionTooSlow } from '../live/liveSubscription.ts';
import type { Item } from '../live/topics.ts';
import type { Context } from './builder.ts';
import { tooSlowError, topicFor } from './schema/subscriptions.ts';

type Subscribe = (args: ExecutionArgs) => unknown;

/**
 * `args.rootValue` carries yoga's enveloped `subscribe`, used for operations this cannot share. Shared
 * messages are executed with graphql-js `execute` (yoga's would open a new subscription for a
 * subscription document), so their unexpected errors are masked here as yoga masks the rest.
 */
export function sharedSubscribe(args: ExecutionArgs & { rootValue: { subscribe: Subscribe } }): unknown {
  const { subscribe } = args.rootValue;
  const operation = getOperationAST(args.document, args.operationName);
  const node = operation?.selectionSet.selections[0];
  const fieldDef = node?.kind === Kind.FIELD ? args.schema.getSubscriptionType()?.getFields()[node.name.value] : undefined;
  if (!operation || operation.operation !== 'subscription' || !fieldDef) return subscribe(args);

  const variables = getVariableValues(args.schema, operation.variableDefinitions ?? [], (args.variableValues ?? {}) as Record<string, unknown>);
  if (variables.errors) return { errors: variables.errors };
  const ctx = args.contextValue as Context;
  let request;
  try {
    request = topicFor(fieldDef.name, getArgumentValues(fieldDef, node as FieldNode, variables.coerced), ctx);
  } catch (err) {
    if (err instanceof GraphQLError) return { errors: [err] };
    throw err;
  }

  const run = async (payload: unknown): Promise<ExecutionResult> => {
    // A fresh context per execution: dataloader caches live on the context object.
    const result = await execute({ ...args, rootValue: payload, contextValue: { ...ctx } });
    return { ...result, errors: result.errors?.map(mask), extensions: { ...result.extensions, head: ctx.store.head } };
  };
  const subscription = ctx.live.subscribeShared(groupKey(args, node as FieldNode), request.topic, request.afterSequence, (item: Item<unknown>) => run(item.payload));
  return (async function* results(): AsyncGenerator<ExecutionResult> {
    try {
      for await (const item of subscription) yield (item.result as ExecutionResult | undefined) ?? (await run(item.payload));
    } catch (err) {
      if (err instanceof SubscriptionTooSlow) yield { errors: [tooSlowError(err)] };
      else throw err;
    } finally {
      await subscription.return();
    }
  })();
}

/** Operations share a group when they differ at most in the afterSequence variable. */
function groupKey(args: ExecutionArgs, field: FieldNode): string {
  const after = field.arguments?.find((a) => a.name.value === 'afterSequence');
  const variables = { ...(args.variableValues as Record<string, unknown> | undefined) };
  if (after?.value.kind === Kind.VARIABLE) delete variables[after.value.name.value];
  return `${args.operationName ?? ''}\n${print(args.document)}\n${JSON.stringify(variables)}`;
}

/** Errors we raised on purpose (GraphQLError) go to the client; anything else is an internal fault. */
function mask(error: GraphQLError): GraphQLError {
  if (!error.originalError || error.originalError instanceof GraphQLError) return error;
  console.error('subscription resolver failed', error.originalError);
  return new GraphQLError('Unexpected error.', { nodes: error.nodes, path: error.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } });
}
