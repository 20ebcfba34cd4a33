// graphql-ws `subscribe` that executes each live message once per operation instead of once per
// subscriber: subscribers with the same document and variables (whatever their afterSequence) form a
// group; the group's messages are executed once and the same result object goes to every member.
// Catch-up messages (before a subscriber joins live) are executed per subscriber, as they differ.
// Each result is also serialized once: every socket gets the same payload bytes (see the end of the file).
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
import type { WebSocket } from 'ws';
import { tokenExpired, untilExpiry, type Viewer } from './access.ts';
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

  const startedAt = performance.now();
  const ctx = args.contextValue as Context;
  const refused = (errors: readonly GraphQLError[]) => {
    ctx.telemetry?.subscriptionStarted(ctx, args.document, args.operationName, startedAt, false);
    return { errors };
  };
  const variables = getVariableValues(args.schema, operation.variableDefinitions ?? [], (args.variableValues ?? {}) as Record<string, unknown>);
  if (variables.errors) return refused(variables.errors);
  let request;
  try {
    request = topicFor(fieldDef.name, getArgumentValues(fieldDef, node as FieldNode, variables.coerced), ctx);
  } catch (err) {
    if (err instanceof GraphQLError) return refused([err]);
    throw err;
  }

  const run = async (payload: unknown): Promise<ExecutionResult> => {
    // A fresh context per execution: dataloader caches live on the context object.
    const result = await execute({ ...args, rootValue: payload, contextValue: { ...ctx } });
    return serializedOnce({ ...result, errors: result.errors?.map(mask), extensions: { ...result.extensions, head: ctx.store.head } });
  };
  const subscription = ctx.live.subscribeShared(groupKey(args, node as FieldNode, ctx.viewer), request.topic, request.afterSequence, (item: Item<unknown>) => run(item.payload));
  ctx.telemetry?.subscriptionStarted(ctx, args.document, args.operationName, startedAt, true);
  // Results serialized once need this socket's send to splice their bytes in; without it, plain copies.
  const once = sendsOnce((ctx as { socket?: unknown }).socket);
  // An iterator rather than an async generator: return() (the client completed or left) must end the
  // subscription at once, not when the next message comes (for a quiet topic, never).
  const results: AsyncIterableIterator<ExecutionResult> = {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      try {
        const r = await subscription.next();
        if (r.done) return { done: true, value: undefined };
        const result = (r.value.result as ExecutionResult | undefined) ?? (await run(r.value.payload));
        return { done: false, value: once ? result : plain(result) };
      } catch (err) {
        await subscription.return();
        if (err instanceof SubscriptionTooSlow) return { done: false, value: { errors: [tooSlowError(err)] } };
        throw err;
      }
    },
    async return() {
      await subscription.return();
      return { done: true, value: undefined };
    },
  };
  return untilExpiry(ctx.viewer, results, () => ({ errors: [tokenExpired()] }));
}

/**
 * Operations share a group when they differ at most in the afterSequence variable and their tokens
 * limit them to the same accounts (a group's messages are executed in its first member's context).
 */
function groupKey(args: ExecutionArgs, field: FieldNode, viewer: Viewer): string {
  const after = field.arguments?.find((a) => a.name.value === 'afterSequence');
  const variables = { ...(args.variableValues as Record<string, unknown> | undefined) };
  if (after?.value.kind === Kind.VARIABLE) delete variables[after.value.name.value];
  const scope = viewer.accounts ? [...viewer.accounts].sort().join(',') : '*';
  return `${scope}\n${args.operationName ?? ''}\n${print(args.document)}\n${JSON.stringify(variables)}`;
}

/** Errors we raised on purpose (GraphQLError) go to the client; anything else is an internal fault. */
function mask(error: GraphQLError): GraphQLError {
  if (!error.originalError || error.originalError instanceof GraphQLError) return error;
  console.error('subscription resolver failed', error.originalError);
  return new GraphQLError('Unexpected error.', { nodes: error.nodes, path: error.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } });
}

// --- one serialization per message ----------------------------------------------------------------
// graphql-ws serializes every message it sends, for each socket: JSON.stringify of
// {"id":…,"type":"next","payload":<result>}. For a shared message the payload is the same on every
// socket, so it is serialized once here and the socket's send splices those bytes in. graphql-ws has
// no hook for a pre-serialized payload (and Node 20 has no JSON.rawJSON), so it is a handoff: the
// result's own `toJSON` (graphql-ws copies it along with the rest of the result) hands the cached bytes
// over and stands in as a marker; graphql-ws passes the string it made straight to the socket's send,
// in the same tick; that send, patched once per socket, puts the bytes where the marker is. The bytes
// on the wire are exactly those graphql-ws would have sent.

const MARKER = '__evledger_shared_payload__';
/** How graphql-ws's message ends when the payload is the marker: `…,"payload":"<marker>"}`. */
const MARKER_TAIL = `"payload":${JSON.stringify(MARKER)}}`;
const PAYLOAD_KEY = '"payload":';
const CLOSE = Buffer.from('}');

/** Bytes handed from a result's toJSON to the socket send that follows it in the same tick. */
let handoff: Buffer | null = null;

const PLAIN = Symbol('plain result');
type SerializedOnce = ExecutionResult & { [PLAIN]: ExecutionResult; toJSON(): string };

/**
 * The result with an own `toJSON` that serializes what graphql-ws would send as the payload (the
 * result without `errors`) once, hands the bytes to the next socket send and stands in as the marker.
 * Results with errors are left alone: graphql-ws reshapes their errors.
 */
function serializedOnce(result: ExecutionResult): ExecutionResult {
  if (result.errors?.length) return result;
  const { errors: _none, ...payload } = result;
  let bytes: Buffer | null = null;
  const shared = {
    ...payload,
    toJSON() {
      handoff = bytes ??= Buffer.from(JSON.stringify(payload));
      return MARKER;
    },
  };
  Object.defineProperty(shared, PLAIN, { value: result, enumerable: false });
  return shared as SerializedOnce;
}

/** The result as it was, for a subscriber whose socket cannot splice (e.g. not a ws socket). */
const plain = (result: ExecutionResult): ExecutionResult => (result as Partial<SerializedOnce>)[PLAIN] ?? result;

const PATCHED = Symbol('sends serialized-once results');
type SendArgs = Parameters<WebSocket['send']>;

/** Patches a ws socket's send (once) to splice in handed-off bytes; false when there is no ws socket. */
function sendsOnce(socket: unknown): boolean {
  const ws = socket as (WebSocket & { [PATCHED]?: true }) | undefined;
  if (!ws || typeof ws.send !== 'function' || typeof ws.terminate !== 'function') return false;
  if (ws[PATCHED]) return true;
  const send = ws.send;
  ws.send = function sendOnce(this: WebSocket, data: SendArgs[0], options?: SendArgs[1] | SendArgs[2], cb?: SendArgs[2]) {
    if (handoff !== null && typeof data === 'string' && data.endsWith(MARKER_TAIL)) {
      const bytes = handoff;
      handoff = null;
      const head = Buffer.from(data.slice(0, data.length - MARKER_TAIL.length + PAYLOAD_KEY.length));
      if (typeof options === 'function') [cb, options] = [options, {}];
      return send.call(this, Buffer.concat([head, bytes, CLOSE]), { ...options, binary: false }, cb);
    }
    return send.call(this, data, options as SendArgs[1], cb);
  } as WebSocket['send'];
  ws[PATCHED] = true;
  return true;
}
