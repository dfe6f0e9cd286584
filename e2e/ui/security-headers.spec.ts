import { expect, type Page, test } from '@playwright/test';
import { E2E_ADMIN_PASSWORD } from '../../playwright.config';

async function signIn(page: Page, next = '/') {
  await page.goto(next);
  await expect(page).toHaveURL(/\/login/);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(E2E_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Every console page, as a signed-in person opens it. */
const PAGES = [
  '/',
  '/nodes',
  '/deployments',
  '/allocations',
  '/allocations/plan',
  '/allocations/history',
  '/stress',
  '/stress/compare',
  '/admin/tokens',
  '/api-docs',
];

test('the console works under its Content-Security-Policy, with no violation reported', async ({ page }) => {
  const violations: string[] = [];
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) violations.push(message.text());
  });
  page.on('pageerror', (error) => violations.push(`page error: ${error.message}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      console.error(
        `Content Security Policy violation on ${location.pathname}: ${event.violatedDirective} ${event.blockedURI} at ${event.sourceFile}:${event.lineNumber}:${event.columnNumber}`,
      );
    });
  });

  await signIn(page);
  await expect(page).toHaveURL(/\/$/);
  // Live data arrives over socket.io (connect-src) and draws on the canvas heatmap.
  await expect(page.getByTestId('gpu-heatmap')).toHaveAttribute('data-mean-util', /\d/, { timeout: 30_000 });

  for (const path of PAGES) {
    const response = await page.goto(path);
    expect(response?.status(), path).toBe(200);
    const headers = response?.headers() ?? {};
    expect(headers['content-security-policy'], path).toContain("frame-ancestors 'none'");
    expect(headers['x-frame-options'], path).toBe('DENY');
    expect(headers['x-content-type-options'], path).toBe('nosniff');
    // A signed-in page is never kept by a shared cache.
    expect(headers['cache-control'], path).toBe('no-store');
    await expect(page.locator('main')).toBeVisible();
    await page.waitForLoadState('load');
  }
  // The API reference renders its operations from the OpenAPI document.
  await page.goto('/api-docs');
  await expect(page.getByText('/allocation/changes').first()).toBeVisible();

  expect(violations).toEqual([]);
});

test('build assets stay cacheable, and the sign-in page carries the headers too', async ({ page }) => {
  const assets: { url: string; cacheControl: string | undefined }[] = [];
  page.on('response', (response) => {
    if (response.url().includes('/_next/static/')) {
      assets.push({ url: response.url(), cacheControl: response.headers()['cache-control'] });
    }
  });
  const login = await page.goto('/login');
  expect(login?.headers()['content-security-policy']).toContain("default-src 'self'");
  expect(login?.headers()['referrer-policy']).toBe('same-origin');
  await expect(page.getByLabel('Username')).toBeVisible();
  expect(assets.length).toBeGreaterThan(0);
  for (const asset of assets) expect(asset.cacheControl, asset.url).not.toBe('no-store');
});
