/**
 * Which ways of signing in the login page offers. Read from the environment the server has
 * already validated at start (server/env.ts), without pulling the server's modules into pages.
 */
export type SignInOptions = {
  /** Single sign-on, with the name its button shows ("Sign in with …"), or null when not configured. */
  sso: { name: string } | null;
  password: boolean;
};

export function signInOptions(env: Record<string, string | undefined> = process.env): SignInOptions {
  const issuer = env.SWITCHYARD_OIDC_ISSUER || undefined;
  return {
    sso: issuer ? { name: env.SWITCHYARD_OIDC_NAME || new URL(issuer).host } : null,
    password: env.SWITCHYARD_PASSWORD_LOGIN !== 'off',
  };
}
