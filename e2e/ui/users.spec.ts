import { expect, type Page, test } from '@playwright/test';
import { E2E_ADMIN_PASSWORD } from '../../playwright.config';

async function signIn(page: Page, username: string, password: string) {
  await expect(page).toHaveURL(/\/login/);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('an admin creates an operator, who signs in and sees no Admin section', async ({ page }) => {
  await page.goto('/admin/users');
  await signIn(page, 'admin', E2E_ADMIN_PASSWORD);
  await expect(page.getByRole('heading', { level: 1, name: 'Users' })).toBeVisible();
  const adminNav = page.getByRole('navigation', { name: 'Admin' });
  await expect(adminNav.getByRole('link', { name: 'Users' })).toBeVisible();
  await expect(adminNav.getByRole('link', { name: 'API tokens' })).toBeVisible();

  const form = page.getByTestId('create-user-form');
  const username = `op-${Date.now()}`;
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Role').selectOption('operator');
  await form.getByRole('radio', { name: /Set it now/ }).check();
  // A weak password is refused with the server's words, naming the field.
  await form.getByLabel('Initial password').fill('short');
  await form.getByRole('button', { name: 'Create user' }).click();
  await expect(page.getByTestId('create-user-error')).toContainText('password: Use at least 12 characters');

  const password = 'operator-e2e-password';
  await form.getByLabel('Initial password').fill(password);
  await form.getByRole('button', { name: 'Create user' }).click();
  const row = page.getByTestId(`user-row-${username}`);
  await expect(row).toHaveAttribute('data-state', 'active');
  await expect(row.getByRole('combobox', { name: `Role of ${username}` })).toHaveValue('operator');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(page, username, password);
  await expect(page.getByTestId('current-user')).toContainText(username);
  await expect(page.getByTestId('current-user')).toContainText('operator');
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Admin' })).toHaveCount(0);

  // Their own account page lists this session as the current one.
  await page.getByTestId('current-user').click();
  await expect(page.getByRole('heading', { name: 'Your account' })).toBeVisible();
  await expect(page.getByTestId('sessions-table').locator('tr[data-current="true"]')).toHaveCount(1);
});
