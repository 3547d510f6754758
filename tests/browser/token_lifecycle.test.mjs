// An owner generates an access token, copies it, loses it on reload, and revokes it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import {
  REVEAL_TEXT,
  ROOT,
  SECRET_SHAPE,
  TOKENS_PATH,
  demoAndBrowser,
  generateToken,
  newContext,
  row,
  signIn,
} from './helpers.mjs';

describe('access token lifecycle', () => {
  const demo = demoAndBrowser();

  test('generate, copy, reload loses the secret, revoke', async () => {
    const context = await newContext(demo.browser);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: demo.server.baseURL });
    const page = await context.newPage();
    try {
      await signIn(page, demo.server.baseURL, 'alice@example.com');
      const name = 'Browser lifecycle token';

      const { reveal, secret } = await generateToken(page, name, ['modify_env'], { expiry: '90' });
      assert.equal(new URL(page.url()).pathname, TOKENS_PATH, 'htmx keeps the tokens URL');
      assert.match(await reveal.innerText(), new RegExp(REVEAL_TEXT.replace(/\./g, '\\.')));
      assert.match(secret, SECRET_SHAPE);

      // Copy puts exactly the shown secret on the clipboard.
      await reveal.getByRole('button', { name: 'Copy', exact: true }).click();
      const status = reveal.locator('[data-copy-status]');
      await status.filter({ hasText: 'Copied to clipboard.' }).waitFor();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);

      // The new row is listed as Active with the chosen scope, and shows only the display prefix.
      const created = row(page, name);
      assert.equal((await created.locator('.badge').innerText()).trim(), 'Active');
      assert.match(await created.innerText(), /modify_env/);
      const prefix = (await created.locator('code.prefix').innerText()).replace(/…$/, '');
      assert.ok(secret.startsWith(prefix), `display prefix ${prefix} is the start of the secret`);
      assert.ok(prefix.length < secret.length);

      if (process.env.TESSERA_SCREENSHOT === '1') {
        const file = path.join(ROOT, 'docs', 'tokens.png');
        fs.mkdirSync(path.dirname(file), { recursive: true });
        await page.screenshot({ path: file, fullPage: true });
      }

      // Navigating away and coming Back does not bring the secret back (no back/forward cache copy).
      await page.locator('nav.tabs a', { hasText: 'API keys' }).click();
      await page.waitForURL(/\/settings\/api-keys$/);
      await page.goBack();
      await page.waitForURL(`${demo.server.baseURL}${TOKENS_PATH}`);
      await row(page, name).waitFor();
      assert.ok(!(await page.content()).includes(secret), 'the secret is not shown after Back');
      assert.equal(await page.locator('.callout.reveal').count(), 0, 'no reveal callout after Back');

      // A reload never shows the secret again: not in the served HTML, not in the DOM.
      const reloaded = await page.reload();
      assert.equal(reloaded.status(), 200);
      assert.ok(!(await reloaded.text()).includes(secret), 'the secret is not in the reloaded HTML');
      assert.ok(!(await page.content()).includes(secret), 'the secret is not in the reloaded page');
      assert.equal(await page.locator('.callout.reveal').count(), 0, 'the reveal callout is gone');
      assert.equal(await page.locator('#new-secret').count(), 0);
      assert.equal((await row(page, name).locator('.badge').innerText()).trim(), 'Active');

      // Revoke asks for confirmation, then the row says Revoked, when and by whom.
      const revokeBox = row(page, name).locator('details.confirm:not(.rotate)');
      await revokeBox.locator('summary', { hasText: 'Revoke' }).click();
      await revokeBox.getByRole('button', { name: 'Revoke token', exact: true }).click();
      const revoked = row(page, name);
      await revoked.locator('.badge', { hasText: 'Revoked' }).waitFor();
      assert.equal((await revoked.locator('.badge').innerText()).trim(), 'Revoked');
      const meta = await revoked.locator('.meta', { hasText: 'Revoked' }).innerText();
      assert.match(meta, /^Revoked .+ by alice@example\.com$/);
      assert.equal(
        await revoked.locator('summary', { hasText: 'Revoke' }).count(),
        0,
        'a revoked token offers no second revoke',
      );

      // ... and still does after a reload.
      await page.reload();
      assert.equal((await row(page, name).locator('.badge').innerText()).trim(), 'Revoked');
      assert.ok(!(await page.content()).includes(secret));
    } finally {
      await context.close();
    }
  });
});
