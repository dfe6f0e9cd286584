import { expect, type Page, test } from '@playwright/test';
import { E2E_ADMIN_PASSWORD } from '../../playwright.config';

async function signIn(page: Page, next = '/') {
  await page.goto(next);
  await expect(page).toHaveURL(/\/login/);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(E2E_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Selects a deployment once the demo fleet's agents have announced their endpoints for it. */
async function chooseServedDeployment(page: Page, name: string) {
  const select = page.getByTestId('stress-deployment');
  await expect(async () => {
    await page.reload();
    const label = await select.locator('option', { hasText: name }).first().textContent();
    expect(label).toMatch(/\d+ agents?$/);
  }).toPass({ timeout: 60_000 });
  const label = (await select.locator('option', { hasText: name }).first().textContent()) ?? '';
  await select.selectOption({ label });
}

test('an operator runs a stress test that breaks a threshold and watches it stop', async ({ page }) => {
  test.setTimeout(180_000);
  await signIn(page, '/stress');
  await expect(page).toHaveURL(/\/stress$/);
  await expect(page.getByTestId('stress-start-form')).toBeVisible();

  // A high-priority deployment needs its name typed; a bad threshold is refused by index.
  await chooseServedDeployment(page, 'chat-70b');
  await expect(page.getByTestId('stress-confirm')).toBeVisible();
  await page.getByTestId('stress-start').click();
  await expect(page.getByTestId('stress-start-error')).toContainText('confirm: chat-70b has priority 100');

  await chooseServedDeployment(page, 'embed-small');
  await page.getByTestId('stress-thresholds-input').fill('p95 < 250xs');
  await page.getByTestId('stress-start').click();
  await expect(page.getByTestId('stress-start-error')).toContainText('thresholds.0: "p95 < 250xs"');

  // p99 under 1 ms cannot hold: the run stops after warm-up (2 s) and grace (2 s).
  await page.getByTestId('stress-thresholds-input').fill('p95 < 500ms\np99 < 1ms');
  await page.getByLabel('Stage 1 durationS').fill('40');
  await page.getByLabel('Stage 1 fromRps').fill('60');
  await page.getByLabel('Stage 1 toRps').fill('60');
  await page.getByRole('textbox', { name: 'Warm-up (s, not judged)' }).fill('2');
  await page.getByRole('textbox', { name: 'Grace after warm-up (s)' }).fill('2');
  await page.getByTestId('stress-start').click();
  await expect(page).toHaveURL(/\/stress\/[0-9a-f-]{36}$/);

  const run = page.getByTestId('stress-run');
  // Live: the progress bar and seconds arriving on the charts.
  await expect(page.getByTestId('stress-progress')).toBeVisible();
  await expect(page.getByTestId('stress-latency-chart')).not.toHaveAttribute('data-points', '0');
  await expect(run).toHaveAttribute('data-state', 'failed', { timeout: 30_000 });
  await expect(page.getByTestId('stress-reason')).toContainText('threshold "p99 < 1ms" failed: measured');
  await expect(page.getByTestId('stress-threshold').filter({ hasText: 'p99 < 1 ms' })).toHaveAttribute(
    'data-pass',
    'false',
  );
  await expect(page.getByTestId('stress-threshold').filter({ hasText: 'p95 < 500 ms' })).toHaveAttribute(
    'data-pass',
    'true',
  );
  await expect(page.getByTestId('stress-latency')).not.toHaveAttribute('data-breaches', '0');
  await expect(page.getByTestId('result-p99')).not.toHaveAttribute('data-value', '');
  await expect(page.getByTestId('stress-agent-row').first()).toHaveAttribute('data-state', 'done');

  const csv = await page.request.get(
    (await page.getByTestId('stress-export-csv').getAttribute('href')) ?? '',
  );
  expect(csv.status()).toBe(200);
  expect(await csv.text()).toContain('# state,failed');

  // The history lists it.
  await page.getByRole('link', { name: '← Stress tests' }).click();
  await expect(page.getByTestId('stress-run-row').first()).toHaveAttribute('data-state', 'failed');
});
