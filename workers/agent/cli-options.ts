import { z } from 'zod';
import { ZEnrollRequest } from '../../lib/protocol/agent';
import { DEFAULT_BUFFER_CAPACITY } from './frame-buffer';
import { SOURCE_NAMES } from './sources/create-source';

/**
 * Command-line options, validated with zod after commander has split them up. Commander
 * hands over strings; the schema turns them into numbers and checks ranges, and its error
 * paths are the option names, so a message can name the flag at fault.
 */

function wholeNumber(min: number, max: number) {
  return z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
}

export const ZAgentCliOptions = z
  .object({
    server: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://localhost:3000' })
      .optional(),
    token: z
      .string()
      .min(16, 'must be at least 16 characters')
      .max(200, 'must be at most 200 characters')
      .optional(),
    hostname: ZEnrollRequest.shape.hostname,
    dataDir: z.string().min(1, 'must not be empty'),
    intervalMs: wholeNumber(100, 60_000),
    source: z.enum(SOURCE_NAMES, { error: `must be one of: ${SOURCE_NAMES.join(', ')}` }),
    bufferFrames: wholeNumber(1, 1_000_000).default(DEFAULT_BUFFER_CAPACITY),
    once: z.boolean().default(false),
    print: z.boolean().default(false),
  })
  .superRefine((options, ctx) => {
    if (options.once !== options.print) {
      // One frame to stdout is the only one-shot mode so far; sending a single frame could come later.
      const [missing, given] = options.once ? ['print', '--once'] : ['once', '--print'];
      ctx.addIssue({ code: 'custom', path: [missing], message: `is required with ${given} (use both)` });
    }
    if (!options.once && !options.server) {
      ctx.addIssue({ code: 'custom', path: ['server'], message: 'is required (the Switchyard server URL)' });
    }
  });
export type AgentCliOptions = z.infer<typeof ZAgentCliOptions>;

/** `intervalMs` → `--interval-ms`. */
export function flagName(key: PropertyKey): string {
  return `--${String(key).replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

/** Secrets are never echoed back in error messages. */
const SECRET_OPTIONS = new Set(['token']);

/** The first problem, naming the flag and (unless secret) the value given. */
export function describeCliError(error: z.ZodError, raw: Record<string, unknown>): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid options';
  const key = issue.path[0];
  if (key === undefined) return issue.message;
  const value = raw[String(key)];
  const shown =
    typeof value === 'string' && !SECRET_OPTIONS.has(String(key)) ? ` ${JSON.stringify(value)}` : '';
  return `${flagName(key)}${shown}: ${issue.message}`;
}
