import type { IncomingMessage, ServerResponse } from 'node:http';
import { findJsonFault, jsonTextDepthExceeds, MAX_JSON_DEPTH } from '../../lib/json-guards';
import { AppError, HTTP_STATUS } from '../errors';

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  };
  res.writeHead(status, headers);
  res.end(text);
}

/** Errors over plain HTTP: `{ error: { code, message, field? } }` with the matching status. */
export function sendError(res: ServerResponse, error: AppError): void {
  const field = typeof error.details?.field === 'string' ? error.details.field : undefined;
  const limitBytes = typeof error.details?.limitBytes === 'number' ? error.details.limitBytes : undefined;
  sendJson(res, HTTP_STATUS[error.code], {
    error: { code: error.code, message: error.message, field, limitBytes },
  });
}

/** Whether a request still has body bytes that nobody has read (see closeConnectionIfBodyUnread). */
export function bodyLeftUnread(req: IncomingMessage | undefined): boolean {
  if (!req || req.complete) return false;
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

export function payloadTooLarge(limitBytes: number): AppError {
  return new AppError('PAYLOAD_TOO_LARGE', `body: larger than the limit of ${limitBytes} bytes`, {
    field: 'body',
    limitBytes,
  });
}

/**
 * Reads a body of at most `limitBytes` as UTF-8 text. A declared length over the limit is
 * refused before a byte is read; a streamed body stops being read as soon as it passes the
 * limit (the stream is paused, and the answer closes the connection: see sendJson).
 */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) return Promise.reject(payloadTooLarge(limitBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        stop();
        req.pause();
        reject(payloadTooLarge(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    const onClose = () => {
      stop();
      reject(new AppError('BAD_REQUEST', 'body: the client closed the connection before sending all of it'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * Parses a JSON text from outside: nesting deeper than MAX_JSON_DEPTH, malformed JSON and
 * strings with control characters (such as NUL) are BAD_REQUESTs naming the field.
 */
export function parseJsonText(text: string, what = 'body'): unknown {
  if (jsonTextDepthExceeds(text)) {
    throw new AppError('BAD_REQUEST', `${what}: nested deeper than ${MAX_JSON_DEPTH} levels`, {
      field: what,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError('BAD_REQUEST', `${what}: not valid JSON`, { field: what });
  }
  const fault = findJsonFault(value);
  if (fault) throw new AppError('BAD_REQUEST', fault.message, { field: fault.field });
  return value;
}

/** Reads a JSON body of at most `limitBytes` (413 beyond it); see parseJsonText for the rest. */
export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  return parseJsonText(await readBody(req, limitBytes));
}
