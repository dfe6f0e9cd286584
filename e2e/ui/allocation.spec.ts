import { expect, type Locator, type Page, test } from '@playwright/test';
import { E2E_ADMIN_PASSWORD } from '../../playwright.config';

async function signIn(page: Page, next = '/') {
  await page.goto(next);
  await expect(page).toHaveURL(/\/login/);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(E2E_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** "1,480 ms" → 1480; NaN for a dash. */
function parseMs(text: string | null): number {
  return Number((text ?? '').replace(/[^\d.]/g, '') || Number.NaN);
}

/** The hostname of a node in the lane whose first `count` GPUs may take a new owner, or null. */
async function nodeWithEligibleRun(lane: Locator, count: number): Promise<string | null> {
  const nodes = lane.getByTestId('lane-node');
  const total = await nodes.count();
  for (let i = 0; i < total; i += 1) {
    const node = nodes.nth(i);
    const flags = await node
      .getByTestId('gpu-chip')
      .evaluateAll((chips) =>
        chips.map(
          (c) => c.getAttribute('data-eligible') === 'true' && c.getAttribute('data-busy') === 'false',
        ),
      );
    if (flags.length >= count && flags.slice(0, count).every(Boolean))
      return node.getAttribute('data-hostname');
  }
  return null;
}

test('an operator moves four free GPUs to chat-70b and its latency falls below the SLO', async ({ page }) => {
  test.setTimeout(240_000);
  await signIn(page, '/allocations');
  await expect(page).toHaveURL(/\/allocations$/);

  const chatLane = page.getByTestId('lane-chat-70b');
  await expect(chatLane).toBeVisible();
  const gpusBefore = Number(await chatLane.getAttribute('data-gpu-count'));
  expect(gpusBefore).toBeGreaterThanOrEqual(8);
  // As seeded, chat-70b runs over its SLO (once its first latency reports are in).
  await expect(chatLane.getByTestId('lane-p95')).toHaveAttribute('data-over-slo', 'true', {
    timeout: 60_000,
  });

  // Four free GPUs on one node: click the first, shift-click the fourth.
  const freeLane = page.getByTestId('lane-free-pool');
  // Right after the server starts, nodes count as offline until their agents report in.
  let hostname: string | null = null;
  await expect
    .poll(
      async () => {
        hostname = await nodeWithEligibleRun(freeLane, 4);
        return hostname;
      },
      { timeout: 60_000 },
    )
    .not.toBeNull();
  const chips = freeLane
    .locator(`[data-testid="lane-node"][data-hostname="${hostname}"]`)
    .getByTestId('gpu-chip');
  const labels = await chips.evaluateAll((all) =>
    all.slice(0, 4).map((c) => c.getAttribute('data-label') ?? ''),
  );
  await chips.nth(0).click();
  await chips.nth(3).click({ modifiers: ['Shift'] });
  await expect(page.getByTestId('selected-count')).toHaveText('4');
  for (let i = 0; i < 4; i += 1) await expect(chips.nth(i)).toHaveAttribute('aria-pressed', 'true');

  // Preview: what would change, and the predicted effect on chat-70b.
  const panel = page.getByTestId('move-panel');
  await panel.getByLabel('Move to…').selectOption({ label: 'chat-70b' });
  await panel.getByLabel('Reason').fill('e2e: chat-70b is over its SLO');
  await expect(panel.getByRole('button', { name: 'Apply' })).toBeDisabled();
  await panel.getByRole('button', { name: 'Preview' }).click();
  const preview = page.getByTestId('move-preview');
  await expect(preview.getByTestId('effect-chat-70b').getByTestId('effect-gpus')).toHaveText(
    `${gpusBefore} → ${gpusBefore + 4}`,
  );
  await expect(preview.getByTestId('change-moves').getByRole('row')).toHaveCount(5);
  await expect(preview.getByTestId('change-moves')).toContainText(`${hostname}/`);

  // Apply: the change is followed until the nodes confirm it.
  await panel.getByRole('button', { name: 'Apply' }).click();
  const tracked = page.getByTestId('tracked-change');
  await expect(tracked).toBeVisible();
  await expect(tracked).toHaveAttribute('data-state', 'applied', { timeout: 30_000 });
  await expect(tracked.getByTestId('tracked-change-states')).toHaveText('applying → applied');
  await expect(tracked.getByTestId('change-nodes')).toContainText(hostname ?? '');
  await expect(chatLane).toHaveAttribute('data-gpu-count', String(gpusBefore + 4));
  await expect(page.getByTestId('selected-count')).toHaveText('0');

  // The history lists it, with its per-GPU moves.
  await page
    .getByRole('navigation', { name: 'Allocation views' })
    .getByRole('link', { name: 'History' })
    .click();
  const row = page.getByTestId('history-row').filter({ hasText: 'e2e: chat-70b is over its SLO' });
  await expect(row).toHaveAttribute('data-state', 'applied');
  await row.click();
  await expect(page.getByTestId('change-moves')).toContainText(`${hostname}/`);

  // On chat-70b's page the live p95 comes down under the SLO as the third replica serves.
  await page.goto('/allocations');
  await chatLane.getByRole('link', { name: 'chat-70b' }).click();
  await expect(page.getByTestId('deployment-title')).toHaveText('chat-70b');
  await expect(page.getByTestId('deployment-gpus')).toHaveText(String(gpusBefore + 4));
  const slo = parseMs(await page.getByTestId('deployment-slo').textContent());
  const p95 = page.getByTestId('deployment-live-p95');
  await expect
    .poll(async () => parseMs(await p95.textContent()), { timeout: 150_000, intervals: [2_000] })
    .toBeLessThan(slo);
  await expect(page.getByTestId('deployment-slo-state')).toHaveText('within SLO');

  // Give the GPUs back, so the demo fleet is as the other specs expect it (chat-70b over its SLO).
  await page.goto('/allocations');
  for (const label of labels) await chatLane.locator(`[data-label="${label}"]`).click();
  await expect(page.getByTestId('selected-count')).toHaveText('4');
  await panel.getByLabel('Move to…').selectOption({ label: 'Free pool (release)' });
  await panel.getByLabel('Reason').fill('e2e: done, giving the GPUs back');
  await panel.getByRole('button', { name: 'Preview' }).click();
  await expect(preview.getByTestId('effect-chat-70b').getByTestId('effect-gpus')).toHaveText(
    `${gpusBefore + 4} → ${gpusBefore}`,
  );
  await panel.getByRole('button', { name: 'Apply' }).click();
  await expect(tracked).toHaveAttribute('data-state', 'applied', { timeout: 30_000 });
  await expect(chatLane).toHaveAttribute('data-gpu-count', String(gpusBefore));
});

test('the plan proposes growing chat-70b with a predicted effect, and guardrails are checked', async ({
  page,
}) => {
  test.setTimeout(120_000);
  await signIn(page, '/allocations/plan');
  await expect(page).toHaveURL(/\/allocations\/plan$/);

  // The planner works from live latency: refresh until chat-70b's reports are in.
  const growChat = page
    .getByTestId('plan-step')
    .filter({ hasText: 'chat-70b' })
    .and(page.locator('[data-kind="grow"]'));
  await expect
    .poll(
      async () => {
        if ((await growChat.count()) > 0) return true;
        await page.getByRole('button', { name: 'Refresh plan' }).click();
        await expect(page.getByRole('button', { name: 'Refresh plan' })).toBeEnabled();
        return (await growChat.count()) > 0;
      },
      { timeout: 90_000, intervals: [3_000] },
    )
    .toBe(true);
  const steps = await page.getByTestId('plan-step').count();
  await expect(page.getByRole('button', { name: `Apply selected (${steps})` })).toBeEnabled();
  await expect(page.getByTestId('effects-table').getByTestId('effect-chat-70b')).toBeVisible();

  // Unchecking a step leaves it out of what would be applied.
  await growChat.first().getByRole('checkbox').uncheck();
  await expect(page.getByRole('button', { name: `Apply selected (${steps - 1})` })).toBeVisible();

  // Guardrails out of range are refused by name, and nothing changes.
  const auto = page.getByTestId('auto-mode');
  await expect(auto.getByTestId('auto-mode-switch')).toHaveAttribute('aria-checked', 'false');
  await auto.getByLabel('Interval (s)').fill('1');
  await auto.getByRole('button', { name: 'Save guardrails' }).click();
  await expect(auto.getByRole('alert')).toContainText('intervalS');
  await expect(auto.getByTestId('auto-mode-switch')).toHaveAttribute('aria-checked', 'false');
});
