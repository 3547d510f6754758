// Settings → Members: the owner adds, re-roles and removes a person; the only owner cannot step
// down; a member is offered none of it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  demoAndBrowser,
  newContext,
  signIn,
  visibleText,
} from './helpers.mjs';

const MEMBERS_PATH = '/orgs/acme/settings/members';

function memberRow(page, email) {
  return page.locator(`tr[data-member="${email}"]`);
}

/** Console errors and CSP violations a page reports; the list is checked at the end. */
function watchErrors(page) {
  const errors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  return errors;
}

describe('Settings → Members', () => {
  const demo = demoAndBrowser();

  test('alice adds frank as a member, makes him an auditor and removes him', async () => {
    const context = await newContext(demo.browser);
    const page = await context.newPage();
    const errors = watchErrors(page);
    try {
      await signIn(page, demo.server.baseURL, 'alice@example.com');
      await page.locator('nav.tabs').getByRole('link', { name: 'Members', exact: true }).click();
      await page.waitForURL(`${demo.server.baseURL}${MEMBERS_PATH}`);
      assert.equal(await page.locator('nav.tabs a[aria-current="page"]').textContent(), 'Members');
      for (const email of ['alice@example.com', 'bob@example.com', 'carol@example.com', 'dave@example.com']) {
        assert.ok(await memberRow(page, email).isVisible(), `${email} is listed`);
      }

      const add = page.locator('details.add-member');
      await add.locator('summary', { hasText: 'Add member' }).click();
      await add.locator('input[name="email"]').fill('Frank@Example.com');
      await add.locator('input[name="role"][value="member"]').check();
      await add.getByRole('button', { name: 'Add member', exact: true }).click();
      await page.locator('.notice', { hasText: 'frank@example.com was added as Member.' }).waitFor();
      const frank = memberRow(page, 'frank@example.com');
      await frank.waitFor();
      assert.match(await frank.innerText(), /Not yet/);
      assert.equal(await frank.locator('select[name="role"]').inputValue(), 'member');

      await frank.locator('select[name="role"]').selectOption('auditor');
      await frank.getByRole('button', { name: 'Change role' }).click();
      await page.locator('.notice', { hasText: 'frank@example.com is now Auditor (was Member).' }).waitFor();
      assert.equal(await memberRow(page, 'frank@example.com').locator('select[name="role"]').inputValue(), 'auditor');

      const row = memberRow(page, 'frank@example.com');
      await row.locator('summary', { hasText: 'Remove' }).click();
      const confirm = row.locator('details.confirm form');
      assert.match(await confirm.innerText(), /Remove frank@example.com from Acme Corp\?/);
      await confirm.getByRole('button', { name: 'Remove member' }).click();
      await page.locator('.notice', { hasText: 'frank@example.com was removed from Acme Corp.' }).waitFor();
      assert.equal(await memberRow(page, 'frank@example.com').count(), 0);

      await page.reload();
      assert.equal(await memberRow(page, 'frank@example.com').count(), 0, 'gone after a reload too');
      assert.deepEqual(errors, [], 'no console errors or CSP violations');
    } finally {
      await context.close();
    }
  });

  test('alice, the only owner, cannot demote herself and is told why', async () => {
    const context = await newContext(demo.browser);
    const page = await context.newPage();
    try {
      await signIn(page, demo.server.baseURL, 'alice@example.com');
      await page.goto(`${demo.server.baseURL}${MEMBERS_PATH}`);
      const alice = memberRow(page, 'alice@example.com');
      assert.match(await alice.innerText(), /\byou\b/);
      await alice.locator('select[name="role"]').selectOption('admin');
      await alice.getByRole('button', { name: 'Change role' }).click();
      const message = page.locator('.form-error[role="alert"]');
      await message.waitFor();
      assert.equal(
        (await message.textContent()).trim(),
        'You are the only owner of Acme Corp. Make someone else an owner before you change your own role.',
      );
      assert.equal(await memberRow(page, 'alice@example.com').locator('select[name="role"]').inputValue(), 'owner');

      await page.reload();
      assert.equal(await memberRow(page, 'alice@example.com').locator('select[name="role"]').inputValue(), 'owner');
      assert.ok(await page.locator('nav.tabs').getByRole('link', { name: 'Members' }).isVisible(), 'still an owner');
    } finally {
      await context.close();
    }
  });

  test('without JavaScript the forms still work', async () => {
    const context = await newContext(demo.browser, { javaScriptEnabled: false });
    const page = await context.newPage();
    try {
      await signIn(page, demo.server.baseURL, 'alice@example.com');
      await page.goto(`${demo.server.baseURL}${MEMBERS_PATH}`);
      const add = page.locator('details.add-member');
      await add.locator('summary').click();
      await add.locator('input[name="email"]').fill('grace@example.com');
      await add.locator('input[name="role"][value="admin"]').check();
      await Promise.all([page.waitForURL(`${demo.server.baseURL}${MEMBERS_PATH}`), add.locator('button[type="submit"]').click()]);
      const grace = memberRow(page, 'grace@example.com');
      await grace.waitFor();
      assert.equal(await grace.locator('select[name="role"]').inputValue(), 'admin');

      await grace.locator('summary', { hasText: 'Remove' }).click();
      await Promise.all([
        page.waitForURL(`${demo.server.baseURL}${MEMBERS_PATH}`),
        grace.getByRole('button', { name: 'Remove member' }).click(),
      ]);
      await page.locator('#member-list').waitFor();
      assert.equal(await memberRow(page, 'grace@example.com').count(), 0);
    } finally {
      await context.close();
    }
  });

  test('carol, a member, is offered no Members controls and the server refuses her', async () => {
    const context = await newContext(demo.browser);
    const page = await context.newPage();
    try {
      await signIn(page, demo.server.baseURL, 'carol@example.com');
      assert.equal(await page.locator('nav.tabs').getByRole('link', { name: 'Members' }).count(), 0);
      assert.equal(await page.locator(`a[href="${MEMBERS_PATH}"]`).count(), 0);

      const response = await page.goto(`${demo.server.baseURL}${MEMBERS_PATH}`);
      assert.equal(response.status(), 403);
      assert.match(await visibleText(page), /Only owners of Acme Corp can see and change its members\./);
      assert.equal(await page.locator('details.add-member, select[name="role"], form[action$="/remove"]').count(), 0);
    } finally {
      await context.close();
    }
  });
});
