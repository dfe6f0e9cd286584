/**
 * A refused change, said plainly. A conflict (someone changed an owner since it was read)
 * offers to read everything again; any other refusal names what the server objected to.
 */

type SubmitFailure = { message: string; data?: unknown };

export function isConflict(error: SubmitFailure): boolean {
  const data = error.data;
  return typeof data === 'object' && data !== null && 'code' in data && data.code === 'CONFLICT';
}

export function SubmitError({
  error,
  reloadLabel,
  onReload,
}: {
  error: SubmitFailure;
  reloadLabel: string;
  onReload: () => void;
}) {
  if (isConflict(error)) {
    return (
      <div className="form-error allocation-conflict" role="alert" data-testid="allocation-conflict">
        <span>
          <strong>Someone changed these GPUs first.</strong> {error.message}
        </span>
        <button type="button" className="button button-ghost" onClick={onReload}>
          {reloadLabel}
        </button>
      </div>
    );
  }
  return (
    <p className="form-error" role="alert" data-testid="allocation-error">
      {error.message}
    </p>
  );
}
