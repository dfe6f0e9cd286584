#!/usr/bin/env node
/**
 * A stand-in for nvidia-smi that answers from a real capture (../shared/fixtures/nvidia-smi):
 *
 *   --help-query-gpu                  the capture's `capabilities :: help-query-gpu` section
 *   --query-gpu=a,b,c --format=csv    the requested columns, chosen by header name from the
 *                                     capture's `<section> :: query-gpu (csv ...)` section
 *
 * A field the driver's help does not list fails the whole query, as with the real tool; a
 * field the driver knows but the capture did not record answers `[N/A]` under its bare name.
 *
 * Environment:
 *   FAKE_NVIDIA_SMI_CAPTURE      capture file (required)
 *   FAKE_NVIDIA_SMI_SECTION      idle | load (default load)
 *   FAKE_NVIDIA_SMI_HIDE_FIELDS  comma-separated fields to leave out of the help, as an older driver would
 *   FAKE_NVIDIA_SMI_HELP_FAILS   1: --help-query-gpu fails
 *   FAKE_NVIDIA_SMI_CALLS        file to append each call's arguments to, one JSON line per call
 */
import { appendFileSync, readFileSync } from 'node:fs';

const env = process.env;
const args = process.argv.slice(2);
if (env.FAKE_NVIDIA_SMI_CALLS) appendFileSync(env.FAKE_NVIDIA_SMI_CALLS, `${JSON.stringify(args)}\n`);

function fail(message, code = 2) {
  process.stdout.write(`${message}\n`);
  process.exit(code);
}

if (!env.FAKE_NVIDIA_SMI_CAPTURE) fail('FAKE_NVIDIA_SMI_CAPTURE is not set', 1);
const capture = readFileSync(env.FAKE_NVIDIA_SMI_CAPTURE, 'utf8').split(/\r?\n/);

/** Sections open with a banner: a line of #, `# <name>`, optional `# $ command`, a line of #. */
function section(prefix) {
  const isRule = (line) => /^#{20,}\s*$/.test(line ?? '');
  for (let i = 0; i < capture.length; i++) {
    if (!isRule(capture[i - 1]) || !capture[i].startsWith(`# ${prefix}`)) continue;
    let start = i + 1;
    while (start < capture.length && !isRule(capture[start])) start++;
    let end = start + 1;
    while (end < capture.length && !isRule(capture[end])) end++;
    return capture.slice(start + 1, end);
  }
  fail(`the capture has no "${prefix}" section`, 1);
}

/** The help entries: each line that is only quoted names, e.g. `"clocks.current.sm" or "clocks.sm"`. */
const hidden = new Set((env.FAKE_NVIDIA_SMI_HIDE_FIELDS ?? '').split(',').filter(Boolean));
const helpLines = section('capabilities :: help-query-gpu').filter((line) => {
  const names = /^"[^"]+"(\s+or\s+"[^"]+")*\s*$/.test(line.trim())
    ? [...line.matchAll(/"([^"]+)"/g)].map((m) => m[1])
    : [];
  return !names.some((name) => hidden.has(name));
});
const known = new Map();
for (const line of helpLines) {
  if (!/^"[^"]+"(\s+or\s+"[^"]+")*\s*$/.test(line.trim())) continue;
  const names = [...line.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  for (const name of names) known.set(name, names);
}

/** Splits one CSV line on commas outside double quotes, keeping each cell's text as printed. */
function cells(line) {
  const out = [];
  let current = '';
  let quoted = false;
  for (const char of line) {
    if (char === '"') quoted = !quoted;
    if (char === ',' && !quoted) {
      out.push(current.trim());
      current = '';
    } else current += char;
  }
  out.push(current.trim());
  return out;
}

if (args.includes('--help-query-gpu')) {
  if (env.FAKE_NVIDIA_SMI_HELP_FAILS === '1')
    fail('Failed to initialize NVML: Driver/library version mismatch', 9);
  process.stdout.write(`${helpLines.join('\n')}\n`);
  process.exit(0);
}

const query = args.find((arg) => arg.startsWith('--query-gpu='));
const format = args.find((arg) => arg.startsWith('--format='));
if (!query || format !== '--format=csv') fail(`unsupported arguments: ${args.join(' ')}`, 1);

const requested = query.slice('--query-gpu='.length).split(',');
for (const field of requested) {
  if (!known.has(field)) fail(`Field "${field}" is not a valid field to query.`);
}

const sectionName = env.FAKE_NVIDIA_SMI_SECTION ?? 'load';
const [headerLine, ...rowLines] = section(`${sectionName} :: query-gpu`).filter((line) => line.trim() !== '');
const header = cells(headerLine);
const headerNames = header.map((cell) => cell.replace(/\s*\[[^\]]*\]$/, ''));
const rows = rowLines.map(cells);

const columns = requested.map((field) => {
  const names = known.get(field);
  const at = headerNames.findIndex((name) => names.includes(name));
  return at >= 0 ? { header: header[at], at } : { header: field, at: -1 };
});
const lines = [columns.map((column) => column.header).join(', ')];
for (const row of rows)
  lines.push(columns.map((column) => (column.at >= 0 ? (row[column.at] ?? '') : '[N/A]')).join(', '));
process.stdout.write(`${lines.join('\n')}\n`);
