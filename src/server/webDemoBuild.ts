// Builds the web demo (web-demo/ → web-demo/dist) with Vite when the built copy is missing or older
// than its sources, so `npm start` on a fresh clone serves the real page without a separate step.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WEB_DEMO_DIST } from './webDemo.ts';

const WEB_DEMO_ROOT = fileURLToPath(new URL('../../web-demo', import.meta.url));
const BUILT_PAGE = join(WEB_DEMO_DIST, 'index.html');

/** Newest modification time among the demo's sources (index.html, vite.config.ts, src/**). */
function newestSource(): number {
  let newest = 0;
  const visit = (path: string) => {
    const stat = statSync(path);
    if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
    else newest = Math.max(newest, stat.mtimeMs);
  };
  for (const name of ['index.html', 'vite.config.ts', 'src']) {
    const path = join(WEB_DEMO_ROOT, name);
    if (existsSync(path)) visit(path);
  }
  return newest;
}

export function webDemoIsBuilt(): boolean {
  return existsSync(BUILT_PAGE) && statSync(BUILT_PAGE).mtimeMs >= newestSource();
}

/** Runs `vite build` for the demo unless web-demo/dist is already up to date. */
export async function ensureWebDemoBuilt(log: (line: string) => void = console.log): Promise<void> {
  if (webDemoIsBuilt()) return;
  log('building the web demo into web-demo/dist…');
  const { build } = await import('vite');
  await build({ configFile: join(WEB_DEMO_ROOT, 'vite.config.ts'), logLevel: 'warn' });
}
