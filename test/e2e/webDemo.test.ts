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

  browserIt('should select an account by clicking anywhere on its row, or from the keyboard', async () => {
    const alice = page.locator('tr[data-account-id="alice"]');
    expect(await alice.evaluate((row) => getComputedStyle(row).cursor), 'a row looks clickable').toBe('pointer');
    await alice.locator('td.balance').click();
    await page.waitForSelector('tr[data-account-id="alice"].selected', { timeout: 5_000 });
    await page.getByRole('img', { name: /Balance of alice/ }).waitFor({ timeout: 5_000 });
    expect(await page.locator('#deposit-accountId').inputValue(), 'the selection fills the forms').toBe('alice');

    // The id is a button: Tab reaches it, Enter selects.
    await page.locator('tr[data-account-id="bob"]').getByRole('button', { name: 'bob' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('tr[data-account-id="bob"].selected', { timeout: 5_000 });
    expect(await alice.getAttribute('class')).not.toContain('selected');
  });

  browserIt('should chart only what existed at the viewed sequence, with a marker there', async () => {
    // bob: opened 50.00 (2), +30.00 (4), +1.00 (5); the head is 5.
    const chart = page.locator('#chart');
    await page.waitForSelector('#chart[data-points="3"]', { timeout: 5_000 });
    await page.getByLabel('Sequence', { exact: true }).fill('3');
    await page.locator('#goto-sequence').getByRole('button', { name: 'Go' }).click();
    await page.waitForSelector('#chart[data-marker="3"]', { timeout: 5_000 });
    expect(await chart.getAttribute('data-shown-to'), 'nothing drawn after the viewed sequence').toBe('3');
    expect(await chart.getAttribute('data-points'), 'only the events up to sequence 3').toBe('1');
    expect(await chart.getAttribute('aria-label')).toContain('Balance of bob at sequence 3 over 1 event, from sequence 2 to 2: then €50.00');
    expect(await page.locator('#chart-note').textContent()).toContain('up to sequence 3');
    await page.screenshot({ path: join(OUTPUT, '6-chart-past.png'), fullPage: true });

    // Before bob was opened there is nothing to draw, and the chart says why.
    await page.getByLabel('Sequence', { exact: true }).fill('1');
    await page.locator('#goto-sequence').getByRole('button', { name: 'Go' }).click();
    await page.waitForSelector('#chart[data-points="0"]', { timeout: 5_000 });
    expect(await chart.getAttribute('aria-label')).toContain('at sequence 1: the account did not exist yet');

    await page.getByRole('button', { name: 'Back to live' }).click();
    await page.waitForSelector('#chart[data-points="3"][data-shown-to="5"]:not([data-marker])', { timeout: 5_000 });
    expect(await chart.getAttribute('aria-label')).toContain('now €81.00');
  });

  browserIt('should say so when a sequence or a time past the head is shown as live', async () => {
    const note = page.locator('#timetravel-note');
    const sequence = page.getByLabel('Sequence', { exact: true });
    await sequence.fill('2');
    await page.locator('#goto-sequence').getByRole('button', { name: 'Go' }).click();
    await page.waitForSelector('body.viewing-past', { timeout: 5_000 });

    await sequence.fill('900');
    await page.locator('#goto-sequence').getByRole('button', { name: 'Go' }).click();
    await note.filter({ hasText: 'Sequence 900 is past the head 5: showing live.' }).waitFor({ timeout: 5_000 });
    await page.waitForSelector('body:not(.viewing-past)', { timeout: 5_000 });
    await expectBalance('bob', 81_00);
    expect(await sequence.inputValue(), 'the clamped input is not left behind').toBe('');
    await page.screenshot({ path: join(OUTPUT, '7-clamped.png') });

    await page.getByLabel('Time', { exact: true }).fill('2099-01-01T00:00:00');
    await page.locator('#goto-time').getByRole('button', { name: 'Go' }).click();
    await note.filter({ hasText: /^Jan 1, 2099, .* is past the head \(sequence 5, the last commit\): showing live\.$/ }).waitFor({ timeout: 5_000 });
    expect(await page.locator('body').getAttribute('class')).not.toContain('viewing-past');

    // The next move replaces the note.
    await sequence.fill('2');
    await page.locator('#goto-sequence').getByRole('button', { name: 'Go' }).click();
    await page.waitForSelector('body.viewing-past', { timeout: 5_000 });
    expect(await note.textContent()).toBe('');
    await page.getByRole('button', { name: 'Back to live' }).click();
    await page.waitForSelector('body:not(.viewing-past)', { timeout: 5_000 });
  });

  browserIt('should clear the typed sequence, the time and any error on return to live', async () => {
    const sequence = page.getByLabel('Sequence', { exact: true });
    const time = page.getByLabel('Time', { exact: true });
    await sequence.fill('2');
    await page.locator('#goto-sequence').getByRole('button', { name: 'Go' }).click();
    await page.waitForSelector('body.viewing-past', { timeout: 5_000 });
    await time.fill('2020-01-01T00:00:00');
    await sequence.fill('-1');
    await page.locator('#goto-sequence').getByRole('button', { name: 'Go' }).click();
    await page.locator('#timetravel-error').filter({ hasText: 'Enter a sequence' }).waitFor({ timeout: 5_000 });
    expect(await page.locator('body').getAttribute('class'), 'a bad input leaves the view where it was').toContain('viewing-past');

    await page.getByRole('button', { name: 'Back to live' }).click();
    await page.waitForSelector('body:not(.viewing-past)', { timeout: 5_000 });
    expect(await sequence.inputValue()).toBe('');
    expect(await time.inputValue()).toBe('');
    expect(await page.locator('#timetravel-error').textContent()).toBe('');
    expect(await page.locator('#view-status-text').textContent()).toContain('Live');
  });

  browserIt('should show the date of each event in the feed, not only its time', async () => {
    const times = await page.locator('#feed li time').evaluateAll((elements) =>
      elements.map((e) => ({ datetime: e.getAttribute('datetime')!, text: e.textContent ?? '' })),
    );
    expect(times.length).toBe(5);
    for (const { datetime, text } of times) {
      // The browser runs in en-US and UTC (see launchPersistentContext above).
      const date = new Date(datetime).toLocaleDateString('en-US', { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' });
      const clock = new Date(datetime).toLocaleTimeString('en-US', { hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone: 'UTC' });
      expect(text).toBe(`${date} ${clock}`);
    }
  });

  browserIt('should refuse a negative amount in words, sending nothing', async () => {
    const mutations: string[] = [];
    const watch = (r: import('playwright-core').Request) => {
      if (r.method() === 'POST' && (r.postData() ?? '').includes('mutation')) mutations.push(r.postData()!);
    };
    page.on('request', watch);
    try {
      await page.getByRole('tab', { name: 'Deposit' }).click();
      const panel = page.getByRole('tabpanel', { name: 'Deposit' });
      await panel.getByLabel('Account', { exact: true }).fill('alice');
      const amount = panel.getByLabel('Amount');
      await amount.fill('-5');
      await panel.getByRole('button', { name: 'Deposit' }).click();
      await page.locator('#deposit-amount-error').filter({ hasText: 'The amount must be positive (more than zero)' }).waitFor({ timeout: 5_000 });
      expect(await amount.getAttribute('aria-invalid')).toBe('true');
      expect(await panel.getByRole('alert').textContent(), 'a field problem, not a refusal from the server').toBe('');

      // The same in the open form, where zero is allowed but a negative balance is not.
      await page.getByRole('tab', { name: 'Open' }).click();
      const open = page.getByRole('tabpanel', { name: 'Open' });
      await open.getByLabel('Account id').fill('mallory');
      await open.getByLabel('Initial balance').fill('−1.00');
      await open.getByRole('button', { name: 'Open account' }).click();
      await page.locator('#open-initialBalance-error').filter({ hasText: 'The amount cannot be negative' }).waitFor({ timeout: 5_000 });
    } finally {
      page.off('request', watch);
    }
    expect(mutations, 'nothing was sent').toEqual([]);
    expect(await page.locator('#head-sequence').textContent()).toBe('5');
  });

  browserIt('should fade a success message after a few seconds', async () => {
    await page.getByRole('tab', { name: 'Deposit' }).click();
    const panel = page.getByRole('tabpanel', { name: 'Deposit' });
    await panel.getByLabel('Account', { exact: true }).fill('alice');
    await panel.getByLabel('Amount').fill('1.00');
    await panel.getByRole('button', { name: 'Deposit' }).click();
    const status = panel.getByRole('status');
    await status.filter({ hasText: 'Deposited €1.00 into alice' }).waitFor({ timeout: 5_000 });
    await expectBalance('alice', 96_00);
    // Shown for 5 s, then a 0.6 s fade; the wait allows for a slow, shared machine.
    await page.waitForFunction(() => document.querySelector('#panel-deposit .form-ok')?.textContent === '', undefined, { timeout: 15_000 });
    expect(await panel.getByLabel('Amount').getAttribute('aria-invalid'), 'the earlier field problem went with the new try').toBeNull();
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
