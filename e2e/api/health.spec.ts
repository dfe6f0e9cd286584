import { expect, test } from '@playwright/test';
import { E2E_ADMIN_PASSWORD } from '../../playwright.config';

test('health reports the embedded database up and agents connected', async ({ request }) => {
  const res = await request.get('/api/health');
  expect(res.status()).toBe(200);
  const body = await res.json();
  expect(body.database).toMatchObject({ state: 'up', embedded: true });
  // The demo fleet's twelve simulated agents connect through the agent protocol.
  await expect
    .poll(async () => (await (await request.get('/api/health')).json()).agentsConnected, { timeout: 60_000 })
    .toBe(12);
});

test('an unauthenticated tRPC call answers 401', async ({ request }) => {
  const res = await request.get('/api/trpc/fleet.overview');
  expect(res.status()).toBe(401);
  expect((await res.json()).error.data.code).toBe('UNAUTHORIZED');
});

test('a signed-in client sees 96 GPUs with live utilization', async ({ request }) => {
  const login = await request.post('/api/trpc/auth.login', {
    data: { username: 'admin', password: E2E_ADMIN_PASSWORD },
  });
  expect(login.status()).toBe(200);
  await expect
    .poll(
      async () => {
        const gpus = (await (await request.get('/api/trpc/fleet.gpus')).json()).result.data as {
          live: unknown;
        }[];
        return gpus.filter((g) => g.live !== null).length;
      },
      { timeout: 60_000 },
    )
    .toBe(96);
});
