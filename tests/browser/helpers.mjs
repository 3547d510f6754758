// Shared helpers for the browser tests: a throw-away `tessera demo` server and the system Chromium.
//
// Nothing here skips: a missing binary or browser is a test failure with a message that says
// what to do about it.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BINARY = process.env.TESSERA_BIN || path.join(ROOT, 'target', 'debug', 'tessera');
export const CHROMIUM = '/usr/bin/chromium';
export const TOKENS_PATH = '/orgs/acme/settings/tokens';
export const REVEAL_TEXT = 'Copy this key now. It will not be shown again.';
export const CLIPBOARD_FALLBACK =
  'Clipboard copy unavailable. Select the key text manually and copy it before navigating away.';
export const SECRET_SHAPE = /^tsr_at_[0-9A-Za-z]{38}$/;
export const VIEWPORT = { width: 1280, height: 900 };

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Environment for the server: ours, minus any TESSERA_* setting that could leak in from the caller. */
function serverEnv() {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('TESSERA_')) env[key] = value;
  }
  env.NO_COLOR = '1';
  return env;
}

/**
 * `tessera demo` with flags, or (`command: 'serve'`) `tessera serve` configured by environment
 * variables only, exactly as an operator starts it.
 */
function spawnServer(dir, port, extraEnv, command = 'demo') {
  return new Promise((resolve, reject) => {
    const databaseUrl = `sqlite://${path.join(dir, 'demo.db')}`;
    const args =
      command === 'demo' ? ['demo', '--bind', `127.0.0.1:${port}`, '--database-url', databaseUrl] : ['serve'];
    const env =
      command === 'demo'
        ? { ...serverEnv(), ...extraEnv }
        : {
            ...serverEnv(),
            TESSERA_BIND: `127.0.0.1:${port}`,
            TESSERA_PUBLIC_URL: `http://127.0.0.1:${port}`,
            TESSERA_DATABASE_URL: databaseUrl,
            ...extraEnv,
          };
    if (command !== 'demo') prepare(databaseUrl, env);
    const child = spawn(BINARY, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let settled = false;
    const finish = (error, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(value);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(new Error(`tessera ${command} did not report "running at" within ${START_TIMEOUT_MS} ms.\n${stderr}`));
    }, START_TIMEOUT_MS);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = stdout.match(/Tessera is running at (http:\/\/\S+?)\/?\s/);
      if (match) finish(null, { child, baseURL: match[1], databaseUrl, logs: () => stderr });
    });
    child.stderr.on('data', (chunk) => {
      stderr = (stderr + chunk).slice(-20_000);
    });
    child.on('error', (error) => finish(new Error(`cannot start ${BINARY}: ${error.message}`)));
    child.on('exit', (code, signal) =>
      finish(Object.assign(new Error(`tessera ${command} exited early (${signal || code}).\n${stderr}`), { stderr })),
    );
  });
}

let preparing;

/** Runs the caller's set-up (operator commands) against the database before `serve` starts. */
function prepare(databaseUrl, env) {
  if (preparing) preparing(databaseUrl, env);
}

/**
 * `startServe({ env, prepare })`: `tessera serve` as in production (OpenID settings in `env`, no
 * dev sign-in); `prepare(databaseUrl)` runs operator commands first, as an operator would.
 */
export function startServe({ env = {}, prepare: setUp } = {}) {
  return startDemo({ env, command: 'serve', prepare: setUp });
}

/**
 * Start `tessera demo` on a free loopback port with a fresh SQLite database in a fresh temp dir.
 * `env` adds TESSERA_* settings. Returns { baseURL, databaseUrl, stop() }.
 */
export async function startDemo({ env = {}, command = 'demo', prepare: setUp } = {}) {
  assert.ok(
    fs.existsSync(BINARY),
    `${BINARY} is missing: run \`cargo build\` first (scripts/test does).`,
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-browser-'));
  let lastError;
  // The port is free when we pick it but may be taken before the server binds: try a few.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    try {
      preparing = setUp;
      const { child, baseURL, databaseUrl, logs } = await spawnServer(dir, port, env, command);
      const stop = async () => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
          await exited;
          clearTimeout(timer);
        }
        fs.rmSync(dir, { recursive: true, force: true });
      };
      return { baseURL, databaseUrl, stop, logs };
    } catch (error) {
      lastError = error;
      if (!/address already in use|Address in use|AddrInUse/i.test(error.stderr || '')) break;
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

/**
 * In a describe block: one demo server and one Chromium for its tests, started before the first
 * and stopped after the last. Read `demo.server` and `demo.browser` inside the tests.
 */
export function demoAndBrowser(options) {
  const demo = { server: undefined, browser: undefined };
  before(async () => {
    demo.server = await startDemo(options);
    demo.browser = await launchBrowser();
  });
  after(async () => {
    await demo.browser?.close();
    await demo.server?.stop();
  });
  return demo;
}

/** Launch the system Chromium, headless, with the flags this machine needs. */
export async function launchBrowser() {
  assert.ok(
    fs.existsSync(CHROMIUM),
    `${CHROMIUM} is missing: install the Debian packages chromium and chromium-driver (scripts/test does).`,
  );
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/** A new browser context with the standard viewport. */
export async function newContext(browser, options = {}) {
  return browser.newContext({ viewport: VIEWPORT, ...options });
}

/** Use the dev sign-in as `email`; ends on the tokens page. */
export async function signIn(page, baseURL, email) {
  await page.goto(`${baseURL}/sign-in`);
  await page.getByRole('button', { name: `Sign in as ${email}`, exact: true }).click();
  await page.waitForURL(`${baseURL}${TOKENS_PATH}`);
  await page.locator('.topbar .email', { hasText: email }).waitFor();
}

/** Open "Generate token", fill the name, tick the scopes (and pick an expiry) and submit; returns the shown secret. */
export async function generateToken(page, name, scopes, { expiry } = {}) {
  const generate = page.locator('details.card.generate');
  await generate.locator('summary', { hasText: 'Generate token' }).click();
  const form = generate.locator('form');
  await form.locator('input[name="name"]').fill(name);
  for (const scope of scopes) {
    await form.locator(`input[name="scopes"][value="${scope}"]`).check();
  }
  if (expiry) await form.locator('select[name="expiry"]').selectOption(expiry);
  await form.getByRole('button', { name: 'Generate token', exact: true }).click();
  const reveal = page.locator('.callout.reveal');
  await reveal.waitFor();
  const secret = (await reveal.locator('code#new-secret').textContent()).trim();
  return { reveal, secret };
}

/** Generate a personal access token for the signed-in person's current org; returns its secret. */
export async function generatePersonalToken(page, baseURL, name) {
  await page.goto(`${baseURL}/account/tokens`);
  const generate = page.locator('details.card.generate');
  await generate.locator('summary', { hasText: 'Generate personal token' }).click();
  await generate.locator('input[name="name"]').fill(name);
  await generate.getByRole('button', { name: 'Generate personal token', exact: true }).click();
  const secret = (await page.locator('.callout.reveal code#new-secret').textContent()).trim();
  assert.match(secret, /^tsr_pat_[0-9A-Za-z]{38}$/);
  return secret;
}

/** The list row of the credential called `name`. */
export function row(page, name) {
  return page.locator(`tr[data-credential="${name.replace(/"/g, '\\"')}"]`);
}

/** Text of the page as a reader sees it. */
export async function visibleText(page) {
  return page.locator('body').innerText();
}

/** Runs an operator command of the real binary against the demo's database. */
export function tesseraCli(databaseUrl, args) {
  const result = spawnSync(BINARY, args, { env: { ...serverEnv(), TESSERA_DATABASE_URL: databaseUrl }, encoding: 'utf8' });
  assert.equal(result.status, 0, `tessera ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

// ---------------------------------------------------------------------------------------------
// Single sign-on against the test OpenID provider (tests/oidc/provider.mjs)

export const SSO_LINK = 'Sign in with single sign-on';
export const CALLBACK_PATH = '/auth/callback';

/** Fail every request that would leave the machine (the provider's pages import a web font). */
export async function blockNonLoopback(context) {
  await context.route(/^(?!https?:\/\/127\.0\.0\.1[:/])[a-z][a-z0-9+.-]*:\/\//i, (route) => route.abort());
}

/** Resolves with the response to the next navigation to Tessera's /auth/callback. */
export function waitForCallback(page, baseURL) {
  const origin = new URL(baseURL).origin;
  return page.waitForResponse((response) => {
    const url = new URL(response.url());
    return url.origin === origin && url.pathname === CALLBACK_PATH && response.request().isNavigationRequest();
  });
}

/**
 * Drive the provider's development pages until the browser is back on Tessera: log in as
 * `email` (any password), then approve the consent. `cancel: 'login' | 'consent'` clicks the
 * provider's "[ Cancel ]" link on that page instead, which sends error=access_denied back.
 * A provider that remembers the person and the grant sends the browser straight back.
 */
export async function completeProviderSignIn(page, baseURL, email, { cancel } = {}) {
  const origin = new URL(baseURL).origin;
  const loginSubmit = page.locator('form:has(input[name="login"]) button[type="submit"]');
  const consentSubmit = page.locator('form:has(input[name="prompt"][value="consent"]) button[type="submit"]');
  const cancelLink = page.getByRole('link', { name: '[ Cancel ]', exact: true });
  for (let step = 0; step < 4; step += 1) {
    if (new URL(page.url()).origin === origin) return;
    await loginSubmit.or(consentSubmit).first().waitFor();
    const atLogin = await loginSubmit.isVisible();
    if (cancel === (atLogin ? 'login' : 'consent')) {
      await Promise.all([page.waitForURL((url) => url.origin === origin), cancelLink.click()]);
      return;
    }
    if (atLogin) {
      await page.locator('input[name="login"]').fill(email);
      await page.locator('input[name="password"]').fill('any password works here');
      await loginSubmit.click();
      await loginSubmit.waitFor({ state: 'detached' });
    } else {
      await consentSubmit.click();
      await consentSubmit.waitFor({ state: 'detached' });
    }
  }
  throw new Error(`still at the provider after 4 steps: ${page.url()}`);
}

/**
 * From /sign-in, follow "Sign in with single sign-on" and sign in at the provider as `email`.
 * Returns the response of the /auth/callback navigation (its status); the page is wherever
 * Tessera sent the browser (the tokens page, or a "Sign-in failed" page).
 */
export async function signInWithProvider(page, baseURL, email, options = {}) {
  const callback = waitForCallback(page, baseURL);
  callback.catch(() => {}); // awaited below; never an unhandled rejection if a step fails first
  await page.goto(`${baseURL}/sign-in`);
  const link = page.getByRole('link', { name: SSO_LINK, exact: true });
  assert.equal(await link.getAttribute('href'), '/auth/login');
  const signInPage = page.url();
  await Promise.all([page.waitForURL((url) => url.href !== signInPage), link.click()]);
  await completeProviderSignIn(page, baseURL, email, options);
  return callback;
}

/** The browser is on the tokens page, signed in as `email`. */
export async function expectSignedInAs(page, baseURL, email) {
  await page.waitForURL(`${baseURL}${TOKENS_PATH}`);
  await page.locator('.topbar .email', { hasText: email }).waitFor();
  assert.equal((await page.locator('.topbar .email').innerText()).trim(), email);
}

/** Sign out with the top bar's button; ends on /sign-in. */
export async function signOut(page, baseURL) {
  await page.locator('.topbar').getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.waitForURL(`${baseURL}/sign-in`);
}

/** Nobody is signed in: the tokens page sends the browser to /sign-in. */
export async function expectSignedOut(page, baseURL) {
  await page.goto(`${baseURL}${TOKENS_PATH}`);
  assert.equal(new URL(page.url()).pathname, '/sign-in', 'the tokens page redirects to sign-in');
  assert.equal(await page.locator('.topbar .email').count(), 0, 'no signed-in person in a top bar');
}

/**
 * Rewrite the redirect that would send the browser to a URL `isTarget` accepts.
 *
 * page.route only sees the first request of a redirect chain, so for each navigation request
 * matching `pattern` (and `when`, if given) this fetches the chain itself, without following
 * redirects, using the context's cookies. When a Location is a target, the browser is sent to
 * `rewrite(url)` instead; when the chain ends elsewhere, the browser is sent to where it went.
 */
export async function rewriteRedirect(page, pattern, { when = () => true, isTarget, rewrite }) {
  const rewritten = [];
  await page.route(pattern, async (route) => {
    const request = route.request();
    if (!request.isNavigationRequest() || !when(request)) return route.fallback();
    let response = await route.fetch({ maxRedirects: 0 });
    let url = request.url();
    for (let hop = 0; hop < 10; hop += 1) {
      const location = response.headers().location;
      if (response.status() < 300 || response.status() > 399 || !location) break;
      const next = new URL(location, url).href;
      if (isTarget(next)) {
        const changed = rewrite(next);
        rewritten.push({ from: next, to: changed });
        return route.fulfill({ status: 303, headers: { location: changed, 'cache-control': 'no-store' } });
      }
      url = next;
      response = await page.context().request.get(next, { maxRedirects: 0 });
    }
    if (url === request.url()) return route.fulfill({ response });
    // The chain went on past the intercepted request: let the browser load its end itself.
    return route.fulfill({ status: 303, headers: { location: url, 'cache-control': 'no-store' } });
  });
  return rewritten;
}
