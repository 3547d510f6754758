// Members and auditors see the token list but no way to generate or revoke.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  demoAndBrowser,
  newContext,
  row,
  signIn,
  visibleText,
} from './helpers.mjs';

describe('read-only roles', () => {
  const demo = demoAndBrowser();

  for (const [email, role] of [
    ['carol@example.com', 'member'],
    ['dave@example.com', 'auditor'],
  ]) {
    test(`${role} ${email} sees the list without Generate token or Revoke`, async () => {
      const context = await newContext(demo.browser);
      const page = await context.newPage();
      try {
        await signIn(page, demo.server.baseURL, email);
        await row(page, 'CI deploy').waitFor();
        assert.ok(await row(page, 'CI deploy').isVisible());
        assert.ok((await page.locator('tr[data-credential]').count()) >= 5, 'the seeded tokens are listed');

        const text = await visibleText(page);
        assert.doesNotMatch(text, /Generate token/);
        assert.doesNotMatch(text, /\bRevoke\b/);
        const html = await page.content();
        assert.doesNotMatch(html, /Generate token/);
        assert.doesNotMatch(html, /\bRevoke\b/);
        assert.equal(await page.locator('details.generate').count(), 0);
        assert.equal(await page.locator('form[action$="/revoke"], form[action$="/rotate"]').count(), 0);
        assert.equal(await page.locator('form[method="post"]:not([action="/sign-out"])').count(), 0);
      } finally {
        await context.close();
      }
    });
  }
});
