import type { Metadata } from 'next';
import { SetPasswordForm } from './set-password-form';

export const metadata: Metadata = { title: 'Choose a password' };

/** Public: a one-time link from an admin lets a person choose their password here. */
export default async function SetPasswordPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const { token } = await searchParams;
  return (
    <main className="login-page">
      <div className="login-card">
        <div className="login-brand">
          <span className="brand-mark" aria-hidden="true" />
          <div>
            <h1>Switchyard</h1>
            <p className="muted">Choose your password</p>
          </div>
        </div>
        <SetPasswordForm token={typeof token === 'string' ? token : ''} />
      </div>
    </main>
  );
}
