// A real server on a free port over a store in a temp dir, and a typed client for it.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type ExecutionResult } from 'graphql';
import { buildApp, type App, type AppOptions } from '../../src/server/app.ts';
import { DEFAULT_CONFIG, type Config } from '../../src/server/config.ts';
import { tempDir } from './tempStore.ts';

export interface TServer {
  readonly app: App;
  readonly url: string;
  readonly graphqlUrl: string;
  readonly dataDir: string;
  /** POSTs a typed operation; resolves with the whole GraphQL response (data and errors). */
  request<R, V>(document: TypedDocumentNode<R, V>, variables?: V, headers?: Record<string, string>): Promise<ExecutionResult<R> & { status: number }>;
  /** Same as `request`, failing on any GraphQL error. */
  data<R, V>(document: TypedDocumentNode<R, V>, variables?: V): Promise<R>;
  /** Stops the server and deletes its store (unless the caller chose its dir). */
  stop(): Promise<void>;
}

/**
 * A silent log unless `config.logLevel` says otherwise; `options.logDestination` captures it. The store
 * goes in a new temp dir, deleted by stop(), unless `config.dataDir` names one (which stop() leaves).
 */
export async function startTServer(config: Partial<Config> = {}, options: AppOptions = {}): Promise<TServer> {
  const { dir, remove } = config.dataDir ? { dir: config.dataDir, remove: async () => {} } : await tempDir('evledger-server-');
  const app = await buildApp({ ...DEFAULT_CONFIG, port: 0, logLevel: 'silent', ...config, dataDir: dir }, options).start();
  const graphqlUrl = `${app.url}/graphql`;
  const request: TServer['request'] = async (document, variables, headers = {}) => {
    const res = await fetch(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
      body: JSON.stringify({ query: print(document), variables }),
    });
    return { ...((await res.json()) as ExecutionResult<any>), status: res.status };
  };
  return {
    app,
    url: app.url,
    graphqlUrl,
    dataDir: dir,
    request,
    async data(document, variables) {
      const result = await request(document, variables);
      if (result.errors?.length || !result.data) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
      return result.data;
    },
    async stop() {
      await app.stop();
      await remove();
    },
  };
}
