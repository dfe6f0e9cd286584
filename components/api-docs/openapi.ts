/**
 * Reading the OpenAPI document served at /api/v1/openapi.json for the reference page:
 * operations grouped by tag, references resolved, and an example request per operation.
 * Only the parts of OpenAPI 3.1 that the server's generator writes are understood.
 */

export type JsonSchema = {
  $ref?: string;
  type?: string | string[];
  description?: string;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  format?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
};

export type Parameter = {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  description?: string;
  schema?: JsonSchema;
};

export type Access = { role: 'viewer' | 'operator' | 'admin' | null; tokenScope: string | null };

export type Operation = {
  operationId: string;
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, { description?: string; content?: Record<string, { schema: JsonSchema }> }>;
  'x-switchyard-access'?: Access;
};

export type OpenApiDocument = {
  openapi: string;
  info: { title: string; version: string; description?: string };
  servers?: { url: string }[];
  tags?: { name: string }[];
  paths: Record<string, Partial<Record<HttpMethod, Operation>>>;
  components?: { schemas?: Record<string, JsonSchema> };
};

/** The console's session cookie (server/auth/sessions.ts). */
const SESSION_COOKIE = 'sy_session';

export const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export type Endpoint = { method: HttpMethod; path: string; operation: Operation };

/** Operations by tag, in the document's tag order; untagged ones last under "other". */
export function groupByTag(doc: OpenApiDocument): { tag: string; endpoints: Endpoint[] }[] {
  const groups = new Map<string, Endpoint[]>((doc.tags ?? []).map((t) => [t.name, []]));
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = methods[method];
      if (!operation) continue;
      const tag = operation.tags?.[0] ?? 'other';
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag)!.push({ method, path, operation });
    }
  }
  return [...groups]
    .filter(([, endpoints]) => endpoints.length > 0)
    .map(([tag, endpoints]) => ({ tag, endpoints }));
}

export function refName(ref: string): string {
  return ref.slice(ref.lastIndexOf('/') + 1);
}

export function resolve(doc: OpenApiDocument, schema: JsonSchema): JsonSchema {
  let current = schema;
  for (let hops = 0; current.$ref && hops < 20; hops++) {
    current = doc.components?.schemas?.[refName(current.$ref)] ?? {};
  }
  return current;
}

/** Drops a `null` alternative: `X | null` is shown as X, marked nullable. */
export function splitNullable(schema: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  const options = schema.anyOf ?? schema.oneOf;
  if (options) {
    const rest = options.filter((o) => o.type !== 'null');
    if (rest.length < options.length && rest.length === 1) {
      return {
        schema: { ...rest[0], description: schema.description ?? rest[0]!.description },
        nullable: true,
      };
    }
  }
  if (Array.isArray(schema.type) && schema.type.includes('null')) {
    const types = schema.type.filter((t) => t !== 'null');
    return { schema: { ...schema, type: types.length === 1 ? types[0] : types }, nullable: true };
  }
  return { schema, nullable: false };
}

/** A bound worth showing: generators write ±2^53 for "any integer". */
function bound(value: number | undefined): number | undefined {
  return value !== undefined && Math.abs(value) < Number.MAX_SAFE_INTEGER ? value : undefined;
}

/** Constraints a person needs to send a valid value, e.g. "1–64 chars", "≥ 0". */
export function constraints(schema: JsonSchema): string[] {
  const out: string[] = [];
  const minimum = bound(schema.minimum);
  const maximum = bound(schema.maximum);
  if (schema.minLength !== undefined || schema.maxLength !== undefined) {
    out.push(`${schema.minLength ?? 0}–${schema.maxLength ?? '∞'} chars`);
  }
  if (minimum !== undefined) out.push(`≥ ${minimum}`);
  if (schema.exclusiveMinimum !== undefined) out.push(`> ${schema.exclusiveMinimum}`);
  if (maximum !== undefined) out.push(`≤ ${maximum}`);
  if (schema.minItems !== undefined && schema.minItems > 0) out.push(`at least ${schema.minItems}`);
  if (schema.maxItems !== undefined) out.push(`at most ${schema.maxItems}`);
  if (schema.format) out.push(schema.format);
  if (schema.default !== undefined) out.push(`default ${JSON.stringify(schema.default)}`);
  return out;
}

/** A plausible value of a schema, for request examples. */
export function exampleOf(doc: OpenApiDocument, input: JsonSchema, depth = 0): unknown {
  const { schema: unwrapped, nullable } = splitNullable(input);
  const schema = resolve(doc, unwrapped);
  if (depth > 6) return null;
  if (schema.default !== undefined) return schema.default;
  if (schema.const !== undefined) return schema.const;
  if (schema.enum?.length) return schema.enum[0];
  const options = schema.anyOf ?? schema.oneOf;
  if (options?.length) return exampleOf(doc, options[0]!, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'string':
      return schema.format === 'date-time' ? new Date(0).toISOString() : 'string';
    case 'integer':
    case 'number':
      return (
        bound(schema.minimum) ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 0)
      );
    case 'boolean':
      return true;
    case 'array':
      return schema.items ? [exampleOf(doc, schema.items, depth + 1)] : [];
    case 'object': {
      if (!schema.properties) return {};
      const required = new Set(schema.required ?? []);
      return Object.fromEntries(
        Object.entries(schema.properties)
          .filter(([name, property]) => required.has(name) && property.default === undefined)
          .map(([name, property]) => [name, exampleOf(doc, property, depth + 1)]),
      );
    }
    default:
      return nullable ? null : {};
  }
}

/** `gpuId` → `$GPU_ID`: path parameters become shell variables in the examples. */
export function shellVariable(name: string): string {
  return `$${name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** A curl command for an operation, using $SWITCHYARD_URL and $SWITCHYARD_TOKEN like the CLI. */
export function curlExample(doc: OpenApiDocument, endpoint: Endpoint): string {
  const base = doc.servers?.[0]?.url ?? '';
  const path = endpoint.path.replace(/\{(.+?)\}/g, (_, name: string) => shellVariable(name));
  const query = (endpoint.operation.parameters ?? [])
    .filter((p) => p.in === 'query' && p.required)
    .map((p) => `${p.name}=${encodeURIComponent(String(exampleOf(doc, p.schema ?? {})))}`)
    .join('&');
  const url = `"$SWITCHYARD_URL${base}${path}${query ? `?${query}` : ''}"`;
  const method = endpoint.method === 'get' ? '' : `-X ${endpoint.method.toUpperCase()} `;
  const access = endpoint.operation['x-switchyard-access'];
  // Operations that API tokens may not call take the console's session cookie instead.
  const credential =
    access && access.role !== null && access.tokenScope === null
      ? `-H "Cookie: ${SESSION_COOKIE}=$SWITCHYARD_SESSION"`
      : '-H "Authorization: Bearer $SWITCHYARD_TOKEN"';
  const lines = [`curl -sS ${method}${url}`, credential];
  const body = endpoint.operation.requestBody?.content['application/json']?.schema;
  if (body) {
    lines.push("-H 'Content-Type: application/json'");
    lines.push(`-d ${shellQuote(JSON.stringify(exampleOf(doc, body)))}`);
  } else if (endpoint.method !== 'get') {
    lines.push("-H 'Content-Type: application/json' -d '{}'");
  }
  return lines.join(' \\\n  ');
}

export function accessLabel(access: Access | undefined): { who: string; token: string } {
  if (!access || access.role === null) return { who: 'anyone', token: 'no token needed' };
  return {
    who: `${access.role} role or above`,
    token: access.tokenScope
      ? `API token with the "${access.tokenScope}" scope`
      : 'not with API tokens: a console session only',
  };
}
