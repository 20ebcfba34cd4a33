// The web demo in a real browser (Debian's Chromium through playwright-core) against a real server:
// live updates over graphql-ws, the command forms, domain errors in words, and time travel.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebDemoBuilt } from '../../src/server/webDemoBuild.ts';
import { DepositDocument, OpenAccountDocument } from '../../web-demo/src/generated/graphql.ts';
import { httpClient, type Request } from '../../web-demo/src/graphqlHttp.ts';
import { startTServer, type TServer } from '../support/testServer.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_MISSING = 'Chromium not found: run apt-get install -y chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const OUTPUT = fileURLToPath(new URL('../../test-output/web-demo/', import.meta.url));
const LIVE_WITHIN_MS = 2_000; // 2 seconds: an event committed anywhere shows on the page by then

const balance = (accountId: string) => `tr[data-account-id="${accountId}"] td.balance`;

/** A browser test: on a machine without Chromium it fails with the command that fixes it, never skips. */
function browserIt(name: string, fn: () => Promise<void>): void {
  it(name, async () => {
    if (!existsSync(CHROMIUM)) throw new Error(CHROMIUM_MISSING);
    await fn();
  });
}

describe('web demo', () => {
  let server: TServer;
  let request: Request;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const problems: string[] = [];

  /** Waits until an account's balance cell holds `minor` minor units. */
  const expectBalance = (accountId: string, minor: number, timeout = 5_000) =>
    page.waitForSelector(`${balance(accountId)}[data-minor="${minor}"]`, { timeout });

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) return; // each test fails with CHROMIUM_MISSING
    await ensureWebDemoBuilt(() => {});
    mkdirSync(OUTPUT, { recursive: true });
    server = await startTServer();
    request = httpClient(server.graphqlUrl);
    for (const [accountId, initialBalance] of [['alice', 100_00], ['bob', 50_00]] as const) {
      const { openAccount } = await request(OpenAccountDocument, { input: { accountId, currency: 'EUR', initialBalance } });
      expect(openAccount.__typename).toBe('OpenAccountSuccess');
    }
    profile = mkdtempSync(join(tmpdir(), 'evledger-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
      locale: 'en-US',
      timezoneId: 'UTC',
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  });

  afterAll(async () => {
    await context?.close();
    await server?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  browserIt('should load the page live, with no console errors', async () => {
    const response = await page.goto(server.url);
    expect(response?.status()).toBe(200);
    await expectBalance('alice', 100_00);
    await expectBalance('bob', 50_00);
    await page.waitForSelector('#connection.pill-live', { timeout: 5_000 });
    expect(await page.locator('#head-sequence').textContent()).toBe('2');
    await page.screenshot({ path: join(OUTPUT, '1-loaded.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  browserIt('should show a deposit made over HTTP within 2 s, without reloading', async () => {
    const { deposit } = await request(DepositDocument, { input: { accountId: 'alice', amount: 25_00, transactionId: 'e2e-deposit-1' } });
    expect(deposit.__typename).toBe('DepositSuccess');
    await expectBalance('alice', 125_00, LIVE_WITHIN_MS);
    await page.waitForSelector('#feed li[data-sequence="3"]', { timeout: LIVE_WITHIN_MS });
    expect(await page.locator('#feed li').first().getAttribute('data-sequence'), 'the feed is newest first').toBe('3');
    expect(await page.locator('#head-sequence').textContent()).toBe('3');
    expect(await page.locator('#totals [data-currency="EUR"] .total-amount').getAttribute('data-minor')).toBe(String(175_00));
  });

  browserIt('should move money between both balances when a transfer is submitted through the form', async () => {
    await page.getByRole('tab', { name: 'Transfer' }).click();
    const panel = page.getByRole('tabpanel', { name: 'Transfer' });
    await panel.getByLabel('From account').fill('alice');
    await panel.getByLabel('To account').fill('bob');
    await panel.getByLabel('Amount').fill('30.00');
    await panel.getByRole('button', { name: 'Transfer' }).click();
    await expectBalance('alice', 95_00);
    await expectBalance('bob', 80_00);
    await panel.getByRole('status').filter({ hasText: 'Moved €30.00 from alice' }).waitFor();
    await page.screenshot({ path: join(OUTPUT, '2-transfer.png'), fullPage: true });
  });

  browserIt('should show an overdraft as a readable INSUFFICIENT_FUNDS error next to the form', async () => {
    await page.getByRole('tab', { name: 'Withdraw' }).click();
    const panel = page.getByRole('tabpanel', { name: 'Withdraw' });
    await panel.getByLabel('Account', { exact: true }).fill('alice');
    await panel.getByLabel('Amount').fill('1000');
    await panel.getByRole('button', { name: 'Withdraw' }).click();
    const alert = panel.getByRole('alert');
    await alert.filter({ hasText: 'Insufficient funds' }).waitFor();
    const text = await alert.innerText();
    expect(text).toContain('INSUFFICIENT_FUNDS');
    expect(text).toContain('alice has €95.00, less than the €1,000.00 requested');
    expect(await page.locator(`${balance('alice')}`).getAttribute('data-minor'), 'a refused command changes nothing').toBe(String(95_00));
    await page.screenshot({ path: join(OUTPUT, '3-overdraft.png'), fullPage: true });
  });

  browserIt('should show an earlier balance when the slider moves back, and return to live', async () => {
    // The log: 1 open alice (100.00), 2 open bob, 3 deposit alice (125.00), 4 transfer alice → bob (95.00).
    const slider = page.getByRole('slider', { name: 'Position in the log (sequence)' });
    expect(await slider.getAttribute('max')).toBe('4');
    await slider.focus();
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    await expectBalance('alice', 100_00);
    await expectBalance('bob', 50_00);
    expect(await page.locator('body').getAttribute('class')).toContain('viewing-past');
    expect(await page.locator('#view-status-text').textContent()).toContain('Viewing the past: sequence 2,');
    expect(await page.locator('#feed li[data-sequence="4"]').getAttribute('class'), 'events after the point are dimmed').toContain('after-view');
    await page.screenshot({ path: join(OUTPUT, '4-past.png'), fullPage: true });

    // A typed sequence reads the same way.
    await page.getByLabel('Sequence', { exact: true }).fill('3');
    await page.locator('#goto-sequence').getByRole('button', { name: 'Go' }).click();
    await expectBalance('alice', 125_00);

    // The live view keeps following the log while the page looks at the past, and comes back to it.
    await request(DepositDocument, { input: { accountId: 'bob', amount: 1_00, transactionId: 'e2e-deposit-2' } });
    await page.waitForSelector('#head-sequence:text-is("5")', { timeout: LIVE_WITHIN_MS });
    await expectBalance('bob', 50_00);
    await page.getByRole('button', { name: 'Back to live' }).click();
    await expectBalance('alice', 95_00);
    await expectBalance('bob', 81_00);
    expect(await page.locator('body').getAttribute('class')).not.toContain('viewing-past');
    expect(await page.getByRole('button', { name: 'Back to live' }).isHidden()).toBe(true);
  });

  browserIt('should chart the selected account from its history', async () => {
    await page.locator('tr[data-account-id="bob"]').getByRole('button', { name: 'bob' }).click();
    const chart = page.getByRole('img', { name: /Balance of bob/ });
    // bob: opened 50.00 (2), +30.00 (4), +1.00 (5).
    await page.waitForFunction(() => /over 3 events/.test(document.getElementById('chart')?.getAttribute('aria-label') ?? ''), undefined, { timeout: 5_000 });
    expect(await chart.getAttribute('aria-label')).toContain('now €81.00, lowest €50.00, highest €81.00');
    expect(await page.locator('#chart canvas').count()).toBeGreaterThan(0);
  });

  browserIt('should fit a phone-width screen without sideways scrolling', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(200);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(OUTPUT, '5-phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
    expect(problems, 'console errors during the whole session').toEqual([]);
    expect(await page.locator('#connection').textContent(), 'no subscription failed along the way').toBe('Live');
  });
});
