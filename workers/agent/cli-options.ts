import { z } from 'zod';
import { ZEnrollRequest } from '../../lib/protocol/agent';
import { DEFAULT_BUFFER_CAPACITY } from './frame-buffer';
import { errorMessage } from './log';
import { splitServerList } from './server-list';
import { SOURCE_NAMES, sourceCombinationProblem } from './sources/create-source';
import { DEFAULT_DCGM_URL } from './sources/dcgm/dcgm-source';
import { MODEL_SERVER_KINDS } from './sources/model-server/readers';
import { splitCommandLine } from './sources/nvidia-smi/command';
import { DEFAULT_NVIDIA_SMI_COMMAND } from './sources/nvidia-smi/nvidia-smi-source';

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

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** Commander collector for options that may be repeated, one value each (URLs may hold commas). */
export function collectRepeated(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `--endpoint chat-70b=http://10.0.0.5:8000`: a deployment's inference endpoint, for stress tests. */
const endpointMapping = z
  .string()
  .regex(/^[^=\s]+=\S+$/, 'must be <deployment name>=<http(s) URL>, e.g. chat-70b=http://10.0.0.5:8000')
  .transform((value) => {
    const at = value.indexOf('=');
    return { deploymentName: value.slice(0, at), url: value.slice(at + 1) };
  })
  .pipe(
    z.object({
      deploymentName: z.string().max(128, 'the deployment name must be at most 128 characters'),
      url: httpUrl,
    }),
  );

/** Commander collector for options that may be repeated and may list several values at once. */
export function collectList(value: string, previous: string[] | undefined): string[] {
  const values = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  return [...(previous ?? []), ...values];
}

/**
 * `--server`: one base URL, or several separated by commas (tried in turn when one cannot
 * be reached). Each must be an http(s) URL; the message names the one at fault.
 */
const serverList = z
  .string()
  .transform(splitServerList)
  .pipe(
    z
      .array(z.string())
      .min(1, 'must be an http(s) URL such as http://localhost:3000')
      .superRefine((urls, ctx) => {
        for (const url of urls) {
          if (!z.url({ protocol: /^https?$/ }).safeParse(url).success) {
            ctx.addIssue({
              code: 'custom',
              message:
                urls.length === 1
                  ? 'must be an http(s) URL such as http://localhost:3000'
                  : `${JSON.stringify(url)} is not an http(s) URL; each server of the list must be one`,
            });
            return;
          }
        }
      }),
  );

export const ZAgentCliOptions = z
  .object({
    server: serverList.optional(),
    token: z
      .string()
      .min(16, 'must be at least 16 characters')
      .max(200, 'must be at most 200 characters')
      .optional(),
    hostname: ZEnrollRequest.shape.hostname,
    dataDir: z.string().min(1, 'must not be empty'),
    intervalMs: wholeNumber(100, 60_000),
    source: z
      .array(z.enum(SOURCE_NAMES, { error: `must be one of: ${SOURCE_NAMES.join(', ')}` }))
      .min(1, 'name at least one source')
      .default(['simulator'])
      .transform((names) => [...new Set(names)]),
    nvidiaSmiCommand: z.string().min(1, 'must not be empty').default(DEFAULT_NVIDIA_SMI_COMMAND),
    dcgmUrl: httpUrl.default(DEFAULT_DCGM_URL),
    metricsUrl: z.array(httpUrl).default([]),
    deploymentId: z.string().min(1, 'must not be empty').max(64, 'must be at most 64 characters').optional(),
    modelServer: z
      .enum(MODEL_SERVER_KINDS, { error: `must be one of: ${MODEL_SERVER_KINDS.join(', ')}` })
      .default('auto'),
    bufferFrames: wholeNumber(1, 1_000_000).default(DEFAULT_BUFFER_CAPACITY),
    endpoint: z.array(endpointMapping).max(64, 'at most 64 endpoints').default([]),
    applyHook: z.string().min(1, 'must not be empty').max(4096, 'must be at most 4096 characters').optional(),
    once: z.boolean().default(false),
    print: z.boolean().default(false),
    rotateCredential: z.boolean().default(false),
  })
  .superRefine((options, ctx) => {
    if (options.once !== options.print) {
      // One frame to stdout is the only one-shot mode so far; sending a single frame could come later.
      const [missing, given] = options.once ? ['print', '--once'] : ['once', '--print'];
      ctx.addIssue({ code: 'custom', path: [missing], message: `is required with ${given} (use both)` });
    }
    if (options.rotateCredential && options.once) {
      ctx.addIssue({ code: 'custom', path: ['rotateCredential'], message: 'cannot be combined with --once' });
    }
    // Rotation defaults to the server the stored credential came from.
    if (!options.once && !options.rotateCredential && !options.server) {
      ctx.addIssue({ code: 'custom', path: ['server'], message: 'is required (the Switchyard server URL)' });
    }
    const usesModelServer = options.source.includes('model-server');
    if (usesModelServer && options.metricsUrl.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['metricsUrl'],
        message: 'is required with --source model-server',
      });
    }
    for (const key of ['metricsUrl', 'deploymentId'] as const) {
      const given = key === 'metricsUrl' ? options.metricsUrl.length > 0 : options.deploymentId !== undefined;
      if (given && !usesModelServer) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'is only used with --source model-server' });
      }
    }
    const problem = sourceCombinationProblem(options.source);
    if (problem) ctx.addIssue({ code: 'custom', path: ['source'], message: problem });
    if (options.source.includes('nvidia-smi')) {
      try {
        splitCommandLine(options.nvidiaSmiCommand);
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: ['nvidiaSmiCommand'], message: errorMessage(error) });
      }
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
  const [key, position] = issue.path;
  if (key === undefined) return issue.message;
  const given = raw[String(key)];
  // A repeatable flag: show the one value at fault.
  const value = Array.isArray(given) && typeof position === 'number' ? given[position] : given;
  const shown =
    typeof value === 'string' && !SECRET_OPTIONS.has(String(key)) ? ` ${JSON.stringify(value)}` : '';
  return `${flagName(key)}${shown}: ${issue.message}`;
}
