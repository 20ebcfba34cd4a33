// GraphQL over HTTP with the generated typed operations. Used by the page and by `npm run demo`
// (Node has fetch), so it touches nothing of the DOM.
import type { TypedDocumentString } from './generated/graphql.ts';

/** The server refused the request itself: bad input, a query limit, or no server at all. */
export class RequestError extends Error {
  constructor(
    message: string,
    /** `extensions.code` of the first GraphQL error (e.g. BAD_USER_INPUT), or NETWORK. */
    readonly code: string,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

export type Request = <R, V>(document: TypedDocumentString<R, V>, variables: V) => Promise<R>;

interface Response<R> {
  data?: R | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

export function httpClient(graphqlUrl: string): Request {
  return async (document, variables) => {
    let res: globalThis.Response;
    try {
      res = await fetch(graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
        body: JSON.stringify({ query: document.toString(), variables }),
      });
    } catch (err) {
      throw new RequestError(`Could not reach the server (${(err as Error).message})`, 'NETWORK');
    }
    let body: Response<any>;
    try {
      body = (await res.json()) as Response<any>;
    } catch {
      throw new RequestError(`The server answered HTTP ${res.status} without a GraphQL response`, 'NETWORK');
    }
    const first = body.errors?.[0];
    if (first) throw new RequestError(first.message, first.extensions?.code ?? 'GRAPHQL_ERROR');
    if (!body.data) throw new RequestError(`The server answered HTTP ${res.status} with no data`, 'GRAPHQL_ERROR');
    return body.data;
  };
}
