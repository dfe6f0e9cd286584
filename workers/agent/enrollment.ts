import { z } from 'zod';
import { type EnrollRequest, type EnrollResponse, ZEnrollResponse } from '../../lib/protocol/agent';

export const ENROLL_PATH = '/api/agent/enroll';
export const ROTATE_PATH = '/api/agent/rotate-credential';

/** The server refused the enrollment (4xx): retrying with the same token will not help. */
export class EnrollmentRefusedError extends Error {
  override name = 'EnrollmentRefusedError';
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

const ZErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }),
});

/**
 * Exchanges an enrollment token for a node credential. Throws EnrollmentRefusedError for a
 * refusal and a plain Error for anything worth retrying (network, 5xx, a garbled reply).
 */
export async function enrollNode(
  serverUrl: string,
  request: EnrollRequest,
  signal?: AbortSignal,
): Promise<EnrollResponse> {
  const response = await fetch(`${serverUrl.replace(/\/+$/, '')}${ENROLL_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(request),
    signal,
  });
  return readEnrollReply(response, 'enrollment');
}

/**
 * Trades the node's current credential for a new one (POST /api/agent/rotate-credential).
 * The server revokes the current one at once, so the caller must keep the new one before it
 * forgets the old. Throws EnrollmentRefusedError when the credential is refused.
 */
export async function rotateCredential(
  serverUrl: string,
  nodeCredential: string,
  signal?: AbortSignal,
): Promise<EnrollResponse> {
  const response = await fetch(`${serverUrl.replace(/\/+$/, '')}${ROTATE_PATH}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${nodeCredential}`, accept: 'application/json' },
    signal,
  });
  return readEnrollReply(response, 'credential rotation');
}

/** Connection errors that mean the request never reached a server (nothing was sent). */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Whether a failed fetch certainly never reached the server, so the same request may go to
 * another one without risk of doing it twice. A reset or a timeout after the request left
 * does not count: the server may have acted on it.
 */
export function neverReachedServer(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  return error instanceof TypeError && typeof cause?.code === 'string' && NOT_SENT.has(cause.code);
}

async function readEnrollReply(response: Response, what: string): Promise<EnrollResponse> {
  const text = await response.text();
  const body = parseJson(text);
  if (response.status >= 400 && response.status < 500) {
    const refusal = ZErrorBody.safeParse(body);
    if (refusal.success) {
      const { code, message, field } = refusal.data.error;
      throw new EnrollmentRefusedError(message, response.status, code, field);
    }
    throw new EnrollmentRefusedError(`HTTP ${response.status} ${response.statusText}`, response.status);
  }
  if (!response.ok) throw new Error(`${what} failed: HTTP ${response.status} ${response.statusText}`);
  const reply = ZEnrollResponse.safeParse(body);
  if (!reply.success) throw new Error(`${what} reply is not an EnrollResponse: ${text.slice(0, 200)}`);
  return reply.data;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
