import type { Command } from 'commander';
import type { DeploymentOutput as Deployment, GpuOutput as Gpu } from '../../../server/trpc/schemas/fleet';
import { action, type Context } from '../context';
import { CliError, EXIT, usageError } from '../errors';
import { DASH, fmtMs, fmtNumber, fmtPct, table } from '../output';

export function registerFleetCommands(program: Command): void {
  const gpus = program.command('gpus').description('GPUs of the fleet');
  gpus
    .command('list')
    .description('list GPUs with their owner, utilization and health')
    .option('--deployment <name|id>', 'only the GPUs of this deployment')
    .option('--free', 'only GPUs without an owner')
    .action(action(listGpus));

  const deployments = program.command('deployments').description('deployments (served models)');
  deployments
    .command('list')
    .description('list deployments with GPUs, live p95 against their SLO, and versions')
    .action(action(listDeployments));
}

/** A deployment by exact name or id; the name may differ in case only when that is unambiguous. */
export async function findDeployment(ctx: Context, ref: string, flag: string): Promise<Deployment> {
  const all = await ctx.api.get<Deployment[]>('/deployments');
  const exact = all.find((d) => d.id === ref || d.name === ref);
  if (exact) return exact;
  const folded = all.filter((d) => d.name.toLowerCase() === ref.toLowerCase());
  if (folded.length === 1) return folded[0]!;
  throw new CliError(
    `${flag}: no deployment named "${ref}"; known: ${all.map((d) => d.name).join(', ') || 'none'}`,
    EXIT.notFound,
  );
}

async function listGpus(ctx: Context, options: { deployment?: string; free?: boolean }): Promise<void> {
  if (options.deployment && options.free) throw usageError('--deployment and --free exclude each other');
  const deployment = options.deployment
    ? await findDeployment(ctx, options.deployment, '--deployment')
    : null;
  let list = await ctx.api.get<Gpu[]>('/gpus');
  if (deployment) list = list.filter((g) => g.owner?.kind === 'deployment' && g.owner.id === deployment.id);
  if (options.free) list = list.filter((g) => g.owner === null);
  ctx.out.result(list, () => {
    if (list.length === 0) return 'No GPUs match.';
    const rows = list.map((g) => [
      `${g.hostname}/${g.index}`,
      g.id,
      g.modelName,
      g.owner ? `${g.owner.name}${g.owner.kind === 'job' ? ' (job)' : ''}` : 'free',
      g.live ? fmtPct(g.live.util) : DASH,
      g.health,
      g.cordoned ? `cordoned (${g.cordonedBy})` : '',
    ]);
    return `${table(['GPU', 'ID', 'MODEL', 'OWNER', 'UTIL', 'HEALTH', ''], rows, [4])}\n${list.length} GPUs`;
  });
}

async function listDeployments(ctx: Context): Promise<void> {
  const list = await ctx.api.get<Deployment[]>('/deployments');
  ctx.out.result(list, () => {
    if (list.length === 0) return 'No deployments.';
    const rows = list.map((d) => [
      d.name,
      d.modelName,
      d.gpus,
      `${d.replicas} × ${d.gpusPerReplica}`,
      `${d.minGpus}–${d.maxGpus}`,
      fmtMs(d.live.p95),
      fmtMs(d.sloP95Ms),
      d.withinSlo === null ? DASH : d.withinSlo ? 'ok' : 'OVER',
      fmtNumber(d.live.requestsPerSecond, 1),
      d.priority,
      d.version,
    ]);
    return table(
      ['NAME', 'MODEL', 'GPUS', 'REPLICAS', 'MIN–MAX', 'P95', 'SLO', '', 'REQ/S', 'PRIORITY', 'VERSION'],
      rows,
      [2, 5, 6, 8, 9, 10],
    );
  });
}
