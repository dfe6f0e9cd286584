import { parse } from 'csv-parse/sync';
import type { QueryFieldCatalog } from './query-fields';

/**
 * Reading `nvidia-smi --query-gpu=... --format=csv` (with header and units). Columns are
 * found by header name, never by position: the header cell is the field name with its unit
 * in brackets (`memory.total [MiB]`, `utilization.gpu [%]`) or the bare name
 * (`temperature.gpu`, `uuid`). Values carry units too (`81559 MiB`, `612.34 W`), or one of
 * the driver's notes for "no value" (`[N/A]`, `[Not Supported]`, `[Unknown Error]`,
 * `[Requested functionality has been deprecated]`, plain `N/A`).
 */

export type QueryCell = { text: string; headerUnit: string | null };

/** One GPU's row: header name (and each alias the catalogue knows for it) → cell. */
export type QueryRow = Map<string, QueryCell>;

const HEADER = /^(.*?)\s*\[([^\]]*)\]$/;

export function parseQueryCsv(text: string, catalog?: QueryFieldCatalog): QueryRow[] {
  const records = parse(text, {
    trim: true,
    skip_empty_lines: true,
    relax_column_count: true,
    relax_quotes: true,
  }) as string[][];
  const [header, ...rows] = records;
  if (!header) return [];
  const columns = header.map((cell) => {
    const match = HEADER.exec(cell);
    const name = match ? (match[1] ?? '').trim() : cell.trim();
    return { names: catalog ? catalog.aliasesOf(name).concat(name) : [name], unit: match?.[2] ?? null };
  });
  return rows.map((cells) => {
    const row: QueryRow = new Map();
    columns.forEach((column, i) => {
      const cell = { text: cells[i] ?? '', headerUnit: column.unit };
      for (const name of column.names) if (!row.has(name)) row.set(name, cell);
    });
    return row;
  });
}

/** The first of `names` the row has a value for. */
export function cellOf(row: QueryRow, ...names: string[]): QueryCell | undefined {
  for (const name of names) {
    const cell = row.get(name);
    if (cell && !isMissing(cell.text)) return cell;
  }
  return undefined;
}

export function isMissing(text: string): boolean {
  const value = text.trim();
  return value === '' || /^\[.*\]$/.test(value) || /^(N\/A|Unknown|Not Supported)$/i.test(value);
}

/** How to bring a reading to the protocol's unit; the value's own unit wins over the header's. */
const UNIT_FACTORS: Record<string, Record<string, number>> = {
  MiB: { B: 1 / 1024 ** 2, KiB: 1 / 1024, MiB: 1, GiB: 1024, TiB: 1024 ** 2 },
  W: { mW: 1e-3, W: 1, kW: 1e3 },
  MHz: { Hz: 1e-6, KHz: 1e-3, kHz: 1e-3, MHz: 1, GHz: 1e3 },
  '%': { '%': 1 },
  C: { C: 1, '°C': 1 },
};

const QUANTITY = /^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z%°]+)?$/;

/**
 * A numeric reading in `unit`, or null when the driver has none or the unit is not one we
 * can convert. Hex values (`0x2330`) are read as integers.
 */
export function quantityIn(cell: QueryCell | undefined, unit: keyof typeof UNIT_FACTORS): number | null {
  if (!cell || isMissing(cell.text)) return null;
  const text = cell.text.trim();
  if (/^0x[0-9a-f]+$/i.test(text)) return Number.parseInt(text, 16);
  const match = QUANTITY.exec(text);
  if (!match) return null;
  const value = Number(match[1]);
  const given = match[2] ?? cell.headerUnit ?? unit;
  const factor = UNIT_FACTORS[unit]?.[given];
  if (factor === undefined || !Number.isFinite(value)) return null;
  return value * factor;
}

/** A plain count (ECC errors, retired pages), decimal or hex. */
export function countOf(cell: QueryCell | undefined): number | null {
  if (!cell || isMissing(cell.text)) return null;
  const text = cell.text.trim();
  if (/^0x[0-9a-f]+$/i.test(text)) return Number.parseInt(text, 16);
  const value = Number(text.replace(/\s*[A-Za-z]+$/, ''));
  return Number.isFinite(value) ? value : null;
}

/** `Yes`/`No`, `Enabled`/`Disabled`, `Active`/`Not Active`, `True`/`False`. */
export function flagOf(cell: QueryCell | undefined): boolean | null {
  if (!cell || isMissing(cell.text)) return null;
  const text = cell.text.trim().toLowerCase();
  if (['yes', 'enabled', 'active', 'true'].includes(text)) return true;
  if (['no', 'disabled', 'not active', 'false'].includes(text)) return false;
  return null;
}

export function textOf(cell: QueryCell | undefined): string | null {
  return cell && !isMissing(cell.text) ? cell.text.trim() : null;
}
