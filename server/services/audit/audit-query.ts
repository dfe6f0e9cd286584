import type { Db } from '../../db/client';
import { AppError } from '../../errors';
import type { Prisma } from '../../generated/prisma/client';

/** The most events one page may hold; exports read in batches of this size too. */
export const AUDIT_PAGE_MAX = 200;
export const AUDIT_PAGE_DEFAULT = 50;
/** An export stops after this many events (the file says so); narrow the filters for more. */
export const AUDIT_EXPORT_MAX = 100_000;

/** What the log can be narrowed to. Every field is optional; together they all apply. */
export type AuditFilter = {
  /** The actor's name or id, exactly (a username, an API token's name, a node's hostname). */
  actor?: string;
  /** `user`, `token`, `agent` or `system`. */
  actorType?: string;
  /** A prefix of the action: `allocation.` matches every allocation event, `node.cordon` that one. */
  action?: string;
  targetType?: string;
  targetId?: string;
  /** From this instant (inclusive) … */
  from?: Date;
  /** … to this one (exclusive). */
  to?: Date;
};

/** One audit event as the console, the API and the exports show it. */
export type AuditEventView = {
  id: string;
  at: string;
  actorType: string;
  actorId: string | null;
  actorName: string;
  action: string;
  targetType: string;
  targetId: string | null;
  /** The target's name where it is cheap to know (a hostname, a deployment's name), else null. */
  targetName: string | null;
  reason: string | null;
  outcome: string;
  details: unknown;
};

export type AuditPage = { events: AuditEventView[]; nextCursor: string | null };

type Row = Prisma.AuditEventGetPayload<object>;
type Position = { at: Date; id: bigint };

/**
 * A page of the log, newest first. Paged by keyset on (at, id): the cursor is the position of
 * the last event of the previous page, so a page costs the same however deep it is, and
 * events recorded meanwhile do not shift later pages.
 */
export async function listAuditEvents(
  db: Db,
  input: { filter: AuditFilter; cursor?: string; limit?: number },
): Promise<AuditPage> {
  const limit = input.limit ?? AUDIT_PAGE_DEFAULT;
  if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_PAGE_MAX) {
    throw new AppError('BAD_REQUEST', `limit: must be a whole number from 1 to ${AUDIT_PAGE_MAX}`, {
      field: 'limit',
    });
  }
  const after = input.cursor ? decodeCursor(input.cursor) : null;
  const rows = await readRows(db, input.filter, after, limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    events: await toViews(db, page),
    nextCursor: rows.length > limit && last ? encodeCursor(last) : null,
  };
}

/**
 * Every event the filter matches, newest first, in batches (for exports): at most
 * AUDIT_EXPORT_MAX events, so an export is bounded however large the log grows.
 */
export async function* auditEventBatches(
  db: Db,
  filter: AuditFilter,
  maxEvents = AUDIT_EXPORT_MAX,
): AsyncGenerator<AuditEventView[]> {
  let after: Position | null = null;
  let left = maxEvents;
  while (left > 0) {
    const rows = await readRows(db, filter, after, Math.min(AUDIT_PAGE_MAX, left));
    if (rows.length === 0) return;
    yield await toViews(db, rows);
    left -= rows.length;
    const last = rows.at(-1)!;
    after = { at: last.at, id: last.id };
    if (rows.length < AUDIT_PAGE_MAX) return;
  }
}

function readRows(db: Db, filter: AuditFilter, after: Position | null, take: number): Promise<Row[]> {
  const and: Prisma.AuditEventWhereInput[] = [];
  if (filter.actor) and.push({ OR: [{ actorName: filter.actor }, { actorId: filter.actor }] });
  if (filter.actorType) and.push({ actorType: filter.actorType });
  if (filter.action) and.push({ action: { startsWith: filter.action } });
  if (filter.targetType) and.push({ targetType: filter.targetType });
  if (filter.targetId) and.push({ targetId: filter.targetId });
  if (filter.from) and.push({ at: { gte: filter.from } });
  if (filter.to) and.push({ at: { lt: filter.to } });
  if (after) and.push({ OR: [{ at: { lt: after.at } }, { at: after.at, id: { lt: after.id } }] });
  return db.auditEvent.findMany({
    where: { AND: and },
    orderBy: [{ at: 'desc' }, { id: 'desc' }],
    take,
  });
}

function encodeCursor(row: Position): string {
  return Buffer.from(`${row.at.getTime()}:${row.id}`).toString('base64url');
}

function decodeCursor(cursor: string): Position {
  const match = /^(\d{1,15}):(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) {
    throw new AppError('BAD_REQUEST', 'cursor: not a cursor this server gave out', { field: 'cursor' });
  }
  return { at: new Date(Number(match[1])), id: BigInt(match[2]!) };
}

function detailsOf(row: Row): Record<string, unknown> {
  const details = row.details;
  return details && typeof details === 'object' && !Array.isArray(details)
    ? (details as Record<string, unknown>)
    : {};
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/** Names of the page's targets, one query per kind of target that appears on it. */
async function targetNames(db: Db, rows: Row[]): Promise<Map<string, string>> {
  const ids = (type: string) => [
    ...new Set(rows.filter((r) => r.targetType === type && r.targetId).map((r) => r.targetId!)),
  ];
  const names = new Map<string, string>();
  const put = (type: string, id: string, name: string) => names.set(`${type}:${id}`, name);
  const [nodes, gpus, deployments, users, apiTokens, clusters] = await Promise.all([
    ids('node').length ? db.node.findMany({ where: { id: { in: ids('node') } } }) : [],
    ids('gpu').length
      ? db.gpu.findMany({
          where: { id: { in: ids('gpu') } },
          include: { node: { select: { hostname: true } } },
        })
      : [],
    ids('deployment').length ? db.deployment.findMany({ where: { id: { in: ids('deployment') } } }) : [],
    ids('user').length ? db.user.findMany({ where: { id: { in: ids('user') } } }) : [],
    ids('apiToken').length ? db.apiToken.findMany({ where: { id: { in: ids('apiToken') } } }) : [],
    ids('cluster').length ? db.cluster.findMany({ where: { id: { in: ids('cluster') } } }) : [],
  ]);
  for (const n of nodes) put('node', n.id, n.hostname);
  for (const g of gpus) put('gpu', g.id, `${g.node.hostname}/${g.index}`);
  for (const d of deployments) put('deployment', d.id, d.name);
  for (const u of users) put('user', u.id, u.username);
  for (const t of apiTokens) put('apiToken', t.id, t.name);
  for (const c of clusters) put('cluster', c.id, c.name);
  return names;
}

async function toViews(db: Db, rows: Row[]): Promise<AuditEventView[]> {
  const names = await targetNames(db, rows);
  return rows.map((row) => {
    const details = detailsOf(row);
    return {
      id: row.id.toString(),
      at: row.at.toISOString(),
      actorType: row.actorType,
      actorId: row.actorId,
      actorName: row.actorName,
      action: row.action,
      targetType: row.targetType,
      targetId: row.targetId,
      // A removed node or deployment keeps the name its events recorded.
      targetName:
        names.get(`${row.targetType}:${row.targetId}`) ??
        text(details.hostname) ??
        text(details.name) ??
        text(details.deployment) ??
        text(details.username) ??
        null,
      reason: row.reason ?? text(details.reason),
      outcome: row.outcome !== 'ok' ? row.outcome : (text(details.outcome) ?? row.outcome),
      details: row.details,
    };
  });
}

/** The columns of the CSV export, in order. Details are one JSON cell. */
export const AUDIT_CSV_COLUMNS = [
  'id',
  'at',
  'actorType',
  'actorId',
  'actorName',
  'action',
  'targetType',
  'targetId',
  'targetName',
  'reason',
  'outcome',
  'details',
] as const;

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. A field that
 * a spreadsheet would run as a formula (=, +, -, @ first) is prefixed with an apostrophe, since
 * actor names, reasons and hostnames come from people and agents.
 */
export function csvField(value: unknown): string {
  let cell =
    value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(cell)) cell = `'${cell}`;
  return /[",\r\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;
}

export function csvRow(event: AuditEventView): string {
  return `${AUDIT_CSV_COLUMNS.map((column) => csvField(event[column])).join(',')}\r\n`;
}
