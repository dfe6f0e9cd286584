import type { Metadata } from 'next';
import { LoginForm } from './login-form';

export const metadata: Metadata = { title: 'Sign in' };

export default async function LoginPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const { next } = await searchParams;
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
        <LoginForm next={typeof next === 'string' ? next : null} />
      </div>
    </main>
  );
}
