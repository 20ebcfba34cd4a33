// Commands sent to the writer from any node, over NATS request/reply. Only the writer subscribes to
// the subject (in a queue group, so a request reaches one writer even while an old and a new one
// overlap for a moment): a node needs no address of the writer, and "no responders" means "no writer
// right now", which is safe to retry because nobody got the request.
import type { NatsConnection, Msg, Subscription } from '@nats-io/transport-node';
import type { Command } from '../domain/commands.ts';
import type { CommandResult } from '../store/ledgerStore.ts';

export const commandSubject = (stream: string): string => `${stream}.commands`;

export interface ForwardedRequest {
  readonly commands: readonly Command[];
  readonly atomic: boolean;
}

export type ForwardedReply =
  /** Decided and committed (or refused by the rules) on the writer. */
  | { readonly results: CommandResult[] }
  /** Not decided: the node asked is not the writer (any more). Ask again. */
  | { readonly retry: string }
  /** Failed on the writer: the code and message of the error it raised. */
  | { readonly error: { readonly code: string; readonly message: string; readonly retryAfterMs?: number } };

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const encode = (value: ForwardedRequest | ForwardedReply): Uint8Array => encoder.encode(JSON.stringify(value));
export const decode = <T extends ForwardedRequest | ForwardedReply>(data: Uint8Array): T => JSON.parse(decoder.decode(data)) as T;

/** Serves forwarded commands with `handle` until the subscription is closed. */
export function serveCommands(nc: NatsConnection, stream: string, handle: (request: ForwardedRequest) => Promise<ForwardedReply>): Subscription {
  return nc.subscribe(commandSubject(stream), {
    queue: 'writer',
    callback: (err, msg: Msg) => {
      if (err) return;
      let request: ForwardedRequest;
      try {
        request = decode<ForwardedRequest>(msg.data);
      } catch {
        msg.respond(encode({ error: { code: 'BAD_REQUEST', message: 'a forwarded request that is not JSON' } }));
        return;
      }
      handle(request).then(
        (reply) => msg.respond(encode(reply)),
        (err: Error) => msg.respond(encode({ error: { code: 'INTERNAL', message: err.message } })),
      );
    },
  });
}
