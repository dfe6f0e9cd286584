import { expect, type Page, test } from '@playwright/test';
import { E2E_ADMIN_PASSWORD } from '../../playwright.config';

async function signIn(page: Page, next = '/') {
  await page.goto(next);
  await expect(page).toHaveURL(/\/login/);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(E2E_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** From the node list to GPU 0 of use1-h100-01, through its node page. */
async function openGpuFromNodePage(page: Page) {
  await signIn(page, '/nodes');
  await expect(page).toHaveURL(/\/nodes$/);
  await page.getByRole('link', { name: 'use1-h100-01' }).click();
  await expect(page.getByTestId('node-title')).toHaveText('use1-h100-01');
  await page.getByTestId('gpu-link-0').click();
  await expect(page).toHaveURL(/\/gpus\/[\w-]+$/);
  await expect(page.getByTestId('gpu-title')).toContainText('GPU 0');
  await expect(page.getByTestId('gpu-title')).toContainText('use1-h100-01');
}

test('the fleet heatmap filters by deployment and state, and lists idle allocated GPUs', async ({ page }) => {
  await signIn(page);
  await expect(page).toHaveURL(/\/$/);
  const heatmap = page.getByTestId('gpu-heatmap');
  await expect(heatmap).toHaveAttribute('data-gpu-count', '96');
  await expect(page.getByTestId('heatmap-count')).toHaveText('Showing 96 of 96 GPUs');

  await page.getByLabel('Deployment', { exact: true }).selectOption({ label: 'chat-70b' });
  await expect(heatmap).toHaveAttribute('data-gpu-count', '8');
  await expect(page.getByTestId('heatmap-count')).toHaveText('Showing 8 of 96 GPUs');
  // The live mean follows what is drawn.
  await expect(heatmap).toHaveAttribute('data-mean-util', /\d/, { timeout: 30_000 });

  await page.getByLabel('Deployment', { exact: true }).selectOption({ label: 'Any owner' });
  await expect(heatmap).toHaveAttribute('data-gpu-count', '96');
  await page.getByLabel('State', { exact: true }).selectOption('free');
  await expect(heatmap).toHaveAttribute('data-gpu-count', '32');

  // Filters combine: the free GPUs of one cluster, then of the nodes whose name matches.
  await page.getByLabel('Cluster', { exact: true }).selectOption('eu-west-1');
  const euFree = Number(await heatmap.getAttribute('data-gpu-count'));
  expect(euFree).toBeLessThanOrEqual(32);
  await page.getByLabel('Search nodes').fill('no-such-host');
  await expect(heatmap).toHaveAttribute('data-gpu-count', '0');
  await expect(page.getByText('No GPU matches these filters.')).toBeVisible();
  await page.getByRole('button', { name: 'Clear filters' }).first().click();
  await expect(heatmap).toHaveAttribute('data-gpu-count', '96');

  const idle = page.getByTestId('idle-gpus');
  await expect(idle).toBeVisible();
  await expect(idle.getByTestId('idle-gpu-hours-24h')).toHaveText(/\d/);
  await expect(
    idle
      .getByText('No allocated GPU has been idle for 5 minutes or more.')
      .or(idle.getByTestId('idle-gpus-table')),
  ).toBeVisible();
});

test('a GPU page opens from its node page and charts it live and over a window', async ({ page }) => {
  await openGpuFromNodePage(page);
  await expect(page.getByTestId('cordon-state')).toHaveText(/^(schedulable|cordoned)$/);
  await expect(page.getByTestId('gpu-live-util')).toHaveText(/\d+ %/, { timeout: 30_000 });

  const windows = page.getByRole('group', { name: 'Time window' });
  const chart = page.getByTestId('gpu-util-chart');
  await windows.getByRole('button', { name: '15 min' }).click();
  await expect(windows.getByRole('button', { name: '15 min' })).toHaveAttribute('aria-pressed', 'true');
  await expect(chart).toHaveAttribute('data-window', '15m');

  await windows.getByRole('button', { name: 'Live' }).click();
  await expect(chart).toHaveAttribute('data-window', 'live');
  await expect
    .poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 30_000 })
    .toBeGreaterThan(1);
  await expect(chart.locator('svg path.recharts-line-curve').first()).toBeVisible();
});

test('an operator cordons a GPU with a reason and uncordons it', async ({ page }) => {
  await openGpuFromNodePage(page);
  const state = page.getByTestId('cordon-state');
  await expect(state).toHaveText('schedulable');

  // Without a reason the server refuses, and says why.
  await page.getByRole('button', { name: 'Cordon', exact: true }).click();
  await page.getByRole('button', { name: 'Cordon GPU' }).click();
  await expect(page.getByTestId('cordon-error')).toContainText('reason: Say why');
  await expect(state).toHaveText('schedulable');

  await page.getByLabel(/Reason to cordon/).fill('e2e: checking the cordon action');
  await page.getByRole('button', { name: 'Cordon GPU' }).click();
  await expect(state).toHaveText('cordoned');

  // The node page shows it cordoned too.
  await page.getByTestId('gpu-node-link').click();
  await expect(page.getByTestId('gpu-row-0')).toHaveAttribute('data-cordoned', 'true');
  await page.goBack();
  await expect(state).toHaveText('cordoned');

  await page.getByRole('button', { name: 'Uncordon', exact: true }).click();
  await page.getByLabel(/Reason to uncordon/).fill('e2e: done checking');
  await page.getByRole('button', { name: 'Uncordon GPU' }).click();
  await expect(state).toHaveText('schedulable');
});

test('a deployment page shows its latency against the SLO and its GPUs', async ({ page }) => {
  await signIn(page, '/deployments');
  await expect(page).toHaveURL(/\/deployments$/);
  await page.getByTestId('deployment-row-chat-70b').getByRole('link', { name: 'chat-70b' }).click();
  await expect(page).toHaveURL(/\/deployments\/[\w-]+$/);
  await expect(page.getByTestId('deployment-title')).toHaveText('chat-70b');
  await expect(page.getByTestId('deployment-gpus')).toHaveText('8');

  const chart = page.getByTestId('latency-chart-chat-70b');
  await expect(chart).toBeVisible();
  await expect
    .poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 30_000 })
    .toBeGreaterThan(1);
  await expect(chart.locator('svg path.recharts-curve').first()).toBeVisible();

  await expect(page.getByTestId('deployment-gpu-row')).toHaveCount(8);
  await expect(page.getByTestId('deployment-gpus-table').getByRole('link', { name: /^GPU \d$/ })).toHaveCount(
    8,
  );

  // A stored window shows the window's own percentiles.
  await page.getByRole('group', { name: 'Time window' }).getByRole('button', { name: '15 min' }).click();
  await expect(chart).toHaveAttribute('data-window', '15m');
  await expect(chart.getByTestId('latency-summary')).toContainText('p95 over 15 min');
});
