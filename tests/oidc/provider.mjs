// A real OpenID provider for tests (npm `oidc-provider`), on plain http on 127.0.0.1.
//
// Module:  const { issuer, clientId, clientSecret, stop } = await startProvider({ port: 0 });
// CLI:     node tests/oidc/provider.mjs [--port N]
//          prints ONE line of JSON to stdout once ready:
//            {"issuer":"http://127.0.0.1:PORT","client_id":"tessera","client_secret":"..."}
//          then runs until stdin closes, SIGTERM or SIGINT. Everything else goes to stderr.
//
// One confidential client, `tessera` (client_secret_basic, authorization code, PKCE required,
// RS256 ID tokens). Any redirect URI http://127.0.0.1:<port>/auth/callback is accepted, as
// RFC 8252 §7.3 allows for loopback: Tessera's test servers listen on random ports.
//
// Accounts: the login typed into the development login form is the email; any password.
//   alice, bob, carol, dave, eve @example.com   email_verified: true
//   mallory@example.com                         email_verified: false
// The subject is `sub-` + the first 16 hex digits of sha256(email): stable, never the email.
//
// TESSERA_TEST_OIDC_CODE_TTL (seconds, default 60) sets the authorization code lifetime, for
// tests of expired codes.
import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

import Provider from 'oidc-provider';

export const CLIENT_ID = 'tessera';
export const CLIENT_SECRET = 'tessera-test-client-secret-not-for-production';
export const CALLBACK_PATH = '/auth/callback';

const ACCOUNTS = new Map(
  [
    ['alice@example.com', 'Alice Example', true],
    ['bob@example.com', 'Bob Example', true],
    ['carol@example.com', 'Carol Example', true],
    ['dave@example.com', 'Dave Example', true],
    ['eve@example.com', 'Eve Example', true],
    ['mallory@example.com', 'Mallory Example', false],
  ].map(([email, name, verified]) => [email, { email, name, verified }]),
);

/** The subject the provider gives `email`: stable across runs and distinct from the email. */
export function subjectFor(email) {
  return `sub-${createHash('sha256').update(email).digest('hex').slice(0, 16)}`;
}

const LOOPBACK_CALLBACK = /^http:\/\/127\.0\.0\.1:([0-9]{1,5})\/auth\/callback$/;

/** True for http://127.0.0.1:<port>/auth/callback with a port in 1..65535 and nothing else. */
export function isLoopbackCallback(value) {
  if (typeof value !== 'string') return false;
  const match = LOOPBACK_CALLBACK.exec(value);
  if (!match) return false;
  const port = Number(match[1]);
  return port >= 1 && port <= 65535 && String(port) === match[1];
}

function codeTtlSeconds() {
  const raw = process.env.TESSERA_TEST_OIDC_CODE_TTL;
  if (raw === undefined || raw === '') return 60;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 1) {
    throw new Error(`TESSERA_TEST_OIDC_CODE_TTL must be a whole number of seconds >= 1, got ${JSON.stringify(raw)}`);
  }
  return seconds;
}

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: `test-${randomUUID()}`, alg: 'RS256', use: 'sig' };
}

const ACCOUNTS_BY_SUBJECT = new Map([...ACCOUNTS.values()].map((account) => [subjectFor(account.email), account]));

// oidc-provider uses the account id as `sub`, so the account id is the subject; the typed email
// is turned into it when the login form is submitted (see startProvider).
async function findAccount(ctx, id) {
  const account = ACCOUNTS_BY_SUBJECT.get(id);
  if (!account) return undefined;
  return {
    accountId: id,
    async claims() {
      return { sub: id, email: account.email, email_verified: account.verified, name: account.name };
    },
  };
}

const escapeHtml = (value) =>
  String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// Errors the provider cannot send back to the client (e.g. an unknown redirect URI).
async function renderError(ctx, out) {
  ctx.type = 'html';
  ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>OpenID provider error</title></head>
<body><h1>OpenID provider error</h1><p><code>${escapeHtml(out.error)}</code>: ${escapeHtml(out.error_description)}</p></body></html>`;
}

function configuration() {
  return {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        // One registered URI; any other loopback port is accepted by the override below.
        redirect_uris: [`http://127.0.0.1:8080${CALLBACK_PATH}`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'RS256',
      },
    ],
    pkce: { required: () => true },
    scopes: ['openid', 'email', 'profile'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: false } },
    clientBasedCORS: () => false,
    renderError,
    findAccount,
    cookies: { keys: ['tessera-test-cookie-key-1', 'tessera-test-cookie-key-2'] },
    jwks: { keys: [signingKey()] },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: codeTtlSeconds(),
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
  };
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

/**
 * Start the provider on 127.0.0.1 (`port` 0 picks a free one).
 * Returns { issuer, clientId, clientSecret, stop() }.
 */
export async function startProvider({ port = 0 } = {}) {
  // The issuer carries the port, so listen first and hand requests over once the provider exists.
  let handler = (req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = http.createServer((req, res) => handler(req, res));
  const boundPort = await listen(server, port);
  const issuer = `http://127.0.0.1:${boundPort}`;

  let provider;
  try {
    provider = new Provider(issuer, configuration());
  } catch (error) {
    server.close();
    throw error;
  }

  // RFC 8252 §7.3: for loopback redirect URIs the port may vary. oidc-provider only relaxes the
  // port for `application_type: native`; this confidential web client gets the same rule, for
  // exactly http://127.0.0.1:<port>/auth/callback.
  const { prototype } = provider.Client;
  const registeredOnly = prototype.redirectUriAllowed;
  prototype.redirectUriAllowed = function redirectUriAllowed(value) {
    if (this.clientId === CLIENT_ID && isLoopbackCallback(value)) return true;
    return registeredOnly.call(this, value);
  };

  // The development login form submits the typed login as the account id: map a known email to
  // its subject, so the session, the grant and the ID token all carry the subject.
  const interactionResult = provider.interactionResult.bind(provider);
  provider.interactionResult = (req, res, result, options) => {
    const login = result?.login;
    if (login && typeof login.accountId === 'string') {
      const account = ACCOUNTS.get(login.accountId.trim().toLowerCase());
      if (account) result = { ...result, login: { ...login, accountId: subjectFor(account.email) } };
    }
    return interactionResult(req, res, result, options);
  };

  provider.on('server_error', (ctx, error) => console.error('oidc-provider server_error:', error));
  handler = provider.callback();

  let stopped;
  const stop = () => {
    stopped ||= new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return stopped;
  };
  return { issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, stop };
}

function parsePort(argv) {
  let port = 0;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    let value;
    if (arg === '--port') value = argv[(i += 1)];
    else if (arg.startsWith('--port=')) value = arg.slice('--port='.length);
    else throw new Error(`unknown argument ${JSON.stringify(arg)}; usage: provider.mjs [--port N]`);
    port = Number(value);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new Error(`--port needs a port number (0 for any free port), got ${JSON.stringify(value)}`);
    }
  }
  return port;
}

async function main() {
  // stdout carries exactly one line: send every log (oidc-provider's notices use console.info) to stderr.
  for (const name of ['log', 'info', 'debug']) console[name] = (...args) => console.error(...args);

  const port = parsePort(process.argv.slice(2));
  const { issuer, clientId, clientSecret, stop } = await startProvider({ port });

  let exiting = false;
  const exit = async (why) => {
    if (exiting) return;
    exiting = true;
    console.error(`oidc test provider: stopping (${why})`);
    await stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => exit('SIGTERM'));
  process.on('SIGINT', () => exit('SIGINT'));
  // The parent holds our stdin open; when it ends (the parent exited or crashed) we go too.
  process.stdin.on('end', () => exit('stdin closed'));
  process.stdin.on('close', () => exit('stdin closed'));
  process.stdin.on('error', () => exit('stdin error'));
  process.stdin.resume();

  process.stdout.write(`${JSON.stringify({ issuer, client_id: clientId, client_secret: clientSecret })}\n`);
  console.error(`oidc test provider: ${issuer} (client ${clientId})`);
}

function runAsScript() {
  if (!process.argv[1]) return false;
  try {
    return fs.realpathSync(process.argv[1]) === fs.realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (runAsScript()) {
  main().catch((error) => {
    console.error(`oidc test provider: ${error.stack || error}`);
    process.exit(1);
  });
}
