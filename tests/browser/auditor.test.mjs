// An auditor answers "who used what, from where, and what is unused or about to expire" alone:
// dave@example.com reads a credential's usage chart, the reports and the audit log, exports the
// log as CSV, finds nothing on those pages that changes anything, and is refused a forced write.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { launchBrowser, newContext, row, signIn, startDemo } from './helpers.mjs';

const DAVE = 'dave@example.com';
const REPORTS_PATH = '/orgs/acme/settings/reports';
const AUDIT_PATH = '/orgs/acme/settings/audit';

/** `1,234` → 1234 */
const number = (text) => Number(text.trim().replace(/,/g, ''));

/**
 * Every control on the page that could change something: a form posting anywhere but /sign-out,
 * or an enabled button that is not in a GET form (a filter) and is not Sign out.
 */
async function writeControls(page) {
  return page.evaluate(() => {
    const found = [];
    for (const form of document.querySelectorAll('form')) {
      const method = (form.getAttribute('method') || 'get').toLowerCase();
      if (method !== 'get' && form.getAttribute('action') !== '/sign-out') found.push(`form ${method} ${form.action}`);
    }
    for (const button of document.querySelectorAll('button:not([disabled])')) {
      const form = button.closest('form');
      const inGetForm = form && (form.getAttribute('method') || 'get').toLowerCase() === 'get';
      const signOut = form && form.getAttribute('action') === '/sign-out';
      if (!inGetForm && !signOut) found.push(`button ${button.textContent.trim()}`);
    }
    for (const el of document.querySelectorAll('[hx-post], [hx-put], [hx-patch], [hx-delete]')) {
      found.push(`htmx ${el.outerHTML.slice(0, 80)}`);
    }
    return found;
  });
}

describe('auditor', () => {
  let server;
  let browser;
  let context;
  let page;

  before(async () => {
    server = await startDemo();
    browser = await launchBrowser();
    context = await newContext(browser, { acceptDownloads: true });
    page = await context.newPage();
    await signIn(page, server.baseURL, DAVE);
  });

  after(async () => {
    await context?.close();
    await browser?.close();
    await server?.stop();
  });

  test('reads a credential’s usage: the chart’s title, description and bars agree with its table', async () => {
    await page.goto(`${server.baseURL}/orgs/acme/settings/api-keys`);
    // The usage count of a row leads to its usage page.
    await row(page, 'Billing service').locator('td.usage a').click();
    await page.waitForURL(/\/orgs\/acme\/settings\/api-keys\/[^/]+\/usage$/);
    await page.getByRole('heading', { name: 'Usage of “Billing service”' }).waitFor();

    const chart = page.getByRole('img', { name: 'Requests per day, last 30 days (UTC)' });
    assert.ok(await chart.isVisible(), 'the chart is an image named by its title');
    const desc = (await page.locator('svg#requests-chart > desc').textContent()).trim();
    const match = desc.match(/^Requests per day, (.+) to (.+): ([\d,]+) in total, most on (\d+ \w+) \(([\d,]+)\)\.$/);
    assert.ok(match, `the description says range, total and peak: ${desc}`);
    const [, , , total, peakDay, peak] = match;

    const bars = page.locator('#requests-chart rect.bar');
    assert.equal(await bars.count(), 30, 'one bar per day');
    const barValues = (await bars.evaluateAll((rects) => rects.map((r) => r.getAttribute('data-value')))).map(Number);

    // The table is folded away; a reader opens it.
    await page.locator('details.chart-table > summary').click();
    const table = page.locator('#daily-usage');
    await table.waitFor({ state: 'visible' });
    const rows = table.locator('tbody tr');
    assert.equal(await rows.count(), 30);
    const tableValues = (await table.locator('tbody td.requests').allInnerTexts()).map(number);
    assert.deepEqual(tableValues, barValues, 'the table says what the bars show');
    const sum = tableValues.reduce((a, b) => a + b, 0);
    assert.ok(sum > 0, 'the demo has usage history');
    assert.equal(sum, number(total), 'the description’s total is the table’s');
    assert.equal(number(await table.locator('tfoot td.requests').innerText()), sum);
    assert.equal(Math.max(...tableValues), number(peak), 'the description’s peak is the largest day');
    const peakRow = rows.filter({ has: page.locator('td.requests', { hasText: new RegExp(`^${peak}$`) }) }).last();
    assert.match(await peakRow.locator('th').innerText(), new RegExp(`^${peakDay} \\d{4}$`));

    // Failed attempts, recent addresses and the credential's history.
    const failed = (await table.locator('tbody td.failed').allInnerTexts()).map(number);
    assert.ok(failed.some((n) => n > 0), 'the demo has failed attempts');
    const failedBars = (await page.locator('#failed-chart rect.bar').evaluateAll((rects) =>
      rects.map((r) => Number(r.getAttribute('data-value'))),
    ));
    assert.deepEqual(failedBars, failed);
    const addresses = await page.locator('table.addresses code.ip').allInnerTexts();
    assert.ok(addresses.length >= 1 && addresses.length <= 5, `${addresses}`);
    assert.equal(addresses[0], '203.0.113.24', 'the most recent address first');
    assert.deepEqual(await page.locator('ol.history .what').allInnerTexts(), ['Created']);

    assert.deepEqual(await writeControls(page), [], 'nothing on the usage page changes anything');
  });

  test('opens Reports: stale and expiring credentials, with no controls', async () => {
    await page.goto(`${server.baseURL}/orgs/acme/settings/tokens`);
    await page.locator('nav.tabs').getByRole('link', { name: 'Reports', exact: true }).click();
    await page.waitForURL(`${server.baseURL}${REPORTS_PATH}`);

    const stale = page.locator('#stale-report');
    assert.ok(await stale.locator('tr[data-credential="Nightly backup"]').isVisible(), 'unused for 45 days');
    const expiring = page.locator('#expiring-report');
    assert.ok(await expiring.locator('tr[data-credential="Staging env editor"]').isVisible(), 'expires in 7 days');

    await page.locator('nav.filters').getByRole('link', { name: 'Never used', exact: true }).click();
    await page.waitForURL(`${server.baseURL}${REPORTS_PATH}?stale=never`);
    const neverUsed = stale.locator('tr[data-credential="Staging env editor"]');
    assert.ok(await neverUsed.isVisible(), 'never used');
    assert.equal(await stale.locator('tr[data-credential="Nightly backup"]').count(), 0);
    assert.equal(await neverUsed.locator('td.last-used').innerText(), 'Never');

    assert.deepEqual(await writeControls(page), [], 'nothing on the reports changes anything');
    assert.equal(await page.locator('summary', { hasText: /Rotate|Revoke/ }).count(), 0);

    // A row's Usage link opens that credential's usage page.
    await neverUsed.getByRole('link', { name: 'Usage of Staging env editor' }).click();
    await page.waitForURL(/\/orgs\/acme\/settings\/tokens\/[^/]+\/usage$/);
    assert.match(await page.locator('svg#requests-chart > desc').textContent(), /: none\.$/, 'an empty chart');
  });

  test('exports the audit log as CSV with a header row', async () => {
    await page.goto(`${server.baseURL}/orgs/acme/settings/tokens`);
    await page.locator('nav.tabs').getByRole('link', { name: 'Audit log', exact: true }).click();
    await page.waitForURL((url) => url.pathname === AUDIT_PATH);
    assert.deepEqual(await writeControls(page), [], 'nothing on the audit log changes anything');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Export CSV', exact: true }).click(),
    ]);
    assert.match(download.suggestedFilename(), /\.csv$/);
    const csv = fs.readFileSync(await download.path(), 'utf8').replace(/^\uFEFF/, '');
    const lines = csv.split(/\r?\n/).filter((line) => line !== '');
    assert.ok(lines.length >= 2, 'a header row and the seeded entries');
    const header = lines[0].split(',');
    assert.ok(header.length >= 5, `a header row: ${lines[0]}`);
    assert.ok(header.some((cell) => /action/i.test(cell)), `the header names the columns: ${lines[0]}`);
    assert.ok(lines.slice(1).some((line) => line.includes('access_token.create')), 'the entries follow');
  });

  test('a forced write is refused with 403', async () => {
    await page.goto(`${server.baseURL}/orgs/acme/settings/tokens`);
    const link = await row(page, 'CI deploy').locator('td.usage a').getAttribute('href');
    const revoke = link.replace(/\/usage$/, '/revoke');
    const csrf = await page.locator('input[name="csrf_token"]').first().inputValue();
    assert.ok(csrf.length > 0, 'the page carries the session’s CSRF token');

    const response = await page.request.post(`${server.baseURL}${revoke}`, {
      form: { csrf_token: csrf },
      headers: { Origin: server.baseURL },
      maxRedirects: 0,
    });
    assert.equal(response.status(), 403, 'an auditor may not revoke');

    await page.reload();
    assert.match(await row(page, 'CI deploy').innerText(), /Active|Expiring soon/, 'still working');
  });
});
