import type { IncomingMessage, ServerResponse } from 'node:http';
import { ZEnrollRequest } from '../../lib/protocol/agent';
import { AppError } from '../errors';
import { logger } from '../log';
import type { Runtime } from '../runtime';
import { enrollNode } from '../services/agents/enrollment';
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
export async function handleEnroll(
  runtime: Runtime,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== 'POST') {
    sendJson(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'use POST' } });
    return;
  }
  try {
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
  } catch (error) {
    if (error instanceof AppError) sendError(res, error);
    else {
      log.error('enrollment failed', error);
      sendError(res, new AppError('INTERNAL', 'internal error'));
    }
  }
}
