import path from 'node:path';
import { z } from 'zod';
import { parseRoleMap } from './auth/oidc-role-map';

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
  /** `off` refuses password sign-in (auth.login); then single sign-on is the only way in. */
  SWITCHYARD_PASSWORD_LOGIN: z.enum(['on', 'off']).default('on'),
  /** Single sign-on through OpenID Connect (README "Single sign-on"); on when the issuer is set. */
  SWITCHYARD_OIDC_ISSUER: z.string().url().optional(),
  SWITCHYARD_OIDC_CLIENT_ID: z.string().min(1).optional(),
  /** Absent for a public client (PKCE alone). */
  SWITCHYARD_OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  SWITCHYARD_OIDC_SCOPES: z.string().default('openid profile email groups'),
  SWITCHYARD_OIDC_GROUPS_CLAIM: z.string().min(1).default('groups'),
  SWITCHYARD_OIDC_ROLE_MAP: z.string().optional(),
  /** The callback URL registered at the provider; derived from the request's host when absent. */
  SWITCHYARD_OIDC_REDIRECT_URL: z.string().url().optional(),
  /** The name on the sign-in button; the issuer's host when absent. */
  SWITCHYARD_OIDC_NAME: z.string().min(1).max(64).optional(),
});

/** Settings that only make sense together are checked together, so a half-configured SSO fails at start. */
const ZCheckedEnv = ZEnv.superRefine((env, ctx) => {
  const issuer = env.SWITCHYARD_OIDC_ISSUER;
  if (issuer) {
    if (!env.SWITCHYARD_OIDC_CLIENT_ID)
      ctx.addIssue({
        code: 'custom',
        path: ['SWITCHYARD_OIDC_CLIENT_ID'],
        message: 'required with SWITCHYARD_OIDC_ISSUER',
      });
    if (!env.SWITCHYARD_OIDC_ROLE_MAP)
      ctx.addIssue({
        code: 'custom',
        path: ['SWITCHYARD_OIDC_ROLE_MAP'],
        message: 'required with SWITCHYARD_OIDC_ISSUER (e.g. gpu-admins=admin,ml-ops=operator,*=viewer)',
      });
    else {
      try {
        parseRoleMap(env.SWITCHYARD_OIDC_ROLE_MAP);
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          path: ['SWITCHYARD_OIDC_ROLE_MAP'],
          message: (error as Error).message,
        });
      }
    }
    if (!/^https?:$/.test(new URL(issuer).protocol))
      ctx.addIssue({ code: 'custom', path: ['SWITCHYARD_OIDC_ISSUER'], message: 'must be an http(s) URL' });
    if (!oidcIssuerAllowed(issuer))
      ctx.addIssue({
        code: 'custom',
        path: ['SWITCHYARD_OIDC_ISSUER'],
        message: 'must be https (plain http is allowed only on localhost/127.0.0.1)',
      });
  } else {
    // Scopes and the groups claim have defaults, so only the others show an intent to use SSO.
    const intended = ['CLIENT_ID', 'CLIENT_SECRET', 'ROLE_MAP', 'REDIRECT_URL', 'NAME'] as const;
    if (intended.some((key) => env[`SWITCHYARD_OIDC_${key}`]))
      ctx.addIssue({
        code: 'custom',
        path: ['SWITCHYARD_OIDC_ISSUER'],
        message: 'required when any other SWITCHYARD_OIDC_* setting is given',
      });
  }
  if (env.SWITCHYARD_PASSWORD_LOGIN === 'off' && !issuer)
    ctx.addIssue({
      code: 'custom',
      path: ['SWITCHYARD_PASSWORD_LOGIN'],
      message: 'off needs single sign-on (SWITCHYARD_OIDC_ISSUER), or nobody could sign in',
    });
});

/** Plain-HTTP issuers are for a provider on this machine (development and tests) only. */
export function oidcIssuerAllowed(issuer: string): boolean {
  const url = new URL(issuer);
  return url.protocol === 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}

export type Env = z.infer<typeof ZEnv> & { dataDir: string };

export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  // An empty variable means "not set" (e.g. `DATABASE_URL= npm start`).
  const present = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== ''));
  const result = ZCheckedEnv.safeParse(present);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new Error(`Invalid environment:\n${problems}`);
  }
  return { ...result.data, dataDir: path.resolve(result.data.SWITCHYARD_DATA_DIR) };
}
