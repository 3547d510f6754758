// When the clipboard refuses, the reveal says so and leaves the secret selected for a manual copy.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  CLIPBOARD_FALLBACK,
  SECRET_SHAPE,
  demoAndBrowser,
  generateToken,
  newContext,
  signIn,
} from './helpers.mjs';

describe('clipboard fallback', () => {
  const demo = demoAndBrowser();

  test('Copy without a usable clipboard shows the fallback and keeps the secret selectable', async () => {
    // No clipboard permission granted, and writeText always refuses.
    const context = await newContext(demo.browser);
    await context.addInitScript(() => {
      const refuse = () => Promise.reject(new DOMException('Write permission denied.', 'NotAllowedError'));
      if (window.Clipboard) {
        Object.defineProperty(Clipboard.prototype, 'writeText', { value: refuse, configurable: true });
      }
      if (navigator.clipboard) {
        Object.defineProperty(navigator.clipboard, 'writeText', { value: refuse, configurable: true });
      }
    });
    const page = await context.newPage();
    try {
      await signIn(page, demo.server.baseURL, 'alice@example.com');
      const { reveal, secret } = await generateToken(page, 'Clipboard fallback token', ['all']);
      assert.match(secret, SECRET_SHAPE);

      const copy = reveal.getByRole('button', { name: 'Copy', exact: true });
      await copy.click();
      const status = reveal.locator('[data-copy-status]');
      await status.filter({ hasText: CLIPBOARD_FALLBACK }).waitFor();
      assert.equal((await status.innerText()).trim(), CLIPBOARD_FALLBACK);
      assert.ok(await status.isVisible());
      assert.equal(await copy.innerText(), 'Copy', 'the button does not claim success');

      // The secret is still there, visible, selectable, and selected for the user.
      const code = reveal.locator('code#new-secret');
      assert.ok(await code.isVisible());
      assert.equal((await code.innerText()).trim(), secret);
      const userSelect = await code.evaluate((element) => getComputedStyle(element).userSelect);
      assert.notEqual(userSelect, 'none');
      assert.equal((await page.evaluate(() => window.getSelection().toString())).trim(), secret);
    } finally {
      await context.close();
    }
  });
});
