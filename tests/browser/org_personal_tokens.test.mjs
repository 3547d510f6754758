// Settings → Personal tokens: an owner sees the personal tokens people made for the org and
// revokes one, with JavaScript (htmx swaps the panel) and without it; the token stops working at
// once. A member has no such tab, and the page answers 403.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { demoAndBrowser, generatePersonalToken, newContext, signIn, visibleText } from './helpers.mjs';

const PAGE = '/orgs/acme/settings/personal-tokens';

async function meStatus(baseURL, secret) {
  const response = await fetch(`${baseURL}/api/v1/me`, { headers: { Authorization: `Bearer ${secret}` } });
  return response.status;
}

/** carol (member) makes a personal token for acme in her own browser; returns its secret. */
async function carolsToken(demo, name) {
  const context = await newContext(demo.browser);
  try {
    const page = await context.newPage();
    await signIn(page, demo.server.baseURL, 'carol@example.com');
    return await generatePersonalToken(page, demo.server.baseURL, name);
  } finally {
    await context.close();
  }
}

async function revokeAsAlice(demo, name, { javaScript }) {
  const context = await newContext(demo.browser, { javaScriptEnabled: javaScript });
  try {
    const page = await context.newPage();
    await signIn(page, demo.server.baseURL, 'alice@example.com');
    await page.locator('nav.tabs').getByRole('link', { name: 'Personal tokens', exact: true }).click();
    await page.waitForURL(`${demo.server.baseURL}${PAGE}`);
    const row = page.locator(`tr[data-credential="${name}"]`);
    assert.equal(await row.getAttribute('data-owner'), 'carol@example.com');
    assert.match(await row.innerText(), /Active/);
    await row.locator('summary', { hasText: 'Revoke' }).click();
    await row.getByRole('button', { name: 'Revoke personal token', exact: true }).click();
    await page.locator(`tr[data-credential="${name}"].status-revoked`).waitFor();
    assert.match(await page.locator(`tr[data-credential="${name}"]`).innerText(), /Revoked/);
  } finally {
    await context.close();
  }
}

describe('Settings → Personal tokens', () => {
  const demo = demoAndBrowser();

  test('an owner revokes a member’s personal token, with and without JavaScript', async () => {
    for (const javaScript of [true, false]) {
      const name = `carol laptop ${javaScript ? 'js' : 'nojs'}`;
      const secret = await carolsToken(demo, name);
      assert.equal(await meStatus(demo.server.baseURL, secret), 200);
      await revokeAsAlice(demo, name, { javaScript });
      assert.equal(await meStatus(demo.server.baseURL, secret), 401, 'revoked at once');
    }
  });

  test('a member sees no Personal tokens tab and gets 403 on the page', async () => {
    const context = await newContext(demo.browser);
    try {
      const page = await context.newPage();
      await signIn(page, demo.server.baseURL, 'carol@example.com');
      assert.equal(await page.locator('nav.tabs').getByRole('link', { name: 'Personal tokens' }).count(), 0);
      const response = await page.goto(`${demo.server.baseURL}${PAGE}`);
      assert.equal(response.status(), 403);
      assert.match(await visibleText(page), /Only owners and admins/);
    } finally {
      await context.close();
    }
  });
});
