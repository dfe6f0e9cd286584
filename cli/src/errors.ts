/** Exit codes of `switchyard`, stable for scripts (listed in `switchyard --help`). */
export const EXIT = {
  ok: 0,
  /** The operation ran and failed: a change rolled back, a stress threshold failed, a run aborted. */
  failed: 1,
  /** Bad flags or input, refused before or by the server (HTTP 400). */
  usage: 2,
  /** The versions the change was based on are stale (HTTP 409). */
  conflict: 3,
  /** No token, an unknown or revoked one, or one without the scope or role needed (401/403). */
  auth: 4,
  /** No such GPU, deployment, change or run (404). */
  notFound: 5,
  /** The server cannot be reached or failed (5xx). */
  unavailable: 6,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODES_HELP = `
Exit codes:
  0  ok
  1  failed: the change rolled back, a stress threshold failed, the run was aborted
  2  usage or bad input (HTTP 400)
  3  conflict: the versions read are stale (HTTP 409); the current ones are printed
  4  not authorized: missing, unknown or revoked token, or a missing scope (HTTP 401/403)
  5  not found (HTTP 404)
  6  server unreachable or failing (HTTP 5xx)`;

/** A failure to report: the message goes to stderr, the code becomes the exit status. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** Extra facts for --json output, e.g. `current` versions of a conflict. */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function usageError(message: string): CliError {
  return new CliError(message, EXIT.usage);
}
