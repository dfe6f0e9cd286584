import { expect, type Page, test } from '@playwright/test';
import { E2E_ADMIN_PASSWORD } from '../../playwright.config';

async function signIn(page: Page, next: string) {
  await page.goto(next);
  await expect(page).toHaveURL(/\/login/);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(E2E_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('an admin creates an API token, a script uses it, and revoking it shuts the script out', async ({
  page,
  request,
}) => {
  await signIn(page, '/admin/tokens');
  await expect(page.getByRole('heading', { name: 'API tokens' })).toBeVisible();
  const form = page.getByTestId('create-token-form');

  // A nameless token is refused with the server's words.
  await form.getByRole('button', { name: 'Create token' }).click();
  await expect(page.getByTestId('create-token-error')).toContainText('name: Name the token');

  const name = `ci-${Date.now()}`;
  await form.getByLabel('Name').fill(name);
  await form.getByRole('checkbox', { name: /^stress/ }).check();
  await form.getByLabel('Expires').selectOption({ label: '30 days' });
  await form.getByRole('button', { name: 'Create token' }).click();

  const secret = (await page.getByTestId('new-token-value').textContent())?.trim() ?? '';
  expect(secret).toMatch(/^syt_/);
  const row = page.getByTestId(`token-row-${name}`);
  await expect(row).toHaveAttribute('data-state', 'active');
  await expect(row).toContainText('read');
  await expect(row).toContainText('stress');
  await expect(row).toContainText('never'); // last used
  // The secret is shown once: the list holds only its prefix.
  await page.getByRole('button', { name: 'Done' }).click();
  await expect(page.getByTestId('new-token')).toHaveCount(0);
  await expect(page.getByText(secret)).toHaveCount(0);

  const asScript = () => request.get('/api/v1/gpus', { headers: { authorization: `Bearer ${secret}` } });
  expect((await asScript()).status()).toBe(200);
  // The list shows that the token has been used.
  await expect(async () => {
    await page.reload();
    await expect(row).not.toContainText('never', { timeout: 1_000 });
  }).toPass();

  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.getByRole('button', { name: `Revoke “${name}”` }).click();
  await expect(row).toHaveAttribute('data-state', 'revoked');
  expect((await asScript()).status()).toBe(401);
});

test('the API reference lists the operations with their scope and a curl example', async ({ page }) => {
  await signIn(page, '/');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API' }).click();
  await expect(page).toHaveURL(/\/api-docs$/);
  await expect(page.getByRole('heading', { name: 'API reference' })).toBeVisible();

  const list = page.getByTestId('api-op-get-/gpus');
  await expect(list).toContainText('/api/v1/gpus');
  await expect(list).toContainText('"read" scope');
  await expect(list).toContainText('curl -sS "$SWITCHYARD_URL/api/v1/gpus"');

  const cordon = page.getByTestId('api-op-post-/gpus/{gpuId}/cordon');
  await expect(cordon).toContainText('operator role or above');
  await expect(cordon).toContainText('"allocate" scope');
  await expect(cordon).toContainText('reason');
  await expect(cordon).toContainText('-X POST "$SWITCHYARD_URL/api/v1/gpus/$GPU_ID/cordon"');

  await expect(page.getByTestId('api-op-get-/admin/tokens')).toContainText(
    'not with API tokens: a console session only',
  );
});
