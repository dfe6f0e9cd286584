import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError } from '../errors';
import type { Runtime } from '../runtime';
import { resolvePrincipal } from '../trpc/context';
import { sendError } from './json';

const EXPORT_PATH = /^\/api\/stress\/([\w-]{1,64})\/export$/;

/**
 * GET /api/stress/<id>/export?format=json|csv: the same export as tRPC `stress.export`, as
 * a download a browser link or `curl` can fetch (session cookie, or a `read` API token).
 */
export async function handleStressExport(
  runtime: Runtime,
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
): Promise<void> {
  try {
    const match = EXPORT_PATH.exec(pathname);
    if (!match) throw new AppError('NOT_FOUND', `No route ${pathname}`);
    if (req.method !== 'GET') throw new AppError('BAD_REQUEST', 'method: use GET');
    const principal = await resolvePrincipal(runtime, req);
    if (!principal) throw new AppError('UNAUTHORIZED', 'Sign in or send an API token');
    if (principal.kind === 'token' && !principal.scopes.includes('read')) {
      throw new AppError('FORBIDDEN', 'This API token lacks the "read" scope');
    }
    const format = new URL(req.url ?? '/', 'http://localhost').searchParams.get('format') ?? 'json';
    if (format !== 'json' && format !== 'csv') {
      throw new AppError('BAD_REQUEST', 'format: expected json or csv', { field: 'format' });
    }
    const file = await runtime.stress.export(match[1]!, format);
    res.writeHead(200, {
      'content-type': file.contentType,
      'content-disposition': `attachment; filename="${file.filename}"`,
      'cache-control': 'no-store',
    });
    res.end(file.body);
  } catch (error) {
    if (error instanceof AppError) return sendError(res, error);
    throw error;
  }
}
