// Who is asking and what they may touch. The server turns a token into a Viewer; the schema only asks
// the Viewer, so the rules live here, next to the resolvers that enforce them, and not in the transport.
import { GraphQLError } from 'graphql';

/** Each role can do everything the one before it can. */
export const ROLES = ['reader', 'teller', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Viewer {
  /** The token's `sub`, for the log; null when authentication is off. */
  readonly subject: string | null;
  readonly role: Role;
  /** The only accounts this viewer may read, write or hear about; null for all of them. */
  readonly accounts: ReadonlySet<string> | null;
  /** When the token stops being valid (epoch ms); null for never. */
  readonly expiresAt: number | null;
}

/** The viewer of a server without authentication: it binds loopback only (or was told --insecure). */
export const UNRESTRICTED: Viewer = { subject: null, role: 'admin', accounts: null, expiresAt: null };

const forbidden = (message: string) => new GraphQLError(message, { extensions: { code: 'FORBIDDEN' } });

export const tokenExpired = () =>
  new GraphQLError('The token has expired; reconnect with a fresh one.', { extensions: { code: 'TOKEN_EXPIRED' } });

export function requireRole(viewer: Viewer, role: Role, action: string): void {
  if (ROLES.indexOf(viewer.role) < ROLES.indexOf(role)) throw forbidden(`${action} needs the ${role} role; this token has ${viewer.role}`);
}

export const inScope = (viewer: Viewer, accountId: string): boolean => viewer.accounts === null || viewer.accounts.has(accountId);

/** Refuses the whole operation when any of `accountIds` is outside the viewer's scope. */
export function requireAccounts(viewer: Viewer, accountIds: Iterable<string>): void {
  if (viewer.accounts === null) return;
  for (const id of accountIds) if (!viewer.accounts.has(id)) throw forbidden(`account ${id} is outside this token's accounts`);
}

/**
 * Ends `source` when the viewer's token expires, with `expired()` as its last value: a subscriber on a
 * quiet topic learns its token ran out at the moment it does, not at the next message (which may never come).
 */
export function untilExpiry<T>(viewer: Viewer, source: AsyncIterableIterator<T>, expired: () => T): AsyncIterableIterator<T> {
  if (viewer.expiresAt === null) return source;
  const expiresAt = viewer.expiresAt;
  let timer: NodeJS.Timeout | undefined;
  let state: 'live' | 'expired' | 'done' = 'live';
  const expiry = new Promise<'expired'>((resolve) => {
    // setTimeout holds at most 2^31−1 ms (≈ 24.8 days): a later expiry re-arms until it is due.
    const arm = () => {
      const wait = expiresAt - Date.now();
      if (wait <= 0) return resolve('expired');
      timer = setTimeout(arm, Math.min(wait, 2 ** 31 - 1));
    };
    arm();
  });
  const finish = async () => {
    state = 'done';
    clearTimeout(timer);
    await source.return?.();
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (state === 'done') return { done: true, value: undefined };
      if (state === 'expired') {
        await finish();
        return { done: true, value: undefined };
      }
      const r = await Promise.race([source.next(), expiry]);
      if (r === 'expired') {
        state = 'expired';
        clearTimeout(timer);
        void source.return?.();
        return { done: false, value: expired() };
      }
      if (r.done) await finish();
      return r;
    },
    async return() {
      await finish();
      return { done: true, value: undefined };
    },
  };
}
