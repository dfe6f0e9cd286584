import type { IncomingMessage, ServerResponse } from 'node:http';
import { createOpenApiNodeHttpHandler, generateOpenApiDocument, type OpenAPIObject } from 'trpc-to-openapi';
import type { LoginThrottle } from '../auth/login-throttle';
import { SESSION_COOKIE } from '../auth/sessions';
import { logger } from '../log';
import type { Runtime } from '../runtime';
import { contextFactory } from '../trpc/context';
import { describeIssues, type ProcedureMeta, procedureAccess } from '../trpc/init';
import { appRouter } from '../trpc/root';
import { sendJson } from './json';
import { API_BODY_LIMIT_BYTES, admitApiRequest, type OriginPolicy } from './request-guards';
import { keepJsonBodiesStrict, type ZodLike } from './strict-json-bodies';

/**
 * The REST API for scripts: every tRPC procedure that declares `meta.openapi` is also served
 * at /api/v1<path>, with the same context (API token or session cookie), the same input
 * validation and the same errors. /api/v1/openapi.json describes it.
 */

export const REST_PREFIX = '/api/v1';
/** Bumped when a path or a schema changes in a way that breaks existing clients. */
export const REST_API_VERSION = '1.0.0';

const log = logger('rest');

/** What the reference page shows about who may call an operation. */
export type OperationAccess = { role: 'viewer' | 'operator' | 'admin' | null; tokenScope: string | null };
export const ACCESS_EXTENSION = 'x-switchyard-access';

export function openApiDocument(): OpenAPIObject {
  const document = generateOpenApiDocument(appRouter, {
    title: 'Switchyard',
    description:
      'Read the GPU fleet, move GPUs between deployments and jobs, and run stress tests. ' +
      'Send an API token as `Authorization: Bearer <token>` (admins create them at /admin/tokens). ' +
      'Errors answer `{ message, code, data: { httpStatus, details } }`; a 409 conflict carries the ' +
      'current versions in `data.details.current`.',
    version: REST_API_VERSION,
    // Relative, so the document is right behind any host name or proxy.
    baseUrl: REST_PREFIX,
    tags: ['fleet', 'allocation', 'stress', 'admin'],
    securitySchemes: {
      bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API token, e.g. `syt_…`' },
      sessionCookie: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'A console session' },
    },
  });
  // Each operation says which role and which token scope it needs, read from the procedure itself.
  for (const { procedurePath, procedure, openapi } of openApiProcedures()) {
    const path = `/${openapi.path.replace(/^\/|\/$/g, '')}`;
    const operation = document.paths?.[path]?.[openapi.method.toLowerCase() as 'get'];
    if (!operation) continue;
    const access: OperationAccess = procedureAccess(procedure);
    operation[ACCESS_EXTENSION] = access;
    operation['x-trpc-procedure'] = procedurePath;
  }
  describeErrorBodies(document);
  return document;
}

/** Error bodies also carry what the tRPC error formatter adds (server/trpc/init.ts). */
function describeErrorBodies(document: OpenAPIObject): void {
  for (const [name, schema] of Object.entries(document.components?.schemas ?? {})) {
    if (!name.startsWith('error.') || !('properties' in schema) || !schema.properties) continue;
    schema.properties.data = {
      type: 'object',
      properties: {
        httpStatus: { type: 'integer' },
        details: {
          type: ['object', 'null'],
          description: 'Specifics of the error, e.g. `current` versions on a 409 conflict',
        },
        zodError: {
          type: ['object', 'null'],
          description: 'The bad fields of an invalid input: `{ fieldErrors: { field: [message] } }`',
        },
      },
    };
  }
}

type OpenApi = NonNullable<ProcedureMeta['openapi']>;
type ProcedureDef = { meta?: ProcedureMeta; inputs: ZodLike[] };

function openApiProcedures(): {
  procedurePath: string;
  procedure: unknown;
  openapi: OpenApi;
  inputs: ZodLike[];
}[] {
  const procedures = appRouter._def.procedures as unknown as Record<string, { _def: ProcedureDef }>;
  return Object.entries(procedures).flatMap(([procedurePath, procedure]) => {
    const openapi = procedure._def.meta?.openapi;
    return openapi && openapi.enabled !== false
      ? [{ procedurePath, procedure, openapi, inputs: procedure._def.inputs }]
      : [];
  });
}

export function createRestApi(
  runtime: Runtime,
  options: { loginThrottle: LoginThrottle; originPolicy: OriginPolicy },
) {
  keepJsonBodiesStrict(
    openApiProcedures().map(({ openapi, inputs }) => ({
      inQuery: openapi.method === 'GET' || openapi.method === 'DELETE',
      inputs,
    })),
  );
  const handler = createOpenApiNodeHttpHandler<typeof appRouter, IncomingMessage, ServerResponse>({
    router: appRouter,
    createContext: contextFactory(runtime, options.loginThrottle),
    // admitApiRequest has read the body within this limit already; this is a second bound.
    maxBodySize: API_BODY_LIMIT_BYTES,
    onError: ({ error, path }) => {
      if (error.code === 'INTERNAL_SERVER_ERROR') log.error(`REST ${path ?? '?'} failed`, error);
    },
  });
  let document: string | null = null;

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.slice(REST_PREFIX.length) || '/';
    if (path === '/openapi.json') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return sendJson(res, 405, { message: 'Use GET', code: 'METHOD_NOT_SUPPORTED' });
      }
      document ??= JSON.stringify(openApiDocument());
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : document);
      return;
    }
    if (!(await admitApiRequest(req, res, 'rest', options.originPolicy))) return;
    // The procedures' paths are relative to /api/v1.
    req.url = path + url.search;
    // The library reads a body only for exactly `application/json`; a charset must not hide it.
    const contentType = req.headers['content-type'];
    if (contentType?.toLowerCase().startsWith('application/json'))
      req.headers['content-type'] = 'application/json';
    nameBadFieldsInMessage(res);
    await handler(req, res);
  };
}

/**
 * trpc-to-openapi answers every input validation error with the message "Input validation
 * failed" (the issues follow in `issues`). Scripts print `message`, so it gets back the
 * text the tRPC API gives: each bad field named with what is wrong with it.
 */
function nameBadFieldsInMessage(res: ServerResponse): void {
  const end = res.end.bind(res) as (chunk?: unknown) => ServerResponse;
  res.end = ((chunk?: unknown) => {
    if (res.statusCode === 400 && typeof chunk === 'string') {
      try {
        const body = JSON.parse(chunk) as { message?: string; issues?: unknown };
        if (Array.isArray(body.issues) && body.issues.length > 0) {
          body.message = describeIssues(body.issues);
          return end(JSON.stringify(body));
        }
      } catch {
        // Not JSON: leave it as it is.
      }
    }
    return end(chunk);
  }) as ServerResponse['end'];
}
