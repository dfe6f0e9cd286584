import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, HTTP_STATUS } from '../errors';

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

/** Errors over plain HTTP: `{ error: { code, message, field? } }` with the matching status. */
export function sendError(res: ServerResponse, error: AppError): void {
  const field = typeof error.details?.field === 'string' ? error.details.field : undefined;
  sendJson(res, HTTP_STATUS[error.code], { error: { code: error.code, message: error.message, field } });
}

/** Reads a JSON body of at most `limitBytes`; a larger or malformed one is a BAD_REQUEST. */
export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw new AppError('BAD_REQUEST', `body: larger than ${limitBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new AppError('BAD_REQUEST', 'body: not valid JSON');
  }
}
