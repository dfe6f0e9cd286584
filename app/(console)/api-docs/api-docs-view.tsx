'use client';

import { useQuery } from '@tanstack/react-query';
import { type ReactNode, useState } from 'react';
import {
  accessLabel,
  constraints,
  curlExample,
  type Endpoint,
  groupByTag,
  type JsonSchema,
  type OpenApiDocument,
  refName,
  resolve,
  splitNullable,
} from '@/components/api-docs/openapi';
import { Panel, QueryView } from '@/components/ui/states';

const DOCUMENT_URL = '/api/v1/openapi.json';

async function fetchDocument(): Promise<OpenApiDocument> {
  const res = await fetch(DOCUMENT_URL, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`${DOCUMENT_URL} answered ${res.status}`);
  return res.json();
}

/** The REST reference, rendered from the same document that scripts can fetch. */
export function ApiDocsView() {
  const doc = useQuery({ queryKey: ['openapi-document'], queryFn: fetchDocument, staleTime: Infinity });
  return (
    <div className="page api-docs">
      <div className="page-header">
        <h1>API reference</h1>
        {doc.data && (
          <span className="muted">
            REST · {doc.data.servers?.[0]?.url ?? '/'} · version {doc.data.info.version}
          </span>
        )}
      </div>
      <QueryView query={doc} loadingLabel="Loading the API document…">
        {(document) => <Reference doc={document} />}
      </QueryView>
    </div>
  );
}

function Reference({ doc }: { doc: OpenApiDocument }) {
  const groups = groupByTag(doc);
  const base = doc.servers?.[0]?.url ?? '';
  const origin = typeof window === 'undefined' ? '' : window.location.origin;
  const schemas = Object.entries(doc.components?.schemas ?? {}).filter(
    ([name]) => !name.startsWith('error.'),
  );
  return (
    <>
      <Panel title="Using the API">
        <div className="api-intro">
          <p>
            Every operation below answers JSON at <code className="mono">{`${origin}${base}`}</code>. Send an
            API token as <code className="mono">Authorization: Bearer &lt;token&gt;</code>; admins create
            tokens under <a href="/admin/tokens">API tokens</a>, each with the scopes it may use (
            <code>read</code>, <code>allocate</code>, <code>stress</code>). The examples read the address and
            the token from <code>$SWITCHYARD_URL</code> and <code>$SWITCHYARD_TOKEN</code>, as the{' '}
            <code>switchyard</code> command line does.
          </p>
          <p>
            Errors answer{' '}
            <code className="mono">{'{ "message", "code", "data": { "httpStatus", "details" } }'}</code>. The
            message names each bad field (<code>reason: Say why</code>). 400 is bad input, 401 a missing or
            revoked token, 403 a missing role or scope, 404 an unknown id, 409 a conflict: the versions you
            sent are stale, and <code>data.details.current</code> holds the current ones.
          </p>
          <p>
            The machine-readable document: <a href={DOCUMENT_URL}>{DOCUMENT_URL}</a> (OpenAPI {doc.openapi}).
          </p>
          <nav className="api-toc" aria-label="Operations">
            {groups.map(({ tag, endpoints }) => (
              <div key={tag} className="api-toc-group">
                <a href={`#tag-${tag}`} className="api-toc-tag">
                  {tag}
                </a>
                <ul>
                  {endpoints.map((e) => (
                    <li key={e.operation.operationId}>
                      <a href={`#op-${e.operation.operationId}`}>
                        <MethodBadge method={e.method} /> <span className="mono">{e.path}</span>
                      </a>
                    </li>
                  ))}
                </ul>
              </div>
            ))}
          </nav>
        </div>
      </Panel>

      {groups.map(({ tag, endpoints }) => (
        <section key={tag} id={`tag-${tag}`} className="api-tag" aria-labelledby={`tag-title-${tag}`}>
          <h2 id={`tag-title-${tag}`} className="api-tag-title">
            {tag}
          </h2>
          {endpoints.map((endpoint) => (
            <OperationView key={endpoint.operation.operationId} doc={doc} endpoint={endpoint} base={base} />
          ))}
        </section>
      ))}

      {schemas.length > 0 && (
        <Panel title="Schemas">
          {schemas.map(([name, schema]) => (
            <div key={name} id={`schema-${name}`} className="api-schema">
              <h3 className="api-schema-name mono">{name}</h3>
              {schema.description && <p className="muted small">{schema.description}</p>}
              <SchemaBody doc={doc} schema={schema} />
            </div>
          ))}
        </Panel>
      )}
    </>
  );
}

function MethodBadge({ method }: { method: string }) {
  return <span className={`api-method api-method-${method}`}>{method.toUpperCase()}</span>;
}

function OperationView({ doc, endpoint, base }: { doc: OpenApiDocument; endpoint: Endpoint; base: string }) {
  const { operation, method, path } = endpoint;
  const access = accessLabel(operation['x-switchyard-access']);
  const parameters = operation.parameters ?? [];
  const body = operation.requestBody?.content['application/json']?.schema;
  const ok = operation.responses['200']?.content?.['application/json']?.schema;
  const errors = Object.entries(operation.responses).filter(([status]) => status !== '200');
  return (
    <article
      id={`op-${operation.operationId}`}
      className="panel api-op"
      data-testid={`api-op-${method}-${path}`}
    >
      <header className="api-op-head">
        <MethodBadge method={method} />
        <code className="api-path">
          {base}
          {path}
        </code>
      </header>
      {operation.summary && <p className="api-summary">{operation.summary}</p>}
      {operation.description && <p className="muted">{operation.description}</p>}
      <dl className="api-access">
        <dt>Who</dt>
        <dd>{access.who}</dd>
        <dt>Token</dt>
        <dd>{access.token}</dd>
      </dl>

      {parameters.length > 0 && (
        <>
          <h3 className="api-subhead">Parameters</h3>
          <div className="table-wrap">
            <table className="table table-compact">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>In</th>
                  <th>Type</th>
                  <th>Notes</th>
                </tr>
              </thead>
              <tbody>
                {parameters.map((p) => (
                  <tr key={`${p.in}:${p.name}`}>
                    <td className="mono">
                      {p.name}
                      {p.required && (
                        <span className="api-required" title="required">
                          {' '}
                          *
                        </span>
                      )}
                    </td>
                    <td>{p.in}</td>
                    <td>
                      <TypeLabel doc={doc} schema={p.schema ?? {}} />
                    </td>
                    <td className="small">
                      {[...constraints(p.schema ?? {}), p.description ?? p.schema?.description]
                        .filter(Boolean)
                        .join(' · ')}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}

      {body && (
        <>
          <h3 className="api-subhead">Request body (JSON)</h3>
          <SchemaBody doc={doc} schema={body} />
        </>
      )}

      <h3 className="api-subhead">Responses</h3>
      <ul className="api-responses">
        <li>
          <span className="badge badge-ok">200</span> {ok ? <TypeLabel doc={doc} schema={ok} /> : 'empty'}
          {ok && <ResponseFields doc={doc} schema={ok} />}
        </li>
        <li className="api-errors">
          {errors.map(([status, response]) => (
            <span key={status} title={response.description}>
              <span className={`badge ${status.startsWith('5') ? 'badge-bad' : 'badge-warn'}`}>{status}</span>{' '}
              <span className="muted small">{response.description}</span>
            </span>
          ))}
        </li>
      </ul>

      <h3 className="api-subhead">Example</h3>
      <CodeBlock text={curlExample(doc, endpoint)} />
    </article>
  );
}

/** The fields of a response, folded: lists of GPUs are long. */
function ResponseFields({ doc, schema }: { doc: OpenApiDocument; schema: JsonSchema }) {
  const target = resolve(doc, schema.type === 'array' && schema.items ? schema.items : schema);
  if (!target.properties) return null;
  return (
    <details className="api-fields">
      <summary>Fields</summary>
      <SchemaBody doc={doc} schema={target} />
    </details>
  );
}

function CodeBlock({ text }: { text: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="api-code-wrap">
      <pre className="api-code">{text}</pre>
      <button
        type="button"
        className="button button-ghost button-small api-copy"
        onClick={() => {
          void navigator.clipboard?.writeText(text).then(() => {
            setCopied(true);
            setTimeout(() => setCopied(false), 1500);
          });
        }}
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
    </div>
  );
}

/** A compact type: `string`, `Gpu[]`, `"15m" | "1h"`, `GpuOwner | null`. */
function TypeLabel({ doc, schema }: { doc: OpenApiDocument; schema: JsonSchema }): ReactNode {
  const { schema: inner, nullable } = splitNullable(schema);
  return (
    <span className="api-type mono">
      <TypeText doc={doc} schema={inner} />
      {nullable && ' | null'}
    </span>
  );
}

function TypeText({ doc, schema }: { doc: OpenApiDocument; schema: JsonSchema }): ReactNode {
  if (schema.$ref) {
    const name = refName(schema.$ref);
    return <a href={`#schema-${name}`}>{name}</a>;
  }
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  const options = schema.anyOf ?? schema.oneOf;
  if (options) {
    return options.map((option, i) => (
      // biome-ignore lint/suspicious/noArrayIndexKey: alternatives have no identity but their position.
      <span key={i}>
        {i > 0 && ' | '}
        <TypeLabel doc={doc} schema={option} />
      </span>
    ));
  }
  if (schema.type === 'array') {
    return (
      <>
        <TypeText doc={doc} schema={schema.items ?? {}} />
        []
      </>
    );
  }
  if (schema.type === 'object' && !schema.properties && typeof schema.additionalProperties === 'object') {
    return (
      <>
        {'{ [key]: '}
        <TypeText doc={doc} schema={schema.additionalProperties} />
        {' }'}
      </>
    );
  }
  if (Array.isArray(schema.type)) return schema.type.join(' | ');
  return schema.type ?? 'any';
}

/** An object's fields with their types, constraints and descriptions; nested objects inline. */
function SchemaBody({
  doc,
  schema,
  depth = 0,
}: {
  doc: OpenApiDocument;
  schema: JsonSchema;
  depth?: number;
}) {
  const resolved = resolve(doc, schema);
  const options = resolved.anyOf ?? resolved.oneOf;
  if (options && depth < 4) {
    return (
      <div className="api-one-of">
        <p className="muted small">One of:</p>
        {options.map((option, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: alternatives have no identity but their position.
          <SchemaBody key={i} doc={doc} schema={option} depth={depth + 1} />
        ))}
      </div>
    );
  }
  if (!resolved.properties) {
    return (
      <p className="small">
        <TypeLabel doc={doc} schema={schema} />
      </p>
    );
  }
  const required = new Set(resolved.required ?? []);
  return (
    <ul className="api-props">
      {Object.entries(resolved.properties).map(([name, property]) => {
        const { schema: inner } = splitNullable(property);
        const nested = inner.type === 'array' && inner.items && !inner.items.$ref ? inner.items : inner;
        const expand = !nested.$ref && (nested.properties || nested.anyOf || nested.oneOf) && depth < 4;
        const notes = [...constraints(inner), property.description ?? inner.description].filter(Boolean);
        return (
          <li key={name}>
            <code className="api-prop-name">{name}</code>
            {required.has(name) ? <span className="api-required"> required</span> : null}{' '}
            <TypeLabel doc={doc} schema={property} />
            {notes.length > 0 && <span className="muted small"> — {notes.join(' · ')}</span>}
            {expand && <SchemaBody doc={doc} schema={nested} depth={depth + 1} />}
          </li>
        );
      })}
    </ul>
  );
}
