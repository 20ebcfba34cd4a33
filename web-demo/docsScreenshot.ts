// `npm run docs:screenshot`: regenerates docs/screenshot.png, the picture of the demo the docs show.
// A fresh ledger in a temp dir gets the sample accounts and a few hundred commands of sample traffic,
// then headless Chromium photographs the page live, so the picture is always of the current demo
// rather than of whatever a browser happened to hold when someone last took one.
//
//   npm run docs:screenshot                 # docs/screenshot.png
//   npm run docs:screenshot -- out.png      # anywhere else
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { buildApp } from '../src/server/app.ts';
import { DEFAULT_CONFIG } from '../src/server/config.ts';
import { ensureWebDemoBuilt } from '../src/server/webDemoBuild.ts';
import { httpClient } from './src/graphqlHttp.ts';
import { loadSampleData, startTraffic } from './src/sampleData.ts';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const DEFAULT_OUTPUT = fileURLToPath(new URL('../docs/screenshot.png', import.meta.url));
const COMMANDS = 240; // enough history for the chart to have a shape, as the docs picture always had
const RATE = 80; // commands per second while filling: about 3 seconds
const READY_MS = 15_000; // 15 seconds for the page to load and go live

async function main(): Promise<void> {
  const output = process.argv[2] ?? DEFAULT_OUTPUT;
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium, or set CHROMIUM`);
  await ensureWebDemoBuilt();
  const dataDir = mkdtempSync(join(tmpdir(), 'evledger-screenshot-'));
  const profile = mkdtempSync(join(tmpdir(), 'evledger-chromium-'));
  const app = await buildApp({ ...DEFAULT_CONFIG, port: 0, logLevel: 'silent', dataDir }).start();
  try {
    const request = httpClient(`${app.url}/graphql`);
    await loadSampleData(request);
    await new Promise<void>((resolve, reject) => {
      let sent = 0;
      const traffic = startTraffic(request, {
        perSecond: RATE,
        onCommand: () => {
          if (++sent < COMMANDS) return;
          traffic.stop();
          resolve();
        },
        onFailure: (err) => {
          traffic.stop();
          reject(err);
        },
      });
    });

    // en-US in UTC, the same as the browser test, so the picture does not depend on who runs this.
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
      viewport: { width: 1280, height: 900 },
      locale: 'en-US',
      timezoneId: 'UTC',
      reducedMotion: 'reduce', // no half-finished flash or arrival highlight in the picture
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      await page.goto(app.url);
      await page.waitForSelector('#connection.pill-live', { timeout: READY_MS });
      const head = app.store.head;
      await page.waitForSelector(`#head-sequence:text-is("${head}")`, { timeout: READY_MS });
      // The first account is selected on load; its chart is done once its caption counts its events.
      await page.waitForFunction(() => /over \d+ events?/.test(document.getElementById('chart')?.getAttribute('aria-label') ?? ''), undefined, { timeout: READY_MS });
      await page.mouse.move(0, 0); // no hover state on a row or the chart
      await page.screenshot({ path: output, fullPage: true });
      console.log(`wrote ${output} (head ${head})`);
    } finally {
      await context.close();
    }
  } finally {
    await app.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`docs:screenshot: ${(err as Error).message}`);
  process.exit(1);
});
