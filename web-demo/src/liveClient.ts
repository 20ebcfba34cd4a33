// Subscriptions over graphql-ws on the page's own origin. The connection retries forever; each
// subscription's variables are read again on every (re)subscribe, so a dropped socket resumes from the
// last sequence the page applied instead of starting live (which would leave a gap). A subscription
// the server ends (an error, or "too slow") is started again the same way after a pause.
import { createClient, type Client } from 'graphql-ws/client';
import type { TypedDocumentString } from './generated/graphql.ts';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'error';

export interface LiveClient {
  subscribe<R, V>(document: TypedDocumentString<R, V>, variables: () => V, onData: (data: R) => void): () => void;
  dispose(): void;
}

const RETRY_CAP_MS = 5_000; // 5 seconds between reconnect attempts at most
const RESUBSCRIBE_MS = 1_000; // 1 second before starting an ended subscription again

export function liveClient(url: string, onState: (state: ConnectionState, detail?: string) => void): LiveClient {
  let everConnected = false;
  let failing = false;
  const client: Client = createClient({
    url,
    lazy: false,
    retryAttempts: Infinity,
    shouldRetry: () => true,
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(RETRY_CAP_MS, 300 * 2 ** retries))),
    on: {
      connected: () => {
        everConnected = true;
        onState('live');
      },
      closed: () => onState(everConnected ? 'reconnecting' : 'connecting'),
      connecting: () => onState(everConnected ? 'reconnecting' : 'connecting'),
    },
  });
  const fail = (detail: string) => {
    failing = true;
    onState('error', detail);
  };
  return {
    subscribe(document, variables, onData) {
      const payload = {
        query: document.toString(),
        // A getter: graphql-ws serialises the payload again on each retry.
        get variables() {
          return variables() as Record<string, unknown>;
        },
      };
      let stopped = false;
      let stop = () => {};
      const start = () => {
        if (stopped) return;
        const again = () => setTimeout(start, RESUBSCRIBE_MS);
        stop = client.subscribe<any>(payload, {
          next: (message) => {
            if (message.errors?.length) return fail(message.errors.map((e: { message: string }) => e.message).join('; '));
            if (failing) {
              failing = false;
              onState('live');
            }
            if (message.data) onData(message.data);
          },
          error: (err) => {
            fail(err instanceof Error ? err.message : Array.isArray(err) ? err.map((e) => e.message).join('; ') : 'the subscription was closed');
            again();
          },
          complete: () => {
            if (!stopped) again();
          },
        });
      };
      start();
      return () => {
        stopped = true;
        stop();
      };
    },
    dispose: () => void client.dispose(),
  };
}
