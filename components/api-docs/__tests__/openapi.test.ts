import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../../server/http/rest-api';
import { constraints, curlExample, groupByTag, type OpenApiDocument, shellVariable } from '../openapi';

// The document the server serves, generated from the real router.
const doc = JSON.parse(JSON.stringify(openApiDocument())) as OpenApiDocument;

function endpoint(method: 'get' | 'post', path: string) {
  const operation = doc.paths[path]?.[method];
  if (!operation) throw new Error(`${method} ${path} is not in the document`);
  return { method, path, operation };
}

describe('the API reference', () => {
  it('groups operations by tag in the document order', () => {
    const tags = groupByTag(doc).map((g) => g.tag);
    expect(tags[0]).toBe('fleet');
    expect(tags).toContain('admin');
    const fleet = groupByTag(doc).find((g) => g.tag === 'fleet')!;
    expect(fleet.endpoints.map((e) => `${e.method} ${e.path}`)).toContain('get /gpus');
  });

  it('writes a curl command with path parameters as shell variables and a valid example body', () => {
    const curl = curlExample(doc, endpoint('post', '/gpus/{gpuId}/cordon'));
    expect(curl).toContain('-X POST "$SWITCHYARD_URL/api/v1/gpus/$GPU_ID/cordon"');
    expect(curl).toContain('-H "Authorization: Bearer $SWITCHYARD_TOKEN"');
    const body = JSON.parse(/-d '(.*)'$/m.exec(curl)![1]!);
    expect(body).toEqual({ cordoned: true, reason: 'string' });
  });

  it('uses the session cookie for operations API tokens may not call', () => {
    const curl = curlExample(doc, endpoint('get', '/admin/tokens'));
    expect(curl).toContain('Cookie: sy_session=$SWITCHYARD_SESSION');
    expect(curl).not.toContain('Bearer');
  });

  it('names constraints people need and hides the generator’s “any integer” bounds', () => {
    expect(shellVariable('deploymentId')).toBe('$DEPLOYMENT_ID');
    expect(constraints({ type: 'string', minLength: 1, maxLength: 64 })).toEqual(['1–64 chars']);
    expect(constraints({ type: 'integer', minimum: -9007199254740991, maximum: 9007199254740991 })).toEqual(
      [],
    );
    expect(constraints({ type: 'string', enum: ['15m'], default: '15m' })).toEqual(['default "15m"']);
  });
});
