/**
 * A real OpenID provider for the end-to-end suite (panva's oidc-provider with its development
 * sign-in pages: any password is accepted for a known account). Playwright starts it before
 * Switchyard, whose SSO settings point here (playwright.config.ts).
 *
 * People's groups can be changed while it runs, as an admin would at a real provider:
 *   PUT /test/accounts/<id>/groups  with a JSON array of group names.
 */
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.E2E_OIDC_PORT ?? 3211);
const issuer = `http://127.0.0.1:${port}`;
const redirectUri = process.env.E2E_OIDC_REDIRECT_URI;
if (!redirectUri) throw new Error('set E2E_OIDC_REDIRECT_URI to Switchyard callback URL');

/** A static account store; only the groups change. */
const accounts = new Map([
  ['ada', { name: 'Ada Lovelace', email: 'ada@example.test', groups: ['ml-ops'] }],
  ['grace', { name: 'Grace Hopper', email: 'grace@example.test', groups: ['finance'] }],
]);

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'switchyard-e2e',
      client_secret: 'switchyard-e2e-secret',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    },
  ],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email'],
    groups: ['groups'],
  },
  // Off, so the groups ride in the ID token as most providers configure them; the userinfo
  // fallback is covered by Switchyard's own code path when a provider leaves them out.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['switchyard-e2e-cookie-key'] },
  async findAccount(_ctx, id) {
    const account = accounts.get(id);
    if (!account) return undefined;
    return {
      accountId: id,
      claims: async () => ({
        sub: id,
        preferred_username: id,
        name: account.name,
        email: account.email,
        groups: [...account.groups],
      }),
    };
  },
});
provider.on('server_error', (_ctx, error) => console.error('oidc-provider error', error));

const callback = provider.callback();
const server = http.createServer((req, res) => {
  const match = /^\/test\/accounts\/([^/]+)\/groups$/.exec(req.url ?? '');
  if (!match) return callback(req, res);
  const account = accounts.get(decodeURIComponent(match[1]));
  if (req.method !== 'PUT' || !account) {
    res.writeHead(account ? 405 : 404).end();
    return;
  }
  let body = '';
  req.on('data', (chunk) => {
    body += chunk;
  });
  req.on('end', () => {
    account.groups = JSON.parse(body);
    res.writeHead(204).end();
  });
});
server.listen(port, '127.0.0.1', () => console.log(`OpenID provider for e2e at ${issuer}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
