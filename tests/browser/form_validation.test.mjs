// A form the server refuses shows each field's message and creates nothing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  demoAndBrowser,
  newContext,
  signIn,
} from './helpers.mjs';

describe('generate token form validation', () => {
  const demo = demoAndBrowser();

  test('short name and no scope: field messages, nothing created', async () => {
    const context = await newContext(demo.browser);
    const page = await context.newPage();
    try {
      await signIn(page, demo.server.baseURL, 'alice@example.com');
      const rows = page.locator('tr[data-credential]');
      const before = await rows.evaluateAll((all) => all.map((r) => r.dataset.credential));
      const heading = await page.locator('#credential-list-title').innerText();

      const generate = page.locator('details.card.generate');
      await generate.locator('summary', { hasText: 'Generate token' }).click();
      const form = generate.locator('form');
      // Let the server, not the browser, judge the input.
      await form.evaluate((element) => {
        element.noValidate = true;
        element.querySelectorAll('[required], [minlength]').forEach((input) => {
          input.removeAttribute('required');
          input.removeAttribute('minlength');
        });
      });
      await form.locator('input[name="name"]').fill('ab');
      for (const box of await form.locator('input[name="scopes"]').all()) await box.uncheck();
      await form.getByRole('button', { name: 'Generate token', exact: true }).click();

      const errors = page.locator('details.card.generate .field-error');
      await errors.first().waitFor();
      const messages = (await errors.allInnerTexts()).map((text) => text.trim());
      assert.ok(messages.includes('Name must be at least 3 characters.'), `messages: ${messages}`);
      assert.ok(messages.includes('Select at least one scope.'), `messages: ${messages}`);
      assert.ok(await page.locator('details.card.generate').evaluate((d) => d.open), 'the form stays open');
      assert.equal(await page.locator('details.card.generate input[name="name"]').inputValue(), 'ab');
      assert.equal(await page.locator('.callout.reveal').count(), 0, 'no secret shown');
      assert.equal(await page.locator('#new-secret').count(), 0);

      const afterSubmit = await rows.evaluateAll((all) => all.map((r) => r.dataset.credential));
      assert.deepEqual(afterSubmit, before);
      assert.equal(await page.locator('tr[data-credential="ab"]').count(), 0);

      // The database agrees: a fresh load lists the same tokens.
      await page.reload();
      assert.deepEqual(await rows.evaluateAll((all) => all.map((r) => r.dataset.credential)), before);
      assert.equal(await page.locator('#credential-list-title').innerText(), heading);
    } finally {
      await context.close();
    }
  });
});
