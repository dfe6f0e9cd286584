import { readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError } from 'commander';
import type {
  StartOutput,
  StressRunListItem,
  StressRunView,
  ThresholdStatusView,
} from '../../../server/services/stress/views';
import { action, type Context } from '../context';
import { EXIT, usageError } from '../errors';
import { DASH, fmtMs, fmtNumber, fmtPct, table } from '../output';
import { findDeployment } from './fleet';

const POLL_MS = 1000;
const FINAL_STATES = new Set(['passed', 'failed', 'aborted', 'partial', 'error']);

function number(flag: string, { integer = false } = {}) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`${flag} must be a ${integer ? 'whole ' : ''}number ≥ 0`);
    }
    return n;
  };
}

function repeat(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerStressCommands(program: Command): void {
  const stress = program.command('stress').description('stress runs against a deployment');
  stress
    .command('start')
    .description('start a stress run; flags build the run definition (or override --definition)')
    .option('--deployment <name|id>', 'the deployment to load')
    .option('--rate <rps>', 'open loop: requests per second', number('--rate'))
    .option(
      '--ramp-to <rps>',
      'open loop: ramp linearly from --rate to this rate over the run',
      number('--ramp-to'),
    )
    .option('--concurrency <n>', 'closed loop: this many workers instead of a rate', number('--concurrency'))
    .option('--duration <s>', 'seconds the run lasts, warm-up included', number('--duration'))
    .option('--arrival <kind>', 'open loop arrivals: poisson or constant', 'poisson')
    .option('--warmup <s>', 'seconds sent but not judged at the start', number('--warmup'))
    .option('--threshold <expr>', 'a pass/fail gate, e.g. "p95<250ms", "errors<1%" (repeatable)', repeat)
    .option('--no-abort-on-fail', 'run to the end even when a threshold fails')
    .option('--confirm <name>', 'the deployment name again, needed for high-priority deployments')
    .option('--definition <file|->', 'a run definition as JSON (stdin with -); flags override its fields')
    .option('--wait', 'follow the run until it ends; exit 1 unless it passed')
    .action(action(start));
  stress
    .command('watch <id>')
    .description('follow a run until it ends: exit 0 if it passed, 1 otherwise')
    .action(action((ctx, id: string) => watch(ctx, id)));
  stress.command('get <id>').description('a run: state, figures and thresholds').action(action(get));
  stress
    .command('abort <id>')
    .description('stop a run now; it ends as aborted')
    .option('--reason <text>', 'why (kept with the run)')
    .action(action(abort));
  stress.command('list').description('recent runs, newest first').action(action(list));
}

type StartOptions = {
  deployment?: string;
  rate?: number;
  rampTo?: number;
  concurrency?: number;
  duration?: number;
  arrival: string;
  warmup?: number;
  threshold?: string[];
  abortOnFail: boolean;
  confirm?: string;
  definition?: string;
  wait?: boolean;
};

/** The flag that sets each field of the definition, to name it in errors. */
const FLAG_OF: [RegExp, string][] = [
  [/^deploymentId/, '--deployment'],
  [/^load\.concurrency/, '--concurrency'],
  [/^load\.(durationS|stages\.\d+\.durationS)/, '--duration'],
  [/^load\.stages\.\d+\.toRps/, '--rate/--ramp-to'],
  [/^load/, '--rate'],
  [/^thresholds/, '--threshold'],
  [/^warmupS/, '--warmup'],
  [/^confirm/, '--confirm'],
];

async function readDefinition(source: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = source === '-' ? await readStdin() : await readFile(source, 'utf8');
  } catch (error) {
    throw usageError(`--definition: cannot read ${source}: ${(error as Error).message}`);
  }
  try {
    const json = JSON.parse(text);
    if (json && typeof json === 'object' && !Array.isArray(json)) return json;
  } catch {
    // Reported below.
  }
  throw usageError(`--definition: ${source} is not a JSON object`);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The run definition from --definition and the flags, checked with the server's own schema. */
export async function buildDefinition(ctx: Context, options: StartOptions): Promise<Record<string, unknown>> {
  const definition = options.definition ? await readDefinition(options.definition) : {};
  if (options.deployment) {
    definition.deploymentId = (await findDeployment(ctx, options.deployment, '--deployment')).id;
  }
  if (!definition.deploymentId) throw usageError('--deployment: name the deployment to load');
  if (options.rate !== undefined && options.concurrency !== undefined) {
    throw usageError('--rate and --concurrency exclude each other (open loop or closed loop)');
  }
  if (options.rampTo !== undefined && options.rate === undefined) throw usageError('--ramp-to needs --rate');
  if (options.rate !== undefined || options.concurrency !== undefined) {
    if (options.duration === undefined) throw usageError('--duration: say how many seconds the run lasts');
    if (options.arrival !== 'poisson' && options.arrival !== 'constant') {
      throw usageError(`--arrival: "${options.arrival}" is not poisson or constant`);
    }
    definition.load =
      options.concurrency !== undefined
        ? { kind: 'closed', concurrency: options.concurrency, durationS: options.duration }
        : {
            kind: 'open',
            arrival: options.arrival,
            stages: [
              { durationS: options.duration, fromRps: options.rate, toRps: options.rampTo ?? options.rate },
            ],
          };
  } else if (options.duration !== undefined) {
    throw usageError('--duration needs --rate or --concurrency');
  } else if (!definition.load) {
    throw usageError('--rate or --concurrency: say how much load to send (with --duration)');
  }
  if (options.threshold?.length) {
    const earlier = Array.isArray(definition.thresholds) ? definition.thresholds : [];
    definition.thresholds = [...earlier, ...options.threshold];
  }
  if (options.warmup !== undefined) definition.warmupS = options.warmup;
  if (!options.abortOnFail) definition.abortOnFail = false;
  if (options.confirm !== undefined) definition.confirm = options.confirm;

  const { ZRunDefinition } = await import('../../../lib/stress/run-definition');
  const parsed = ZRunDefinition.safeParse(definition);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const path = issue.path.map(String).join('.');
      const flag = FLAG_OF.find(([pattern]) => pattern.test(path))?.[1];
      return `${flag ?? 'definition'}${path ? ` (${path})` : ''}: ${issue.message}`;
    });
    throw usageError(problems.join('; '));
  }
  return definition;
}

async function start(ctx: Context, options: StartOptions): Promise<number> {
  const definition = await buildDefinition(ctx, options);
  const run = await ctx.api.post<StartOutput>('/stress/runs', definition);
  if (!options.wait) {
    ctx.out.result(run, () =>
      [
        `Run ${run.id} ${run.state}: ${run.durationS} s on ${run.participants.length} agent(s)` +
          (run.reason ? ` (${run.reason})` : ''),
        `Follow it: switchyard stress watch ${run.id}`,
      ].join('\n'),
    );
    return EXIT.ok;
  }
  ctx.out.progress(`Run ${run.id} ${run.state}: ${run.durationS} s on ${run.participants.length} agent(s)`);
  return watch(ctx, run.id);
}

function runPath(id: string): string {
  return `/stress/runs/${encodeURIComponent(id)}`;
}

function thresholdLine(t: ThresholdStatusView): string {
  const verdict = t.pass === null ? 'pending' : t.pass ? 'ok' : 'FAILED';
  const measured = t.measured === null ? DASH : t.unit === 'ms' ? fmtMs(t.measured) : fmtPct(t.measured, 2);
  return `${t.text}: ${verdict} (measured ${measured})`;
}

function progressLine(run: StressRunView): string {
  const r = run.results;
  const gates = run.thresholds.map((t) => `${t.text} ${t.pass === null ? '…' : t.pass ? 'ok' : 'FAIL'}`);
  return [
    `  ${fmtNumber(run.elapsedS)}/${fmtNumber(run.durationS)} s`,
    run.stopping ? 'stopping' : run.state,
    r ? `${fmtNumber(r.achievedRps, 1)} req/s` : '',
    r ? `p95 ${fmtMs(r.p95)}` : '',
    r ? `errors ${fmtPct(r.errorsPct, 2)}` : '',
    gates.length ? `[${gates.join(', ')}]` : '',
  ]
    .filter(Boolean)
    .join('  ');
}

function summary(run: StressRunView): string {
  const r = run.results;
  const lines = [
    `Run ${run.id}: ${run.state}${run.reason ? ` (${run.reason})` : ''}`,
    `  ${run.deployment.name} · ${run.loadLabel} · ${fmtNumber(run.durationS)} s · started by ${run.createdByName}`,
  ];
  if (r) {
    lines.push(
      `  ${fmtNumber(r.requests)} requests · ${fmtNumber(r.achievedRps, 1)} req/s achieved` +
        ` (target ${fmtNumber(r.targetRps, 1)}) · errors ${fmtPct(r.errorsPct, 2)} · late ${fmtPct(r.latePct, 2)}`,
      `  p50 ${fmtMs(r.p50)} · p95 ${fmtMs(r.p95)} · p99 ${fmtMs(r.p99)} · max ${fmtMs(r.max)}`,
    );
  }
  for (const t of run.thresholds) lines.push(`  ${thresholdLine(t)}`);
  if (run.capacity?.results) {
    lines.push(`  capacity: ${fmtNumber(run.capacity.results.bestRps, 1)} req/s within the SLO`);
  }
  return lines.join('\n');
}

/** Polls a run until it ends; exit 0 only if it passed. */
async function watch(ctx: Context, id: string): Promise<number> {
  let last = '';
  for (;;) {
    const run = await ctx.api.get<StressRunView>(runPath(id));
    const line = progressLine(run);
    if (line !== last) ctx.out.progress(line);
    last = line;
    if (FINAL_STATES.has(run.state)) {
      ctx.out.result(run, () => summary(run));
      return run.state === 'passed' ? EXIT.ok : EXIT.failed;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function get(ctx: Context, id: string): Promise<void> {
  const run = await ctx.api.get<StressRunView>(runPath(id));
  ctx.out.result(run, () => summary(run));
}

async function abort(ctx: Context, id: string, options: { reason?: string }): Promise<void> {
  const result = await ctx.api.post<{ id: string; state: string; reason: string | null }>(
    `${runPath(id)}/abort`,
    options.reason ? { reason: options.reason } : {},
  );
  ctx.out.result(
    result,
    () => `Run ${result.id}: ${result.state}${result.reason ? ` (${result.reason})` : ''}`,
  );
}

async function list(ctx: Context): Promise<void> {
  const runs = await ctx.api.get<StressRunListItem[] | { items: StressRunListItem[] }>('/stress/runs');
  const items = Array.isArray(runs) ? runs : runs.items;
  ctx.out.result(runs, () => {
    if (items.length === 0) return 'No stress runs.';
    return table(
      ['ID', 'STATE', 'DEPLOYMENT', 'LOAD', 'P95', 'REQ/S', 'GATES', 'CREATED'],
      items.map((r) => [
        r.id,
        r.state,
        r.deployment.name,
        r.loadLabel,
        fmtMs(r.p95),
        fmtNumber(r.throughputRps, 1),
        `${r.thresholdsPassed} ok / ${r.thresholdsFailed} failed`,
        r.createdAt.replace('T', ' ').slice(0, 19),
      ]),
    );
  });
}
