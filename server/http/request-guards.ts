import type { IncomingMessage, ServerResponse } from 'node:http';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import { jsonTextDepthExceeds, MAX_JSON_DEPTH } from '../../lib/json-guards';
import { readCookie, SESSION_COOKIE } from '../auth/sessions';
import { AppError, HTTP_STATUS, TRPC_CODE } from '../errors';
import { bodyLeftUnread, payloadTooLarge, readBody, sendError, sendJson } from './json';

/**
 * What every request to the JSON APIs (/api/trpc and /api/v1) passes before a handler
 * sees it: a bounded body, a JSON content type, a same-origin check for changes made
 * with the session cookie, and (tRPC) a bounded batch.
 */

/**
 * Largest body the JSON APIs read. The largest legitimate input is an allocation change:
 * up to 1024 moves of 64-character ids (about 170 KB).
 */
export const API_BODY_LIMIT_BYTES = 256 * 1024;
/** Calls in one tRPC batch request; the console's client splits larger batches. */
export const MAX_BATCH_CALLS = 10;
/**
 * Largest body any other route may declare. Those routes read no body or bound their own
 * (enrollment: 16 KiB); this refuses a large one before routing.
 */
export const OTHER_BODY_LIMIT_BYTES = 64 * 1024;

/**
 * Refuses, before routing, a body whose declared length passes the limit of a route
 * outside the JSON APIs (whose guard, admitApiRequest, answers in their own shape).
 */
export function refuseDeclaredBody(req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
  if (pathname.startsWith('/api/trpc/') || pathname === '/api/v1' || pathname.startsWith('/api/v1/'))
    return false;
  const declared = Number(req.headers['content-length'] ?? 0);
  if (!(declared > OTHER_BODY_LIMIT_BYTES)) return false;
  sendError(res, payloadTooLarge(OTHER_BODY_LIMIT_BYTES));
  return true;
}

/**
 * A response sent while the request body is still unread (refused, or a route that takes
 * none) closes the connection: otherwise Node reads and discards the rest of the body to
 * keep the connection alive, however long it is.
 */
export function closeConnectionIfBodyUnread(req: IncomingMessage, res: ServerResponse): void {
  const writeHead = res.writeHead;
  res.writeHead = function closing(this: ServerResponse, ...args: unknown[]) {
    if (!this.headersSent && bodyLeftUnread(req)) this.setHeader('connection', 'close');
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
}

export type ApiKind = 'trpc' | 'rest';

export type OriginPolicy = {
  /** Behind HTTPS (SWITCHYARD_SECURE_COOKIES=true) only https origins are this host. */
  httpsOnly: boolean;
};

/**
 * Checks a request to a JSON API and reads its body. Answers and returns false when it is
 * refused; otherwise the body is left on `req.body` for the handler (tRPC takes the text,
 * trpc-to-openapi the parsed value) and returns true.
 */
export async function admitApiRequest(
  req: IncomingMessage,
  res: ServerResponse,
  kind: ApiKind,
  policy: OriginPolicy,
): Promise<boolean> {
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (kind === 'trpc') checkBatchSize(url);
    const changes = !isSafeMethod(req.method);
    if (changes) {
      checkContentType(req);
      const refusal = originRefusal(req, policy);
      if (refusal) throw new AppError('FORBIDDEN', refusal);
      const text = await readBody(req, API_BODY_LIMIT_BYTES);
      const body = kind === 'trpc' ? textBody(text) : parsedBody(text);
      (req as IncomingMessage & { body?: unknown }).body = body;
    }
    return true;
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    sendApiError(res, kind, error);
    return false;
  }
}

function isSafeMethod(method: string | undefined): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

function checkBatchSize(url: URL): void {
  if (url.searchParams.get('batch') !== '1') return;
  const calls = url.pathname.slice('/api/trpc/'.length).split(',').length;
  if (calls > MAX_BATCH_CALLS) {
    throw new AppError(
      'BAD_REQUEST',
      `batch: at most ${MAX_BATCH_CALLS} calls in one request, this one has ${calls}`,
      { field: 'batch', maxCalls: MAX_BATCH_CALLS },
    );
  }
}

/**
 * Changes take JSON only. The types a cross-site form may send without a CORS preflight
 * (form-urlencoded, multipart, text/plain) are refused by name.
 */
function checkContentType(req: IncomingMessage): void {
  const type = req.headers['content-type']?.split(';', 1)[0]?.trim().toLowerCase();
  if (type === 'application/json') return;
  throw new AppError(
    'UNSUPPORTED_MEDIA_TYPE',
    type
      ? `content-type: ${type.slice(0, 100)} is not accepted; send application/json`
      : 'content-type: missing; send application/json',
    { field: 'content-type' },
  );
}

/**
 * A change authenticated by the session cookie must come from a page of this host: its
 * Origin (or, lacking one, its Referer) must be this host's origin. Bearer tokens are
 * not sent by browsers on their own, so calls with one need no such proof. A foreign
 * Origin is refused even without a cookie (signing someone in to another account).
 */
export function originRefusal(req: IncomingMessage, policy: OriginPolicy): string | null {
  if (req.headers.authorization?.startsWith('Bearer ')) return null;
  const host = req.headers.host;
  const origin = req.headers.origin;
  const claimed = origin ?? originOfUrl(req.headers.referer);
  if (claimed === undefined) {
    const hasSession = readCookie(req.headers.cookie, SESSION_COOKIE) !== undefined;
    return hasSession
      ? 'origin: a change made with the session cookie must carry an Origin or Referer header of this host'
      : null;
  }
  if (host && isOriginOf(claimed, host, policy)) return null;
  return `origin: cross-origin request refused (${origin ? 'Origin' : 'Referer'} ${claimed.slice(0, 200)} is not this host)`;
}

function originOfUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return 'null';
  }
}

function isOriginOf(origin: string, host: string, policy: OriginPolicy): boolean {
  try {
    const claimed = new URL(origin);
    const schemes = policy.httpsOnly ? ['https:'] : ['http:', 'https:'];
    // Both sides through URL, which drops a default port and lower-cases the host name.
    return (
      schemes.includes(claimed.protocol) && claimed.host === new URL(`${claimed.protocol}//${host}`).host
    );
  } catch {
    return false;
  }
}

/** tRPC parses the text itself; the depth is checked first, without parsing. */
function textBody(text: string): string | undefined {
  if (text === '') return undefined;
  if (jsonTextDepthExceeds(text)) throw depthError();
  return text;
}

function parsedBody(text: string): unknown {
  if (text === '') return undefined;
  if (jsonTextDepthExceeds(text)) throw depthError();
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError('BAD_REQUEST', 'body: not valid JSON', { field: 'body' });
  }
}

function depthError(): AppError {
  return new AppError('BAD_REQUEST', `body: nested deeper than ${MAX_JSON_DEPTH} levels`, { field: 'body' });
}

/** An error in the shape each API answers with, so their clients read it as usual. */
export function sendApiError(res: ServerResponse, kind: ApiKind, error: AppError): void {
  const status = HTTP_STATUS[error.code];
  const code = TRPC_CODE[error.code];
  const data = { code, httpStatus: status, details: error.details ?? null };
  if (kind === 'trpc') {
    sendJson(res, status, { error: { message: error.message, code: TRPC_ERROR_CODES_BY_KEY[code], data } });
  } else {
    sendJson(res, status, { message: error.message, code, data });
  }
}
