/** A zod 4 schema, seen through its definition (the way trpc-to-openapi walks it). */
export type ZodLike = { _zod: { def: { type: string; coerce?: boolean } & Record<string, unknown> } };

/**
 * trpc-to-openapi turns on zod coercion for every number, boolean, bigint and date field of
 * an input it serves, so that query strings ("5", "true") parse. It does so for JSON bodies
 * too, and on the shared schema objects, which would make `{"cordoned": "false"}` cordon
 * (Boolean("false") is true) and `null` a 0, on /api/v1 and /api/trpc alike. Fields read
 * from JSON bodies keep their strict types: coercion stays off for them unless their
 * schema asked for it. A field schema also used in a query string keeps the library's way.
 */
export function keepJsonBodiesStrict(procedures: { inQuery: boolean; inputs: ZodLike[] }[]): void {
  const bodyFields = new Set<ZodLike>();
  const queryFields = new Set<ZodLike>();
  for (const { inQuery, inputs } of procedures) {
    for (const input of inputs) collectCoercible(input, inQuery ? queryFields : bodyFields);
  }
  for (const field of bodyFields) {
    const def = field._zod.def;
    if (queryFields.has(field) || locked.has(def) || def.coerce) continue;
    Object.defineProperty(def, 'coerce', { get: () => false, set: () => {} });
    locked.add(def);
  }
}

/** Definitions already kept strict (each server started in this process asks again). */
const locked = new WeakSet<object>();

/** The fields the library would coerce, found the way it finds them. */
function collectCoercible(schema: ZodLike, into: Set<ZodLike>): void {
  const unwrapped = unwrap(inputOf(schema));
  const def = unwrapped._zod.def;
  if (def.type !== 'object') return;
  for (const field of Object.values(def.shape as Record<string, ZodLike>)) {
    const inner = unwrap(field);
    const type = inner._zod.def.type;
    if (type === 'number' || type === 'boolean' || type === 'bigint' || type === 'date') into.add(inner);
    else if (type === 'object') collectCoercible(inner, into);
  }
}

/** The schema a pipe reads (`z.object(…).transform(…)` reads the object). */
function inputOf(schema: ZodLike): ZodLike {
  const def = schema._zod.def;
  if (def.type !== 'pipe') return schema;
  const out = def.out as ZodLike;
  return inputOf(out._zod.def.type === 'transform' ? (def.in as ZodLike) : out);
}

function unwrap(schema: ZodLike): ZodLike {
  const def = schema._zod.def;
  switch (def.type) {
    case 'array':
      return unwrap(def.element as ZodLike);
    case 'nullable':
    case 'optional':
    case 'default':
    case 'prefault':
      return unwrap(def.innerType as ZodLike);
    case 'lazy':
      return unwrap((def.getter as () => ZodLike)());
    default:
      return schema;
  }
}
