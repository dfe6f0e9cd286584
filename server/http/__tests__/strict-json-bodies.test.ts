import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { keepJsonBodiesStrict, type ZodLike } from '../strict-json-bodies';

/** What trpc-to-openapi does to an input it serves: coercion on for every coercible field. */
function coerceLikeTheLibrary(...fields: unknown[]) {
  for (const field of fields) (field as ZodLike)._zod.def.coerce = true;
}

describe('keepJsonBodiesStrict', () => {
  it('keeps body fields strict even after the library turns coercion on, however often it is asked', () => {
    const on = z.boolean();
    const count = z.number().int();
    const deep = z.boolean();
    const input = z.object({
      on,
      count: count.optional(),
      nested: z.object({ deep }).default({ deep: false }),
    });
    keepJsonBodiesStrict([{ inQuery: false, inputs: [input as unknown as ZodLike] }]);
    keepJsonBodiesStrict([{ inQuery: false, inputs: [input as unknown as ZodLike] }]);
    coerceLikeTheLibrary(on, count, deep);

    const loose = input.safeParse({ on: 'false', count: '5', nested: { deep: 'yes' } });
    expect(loose.success).toBe(false);
    expect(loose.error?.issues.map((i) => i.path.join('.'))).toEqual(['on', 'count', 'nested.deep']);
    expect(input.parse({ on: false, count: 5, nested: { deep: true } })).toEqual({
      on: false,
      count: 5,
      nested: { deep: true },
    });
  });

  it('leaves query-string fields and declared coercion alone', () => {
    const limit = z.number().int();
    const declared = z.coerce.number();
    keepJsonBodiesStrict([
      { inQuery: true, inputs: [z.object({ limit }) as unknown as ZodLike] },
      { inQuery: false, inputs: [z.object({ limit, declared }) as unknown as ZodLike] },
    ]);
    coerceLikeTheLibrary(limit);
    expect(limit.parse('20')).toBe(20);
    expect(declared.parse('7')).toBe(7);
  });
});
