// `tessera serve` exactly as the README tells an operator to start it: environment variables
// only, OpenID Connect settings, a session key as `openssl rand -base64 64` prints it, no dev
// sign-in, an org made with the operator command. A person signs in through the provider's login
// form in Chromium, looks at Account → Sessions, signs out, and the cookie they had is dead.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { startProvider } from '../oidc/provider.mjs';
import {
  TOKENS_PATH,
  blockNonLoopback,
  expectSignedInAs,
  launchBrowser,
  newContext,
  signInWithProvider,
  signOut,
  startServe,
  tesseraCli,
} from './helpers.mjs';

/** 64 random bytes as openssl prints them: base64 wrapped at 64 characters, newline at the end. */
function opensslStyleKey() {
  const text = randomBytes(64).toString('base64');
  return `${text.slice(0, 64)}\n${text.slice(64)}\n`;
}

describe('tessera serve in production', () => {
  let provider;
  let server;
  let browser;

  before(async () => {
    provider = await startProvider();
    server = await startServe({
      env: {
        TESSERA_OIDC_ISSUER: provider.issuer,
        TESSERA_OIDC_CLIENT_ID: provider.clientId,
        TESSERA_OIDC_CLIENT_SECRET: provider.clientSecret,
        TESSERA_SESSION_KEY: opensslStyleKey(),
      },
      prepare: (databaseUrl) => {
        tesseraCli(databaseUrl, ['org', 'create', 'acme', 'Acme Corp', '--plan', 'team', '--owner', 'alice@example.com']);
      },
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await provider?.stop();
  });

  test('an owner signs in through the provider, sees the session, signs out, and a copied cookie opens nothing', async () => {
    const context = await newContext(browser);
    await blockNonLoopback(context);
    const page = await context.newPage();
    try {
      await page.goto(`${server.baseURL}/sign-in`);
      assert.equal(await page.locator('form[action="/auth/dev"]').count(), 0, 'no dev sign-in in production');

      const callback = await signInWithProvider(page, server.baseURL, 'alice@example.com');
      assert.equal(callback.status(), 303);
      await expectSignedInAs(page, server.baseURL, 'alice@example.com');

      await page.goto(`${server.baseURL}/account/sessions`);
      const current = page.locator('tr.current');
      await current.waitFor();
      assert.match(await current.innerText(), /Chrom(e|ium) on Linux/);
      assert.match(await current.innerText(), /This session/);

      // Cookies do not keep ports apart: the provider's own cookies on 127.0.0.1 are there too.
      const cookies = (await context.cookies(server.baseURL)).filter((c) => c.name === 'tessera_session');
      assert.equal(cookies.length, 1, 'one session cookie');
      assert.equal(cookies[0].httpOnly, true);
      assert.equal(cookies[0].sameSite, 'Lax');

      await page.goto(`${server.baseURL}${TOKENS_PATH}`);
      await signOut(page, server.baseURL);

      // The attacker's view: a fresh browser given the cookie alice had.
      const thief = await newContext(browser);
      try {
        await thief.addCookies(cookies);
        const stolen = await thief.newPage();
        await stolen.goto(`${server.baseURL}${TOKENS_PATH}`);
        assert.equal(new URL(stolen.url()).pathname, '/sign-in', 'the copied cookie is dead');
      } finally {
        await thief.close();
      }
    } finally {
      await context.close();
    }
  });
});
