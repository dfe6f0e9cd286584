import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { roleAtLeast } from '../auth/principal';
import { AppError } from '../errors';
import { logger } from '../log';
import type { Runtime } from '../runtime';
import {
  AUDIT_CSV_COLUMNS,
  AUDIT_EXPORT_MAX,
  auditEventBatches,
  csvRow,
} from '../services/audit/audit-query';
import { resolvePrincipal } from '../trpc/context';
import { describeIssues } from '../trpc/init';
import { auditFilterOf, ZAuditFilter } from '../trpc/routers/audit';
import { sendError } from './json';

const log = logger('http');

export const AUDIT_EXPORT_PATH = '/api/audit/export';

/**
 * GET /api/audit/export?format=csv|json&actor=…&action=…&targetType=…&targetId=…&from=…&to=…:
 * the audit log as a download, with the filters of `audit.list`, newest first. Admins signed in
 * to the console only, like the page. Streamed in batches and bounded to AUDIT_EXPORT_MAX
 * events; a cut-off export says so (`"truncated": true` in JSON, a last `#` line in CSV).
 */
export async function handleAuditExport(
  runtime: Runtime,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  let filter: ReturnType<typeof auditFilterOf>;
  let format: 'csv' | 'json';
  try {
    if (req.method !== 'GET') throw new AppError('BAD_REQUEST', 'method: use GET');
    const principal = await resolvePrincipal(runtime, req);
    if (!principal) throw new AppError('UNAUTHORIZED', 'Sign in to export the audit log');
    if (principal.kind !== 'user') {
      throw new AppError('FORBIDDEN', 'API tokens cannot read the audit log; sign in as an admin');
    }
    if (!roleAtLeast(principal.role, 'admin')) {
      throw new AppError('FORBIDDEN', 'Exporting the audit log needs the admin role');
    }
    const params = new URL(req.url ?? '/', 'http://localhost').searchParams;
    const requested = params.get('format') ?? 'csv';
    if (requested !== 'csv' && requested !== 'json') {
      throw new AppError('BAD_REQUEST', 'format: expected csv or json', { field: 'format' });
    }
    format = requested;
    const raw = Object.fromEntries([...params].filter(([key, value]) => key !== 'format' && value !== ''));
    const parsed = ZAuditFilter.strict().safeParse(raw);
    if (!parsed.success) {
      const field = parsed.error.issues[0]?.path.join('.') || 'query';
      throw new AppError('BAD_REQUEST', describeIssues(parsed.error.issues), { field });
    }
    filter = auditFilterOf(parsed.data);
  } catch (error) {
    if (error instanceof AppError) return sendError(res, error);
    throw error;
  }

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  res.writeHead(200, {
    'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8',
    'content-disposition': `attachment; filename="switchyard-audit-${stamp}.${format}"`,
    'cache-control': 'no-store',
  });
  // Respect backpressure: a slow client holds the next batch back rather than the memory.
  const write = async (chunk: string) => {
    if (!res.write(chunk)) await once(res, 'drain');
  };
  let count = 0;
  try {
    await write(format === 'csv' ? `${AUDIT_CSV_COLUMNS.join(',')}\r\n` : '{"events":[');
    for await (const batch of auditEventBatches(runtime.db, filter, AUDIT_EXPORT_MAX + 1)) {
      const kept = batch.slice(0, Math.max(0, AUDIT_EXPORT_MAX - count));
      const text =
        format === 'csv'
          ? kept.map(csvRow).join('')
          : kept.map((event, i) => `${count + i === 0 ? '' : ','}\n${JSON.stringify(event)}`).join('');
      count += batch.length;
      await write(text);
      if (res.destroyed) return;
    }
    const truncated = count > AUDIT_EXPORT_MAX;
    if (format === 'json') {
      await write(`\n],"truncated":${truncated},"limit":${AUDIT_EXPORT_MAX}}\n`);
    } else if (truncated) {
      await write(`# truncated after ${AUDIT_EXPORT_MAX} events: narrow the time range for the rest\r\n`);
    }
    res.end();
  } catch (error) {
    // The status line is sent; all that is left is to cut the download short, visibly.
    log.error('audit export failed', error);
    res.destroy(error as Error);
  }
}
