import { readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError } from 'commander';
import { z } from 'zod';
import {
  type AllocationChangeView,
  CHANGE_STATES,
  type ChangeInput,
  type DryRunResult,
  type MoveInput,
  type OwnerRef,
  type Plan,
} from '../../../lib/allocation/types';
import type { AllocationBoard } from '../../../server/services/allocation/board';
import { action, type Context } from '../context';
import { CliError, EXIT, usageError } from '../errors';
import { fmtMs, table } from '../output';

const POLL_MS = 500;

function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0)
      throw new InvalidArgumentError(`${flag} must be a positive whole number`);
    return n;
  };
}

/** `--gpu a b` and `--gpu a,b` alike. */
function collect(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean),
  ];
}

export function registerAllocationCommands(program: Command): void {
  program
    .command('move')
    .description('move GPUs to a deployment or a job, or release them to the free pool')
    .requiredOption('--gpu <id...>', 'GPUs by id or host/index (as `gpus list` shows them)', collect)
    .requiredOption('--to <target>', 'a deployment name, a job name, or "free"')
    .requiredOption('--reason <text>', 'why (kept in the audit log)')
    .option('--dry-run', 'validate and show the predicted effect without changing anything')
    .option('--idempotency-key <key>', 'retrying with the same key never applies the change twice')
    .option('--no-wait', 'return once the change is accepted instead of waiting until it is applied')
    .option('--timeout <s>', 'seconds to wait for the change to finish', positiveInt('--timeout'), 300)
    .action(action(move));

  program
    .command('plan')
    .description('show the rebalancing plan the server proposes now, step by step')
    .action(action(showPlan));

  program
    .command('apply')
    .description('apply steps of a plan saved with `plan --json`, against the versions it was planned on')
    .requiredOption('--plan <file|->', 'the plan JSON file, or - for stdin')
    .option('--steps <ids>', 'comma-separated step ids (default: every step)')
    .option('--reason <text>', 'why (default: the steps and their reasons)')
    .option('--dry-run', 'validate and show the predicted effect without changing anything')
    .option('--idempotency-key <key>', 'retrying with the same key never applies the change twice')
    .option('--no-wait', 'return once the change is accepted instead of waiting until it is applied')
    .option('--timeout <s>', 'seconds to wait for the change to finish', positiveInt('--timeout'), 300)
    .action(action(applyPlan));

  const changes = program.command('changes').description('allocation changes');
  changes
    .command('list')
    .description('recent allocation changes, newest first')
    .option('--state <state>', `only changes in this state (${CHANGE_STATES.join(', ')})`)
    .option('--limit <n>', 'how many', positiveInt('--limit'), 20)
    .action(action(listChanges));
  changes
    .command('watch <id>')
    .description('follow a change until it is applied (exit 0) or rolled back (exit 1)')
    .option('--timeout <s>', 'seconds to wait', positiveInt('--timeout'), 300)
    .action(action(watchChange));

  program
    .command('auto <action>')
    .description('automatic rebalancing: status, on or off')
    .action(action(auto));
}

// --- names and versions -----------------------------------------------------------------

type Names = { owner: (ref: OwnerRef) => string };

function namesOf(board: AllocationBoard): Names {
  const deployments = new Map(board.deployments.map((d) => [d.id, d.name]));
  const jobs = new Map(board.jobs.map((j) => [j.id, j.name]));
  return {
    owner: (ref) => {
      if (ref === null) return 'free';
      if ('deploymentId' in ref) return deployments.get(ref.deploymentId) ?? ref.deploymentId;
      return `${jobs.get(ref.jobId) ?? ref.jobId} (job)`;
    },
  };
}

function resolveTarget(board: AllocationBoard, target: string): OwnerRef {
  if (target.toLowerCase() === 'free') return null;
  const deployment = board.deployments.find((d) => d.name === target || d.id === target);
  const job = board.jobs.find((j) => j.name === target || j.id === target);
  if (deployment && job) {
    throw usageError(`--to: "${target}" names both a deployment and a job; use the id instead`);
  }
  if (deployment) return { deploymentId: deployment.id };
  if (job) return { jobId: job.id };
  throw new CliError(
    `--to: no deployment or job named "${target}" (deployments: ${board.deployments.map((d) => d.name).join(', ')})`,
    EXIT.notFound,
  );
}

function ownerIdOf(ref: OwnerRef | { deploymentId: string | null; jobId: string | null }): string | null {
  if (ref === null) return null;
  if ('deploymentId' in ref && ref.deploymentId) return ref.deploymentId;
  if ('jobId' in ref && ref.jobId) return ref.jobId;
  return null;
}

function versionsOf(board: AllocationBoard): Map<string, number> {
  return new Map([...board.deployments, ...board.jobs].map((o) => [o.id, o.version]));
}

/** A conflict names the owners whose versions moved on, by name. */
function explainConflict(error: unknown, board: AllocationBoard): never {
  if (error instanceof CliError && error.exitCode === EXIT.conflict) {
    const current = (error.details?.details as { current?: Record<string, number> } | undefined)?.current;
    if (current) {
      const names = new Map([...board.deployments, ...board.jobs].map((o) => [o.id, o.name]));
      const listed = Object.entries(current)
        .map(([id, version]) => `${names.get(id) ?? id} is at version ${version}`)
        .join(', ');
      throw new CliError(`${error.message}; now ${listed}. Read again and retry.`, EXIT.conflict, {
        ...error.details,
        current,
      });
    }
  }
  throw error;
}

// --- move and apply ---------------------------------------------------------------------

async function move(
  ctx: Context,
  options: {
    gpu: string[];
    to: string;
    reason: string;
    dryRun?: boolean;
    idempotencyKey?: string;
    wait: boolean;
    timeout: number;
  },
): Promise<number> {
  const board = await ctx.api.get<AllocationBoard>('/allocation/board');
  const to = resolveTarget(board, options.to);
  const versions = versionsOf(board);
  const baseVersions: Record<string, number> = {};
  const moves: MoveInput[] = options.gpu.map((ref) => {
    const gpu = board.gpus.find((g) => g.id === ref || g.label === ref);
    if (!gpu) {
      throw new CliError(
        `--gpu: no GPU "${ref}"; use an id or host/index as \`gpus list\` shows`,
        EXIT.notFound,
      );
    }
    for (const id of [ownerIdOf(gpu), ownerIdOf(to)]) {
      if (id !== null && versions.has(id)) baseVersions[id] = versions.get(id)!;
    }
    return { gpuId: gpu.id, to };
  });
  return submit(ctx, board, {
    moves,
    baseVersions,
    reason: options.reason,
    dryRun: Boolean(options.dryRun),
    idempotencyKey: options.idempotencyKey,
    source: 'manual',
    wait: options.wait,
    timeoutS: options.timeout,
  });
}

async function submit(
  ctx: Context,
  board: AllocationBoard,
  input: ChangeInput & { wait: boolean; timeoutS: number },
): Promise<number> {
  const { wait, timeoutS, ...body } = input;
  const names = namesOf(board);
  const result = await ctx.api
    .post<AllocationChangeView | DryRunResult>('/allocation/changes', body)
    .catch((error: unknown) => explainConflict(error, board));
  if ('dryRun' in result) {
    ctx.out.result(result, () => describeDryRun(result, names));
    return EXIT.ok;
  }
  if (!wait) {
    ctx.out.result(
      result,
      () => `Change ${result.id} ${result.state}: ${describeMoves(result.moves, names)}`,
    );
    return EXIT.ok;
  }
  ctx.out.progress(`Change ${result.id}: ${describeMoves(result.moves, names)}`);
  return follow(ctx, result, names, timeoutS);
}

function describeMoves(moves: AllocationChangeView['moves'], names: Names): string {
  return moves.map((m) => `${m.gpuLabel} ${names.owner(m.from)} → ${names.owner(m.to)}`).join(', ');
}

function describeDryRun(result: DryRunResult, names: Names): string {
  const lines = [
    'Dry run: nothing was changed.',
    ...result.moves.map((m) => `  ${describeMoves([m], names)}`),
  ];
  if (result.effects.length > 0) lines.push('', effectsTable(result.effects));
  return lines.join('\n');
}

function effectsTable(effects: DryRunResult['effects']): string {
  return table(
    ['', 'DEPLOYMENT', 'GPUS', 'REPLICAS', 'P95 NOW', 'P95 PREDICTED', 'SLO'],
    effects.map((e) => [
      e.gpusAfter > e.gpusBefore ? '+' : e.gpusAfter < e.gpusBefore ? '-' : ' ',
      e.name,
      `${e.gpusBefore} → ${e.gpusAfter}`,
      `${e.replicasBefore} → ${e.replicasAfter}`,
      fmtMs(e.p95BeforeMs),
      fmtMs(e.p95PredictedMs),
      fmtMs(e.sloP95Ms),
    ]),
  );
}

const FINAL = new Set(['applied', 'rolled_back']);

/** Polls a change until it is applied or rolled back, printing each node's progress once. */
async function follow(
  ctx: Context,
  first: AllocationChangeView,
  names: Names | null,
  timeoutS: number,
): Promise<number> {
  const deadline = Date.now() + timeoutS * 1000;
  const seen = new Map<string, string>();
  let change = first;
  for (;;) {
    for (const node of change.nodes) {
      if (seen.get(node.nodeId) === node.state) continue;
      seen.set(node.nodeId, node.state);
      if (node.state !== 'pending') {
        ctx.out.progress(`  ${node.hostname}: ${node.state}${node.error ? ` (${node.error})` : ''}`);
      }
    }
    if (FINAL.has(change.state)) break;
    if (Date.now() > deadline) {
      throw new CliError(
        `change ${change.id} is still ${change.state} after ${timeoutS} s; follow it with \`switchyard changes watch ${change.id}\``,
        EXIT.failed,
        { change },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    change = await ctx.api.get<AllocationChangeView>(`/allocation/changes/${encodeURIComponent(change.id)}`);
  }
  const applied = change.state === 'applied';
  ctx.out.result(change, () =>
    applied
      ? `Change ${change.id} applied: ${names ? describeMoves(change.moves, names) : `${change.moves.length} GPU(s) moved`}`
      : `Change ${change.id} rolled back: ${change.outcome ?? 'no reason given'}`,
  );
  return applied ? EXIT.ok : EXIT.failed;
}

// --- plans ------------------------------------------------------------------------------

/** What `apply` needs of a saved plan; the rest of it is kept as is. */
const ZOwnerRefLike = z
  .union([z.object({ deploymentId: z.string() }), z.object({ jobId: z.string() })])
  .nullable();
const ZSavedPlan = z.object({
  steps: z
    .array(
      z.object({
        id: z.string(),
        reason: z.string(),
        moves: z.array(z.object({ gpuId: z.string(), from: ZOwnerRefLike, to: ZOwnerRefLike })),
      }),
    )
    .min(1, 'the plan has no steps'),
  baseVersions: z.record(z.string(), z.number()),
});

async function showPlan(ctx: Context): Promise<void> {
  const [plan, board] = await Promise.all([
    ctx.api.get<Plan>('/allocation/plan'),
    ctx.api.get<AllocationBoard>('/allocation/board'),
  ]);
  const names = namesOf(board);
  ctx.out.result(plan, () => {
    if (plan.steps.length === 0)
      return 'Nothing to rebalance: every deployment is where the planner wants it.';
    const lines: string[] = [];
    for (const step of plan.steps) {
      lines.push(`${step.id}  ${step.kind}: ${step.reason}`);
      for (const m of step.moves) {
        lines.push(`  - ${m.gpuLabel}  ${names.owner(m.from)}`);
        lines.push(`  + ${m.gpuLabel}  ${names.owner(m.to)}`);
      }
    }
    if (plan.effects.length > 0) lines.push('', effectsTable(plan.effects));
    lines.push(
      '',
      `Apply: switchyard plan --json > plan.json && switchyard apply --plan plan.json --steps step-1`,
    );
    return lines.join('\n');
  });
}

async function readPlan(source: string): Promise<z.infer<typeof ZSavedPlan>> {
  let text: string;
  try {
    text = source === '-' ? await readStdin() : await readFile(source, 'utf8');
  } catch (error) {
    throw usageError(`--plan: cannot read ${source}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw usageError(`--plan: ${source} is not JSON (save one with \`switchyard plan --json > plan.json\`)`);
  }
  const parsed = ZSavedPlan.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw usageError(`--plan: ${issue.path.join('.') || 'plan'}: ${issue.message}`);
  }
  return parsed.data;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function applyPlan(
  ctx: Context,
  options: {
    plan: string;
    steps?: string;
    reason?: string;
    dryRun?: boolean;
    idempotencyKey?: string;
    wait: boolean;
    timeout: number;
  },
): Promise<number> {
  const plan = await readPlan(options.plan);
  const wanted = options.steps ? collect(options.steps) : plan.steps.map((s) => s.id);
  const unknown = wanted.filter((id) => !plan.steps.some((s) => s.id === id));
  if (unknown.length > 0) {
    throw usageError(
      `--steps: no ${unknown.join(', ')} in the plan (it has ${plan.steps.map((s) => s.id).join(', ')})`,
    );
  }
  const steps = plan.steps.filter((s) => wanted.includes(s.id));
  const moves = steps.flatMap((s) => s.moves);
  const gpuIds = moves.map((m) => m.gpuId);
  const twice = gpuIds.find((id, i) => gpuIds.indexOf(id) !== i);
  if (twice) throw usageError(`--steps: GPU ${twice} is moved by more than one of the chosen steps`);
  // Only the versions of owners these moves touch: a change elsewhere is not a conflict.
  const touched = new Set(
    moves.flatMap((m) => [ownerIdOf(m.from), ownerIdOf(m.to)]).filter((id) => id !== null),
  );
  const baseVersions = Object.fromEntries(
    Object.entries(plan.baseVersions).filter(([id]) => touched.has(id)),
  );
  const reason =
    options.reason ?? `plan ${steps.map((s) => s.id).join(', ')}: ${steps.map((s) => s.reason).join('; ')}`;
  const board = await ctx.api.get<AllocationBoard>('/allocation/board');
  return submit(ctx, board, {
    moves: moves.map((m) => ({ gpuId: m.gpuId, to: m.to })),
    baseVersions,
    reason: reason.slice(0, 500),
    dryRun: Boolean(options.dryRun),
    idempotencyKey: options.idempotencyKey,
    source: 'plan',
    wait: options.wait,
    timeoutS: options.timeout,
  });
}

// --- changes ----------------------------------------------------------------------------

async function listChanges(ctx: Context, options: { state?: string; limit: number }): Promise<void> {
  if (options.state && !(CHANGE_STATES as readonly string[]).includes(options.state)) {
    throw usageError(`--state: must be one of ${CHANGE_STATES.join(', ')}`);
  }
  const page = await ctx.api.get<{ items: AllocationChangeView[]; nextBefore: string | null }>(
    '/allocation/changes',
    { state: options.state, limit: options.limit },
  );
  ctx.out.result(page, () => {
    if (page.items.length === 0) return 'No changes.';
    return table(
      ['ID', 'STATE', 'SOURCE', 'GPUS', 'BY', 'CREATED', 'REASON'],
      page.items.map((c) => [
        c.id,
        c.state,
        c.source,
        c.moves.length,
        c.actorName,
        c.createdAt.replace('T', ' ').slice(0, 19),
        c.reason.length > 60 ? `${c.reason.slice(0, 59)}…` : c.reason,
      ]),
      [3],
    );
  });
}

async function watchChange(ctx: Context, id: string, options: { timeout: number }): Promise<number> {
  const change = await ctx.api.get<AllocationChangeView>(`/allocation/changes/${encodeURIComponent(id)}`);
  ctx.out.progress(`Change ${change.id} (${change.state}): ${change.reason}`);
  return follow(ctx, change, null, options.timeout);
}

// --- automatic rebalancing --------------------------------------------------------------

type AutoStatus = { enabled: boolean } & Record<string, unknown>;

async function auto(ctx: Context, what: string): Promise<void> {
  let status: AutoStatus;
  if (what === 'status') status = await ctx.api.get<AutoStatus>('/allocation/auto');
  else if (what === 'on' || what === 'off') {
    status = await ctx.api.put<AutoStatus>('/allocation/auto', { enabled: what === 'on' });
  } else throw usageError(`auto: "${what}" is not one of status, on, off`);
  ctx.out.result(status, () => {
    const extra = Object.entries(status)
      .filter(([key, value]) => key !== 'enabled' && value !== null && typeof value !== 'object')
      .map(([key, value]) => `  ${key}: ${value}`);
    return [`Automatic rebalancing is ${status.enabled ? 'on' : 'off'}.`, ...extra].join('\n');
  });
}
