// Commands sent to the writer from any node, over NATS request/reply. Only the writer subscribes to
// the subject (in a queue group, so a request reaches one writer even while an old and a new one
// overlap for a moment): a node needs no address of the writer, and "no responders" means "no writer
// right now", which is safe to retry because nobody got the request.
//
// The calls a node makes in one turn of its event loop go as one request (a Forwarder), each still
// decided on its own and answered on its own: 32 callers on a follower cost the writer one message,
// not 32, and their commands land in the same batch as they would have on the writer.
import type { NatsConnection, Msg, Subscription } from '@nats-io/transport-node';
import { transactionIdOf, type Command } from '../domain/commands.ts';
import type { CommandResult } from '../store/ledgerStore.ts';

export const commandSubject = (stream: string): string => `${stream}.commands`;

/** One call of execute(): its commands, atomic or not. */
export interface ForwardedCall {
  readonly commands: readonly Command[];
  readonly atomic: boolean;
}

export type ForwardedReply =
  /** Decided and committed (or refused by the rules) on the writer. */
  | { readonly results: CommandResult[] }
  /** Not decided (the node asked is not the writer any more), or, `unknown`, unanswered and safe to send again. Ask again. */
  | { readonly retry: string; readonly unknown?: true }
  /** Failed on the writer: the code and message of the error it raised. */
  | { readonly error: { readonly code: string; readonly message: string; readonly retryAfterMs?: number } };

/** On the wire: calls one way, one reply per call the other. */
interface Request {
  readonly calls: readonly ForwardedCall[];
}
interface Response {
  readonly replies: readonly ForwardedReply[];
}

/** How many bytes of calls one request carries at most: well inside NATS's default 1 MiB max_payload. */
const REQUEST_BYTES = 256 << 10;
/**
 * How long a request of idempotent calls waits before it is sent again. A request can vanish without
 * "no responders": sent while the writer's subscription was still known across the NATS cluster but
 * gone (a writer that just stepped down). Calls without transactionIds wait their whole deadline.
 */
const ATTEMPT_MS = 2_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Serves forwarded calls with `decide` until the subscription is closed. */
export function serveCommands(nc: NatsConnection, stream: string, decide: (call: ForwardedCall) => Promise<ForwardedReply>): Subscription {
  return nc.subscribe(commandSubject(stream), {
    queue: 'writer',
    callback: (err, msg: Msg) => {
      if (err) return;
      let calls: readonly ForwardedCall[];
      try {
        calls = (JSON.parse(decoder.decode(msg.data)) as Request).calls;
        if (!Array.isArray(calls)) throw new Error('no calls');
      } catch {
        msg.respond(encoder.encode(JSON.stringify({ replies: [] } satisfies Response)));
        return;
      }
      const replies = calls.map((call) =>
        decide(call).catch((e: Error): ForwardedReply => ({ error: { code: 'INTERNAL', message: e.message } })),
      );
      void Promise.all(replies).then((all) => msg.respond(encoder.encode(JSON.stringify({ replies: all } satisfies Response))));
    },
  });
}

interface Pending {
  readonly json: string;
  readonly deadline: number;
  /** Every command carries a transactionId: sending it again returns the first one's result. */
  readonly idempotent: boolean;
  readonly resolve: (reply: ForwardedReply) => void;
  readonly reject: (err: unknown) => void;
}

/** A follower's side: calls queued in one turn of the event loop go out together. */
export class Forwarder {
  private queue: Pending[] = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly stream: string,
  ) {}

  /**
   * The writer's reply to `call`; `{ retry }` when no writer is subscribed (nobody got it). Rejects
   * with the NATS error when the request was sent but not answered by `deadline` (it may have been decided).
   */
  send(call: ForwardedCall, deadline: number): Promise<ForwardedReply> {
    return new Promise((resolve, reject) => {
      if (this.queue.length === 0) setImmediate(() => this.flush());
      const idempotent = call.commands.every((command) => transactionIdOf(command) !== null);
      this.queue.push({ json: JSON.stringify(call), deadline, idempotent, resolve, reject });
    });
  }

  private flush(): void {
    const queued = this.queue;
    this.queue = [];
    for (let from = 0; from < queued.length; ) {
      let bytes = 0;
      let to = from;
      while (to < queued.length && (to === from || bytes + queued[to]!.json.length < REQUEST_BYTES)) bytes += queued[to++]!.json.length;
      this.request(queued.slice(from, to));
      from = to;
    }
  }

  private request(calls: Pending[]): void {
    const body = encoder.encode(`{"calls":[${calls.map((c) => c.json).join(',')}]}`);
    const untilDeadline = Math.max(1, Math.min(...calls.map((c) => c.deadline)) - Date.now());
    const timeout = calls.every((c) => c.idempotent) ? Math.min(ATTEMPT_MS, untilDeadline) : untilDeadline;
    this.nc.request(commandSubject(this.stream), body, { timeout }).then(
      (answer) => {
        const { replies } = JSON.parse(decoder.decode(answer.data)) as Response;
        calls.forEach((c, i) => c.resolve(replies[i] ?? { error: { code: 'INTERNAL', message: 'the writer sent no reply for this call' } }));
      },
      (err: unknown) => {
        const now = Date.now();
        for (const c of calls) {
          if (isNoResponders(err)) c.resolve({ retry: 'no writer right now' });
          else if (c.idempotent && now < c.deadline) c.resolve({ retry: `the writer did not answer within ${timeout} ms`, unknown: true });
          else c.reject(err);
        }
      },
    );
  }
}

const isNoResponders = (err: unknown): boolean =>
  (err as { isNoResponders?: () => boolean }).isNoResponders?.() === true || (err as Error)?.name === 'NoRespondersError' || /no responders/i.test((err as Error)?.message ?? '');
