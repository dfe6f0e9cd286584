import { describe, expect, it } from 'vitest';
import { findJsonFault, jsonTextDepthExceeds, MAX_JSON_DEPTH } from '../json-guards';

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('JSON guards', () => {
  it('measures depth without parsing, ignoring brackets inside strings', () => {
    expect(jsonTextDepthExceeds(nested(MAX_JSON_DEPTH))).toBe(false);
    expect(jsonTextDepthExceeds(nested(MAX_JSON_DEPTH + 1))).toBe(true);
    expect(jsonTextDepthExceeds(JSON.stringify({ a: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[' }))).toBe(false);
    expect(jsonTextDepthExceeds(JSON.stringify({ a: 'x\\"[[[[' }), 1)).toBe(false);
    expect(jsonTextDepthExceeds(nested(100_000))).toBe(true);
  });

  it('names the first string with a control character, in values and keys', () => {
    expect(findJsonFault({ gpus: [{ name: 'ok' }, { name: 'bad\u0000' }] })).toEqual({
      field: 'gpus.1.name',
      message: 'gpus.1.name: contains a control character (such as NUL), which is not allowed',
    });
    expect(findJsonFault({ labels: { 'ra\u0001ck': 'b4' } })?.field).toBe('labels.ra?ck');
    expect(findJsonFault({ reason: 'line one\nline two\ttabbed\r' })).toBeNull();
    expect(findJsonFault('\u007f')?.field).toBe('input');
  });

  it('refuses values nested deeper than the limit without exhausting the stack', () => {
    const deep = JSON.parse(nested(50_000));
    expect(findJsonFault(deep)?.message).toMatch(/nested deeper than 32 levels/);
    expect(findJsonFault(JSON.parse(nested(MAX_JSON_DEPTH)))).toBeNull();
  });
});
