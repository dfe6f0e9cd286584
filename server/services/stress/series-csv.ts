import type { StressRunView } from './views';

/**
 * CSV of a run: one row per second, then the summary (figures and threshold verdicts) as
 * `# name,value` lines that spreadsheet users can skip. A capacity search exports its
 * latency–throughput curve instead.
 */
export function seriesCsv(view: StressRunView): string {
  const lines: string[] = [];
  if (view.capacity) {
    lines.push(
      'target_rps,achieved_rps,throughput_rps,p50_ms,p95_ms,p99_ms,errors_pct,ok,stable,extended,step_run_id',
    );
    for (const p of view.capacity.results?.points ?? []) {
      lines.push(
        [
          p.targetRps,
          p.achievedRps,
          p.throughputRps,
          p.p50,
          p.p95,
          p.p99,
          p.errorsPct,
          p.ok,
          p.stable,
          p.extended,
          p.stepRunId,
        ]
          .map(cell)
          .join(','),
      );
    }
    lines.push('');
    lines.push(`# run,${cell(view.id)}`);
    lines.push(`# deployment,${cell(view.deployment.name)}`);
    lines.push(`# state,${view.state}`);
    lines.push(`# slo_p95_ms,${cell(view.capacity.results?.sloP95Ms ?? null)}`);
    lines.push(`# best_rps,${cell(view.capacity.results?.bestRps ?? null)}`);
    return `${lines.join('\n')}\n`;
  }

  lines.push(
    'second,at,phase,agents,target_rps,achieved_rps,throughput_rps,p50_ms,p95_ms,p99_ms,errors,late',
  );
  for (const p of view.series) {
    lines.push(
      [
        p.second,
        new Date(p.at).toISOString(),
        p.phase,
        p.agents,
        p.targetRps,
        p.achievedRps,
        p.throughputRps,
        p.p50,
        p.p95,
        p.p99,
        p.errors,
        p.late,
      ]
        .map(cell)
        .join(','),
    );
  }
  lines.push('');
  lines.push(`# run,${cell(view.id)}`);
  lines.push(`# deployment,${cell(view.deployment.name)}`);
  lines.push(`# load,${cell(view.loadLabel)}`);
  lines.push(`# state,${view.state}`);
  if (view.reason) lines.push(`# reason,${cell(view.reason)}`);
  const r = view.results;
  if (r) {
    for (const [name, value] of [
      ['p50_ms', r.p50],
      ['p90_ms', r.p90],
      ['p95_ms', r.p95],
      ['p99_ms', r.p99],
      ['p99_9_ms', r['p99.9']],
      ['max_ms', r.max],
      ['throughput_rps', r.throughputRps],
      ['achieved_rps', r.achievedRps],
      ['requests', r.requests],
      ['errors', r.errors],
      ['errors_pct', r.errorsPct],
      ['late', r.late],
      ['late_pct', r.latePct],
    ] as const) {
      lines.push(`# ${name},${cell(value)}`);
    }
  }
  for (const t of view.thresholds) {
    const verdict = t.pass === null ? 'not measured' : t.pass ? 'pass' : 'fail';
    lines.push(`# threshold,${cell(t.text)},${verdict},${cell(t.measured)}`);
  }
  return `${lines.join('\n')}\n`;
}

function cell(value: string | number | boolean | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(3);
  // A leading = + - @ would make a spreadsheet evaluate the cell.
  const text = /^[=+\-@]/.test(String(value)) ? `'${value}` : String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
