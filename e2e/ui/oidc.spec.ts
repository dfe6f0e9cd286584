import { expect, type Page, test } from '@playwright/test';
import { OIDC_ISSUER } from '../../playwright.config';

/** Signs in through the provider's own pages, giving consent when it asks for it. */
async function signInWithProvider(page: Page, account: string) {
  await expect(page).toHaveURL(/\/login/);
  await page.getByRole('link', { name: 'Sign in with Test IdP' }).click();
  await expect(page).toHaveURL(new RegExp(`^${OIDC_ISSUER}/interaction/`));
  await page.locator('input[name="login"]').fill(account);
  await page.locator('input[name="password"]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  const consent = page.getByRole('button', { name: 'Continue' });
  const landed = page.getByTestId('current-user').or(page.getByTestId('sso-error'));
  await expect(consent.or(landed)).toBeVisible();
  if (await consent.isVisible()) await consent.click();
}

async function setGroups(account: string, groups: string[]) {
  const res = await fetch(`${OIDC_ISSUER}/test/accounts/${account}/groups`, {
    method: 'PUT',
    body: JSON.stringify(groups),
  });
  expect(res.status).toBe(204);
}

async function me(page: Page): Promise<{ name: string; role: string }> {
  const res = await page.request.get('/api/trpc/auth.me');
  expect(res.status()).toBe(200);
  return (await res.json()).result.data;
}

test('single sign-on creates the user, and their role follows their groups at each sign-in', async ({
  page,
}) => {
  await setGroups('ada', ['ml-ops']);
  await page.goto('/');
  await signInWithProvider(page, 'ada');
  await expect(page).toHaveURL(/127\.0\.0\.1:\d+\/$/);
  await expect(page.getByTestId('current-user')).toContainText('ada');
  await expect(page.getByTestId('current-user')).toContainText('operator');
  expect(await me(page)).toMatchObject({ name: 'ada', role: 'operator' });

  // An admin at the provider moves her to gpu-admins: it applies at her next sign-in.
  await setGroups('ada', ['gpu-admins', 'ml-ops']);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login/);
  // Forget the provider's own session too, so she goes through its sign-in page again.
  await page.context().clearCookies();
  await page.goto('/nodes');
  await signInWithProvider(page, 'ada');
  await expect(page).toHaveURL(/\/nodes$/);
  await expect(page.getByTestId('current-user')).toContainText('admin');
  expect(await me(page)).toMatchObject({ name: 'ada', role: 'admin' });
});

test('someone in no mapped group is refused on the login page, in words', async ({ page }) => {
  await page.goto('/');
  await signInWithProvider(page, 'grace');
  await expect(page).toHaveURL(/\/login\?error=sso_no_role/);
  await expect(page.getByTestId('sso-error')).toContainText('in no group that has access');
  await expect(page.getByTestId('current-user')).toHaveCount(0);
});
