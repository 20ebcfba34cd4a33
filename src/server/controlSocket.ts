// The store's control socket: a unix socket in the data directory, through which the command line
// exports, verifies or replays a store that a running server holds open. RocksDB lets one process open
// a store (and this binding cannot open one read-only beside it), so the process that holds it does
// the reading. Whoever can reach the socket can read the store's files already (it is created owner-only
// inside the store's own folder), so it asks for no token.
import { chmod, unlink } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { replay } from '../projection/replay.ts';
import { verify } from '../projection/verify.ts';
import { exportLog } from '../store/exportImport.ts';
import type { LedgerStore } from '../store/ledgerStore.ts';
import type { Logger } from './logger.ts';

export const CONTROL_SOCKET = 'control.sock';
/** Progress lines of a verify over the socket at most this often. */
const PROGRESS_EVERY_MS = 1_000;

export function controlSocketPath(dataDir: string): string {
  return join(resolve(dataDir), CONTROL_SOCKET);
}

export interface ControlSocket {
  close(): Promise<void>;
}

/**
 * Serves the store on its control socket; null (and a warning) where the socket cannot be made, e.g. a
 * data path too long for a unix socket (about 100 bytes): the server then runs without it.
 */
export async function listenControl(store: LedgerStore, dataDir: string, logger: Logger): Promise<ControlSocket | null> {
  const path = controlSocketPath(dataDir);
  const server = createServer((req, res) => {
    answer(req, res, store).catch((err: unknown) => {
      logger.error({ err, path: req.url }, 'control socket request failed');
      if (!res.headersSent) send(res, 500, { error: (err as Error).message });
      else res.destroy();
    });
  });
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  try {
    try {
      await listen();
    } catch (err) {
      // Left behind by a server that was killed: this process holds the store's lock, so nobody serves it.
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      await unlink(path);
      await listen();
    }
    await chmod(path, 0o600);
  } catch (err) {
    logger.warn({ err, path }, 'no control socket: `evledger export`, `verify` and `replay` cannot read this store while the server runs');
    return null;
  }
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve()); // and libuv removes the socket file
        server.closeAllConnections();
      }),
  };
}

async function answer(req: IncomingMessage, res: ServerResponse, store: LedgerStore): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://control');
  const number = (name: string, fallback: number) => Number(url.searchParams.get(name) ?? fallback);
  switch (url.pathname) {
    case '/export': {
      const from = number('from', 1);
      if (!Number.isSafeInteger(from) || from < 1) return send(res, 400, { error: 'from must be a sequence ≥ 1' });
      return streamExport(res, store, from);
    }
    case '/verify': {
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'x-evledger-head': String(store.head) });
      let last = Date.now();
      const report = await verify(store, (sequence) => {
        if (Date.now() - last < PROGRESS_EVERY_MS) return;
        last = Date.now();
        res.write(`${JSON.stringify({ progress: sequence })}\n`);
      });
      res.end(`${JSON.stringify({ report })}\n`);
      return;
    }
    case '/replay': {
      const to = number('to', NaN);
      if (!Number.isSafeInteger(to) || to < 0) return send(res, 400, { error: 'to must be a sequence ≥ 0' });
      const r = await replay(store, to);
      return send(res, 200, { fromSnapshot: r.fromSnapshot, eventsReplayed: r.eventsReplayed, ledger: r.state.summary() });
    }
    default:
      return send(res, 404, { error: `no ${url.pathname} here: /export, /verify, /replay` });
  }
}

/**
 * The log from `from` on as an NDJSON response (`x-evledger-head`: the last sequence it holds), at the
 * pace the client reads it; a client that leaves ends it. Shared with GET /admin/export.
 */
export async function streamExport(res: ServerResponse, store: LedgerStore, from: number): Promise<void> {
  const gone = new Promise<void>((resolve) => res.once('close', resolve));
  await exportLog(
    store,
    async (line) => {
      if (res.destroyed) throw new Error('the client left');
      if (!res.write(line)) await Promise.race([new Promise((resolve) => res.once('drain', resolve)), gone]);
    },
    from,
    (head) => res.writeHead(200, { 'content-type': 'application/x-ndjson', 'x-evledger-head': String(head) }),
  );
  res.end();
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

/** Asks the server holding the store at `dataDir` (GET `path` on its control socket). */
export function askServer(dataDir: string, path: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: controlSocketPath(dataDir), path, method: 'GET' }, resolve);
    req.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
          ? new Error(`the store at ${dataDir} is open in another process that serves no control socket (${CONTROL_SOCKET}); stop it, or read the store through it`)
          : err,
      ),
    );
    req.end();
  });
}
