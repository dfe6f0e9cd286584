/**
 * What a command prints. People get tables and progress lines; with --json, stdout carries
 * exactly one JSON document (the result, or `{ "error": … }`) and progress stays quiet.
 */
export class Output {
  constructor(
    readonly json: boolean,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly stderr: NodeJS.WritableStream = process.stderr,
  ) {}

  /** The command's result: `value` as JSON with --json, otherwise the text `human` makes. */
  result(value: unknown, human: () => string): void {
    const text = this.json ? JSON.stringify(value, null, 2) : human();
    if (text !== '') this.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** A line about work in progress, for people watching (stderr, so pipes get only results). */
  progress(line: string): void {
    if (!this.json) this.stderr.write(`${line}\n`);
  }

  /** A failure: the message to stderr; with --json also the error document on stdout. */
  error(message: string, exitCode: number, details?: Record<string, unknown>): void {
    this.stderr.write(`switchyard: ${message}\n`);
    if (this.json) {
      this.stdout.write(`${JSON.stringify({ error: { message, exitCode, ...details } }, null, 2)}\n`);
    }
  }
}

/** Left-aligned columns (right-aligned where `right` says), two spaces apart. */
export function table(header: string[], rows: (string | number)[][], right: number[] = []): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((row) =>
      row
        .map((cell, i) => (right.includes(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export const DASH = '-';

export function fmtNumber(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function fmtMs(value: number | null | undefined): string {
  return value === null || value === undefined ? DASH : `${fmtNumber(value)} ms`;
}

export function fmtPct(value: number | null | undefined, digits = 0): string {
  return value === null || value === undefined ? DASH : `${fmtNumber(value, digits)}%`;
}
