// Single sign-on through a real OpenID provider (tests/oidc/provider.mjs): sign-in, sign-out and
// the refusals, each seen from the browser. The demo's people have emails and no OpenID link yet.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startProvider } from '../oidc/provider.mjs';
import {
  CALLBACK_PATH,
  SSO_LINK,
  TOKENS_PATH,
  blockNonLoopback,
  expectSignedInAs,
  expectSignedOut,
  launchBrowser,
  newContext,
  rewriteRedirect,
  signInWithProvider,
  signOut,
  startDemo,
  waitForCallback,
} from './helpers.mjs';

describe('OpenID Connect sign-in', () => {
  let provider;
  let server;
  let browser;
  let authorizationEndpoint;

  before(async () => {
    provider = await startProvider();
    server = await startDemo({
      env: {
        TESSERA_OIDC_ISSUER: provider.issuer,
        TESSERA_OIDC_CLIENT_ID: provider.clientId,
        TESSERA_OIDC_CLIENT_SECRET: provider.clientSecret,
      },
    });
    browser = await launchBrowser();
    const discovery = await fetch(`${provider.issuer}/.well-known/openid-configuration`);
    assert.equal(discovery.status, 200);
    authorizationEndpoint = (await discovery.json()).authorization_endpoint;
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await provider?.stop();
  });

  /** A fresh context (no cookies at Tessera or the provider) and its page; closed after `body`. */
  async function withPage(body) {
    const context = await newContext(browser);
    await blockNonLoopback(context);
    const page = await context.newPage();
    try {
      await body(page);
    } finally {
      await context.close();
    }
  }

  /** The "Sign-in failed" page with `text` in its message, answered with `status`. */
  async function expectFailure(page, callback, { status, text }) {
    assert.equal(new URL(page.url()).pathname, CALLBACK_PATH, 'the failure is shown at the callback URL');
    assert.equal(callback.status(), status, `callback status (${await callback.text()})`);
    await page.getByRole('heading', { name: 'Sign-in failed', exact: true }).waitFor();
    assert.match(await page.locator('main').innerText(), text);
    await expectSignedOut(page, server.baseURL);
  }

  test('alice signs in through the provider, signs out, and signs in again', async () => {
    await withPage(async (page) => {
      const { baseURL } = server;
      await page.goto(`${baseURL}/sign-in`);
      const link = page.getByRole('link', { name: SSO_LINK, exact: true });
      assert.equal(await link.getAttribute('href'), '/auth/login');
      assert.ok(
        (await page.getByRole('button', { name: 'Sign in as alice@example.com', exact: true }).count()) === 1,
        'the dev sign-in is still offered beside single sign-on',
      );

      const first = await signInWithProvider(page, baseURL, 'alice@example.com');
      assert.equal(first.status(), 303, 'the callback redirects once signed in');
      await expectSignedInAs(page, baseURL, 'alice@example.com');

      await signOut(page, baseURL);
      await expectSignedOut(page, baseURL);

      // Second time: the account is linked by (issuer, subject); the provider may remember her.
      const second = await signInWithProvider(page, baseURL, 'alice@example.com');
      assert.equal(second.status(), 303);
      await expectSignedInAs(page, baseURL, 'alice@example.com');
      const reloaded = await page.reload();
      assert.equal(reloaded.status(), 200);
      assert.equal(new URL(page.url()).pathname, TOKENS_PATH);
    });
  });

  test('cancelling at the provider signs nobody in', async () => {
    await withPage(async (page) => {
      const callback = await signInWithProvider(page, server.baseURL, 'bob@example.com', { cancel: 'consent' });
      assert.ok(callback.status() >= 400 && callback.status() < 500, `a 4xx, not ${callback.status()}`);
      await expectFailure(page, callback, { status: callback.status(), text: /cancelled/ });
    });
  });

  test('a callback with a tampered state is refused', async () => {
    await withPage(async (page) => {
      const { baseURL } = server;
      const issuer = new URL(provider.issuer).origin;
      const rewritten = await rewriteRedirect(page, `${issuer}/interaction/*`, {
        when: (request) => request.method() === 'POST' && /(^|&)prompt=consent(&|$)/.test(request.postData() || ''),
        isTarget: (url) => url.startsWith(`${baseURL}${CALLBACK_PATH}?`),
        rewrite: (url) => {
          const changed = new URL(url);
          const state = changed.searchParams.get('state');
          assert.ok(state, 'the provider returns a state');
          changed.searchParams.set('state', `${state.slice(0, -1)}${state.endsWith('A') ? 'B' : 'A'}`);
          return changed.href;
        },
      });
      const callback = await signInWithProvider(page, baseURL, 'carol@example.com');
      assert.equal(rewritten.length, 1, 'the callback URL was rewritten once');
      assert.equal(new URL(page.url()).searchParams.get('state'), new URL(rewritten[0].to).searchParams.get('state'));
      await expectFailure(page, callback, { status: 400, text: /no longer valid/ });
    });
  });

  test('replaying a used callback URL is refused', async () => {
    await withPage(async (page) => {
      const { baseURL } = server;
      const callbacks = [];
      page.on('request', (request) => {
        if (request.isNavigationRequest() && new URL(request.url()).pathname === CALLBACK_PATH) {
          callbacks.push(request.url());
        }
      });
      const first = await signInWithProvider(page, baseURL, 'dave@example.com');
      assert.equal(first.status(), 303);
      await expectSignedInAs(page, baseURL, 'dave@example.com');
      assert.equal(callbacks.length, 1);
      const used = new URL(callbacks[0]);
      assert.ok(used.searchParams.get('code') && used.searchParams.get('state'), 'a code and a state came back');

      await signOut(page, baseURL);
      const callback = waitForCallback(page, baseURL);
      await page.goto(used.href);
      await expectFailure(page, await callback, { status: 400, text: /no longer valid/ });
    });
  });

  test('an ID token whose nonce does not match is refused', async () => {
    await withPage(async (page) => {
      const { baseURL } = server;
      const rewritten = await rewriteRedirect(page, `${baseURL}/auth/login`, {
        isTarget: (url) => url.startsWith(`${authorizationEndpoint}?`),
        rewrite: (url) => {
          const changed = new URL(url);
          assert.ok(changed.searchParams.get('nonce'), 'Tessera sends a nonce');
          changed.searchParams.set('nonce', 'a-nonce-tessera-never-made');
          return changed.href;
        },
      });
      const callback = await signInWithProvider(page, baseURL, 'alice@example.com');
      assert.equal(rewritten.length, 1, 'the authorization request was rewritten once');
      await expectFailure(page, callback, { status: 400, text: /did not match/ });
    });
  });

  test('an email the provider has not verified is refused', async () => {
    await withPage(async (page) => {
      const callback = await signInWithProvider(page, server.baseURL, 'mallory@example.com');
      await expectFailure(page, callback, { status: 403, text: /not verified/ });
    });
  });

  test('a person with no Tessera account is refused', async () => {
    await withPage(async (page) => {
      const callback = await signInWithProvider(page, server.baseURL, 'eve@example.com');
      await expectFailure(page, callback, { status: 403, text: /No Tessera account/ });
    });
  });
});
