// The JSON API against its own OpenAPI document: schemathesis (PyPI) generates requests from
// /api/v1/openapi.json, valid and invalid, and fails on any server error, any answer the
// document does not describe (status, content type, headers, body schema), an invalid request
// accepted, a method answered other than 405, or a route that ignores a missing credential.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {
  ROOT,
  generatePersonalToken,
  launchBrowser,
  newContext,
  signIn,
  startDemo,
  tesseraCli,
} from './helpers.mjs';

const SCHEMATHESIS = path.join(ROOT, '.venv', 'bin', 'schemathesis');
const CONFIG = path.join(ROOT, 'tests', 'contract', 'schemathesis.toml');
// Every check but one: data that fits the document can still break a rule the document cannot
// state (a scope missing from the catalog, a taken name, the plan's cap), which is a 422.
const EXCLUDED_CHECKS = ['positive_data_acceptance'];

const RATE_LIMIT = '1000000';

function schemathesis(baseURL, { token, resourceServer }, filter) {
  return run(
    SCHEMATHESIS,
    [
      '--config-file', CONFIG,
      'run', `${baseURL}/api/v1/openapi.json`,
      '--checks', 'all',
      '--exclude-checks', EXCLUDED_CHECKS.join(','),
      '--seed', '20261123',
      '--no-color',
      ...filter,
    ],
    { TESSERA_CONTRACT_TOKEN: token, TESSERA_CONTRACT_RESOURCE_SERVER: resourceServer },
  );
}

function run(command, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    child.stderr.on('data', (chunk) => { output += chunk; });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

test('every /api/v1 answer is one the OpenAPI document describes', async (t) => {
  assert.ok(
    fs.existsSync(SCHEMATHESIS),
    `${SCHEMATHESIS} is missing: scripts/test installs tests/contract/requirements.txt into .venv.`,
  );
  // A high limit, so that the generated requests measure the contract and not the rate limiter.
  const demo = await startDemo({ env: { TESSERA_RATE_LIMIT_PER_MINUTE: RATE_LIMIT } });
  try {
    const browser = await launchBrowser();
    let token;
    const spare = [];
    try {
      const page = await (await newContext(browser)).newPage();
      await signIn(page, demo.baseURL, 'alice@example.com');
      token = await generatePersonalToken(page, demo.baseURL, 'API contract test');
      // Each operation that can revoke the calling token runs last, alone, with a token of its own.
      for (const name of ['API contract revoke own', 'API contract revoke in org']) {
        spare.push(await generatePersonalToken(page, demo.baseURL, name));
      }
    } finally {
      await browser.close();
    }
    const printed = tesseraCli(demo.databaseUrl, ['resource-server', 'create', 'API contract test']);
    const resourceServer = printed.match(/tsr_rs_[0-9A-Za-z]{38}/)?.[0];
    assert.ok(resourceServer, `no resource server secret in: ${printed}`);
    const credentials = { token, resourceServer };
    const me = await fetch(`${demo.baseURL}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(me.status, 200);
    assert.equal(me.headers.get('x-ratelimit-limit'), RATE_LIMIT);
    // Revoking the test's own token would turn every later request into a 401, then a 429 once
    // the address's failed-authentication budget is spent: those operations go last, each alone
    // with a token of its own.
    const revokers = ['DELETE /api/v1/me/tokens/{id}', 'DELETE /api/v1/orgs/{slug}/personal-tokens/{id}'];
    const exclude = revokers.flatMap((name) => ['--exclude-name', name]);
    const everythingElse = await schemathesis(demo.baseURL, credentials, exclude);
    const runs = [everythingElse];
    for (const [i, name] of revokers.entries()) {
      runs.push(await schemathesis(demo.baseURL, { ...credentials, token: spare[i] }, ['--include-name', name]));
    }
    for (const { code, output } of runs) {
      assert.equal(code, 0, `schemathesis found problems:\n${output}`);
      assert.doesNotMatch(output, /Rate limited|Authentication failed/, output);
    }
    const output = everythingElse.output;
    t.diagnostic(output.slice(output.indexOf('SUMMARY')));
    assert.match(output, /passed/i, output);
  } finally {
    await demo.stop();
  }
});
