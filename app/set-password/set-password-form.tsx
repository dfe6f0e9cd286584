'use client';

import { useMutation, useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { type FormEvent, useEffect, useState } from 'react';
import { useTRPC } from '@/components/trpc/client';
import { PASSWORD_RULE } from '@/lib/password-rule';

export function SetPasswordForm({ token }: { token: string }) {
  const trpc = useTRPC();
  const [password, setPassword] = useState('');
  const [repeated, setRepeated] = useState('');
  const [mismatch, setMismatch] = useState(false);
  // Until the page is interactive a click would submit the form natively: keep the button off till then.
  const [hydrated, setHydrated] = useState(false);
  useEffect(() => setHydrated(true), []);
  const link = useQuery(trpc.users.passwordLink.queryOptions({ token }, { enabled: token !== '' }));
  const set = useMutation(trpc.users.setPasswordWithLink.mutationOptions());

  if (token === '') {
    return (
      <p className="form-error" role="alert">
        This page needs the link an admin gave you: /set-password?token=…
      </p>
    );
  }
  if (set.isSuccess) {
    return (
      <div className="login-form" data-testid="password-set">
        <p role="status">Your password is set, {set.data.username}.</p>
        <Link className="button button-primary" href="/login">
          Sign in
        </Link>
      </div>
    );
  }
  if (link.error) {
    return (
      <p className="form-error" role="alert">
        {link.error.message}
      </p>
    );
  }
  if (!link.data) return <p className="muted">Checking the link…</p>;

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!hydrated || set.isPending) return;
    const differs = password !== repeated;
    setMismatch(differs);
    if (!differs) set.mutate({ token, password });
  }

  return (
    <form className="login-form" method="post" onSubmit={submit} noValidate>
      <p>
        Choose a password for <strong>{link.data.username}</strong>. The link works once, until{' '}
        {new Date(link.data.expiresAt).toLocaleString('en-CA')}.
      </p>
      <input type="hidden" name="username" autoComplete="username" value={link.data.username} readOnly />
      <label className="field">
        <span className="field-label">New password</span>
        <input
          name="password"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <span className="muted small">{PASSWORD_RULE}</span>
      </label>
      <label className="field">
        <span className="field-label">New password again</span>
        <input
          name="repeated"
          type="password"
          autoComplete="new-password"
          value={repeated}
          onChange={(e) => setRepeated(e.target.value)}
        />
      </label>
      {mismatch && (
        <p className="form-error" role="alert">
          The two passwords differ
        </p>
      )}
      {set.error && (
        <p className="form-error" role="alert">
          {set.error.message}
        </p>
      )}
      <button type="submit" className="button button-primary" disabled={!hydrated || set.isPending}>
        {set.isPending && <span className="spinner" aria-hidden="true" />}
        Set password
      </button>
    </form>
  );
}
