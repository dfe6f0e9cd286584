import { type APIRequestContext, expect, type Page, test } from '@playwright/test';
import { BASE_URL, E2E_ADMIN_PASSWORD } from '../../playwright.config';

/** A tRPC mutation with the request context's session cookie and the Origin a browser sends. */
async function mutate(request: APIRequestContext, path: string, data: unknown) {
  const res = await request.post(`/api/trpc/${path}`, { data, headers: { origin: BASE_URL } });
  expect(res.status(), `${path}: ${await res.text()}`).toBe(200);
}

/** Creates a user with `role` through the API, signed in as the admin; returns its credentials. */
async function createUser(request: APIRequestContext, role: 'viewer' | 'operator') {
  await mutate(request, 'auth.login', { username: 'admin', password: E2E_ADMIN_PASSWORD });
  const username = `${role}-${Date.now()}`;
  const password = `${username}-long-secret`;
  await mutate(request, 'users.create', { username, role, password });
  return { username, password };
}

async function signIn(page: Page, next: string, user: { username: string; password: string }) {
  await page.goto(next);
  await expect(page).toHaveURL(/\/login/);
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(new RegExp(`${next}$`));
}

test('a viewer sees who they are, and every change action is out of reach with the reason', async ({
  page,
  request,
}) => {
  const viewer = await createUser(request, 'viewer');
  await signIn(page, '/allocations', viewer);

  const me = page.getByTestId('current-user');
  await expect(me).toContainText(viewer.username);
  await expect(page.getByTestId('current-role')).toHaveText('viewer');
  await expect(me).toHaveAttribute('title', /viewer: reads the fleet/);
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Admin' })).toHaveCount(0);

  // The board: no move panel, and why.
  await expect(page.getByTestId('board-deployments')).toBeVisible();
  await expect(page.getByTestId('move-panel')).toHaveCount(0);
  await expect(page.locator('[data-testid="not-allowed"][data-action="moveGpus"]')).toHaveText(
    'Moving GPUs needs the operator role; you are a viewer.',
  );

  // The plan: no Apply, and the auto-mode controls are disabled with the reason on them.
  await page.goto('/allocations/plan');
  await expect(page.getByTestId('plan')).toBeVisible();
  await expect(page.getByRole('button', { name: /Apply selected/ })).toHaveCount(0);
  const autoSwitch = page.getByTestId('auto-mode-switch');
  await expect(autoSwitch).toBeDisabled();
  await expect(autoSwitch).toHaveAttribute(
    'title',
    'Changing auto mode needs the operator role; you are a viewer.',
  );
  await expect(page.getByRole('button', { name: 'Save guardrails' })).toBeDisabled();
  await expect(page.locator('[data-testid="not-allowed"][data-action="changeAutoMode"]')).toBeVisible();

  // Stress tests: no form to start one, and why.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Stress tests' }).click();
  await expect(page).toHaveURL(/\/stress$/);
  await expect(page.locator('[data-testid="not-allowed"][data-action="startStress"]')).toHaveText(
    'Starting a stress test needs the operator role; you are a viewer.',
  );
  await expect(page.getByTestId('stress-start-form')).toHaveCount(0);
  await expect(page.getByTestId('stress-start')).toHaveCount(0);

  // A node: Cordon is disabled with the reason; the identity actions say they are for admins.
  await page.goto('/nodes');
  await page.getByRole('link', { name: 'use1-h100-01' }).click();
  await expect(page.getByTestId('node-title')).toHaveText('use1-h100-01');
  const cordon = page.locator('[data-testid="not-allowed"][data-action="cordon"]');
  await expect(cordon.getByRole('button', { name: 'Cordon' })).toBeDisabled();
  await expect(cordon).toContainText('Needs the operator role');
  await expect(cordon).toHaveAttribute('title', 'Cordoning needs the operator role; you are a viewer.');
  await expect(page.locator('[data-testid="not-allowed"][data-action="manageNodeIdentity"]')).toContainText(
    'needs the admin role',
  );
  await expect(page.getByTestId('node-identity-actions')).toHaveCount(0);

  // An admin page says what it needs instead of failing.
  await page.goto('/admin/users');
  await expect(page.getByText('Managing users needs the admin role; you are a viewer.')).toBeVisible();
});

test('an operator has the change actions enabled, and still no Admin section', async ({ page, request }) => {
  const operator = await createUser(request, 'operator');
  await signIn(page, '/allocations', operator);

  await expect(page.getByTestId('current-role')).toHaveText('operator');
  await expect(page.getByRole('navigation', { name: 'Admin' })).toHaveCount(0);

  await expect(page.getByTestId('move-panel')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Preview' })).toBeVisible();
  await expect(page.getByTestId('not-allowed')).toHaveCount(0);

  await page.goto('/allocations/plan');
  await expect(page.getByTestId('auto-mode-switch')).toBeEnabled();
  await expect(page.getByTestId('auto-mode-switch')).not.toHaveAttribute('title', /.+/);
  await expect(page.locator('[data-testid="not-allowed"][data-action="changeAutoMode"]')).toHaveCount(0);

  await page.goto('/stress');
  await expect(page.getByTestId('stress-start')).toBeEnabled();
  await expect(page.getByTestId('not-allowed')).toHaveCount(0);

  await page.goto('/nodes');
  await page.getByRole('link', { name: 'use1-h100-01' }).click();
  await expect(page.getByTestId('cordon-toggle')).toBeEnabled();
  // Node identity stays an admin's: the operator is told so.
  await expect(page.locator('[data-testid="not-allowed"][data-action="manageNodeIdentity"]')).toHaveText(
    'Replacing, revoking or removing a node needs the admin role; you are an operator.',
  );
});
