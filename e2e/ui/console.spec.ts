import { expect, type Page, test } from '@playwright/test';
import { E2E_ADMIN_PASSWORD } from '../../playwright.config';

async function signIn(page: Page, next = '/') {
  await page.goto(next);
  await expect(page).toHaveURL(/\/login/);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(E2E_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('a page without a session redirects to login, and a wrong password is refused there', async ({
  page,
}) => {
  await page.goto('/nodes');
  await expect(page).toHaveURL(/\/login\?next=%2Fnodes/);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('wrong-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText('Wrong username or password')).toBeVisible();
  await expect(page).toHaveURL(/\/login/);
});

test('the overview fills with live data and its charts move', async ({ page }) => {
  await signIn(page);
  await expect(page).toHaveURL(/\/$/);

  await expect(page.getByTestId('stat-gpus-total')).toHaveText('96');
  await expect(page.getByTestId('stat-nodes-online')).toHaveText('12', { timeout: 30_000 });

  // Every GPU is drawn, and the heatmap's live mean utilization changes over time.
  const heatmap = page.getByTestId('gpu-heatmap');
  await expect(heatmap).toHaveAttribute('data-gpu-count', '96');
  await expect(heatmap).toHaveAttribute('data-mean-util', /\d/, { timeout: 30_000 });
  const firstMean = await heatmap.getAttribute('data-mean-util');
  await expect.poll(() => heatmap.getAttribute('data-mean-util'), { timeout: 20_000 }).not.toBe(firstMean);

  // The over-SLO deployment's latency chart gains points as they arrive.
  const chart = page.getByTestId('latency-chart-chat-70b');
  await expect(chart).toBeVisible();
  await expect
    .poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 30_000 })
    .toBeGreaterThan(2);
  const points = Number(await chart.getAttribute('data-points'));
  await expect
    .poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 20_000 })
    .toBeGreaterThan(points);
  // It is the demo's over-SLO deployment: p95 above its 1200 ms objective.
  await expect
    .poll(async () => Number(await chart.getAttribute('data-last-p95')), { timeout: 30_000 })
    .toBeGreaterThan(1200);
  await expect(chart.locator('svg path.recharts-curve').first()).toBeVisible();
});

test('an operator can open a node and see its GPUs', async ({ page }) => {
  await signIn(page, '/nodes');
  await expect(page).toHaveURL(/\/nodes$/);
  await page.getByRole('link', { name: 'use1-h100-01' }).click();
  await expect(page).toHaveURL(/\/nodes\/[\w-]+$/);
  await expect(page.getByTestId('node-title')).toHaveText('use1-h100-01');
  await expect(page.getByRole('row').filter({ hasText: 'GPU-' })).toHaveCount(8);
});
