import type { IncomingMessage, ServerResponse } from 'node:http';
import { ZEnrollRequest } from '../../lib/protocol/agent';
import { AppError } from '../errors';
import { logger } from '../log';
import type { Runtime } from '../runtime';
import { enrollNode, rotateNodeCredential } from '../services/agents/enrollment';
import { readJsonBody, sendError, sendJson } from './json';

const log = logger('http');

/** GET /api/health: 200 while the process and its database answer, 503 otherwise. */
export async function handleHealth(runtime: Runtime, res: ServerResponse): Promise<void> {
  const started = performance.now();
  let database: { state: 'up' | 'down'; latencyMs?: number; error?: string };
  try {
    await runtime.db.$queryRawUnsafe('SELECT 1');
    database = { state: 'up', latencyMs: Math.round((performance.now() - started) * 10) / 10 };
  } catch (error) {
    // Anyone may ask for health: the database's own words stay in the server log.
    log.error('health check: the database did not answer', error);
    database = { state: 'down', error: 'the database did not answer' };
  }
  const agentsConnected = runtime.io.of('/agent').sockets.size;
  sendJson(res, database.state === 'up' ? 200 : 503, {
    status: database.state === 'up' ? 'ok' : 'degraded',
    database: { ...database, embedded: !runtime.env.DATABASE_URL },
    uptimeSeconds: Math.round((Date.now() - runtime.startedAt.getTime()) / 1000),
    agentsConnected,
    telemetry: {
      framesIngested: runtime.telemetry.framesIngested,
      samplesIngested: runtime.telemetry.samplesIngested,
    },
  });
}

/** POST /api/agent/enroll: enrollment token in, node credential out (docs/agent-protocol.md). */
export function handleEnroll(runtime: Runtime, req: IncomingMessage, res: ServerResponse): Promise<void> {
  return answerPost(req, res, 'enrollment', async () => {
    const parsed = ZEnrollRequest.safeParse(await readJsonBody(req, 16 * 1024));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.join('.') || 'body';
      throw new AppError('BAD_REQUEST', `${field}: ${issue?.message ?? 'invalid'}`, { field });
    }
    const enrolled = await enrollNode(runtime.db, parsed.data, runtime.io);
    await runtime.catalog.refresh();
    log.info(`enrolled ${parsed.data.hostname} into ${enrolled.clusterName}`);
    sendJson(res, 201, enrolled);
  });
}

/** Longer than any credential the server issues; anything longer is not worth hashing. */
const MAX_CREDENTIAL_LENGTH = 200;

/**
 * POST /api/agent/rotate-credential with `Authorization: Bearer node_…` (no body): the
 * running agent trades its credential for a new one (docs/agent-protocol.md §1). The old one
 * stops working at once and its sockets are closed with a `revoked` notice.
 */
export function handleRotateCredential(
  runtime: Runtime,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  return answerPost(req, res, 'credential rotation', async () => {
    const credential = bearerCredential(req.headers.authorization);
    const rotated = await rotateNodeCredential(runtime.db, runtime.io, credential);
    log.info(`rotated the credential of node ${rotated.nodeId}`);
    sendJson(res, 200, rotated);
  });
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

/** A POST-only JSON route: an AppError answers as itself, anything else as a logged 500. */
async function answerPost(
  req: IncomingMessage,
  res: ServerResponse,
  what: string,
  run: () => Promise<void>,
): Promise<void> {
  if (req.method !== 'POST') {
    sendJson(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'use POST' } });
    return;
  }
  try {
    await run();
  } catch (error) {
    if (error instanceof AppError) sendError(res, error);
    else {
      log.error(`${what} failed`, error);
      sendError(res, new AppError('INTERNAL', 'internal error'));
    }
  }
}
