'use client';

import { useEffect, useState } from 'react';
import { Panel } from '@/components/ui/states';

/** The command that starts an agent with `token`, against this server as the browser sees it. */
export function agentCommand(serverUrl: string, token: string): string {
  return `npm run agent -- --server ${serverUrl} --token ${token}`;
}

/**
 * A new enrollment token's copy-paste command, shown this once (only the token's hash is
 * stored). `title` says what the token is for.
 */
export function AgentCommand({
  title,
  token,
  note,
  onDone,
}: {
  title: string;
  token: string;
  note?: string;
  onDone: () => void;
}) {
  const [origin, setOrigin] = useState('');
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);
  useEffect(() => setOrigin(window.location.origin), []);
  const command = agentCommand(origin || 'http://this-server', token);
  const copy = () => {
    if (!navigator.clipboard) {
      setCopied('failed');
      return;
    }
    navigator.clipboard.writeText(command).then(
      () => setCopied('yes'),
      () => setCopied('failed'),
    );
  };
  return (
    <Panel title={title} className="token-secret" testId="agent-command">
      <p>
        On the new machine, in a Switchyard checkout, run this. Copy it now: the token is shown this once.
      </p>
      <div className="token-secret-row">
        <code className="token-secret-value mono" data-testid="agent-command-value">
          {command}
        </code>
        <button type="button" className="button" onClick={copy}>
          {copied === 'yes' ? 'Copied' : 'Copy'}
        </button>
        <button type="button" className="button button-ghost" onClick={onDone}>
          Done
        </button>
      </div>
      {copied === 'failed' && (
        <p className="inline-error">
          This browser did not let the page copy; select the command and copy it.
        </p>
      )}
      <p className="muted small">
        {note ??
          'Add --source nvidia-smi (or dcgm, model-server) for real GPUs; the agent keeps its credential in its data directory.'}
      </p>
    </Panel>
  );
}
