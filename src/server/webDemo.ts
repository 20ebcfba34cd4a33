// Serves the built web demo (web-demo/dist) at /. Until it is built, a short page says how.
import { createReadStream, existsSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_DEMO_DIST = resolve(fileURLToPath(new URL('../../web-demo/dist', import.meta.url)));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
};

export function serveWebDemo(req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
  const file = join(WEB_DEMO_DIST, normalize(path === '/' ? '/index.html' : path));
  if (!file.startsWith(WEB_DEMO_DIST)) {
    res.writeHead(404).end();
    return;
  }
  if (existsSync(file) && statSync(file).isFile()) {
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
    return;
  }
  if (path === '/' || path === '/index.html') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>evledger</title><h1>evledger</h1><p>The ledger is running. Open <a href="/graphql">GraphiQL</a>, or build the web demo with <code>npm run build:web</code>.</p>');
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
}
