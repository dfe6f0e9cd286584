'use client';

import { useState } from 'react';
import { Panel } from '@/components/ui/states';

/** A set-password link as the server gave it, shown once with a button to copy it. */
export function OneTimeLink({
  username,
  path,
  expiresAt,
  onDone,
}: {
  username: string;
  path: string;
  expiresAt: string;
  onDone: () => void;
}) {
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);
  const url = typeof window === 'undefined' ? path : `${window.location.origin}${path}`;
  const copy = () => {
    if (!navigator.clipboard) {
      setCopied('failed');
      return;
    }
    navigator.clipboard.writeText(url).then(
      () => setCopied('yes'),
      () => setCopied('failed'),
    );
  };
  return (
    <Panel title={`One-time link for “${username}”`} className="token-secret" testId="password-link">
      <p>
        Send it to {username}: it lets them choose a password once, until{' '}
        {new Date(expiresAt).toLocaleString('en-CA')}. It is shown this once; Switchyard keeps only a hash of
        it.
      </p>
      <div className="token-secret-row">
        <code className="token-secret-value mono" data-testid="password-link-value">
          {url}
        </code>
        <button type="button" className="button" onClick={copy}>
          {copied === 'yes' ? 'Copied' : 'Copy'}
        </button>
        <button type="button" className="button button-ghost" onClick={onDone}>
          Done
        </button>
      </div>
      {copied === 'failed' && (
        <p className="inline-error">This browser did not let the page copy; select the link and copy it.</p>
      )}
    </Panel>
  );
}
