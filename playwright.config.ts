import { defineConfig } from '@playwright/test';

/**
 * End-to-end: the whole product as a user gets it (`npm start` with the demo fleet) on its
 * own port and data directory, driven through Debian's Chromium (e2e/ensure-chromium.mjs).
 * A real OpenID provider starts first, on a port fixed here, so the server's single sign-on
 * settings can point at it; password sign-in stays on for the other specs.
 */
const PORT = Number(process.env.E2E_PORT ?? 3210);
export const BASE_URL = `http://127.0.0.1:${PORT}`;
export const E2E_ADMIN_PASSWORD = 'e2e-admin-password';
/** The OpenID provider e2e/support/oidc-provider.mjs runs for the single sign-on specs. */
export const OIDC_ISSUER = `http://127.0.0.1:${Number(process.env.E2E_OIDC_PORT ?? 3211)}`;

export default defineConfig({
  testDir: 'e2e',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: BASE_URL,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  projects: [
    { name: 'api', testDir: 'e2e/api' },
    { name: 'ui', testDir: 'e2e/ui' },
  ],
  webServer: [
    {
      command: 'node e2e/support/oidc-provider.mjs',
      url: `${OIDC_ISSUER}/.well-known/openid-configuration`,
      timeout: 30_000,
      reuseExistingServer: false,
      stdout: 'ignore',
      stderr: 'pipe',
      env: {
        E2E_OIDC_PORT: new URL(OIDC_ISSUER).port,
        E2E_OIDC_REDIRECT_URI: `${BASE_URL}/api/auth/oidc/callback`,
      },
    },
    {
      command: 'rm -rf .switchyard-e2e && node scripts/start.mjs',
      url: `${BASE_URL}/api/health`,
      timeout: 300_000,
      reuseExistingServer: false,
      stdout: 'pipe',
      stderr: 'pipe',
      gracefulShutdown: { signal: 'SIGTERM', timeout: 20_000 },
      env: {
        PORT: String(PORT),
        HOST: '127.0.0.1',
        SWITCHYARD_DATA_DIR: '.switchyard-e2e',
        SWITCHYARD_PG_PORT: process.env.E2E_PG_PORT ?? '54349',
        SWITCHYARD_ADMIN_PASSWORD: E2E_ADMIN_PASSWORD,
        SWITCHYARD_DEMO: 'on',
        DATABASE_URL: '',
        SWITCHYARD_OIDC_ISSUER: OIDC_ISSUER,
        SWITCHYARD_OIDC_NAME: 'Test IdP',
        SWITCHYARD_OIDC_CLIENT_ID: 'switchyard-e2e',
        SWITCHYARD_OIDC_CLIENT_SECRET: 'switchyard-e2e-secret',
        SWITCHYARD_OIDC_ROLE_MAP: 'gpu-admins=admin,ml-ops=operator',
      },
    },
  ],
});
