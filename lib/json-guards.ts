/**
 * Bounds that hold for every JSON value Switchyard takes from outside (HTTP bodies and
 * query inputs, agent messages), checked before any schema sees the value: nesting depth
 * (a deep value would overflow recursive walkers further down) and control characters in
 * strings (a NUL cannot be stored in PostgreSQL text, the rest hide in logs and pages).
 */

/** Deepest nesting of arrays and objects accepted anywhere. */
export const MAX_JSON_DEPTH = 32;

/** C0 controls and DEL, except tab, line feed and carriage return (free text may hold those). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const CONTROL_CHARACTER = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;

export type JsonFault = { field: string; message: string };

/**
 * Nesting depth of a JSON text, read without parsing it (so a hostile text costs one pass
 * and no stack). Brackets inside strings are skipped. Returns as soon as `max` is passed.
 */
export function jsonTextDepthExceeds(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return false;
}

/**
 * The first fault in an already parsed value: nesting deeper than `maxDepth`, or a string
 * (key or value) with a control character. Walks iteratively, so no value can exhaust the
 * stack. The field is the path of the fault, e.g. `gpus.2.name`.
 */
export function findJsonFault(value: unknown, maxDepth = MAX_JSON_DEPTH): JsonFault | null {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: '', depth: 0 }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    const { path, depth } = item;
    const current = item.value;
    if (typeof current === 'string') {
      if (CONTROL_CHARACTER.test(current)) return controlFault(path || 'input');
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth >= maxDepth) {
      return { field: path || 'input', message: `${path || 'input'}: nested deeper than ${maxDepth} levels` };
    }
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) {
        stack.push({ value: current[i], path: join(path, String(i)), depth: depth + 1 });
      }
      continue;
    }
    const entries = Object.entries(current as Record<string, unknown>);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i]!;
      const childPath = join(path, key);
      if (CONTROL_CHARACTER.test(key)) return controlFault(childPath.replace(CONTROL_CHARACTER_ALL, '?'));
      stack.push({ value: child, path: childPath, depth: depth + 1 });
    }
  }
  return null;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const CONTROL_CHARACTER_ALL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

function controlFault(field: string): JsonFault {
  return { field, message: `${field}: contains a control character (such as NUL), which is not allowed` };
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}
