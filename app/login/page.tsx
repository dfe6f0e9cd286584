import type { Metadata } from 'next';
import { safeNextPath } from '@/components/auth/redirect';
import { signInOptions } from '@/lib/auth/sign-in-options';
import { LoginForm } from './login-form';

export const metadata: Metadata = { title: 'Sign in' };

/** What the single sign-on callback's `?error=` codes (server/auth/oidc.ts) mean to the person. */
const SSO_ERRORS: Record<string, string> = {
  sso_failed:
    'Single sign-on failed. Try again; if it keeps failing, ask an admin to look at the server log.',
  sso_unavailable: 'The sign-on provider could not be reached. Try again in a moment.',
  sso_expired: 'That sign-in took too long or was started in another browser. Please start again.',
  sso_no_role:
    'Your account at the sign-on provider is in no group that has access to Switchyard. Ask an admin.',
  sso_disabled: 'This account is disabled; ask an admin to enable it.',
  sso_username_taken:
    'Your username at the sign-on provider belongs to another Switchyard account. Ask an admin.',
};

export default async function LoginPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const { next, error } = await searchParams;
  const { sso, password: passwordLogin } = signInOptions();
  const nextPath = typeof next === 'string' ? next : null;
  const ssoError = typeof error === 'string' ? (SSO_ERRORS[error] ?? SSO_ERRORS.sso_failed) : null;
  const startHref = `/api/auth/oidc/start${nextPath ? `?next=${encodeURIComponent(safeNextPath(nextPath))}` : ''}`;
  return (
    <main className="login-page">
      <div className="login-card">
        <div className="login-brand">
          <span className="brand-mark" aria-hidden="true" />
          <div>
            <h1>Switchyard</h1>
            <p className="muted">GPU fleet control plane</p>
          </div>
        </div>
        {ssoError && (
          <p className="form-error login-sso-error" role="alert" data-testid="sso-error">
            {ssoError}
          </p>
        )}
        {sso && (
          // A plain link: the flow is a chain of top-level redirects through the provider.
          <a className="button button-primary login-sso" href={startHref} data-testid="sso-sign-in">
            Sign in with {sso.name}
          </a>
        )}
        {sso && passwordLogin && <p className="login-divider muted">or with a password</p>}
        {passwordLogin && <LoginForm next={nextPath} />}
      </div>
    </main>
  );
}
