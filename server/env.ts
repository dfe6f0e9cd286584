import path from 'node:path';
import { z } from 'zod';

/** Every setting Switchyard reads from the environment, parsed once (README lists them). */
const ZEnv = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  /** Use this Postgres; when absent an embedded one runs under SWITCHYARD_DATA_DIR. */
  DATABASE_URL: z.string().url().optional(),
  SWITCHYARD_DATA_DIR: z.string().default('./.switchyard'),
  SWITCHYARD_PG_PORT: z.coerce.number().int().min(1024).max(65535).default(54329),
  SWITCHYARD_ADMIN_PASSWORD: z.string().min(8, 'must be at least 8 characters').optional(),
  /** `on` seeds the demo fleet on first start and runs its simulated agents. */
  SWITCHYARD_DEMO: z.enum(['on', 'off']).default('on'),
  SWITCHYARD_SESSION_TTL_HOURS: z.coerce
    .number()
    .positive()
    .default(24 * 7),
  /** Set to `true` behind HTTPS so the session cookie is marked Secure. */
  SWITCHYARD_SECURE_COOKIES: z.enum(['true', 'false']).default('false'),
  /** How long 10 s rollups are kept (hours) and 1 min rollups (days). */
  SWITCHYARD_RETENTION_10S_HOURS: z.coerce.number().positive().default(48),
  SWITCHYARD_RETENTION_1M_DAYS: z.coerce.number().positive().default(30),
  /** How long a node's agent has to confirm an allocation change before it is rolled back. */
  SWITCHYARD_ALLOCATION_ACK_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
  SWITCHYARD_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** The highest request rate a stress run may ask for, all agents together (req/s). */
  STRESS_MAX_RPS: z.coerce.number().positive().default(5000),
});

export type Env = z.infer<typeof ZEnv> & { dataDir: string };

export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  // An empty variable means "not set" (e.g. `DATABASE_URL= npm start`).
  const present = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== ''));
  const result = ZEnv.safeParse(present);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new Error(`Invalid environment:\n${problems}`);
  }
  return { ...result.data, dataDir: path.resolve(result.data.SWITCHYARD_DATA_DIR) };
}
