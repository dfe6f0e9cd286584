import { expect, type Page, test } from '@playwright/test';
import { E2E_ADMIN_PASSWORD } from '../../playwright.config';

async function signIn(page: Page, next: string) {
  await page.goto(next);
  await expect(page).toHaveURL(/\/login/);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(E2E_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('an admin creates an enrollment token, sees the agent command once, and finds it in the audit log', async ({
  page,
  baseURL,
}) => {
  await signIn(page, '/admin/enrollment');
  await expect(page.getByRole('heading', { name: 'Clusters and enrollment' })).toBeVisible();
  const description = `rack-${Date.now()}`;
  const form = page.getByTestId('create-enrollment-token-form');
  await form.getByLabel('Cluster').selectOption('us-east-1');
  await form.getByLabel('Description').fill(description);
  await form.getByLabel('Machines (uses)').fill('2');
  await form.getByRole('button', { name: 'Create token' }).click();

  const command = (await page.getByTestId('agent-command-value').textContent())?.trim() ?? '';
  expect(command).toMatch(new RegExp(`^npm run agent -- --server ${baseURL} --token enr_\\S+$`));
  const token = command.split(' ').at(-1)!;
  const row = page.getByTestId('enrollment-token-row').filter({ hasText: description });
  await expect(row).toHaveAttribute('data-state', 'active');
  await expect(row).toContainText('0/2');
  // Shown once: after Done the secret is nowhere on the page.
  await page.getByRole('button', { name: 'Done' }).click();
  await expect(page.getByText(token)).toHaveCount(0);

  await page.goto('/admin/audit');
  await expect(page.getByRole('heading', { name: 'Audit log' })).toBeVisible();
  await page.getByLabel('Action (prefix)').fill('enrollmentToken.');
  await page.getByRole('button', { name: 'Apply' }).click();
  const event = page.getByTestId('audit-row').filter({ hasText: description });
  await expect(event).toHaveAttribute('data-action', 'enrollmentToken.create');
  await expect(event).toContainText('admin');
  await expect(page.getByRole('link', { name: 'Export CSV' })).toHaveAttribute(
    'href',
    /\/api\/audit\/export\?format=csv&action=enrollmentToken\./,
  );
});
