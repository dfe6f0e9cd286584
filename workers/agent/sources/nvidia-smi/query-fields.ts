/**
 * The fields `nvidia-smi --query-gpu` knows differ by driver. `--help-query-gpu` lists them,
 * one entry per line in quotes, with aliases joined by "or":
 *
 *   "clocks.current.sm" or "clocks.sm"
 *   Current frequency of SM (Streaming Multiprocessor) clock.
 *
 * Descriptions can quote words too, but never start a line with a quoted name followed only
 * by more quoted names, which is what tells an entry apart.
 */
const ENTRY = /^"([^"]+)"((?:\s+or\s+"[^"]+")*)\s*$/;

export class QueryFieldCatalog {
  /** Any name or alias → the entry's first name, which is what we ask for. */
  private readonly canonicalByName = new Map<string, string>();
  private readonly namesByCanonical = new Map<string, string[]>();

  constructor(entries: string[][]) {
    for (const names of entries) {
      const [canonical] = names;
      if (!canonical) continue;
      for (const name of names)
        if (!this.canonicalByName.has(name)) this.canonicalByName.set(name, canonical);
      this.namesByCanonical.set(canonical, names);
    }
  }

  static fromHelp(helpText: string): QueryFieldCatalog {
    const entries: string[][] = [];
    for (const line of helpText.split(/\r?\n/)) {
      const match = ENTRY.exec(line.trim());
      if (!match?.[1]) continue;
      const aliases = [...(match[2] ?? '').matchAll(/"([^"]+)"/g)].map((m) => m[1] as string);
      entries.push([match[1], ...aliases]);
    }
    return new QueryFieldCatalog(entries);
  }

  get size(): number {
    return this.namesByCanonical.size;
  }

  /** The name to request for `name` (itself or an alias), or undefined when the driver lacks it. */
  canonical(name: string): string | undefined {
    return this.canonicalByName.get(name);
  }

  /** Every name the entry of `name` goes by; just `[name]` when the catalogue does not know it. */
  aliasesOf(name: string): string[] {
    const canonical = this.canonical(name);
    return canonical ? (this.namesByCanonical.get(canonical) ?? [name]) : [name];
  }
}

/**
 * What the collector asks for, when the driver knows it. Power has had three names over the
 * driver generations, hence all three (power.draw wins when present).
 */
export const WANTED_FIELDS = [
  'index',
  'uuid',
  'name',
  'pci.bus_id',
  'utilization.gpu',
  'memory.used',
  'memory.total',
  'power.draw',
  'power.draw.instant',
  'power.draw.average',
  'temperature.gpu',
  'clocks.current.sm',
  'clocks.sm',
  'ecc.mode.current',
  'ecc.errors.uncorrected.volatile.total',
  'ecc.errors.uncorrected.aggregate.total',
  'retired_pages.single_bit_ecc.count',
  'retired_pages.double_bit.count',
  'retired_pages.pending',
  'remapped_rows.correctable',
  'remapped_rows.uncorrectable',
  'remapped_rows.pending',
  'remapped_rows.failure',
  'mig.mode.current',
] as const;

/** Asked for when `--help-query-gpu` fails: fields every driver of the last decade has. */
export const FALLBACK_FIELDS = [
  'index',
  'uuid',
  'name',
  'utilization.gpu',
  'memory.used',
  'memory.total',
  'power.draw',
  'temperature.gpu',
  'clocks.sm',
] as const;

/** The fields of `wanted` the driver knows, by the names it lists first, without repeats. */
export function fieldsToQuery(
  catalog: QueryFieldCatalog,
  wanted: readonly string[] = WANTED_FIELDS,
): string[] {
  const fields: string[] = [];
  for (const name of wanted) {
    const canonical = catalog.canonical(name);
    if (canonical && !fields.includes(canonical)) fields.push(canonical);
  }
  return fields;
}
