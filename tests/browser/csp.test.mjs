// The console works under its Content-Security-Policy: no violations, no console errors.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  demoAndBrowser,
  generateToken,
  newContext,
  row,
  signIn,
} from './helpers.mjs';

describe('content security policy', () => {
  const demo = demoAndBrowser();

  test('tokens page: sign in, generate, copy, filter, revoke without CSP violations', async () => {
    const context = await newContext(demo.browser);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: demo.server.baseURL });
    const violations = [];
    const consoleErrors = [];
    const pageErrors = [];
    await context.exposeBinding('__tesseraCspViolation', (_source, violation) => violations.push(violation));
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        window.__tesseraCspViolation({
          directive: event.violatedDirective,
          blocked: event.blockedURI,
          source: event.sourceFile,
          line: event.lineNumber,
          sample: event.sample,
        });
      });
    });
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    try {
      const response = await page.goto(`${demo.server.baseURL}/sign-in`);
      assert.match(response.headers()['content-security-policy'] || '', /script-src 'self'/);
      await signIn(page, demo.server.baseURL, 'alice@example.com');
      const { reveal } = await generateToken(page, 'CSP check token', ['all', 'run_scripts']);
      await reveal.getByRole('button', { name: 'Copy', exact: true }).click();
      await reveal.locator('[data-copy-status]', { hasText: 'Copied to clipboard.' }).waitFor();

      // htmx-driven list filters and a revoke exercise the swapped-in markup too.
      await page.locator('nav.filters a', { hasText: 'Revoked' }).click();
      await page.waitForURL(/status=revoked/);
      await page.locator('nav.filters a', { hasText: 'Active' }).click();
      await page.waitForURL(/status=active/);
      await page.goto(`${demo.server.baseURL}/orgs/acme/settings/tokens`);
      const target = row(page, 'CSP check token');
      await target.locator('details.confirm:not(.rotate) summary').click();
      await target.getByRole('button', { name: 'Revoke token', exact: true }).click();
      await row(page, 'CSP check token').locator('.badge', { hasText: 'Revoked' }).waitFor();

      // The other tab uses the same layout and scripts.
      await page.locator('nav.tabs a', { hasText: 'API keys' }).click();
      await page.waitForURL(/\/settings\/api-keys$/);
      await page.locator('tr[data-credential]').first().waitFor();
      // Let any late report arrive.
      await page.waitForTimeout(250);

      const cspConsole = consoleErrors.filter((text) => /Content[- ]Security[- ]Policy/i.test(text));
      assert.deepEqual(violations, [], 'securitypolicyviolation events');
      assert.deepEqual(cspConsole, [], 'console errors about the Content-Security-Policy');
      assert.deepEqual(pageErrors, [], 'uncaught page errors');
      assert.deepEqual(consoleErrors, [], 'console errors of any kind');
    } finally {
      await context.close();
    }
  });
});
