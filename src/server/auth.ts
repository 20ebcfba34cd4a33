// Bearer tokens (JWT, verified with jose) into Viewers. HS256 with a shared secret, or RS256 / ES256
// with a public key; the algorithm is pinned by the key, so a token cannot pick a weaker one ("none",
// or HS256 signed with the public key as the secret).
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errors, jwtVerify } from 'jose';
import { ROLES, UNRESTRICTED, type Role, type Viewer } from '../graphql/access.ts';
import { isValidId } from '../domain/validation.ts';
import { ConfigError, type Config } from './config.ts';

/** Accounts one token may list: a scope is meant for a customer or a desk, not the whole ledger. */
export const MAX_TOKEN_ACCOUNTS = 1_000;
/** HS256 secrets shorter than the hash (256 bits) are brute-forceable. */
const MIN_SECRET_BYTES = 32;

/** A request without a usable token: 401 on HTTP, a closed WebSocket on graphql-ws. */
export class AuthError extends Error {
  constructor(
    message: string,
    readonly code: 'UNAUTHENTICATED' | 'TOKEN_EXPIRED' = 'UNAUTHENTICATED',
    /** False when there was no bearer token at all (RFC 6750: then the challenge names no error). */
    readonly tokenSent = true,
  ) {
    super(message);
  }
}

export interface Authenticator {
  readonly enabled: boolean;
  /** The viewer an `Authorization` value (`Bearer <jwt>`) stands for; throws AuthError. */
  authenticate(authorization: string | undefined): Promise<Viewer>;
}

export function createAuthenticator(config: Config): Authenticator {
  const key = verificationKey(config);
  if (!key) return { enabled: false, authenticate: async () => UNRESTRICTED };
  const options = {
    algorithms: [key.algorithm],
    ...(config.jwtIssuer ? { issuer: config.jwtIssuer } : {}),
    ...(config.jwtAudience ? { audience: config.jwtAudience } : {}),
  };
  return {
    enabled: true,
    async authenticate(authorization) {
      const token = /^Bearer +([A-Za-z0-9_.-]+)$/i.exec(authorization?.trim() ?? '')?.[1];
      if (!token) throw new AuthError('send a token: Authorization: Bearer <JWT>', 'UNAUTHENTICATED', false);
      let payload;
      try {
        ({ payload } = await jwtVerify(token, key.key, options));
      } catch (err) {
        if (err instanceof errors.JWTExpired) throw new AuthError('the token has expired', 'TOKEN_EXPIRED');
        if (err instanceof errors.JOSEError) throw new AuthError(`the token was refused: ${err.message}`);
        throw err;
      }
      return viewerOf(payload);
    },
  };
}

function viewerOf(claims: Record<string, unknown>): Viewer {
  const role = claims.role;
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
    throw new AuthError(`the token's role claim must be one of ${ROLES.join(', ')}`);
  }
  let accounts: Set<string> | null = null;
  if (claims.accounts !== undefined) {
    const list = claims.accounts;
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_TOKEN_ACCOUNTS || !list.every((id) => typeof id === 'string' && isValidId(id))) {
      throw new AuthError(`the token's accounts claim must list 1 to ${MAX_TOKEN_ACCOUNTS} account ids`);
    }
    accounts = new Set(list as string[]);
  }
  return {
    subject: typeof claims.sub === 'string' ? claims.sub : null,
    role: role as Role,
    accounts,
    expiresAt: typeof claims.exp === 'number' ? claims.exp * 1_000 : null,
  };
}

/** The key tokens must be signed with, and its one algorithm; null when authentication is off. */
function verificationKey(config: Config): { key: KeyObject; algorithm: 'HS256' | 'RS256' | 'ES256' } | null {
  if (config.jwtSecret && config.jwtPublicKey) throw new ConfigError('set JWT_SECRET or JWT_PUBLIC_KEY, not both');
  if (config.jwtSecret) {
    if (Buffer.byteLength(config.jwtSecret) < MIN_SECRET_BYTES) throw new ConfigError(`JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes`);
    return { key: createSecretKey(Buffer.from(config.jwtSecret)), algorithm: 'HS256' };
  }
  if (!config.jwtPublicKey) return null;
  const pem = config.jwtPublicKey.includes('-----BEGIN') ? config.jwtPublicKey : readFileSync(config.jwtPublicKey, 'utf8');
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new ConfigError(`JWT_PUBLIC_KEY is not a PEM public key (or a file holding one): ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType === 'rsa') return { key, algorithm: 'RS256' };
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return { key, algorithm: 'ES256' };
  throw new ConfigError(`JWT_PUBLIC_KEY must be an RSA key (RS256) or a P-256 EC key (ES256), got ${key.asymmetricKeyType}`);
}

/** The token a graphql-ws client sent in connection_init: `{ authorization: "Bearer …" }` or `{ token: "…" }`. */
export function authorizationOf(connectionParams: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const params = connectionParams ?? {};
  const header = params.authorization ?? params.Authorization;
  if (typeof header === 'string') return header;
  return typeof params.token === 'string' ? `Bearer ${params.token}` : undefined;
}
