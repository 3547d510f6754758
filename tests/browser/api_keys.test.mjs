// An owner creates an API key, copies the setup, rotates it with a grace period, edits it and
// revokes it; then an operator closes the API-access gate and the tab says so.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  REVEAL_TEXT,
  demoAndBrowser,
  newContext,
  signIn,
  tesseraCli,
  visibleText,
} from './helpers.mjs';

const KEYS_PATH = '/orgs/acme/settings/api-keys';
const KEY_SHAPE = /^tsr_ak_[0-9A-Za-z]{38}$/;
const NAME = 'Browser key';

describe('API keys', () => {
  const demo = demoAndBrowser();

  test('create, copy setup, rotate, edit, revoke', async () => {
    const context = await newContext(demo.browser);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: demo.server.baseURL });
    const page = await context.newPage();
    try {
      await signIn(page, demo.server.baseURL, 'alice@example.com');
      await page.getByRole('link', { name: 'API keys', exact: true }).click();
      await page.waitForURL(`${demo.server.baseURL}${KEYS_PATH}`);
      const setup = page.locator('.card.setup');
      assert.equal((await setup.locator('.key-source').innerText()).trim(), 'Generate or rotate a key');
      assert.match(await setup.locator('#setup-shell').innerText(), /<new-api-key>/);

      // Create.
      const create = page.locator('details.card.generate');
      await create.locator('summary', { hasText: 'Create key' }).click();
      const form = create.locator('form');
      await form.locator('input[name="name"]').fill(NAME);
      await form.locator('textarea[name="description"]').fill('Made by the browser test');
      await form.locator('input[name="permissions"][value="read"]').check();
      await form.locator('input[name="permissions"][value="view_logs"]').check();
      assert.equal(await form.locator('select[name="expiry"]').inputValue(), '365', '365 days by default');
      await form.getByRole('button', { name: 'Create key', exact: true }).click();
      const reveal = page.locator('.callout.reveal');
      await reveal.waitFor();
      assert.match(await reveal.innerText(), new RegExp(REVEAL_TEXT.replace(/\./g, '\\.')));
      const first = (await reveal.locator('#new-secret').textContent()).trim();
      assert.match(first, KEY_SHAPE);

      // The setup card carries the one-time key; Copy setup puts the script on the clipboard.
      assert.equal((await setup.locator('.key-source').innerText()).trim(), 'New one-time key included');
      await setup.locator('details', { hasText: 'Shell' }).getByRole('button', { name: 'Copy setup' }).click();
      await setup.locator('[data-copy-status]').filter({ hasText: 'Copied to clipboard.' }).waitFor();
      const script = await page.evaluate(() => navigator.clipboard.readText());
      assert.match(script, new RegExp(`export TESSERA_API_KEY='${first}'`));
      assert.match(script, /curl .*\/api\/v1\/me/);

      // Rotate with a one-hour grace: a new secret once, the old one never again.
      const rows = page.locator(`tr[data-credential="${NAME}"]`);
      await rows.first().locator('summary', { hasText: 'Rotate' }).click();
      await rows.first().getByRole('button', { name: 'Old secret works 1 more hour' }).click();
      await page.locator('.notice', { hasText: 'The previous secret keeps working for 1 hour.' }).waitFor();
      const second = (await page.locator('.callout.reveal #new-secret').textContent()).trim();
      assert.match(second, KEY_SHAPE);
      assert.notEqual(second, first);
      assert.ok(!(await page.content()).includes(first), 'the old secret is never shown again');
      assert.equal(await rows.count(), 2, 'old and new share the name during the grace period');
      const current = rows.filter({ hasText: 'Rotated from' });
      const previous = rows.filter({ hasText: 'Replaced by' });
      assert.match(await previous.innerText(), /stops working in an hour/);

      await page.reload();
      assert.ok(!(await page.content()).includes(second), 'the new secret is gone after a reload');

      // Edit: description and active state change, the secret does not.
      await current.getByRole('link', { name: 'Edit' }).click();
      await page.locator('textarea[name="description"]').fill('Edited in the browser');
      await page.locator('input[name="active"]').uncheck();
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.waitForURL(`${demo.server.baseURL}${KEYS_PATH}`);
      const edited = page.locator(`tr[data-credential="${NAME}"]`).filter({ hasText: 'Rotated from' });
      assert.equal((await edited.locator('.badge').innerText()).trim(), 'Inactive');
      assert.match(await edited.innerText(), /Edited in the browser/);

      // Revoke.
      await edited.locator('summary', { hasText: 'Revoke' }).click();
      await edited.getByRole('button', { name: 'Revoke key' }).click();
      await page.locator('.notice', { hasText: `Key “${NAME}” revoked.` }).waitFor();
      const revoked = page.locator(`tr[data-credential="${NAME}"]`).filter({ hasText: 'Rotated from' });
      assert.equal((await revoked.locator('.badge').innerText()).trim(), 'Revoked');
      assert.match(await revoked.innerText(), /by alice@example\.com/);
    } finally {
      await context.close();
    }
  });

  test('a closed API-access gate disables Create key, and the server refuses too', async () => {
    tesseraCli(demo.server.databaseUrl, ['org', 'api-access', 'acme', 'off']);
    const context = await newContext(demo.browser);
    const page = await context.newPage();
    try {
      await signIn(page, demo.server.baseURL, 'bob@example.com');
      await page.goto(`${demo.server.baseURL}${KEYS_PATH}`);
      assert.match(await visibleText(page), /API access is not enabled for this account\./);
      const button = page.getByRole('button', { name: 'Create key', exact: true });
      assert.ok(await button.isDisabled(), 'Create key is disabled');
      assert.equal(await page.locator('summary', { hasText: 'Rotate' }).count(), 0, 'no rotation either');

      // Forcing the write anyway: the server says no.
      const status = await page.evaluate(async (path) => {
        const csrf = document.querySelector('input[name="csrf_token"]').value;
        const body = new URLSearchParams({ csrf_token: csrf, name: 'forced', permissions: 'read', expiry: '30' });
        const response = await fetch(path, { method: 'POST', body });
        return response.status;
      }, KEYS_PATH);
      assert.equal(status, 403);
    } finally {
      await context.close();
      tesseraCli(demo.server.databaseUrl, ['org', 'api-access', 'acme', 'on']);
    }
  });
});
