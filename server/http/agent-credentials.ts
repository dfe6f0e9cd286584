import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError } from '../errors';
import { logger } from '../log';
import type { Runtime } from '../runtime';
import { rotateNodeCredential } from '../services/agents/enrollment';
import { sendError, sendJson } from './json';

const log = logger('http');

/** Longer than any credential the server issues; anything longer is not worth hashing. */
const MAX_CREDENTIAL_LENGTH = 200;

/**
 * POST /api/agent/rotate-credential with `Authorization: Bearer node_…` (no body): the
 * running agent trades its credential for a new one (docs/agent-protocol.md §1). The old one
 * stops working at once and its sockets are closed with a `revoked` notice.
 */
export async function handleRotateCredential(
  runtime: Runtime,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== 'POST') {
    sendJson(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'use POST' } });
    return;
  }
  try {
    const credential = bearerCredential(req.headers.authorization);
    const rotated = await rotateNodeCredential(runtime.db, runtime.io, credential);
    log.info(`rotated the credential of node ${rotated.nodeId}`);
    sendJson(res, 200, rotated);
  } catch (error) {
    if (error instanceof AppError) sendError(res, error);
    else {
      log.error('credential rotation failed', error);
      sendError(res, new AppError('INTERNAL', 'internal error'));
    }
  }
}

function bearerCredential(header: string | undefined): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const credential = match?.[1];
  if (!credential || credential.length > MAX_CREDENTIAL_LENGTH) {
    throw new AppError(
      'UNAUTHORIZED',
      'authorization: send the current node credential as "Authorization: Bearer node_…"',
      { field: 'authorization' },
    );
  }
  return credential;
}
