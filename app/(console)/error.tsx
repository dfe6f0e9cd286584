'use client';

import { ErrorState } from '@/components/ui/states';

export default function ConsoleError({
  error,
  reset,
}: {
  error: Error & { digest?: string };
  reset: () => void;
}) {
  return (
    <div className="page">
      <ErrorState error={error} title="This view failed" />
      <div>
        <button type="button" className="button" onClick={() => reset()}>
          Try again
        </button>
      </div>
    </div>
  );
}
