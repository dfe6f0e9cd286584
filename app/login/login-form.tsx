'use client';

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { type FormEvent, useEffect, useState } from 'react';
import { safeNextPath } from '@/components/auth/redirect';
import { useTRPC } from '@/components/trpc/client';

type FieldErrors = { username?: string[]; password?: string[] };

export function LoginForm({ next }: { next: string | null }) {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  // Until the page is interactive a click would submit the form natively: keep the button off till then.
  const [hydrated, setHydrated] = useState(false);
  useEffect(() => setHydrated(true), []);
  const login = useMutation(
    trpc.auth.login.mutationOptions({
      onSuccess: () => {
        queryClient.clear();
        router.replace(safeNextPath(next));
      },
    }),
  );

  const fieldErrors =
    ((login.error?.data as { zodError?: { fieldErrors?: FieldErrors } | null } | undefined)?.zodError
      ?.fieldErrors as FieldErrors | undefined) ?? {};
  const succeeded = login.isSuccess;

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!hydrated || login.isPending || succeeded) return;
    login.mutate({ username, password });
  }

  return (
    <form className="login-form" method="post" onSubmit={submit} noValidate>
      <label className="field">
        <span className="field-label">Username</span>
        <input
          name="username"
          autoComplete="username"
          autoCapitalize="none"
          spellCheck={false}
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          aria-invalid={fieldErrors.username ? true : undefined}
        />
      </label>
      <label className="field">
        <span className="field-label">Password</span>
        <input
          name="password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          aria-invalid={fieldErrors.password ? true : undefined}
        />
      </label>
      {login.error && (
        <p className="form-error" role="alert">
          {login.error.message}
        </p>
      )}
      <button
        type="submit"
        className="button button-primary"
        disabled={!hydrated || login.isPending || succeeded}
        aria-busy={login.isPending || succeeded}
      >
        {(login.isPending || succeeded) && <span className="spinner" aria-hidden="true" />}
        Sign in
      </button>
    </form>
  );
}
