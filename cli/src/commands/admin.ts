import { type Command, InvalidArgumentError } from 'commander';
import type {
  ClusterSummary as Cluster,
  CreatedEnrollmentToken,
  EnrollmentTokenView as EnrollmentToken,
} from '../../../server/services/agents/clusters';
import type { AuditPage } from '../../../server/services/audit/audit-query';
import { adminAction, type Context } from '../context';
import { usageError } from '../errors';
import { DASH, table } from '../output';

const positiveInt = (flag: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new InvalidArgumentError(`${flag} must be a positive whole number`);
  return n;
};

/** Clusters, enrollment tokens and the audit log: admin commands, signed in as a person. */
export function registerAdminCommands(program: Command): void {
  const clusters = program.command('clusters').description('clusters of nodes (admins)');
  clusters
    .command('list')
    .description('list clusters with their node counts')
    .action(adminAction(listClusters));
  clusters
    .command('create')
    .description('create a cluster that agents can enroll into')
    .argument('<name>', 'the cluster name, e.g. us-west-2')
    .option('--region <label>', 'a region label, e.g. us-west')
    .action(adminAction(createCluster));

  const tokens = program
    .command('enrollment-tokens')
    .description('tokens that let agents on new machines enroll (admins)');
  tokens
    .command('list')
    .description('list tokens (never their secrets) with the nodes that enrolled with each')
    .option('--cluster <name>', 'only the tokens of this cluster')
    .action(adminAction(listTokens));
  tokens
    .command('create')
    .description('create a token and print the command that starts an agent with it')
    .requiredOption('--cluster <name>', 'cluster the agents join')
    .option('--uses <n>', 'how many agents may enroll with it', positiveInt('--uses'), 1)
    .option('--hours <n>', 'hours until it expires', positiveInt('--hours'), 24)
    .option('--description <text>', 'what it is for', 'agent enrollment')
    .action(adminAction(createToken));
  tokens
    .command('revoke')
    .description('revoke a token: no agent can enroll with it afterwards')
    .argument('<id>', 'the token id (from enrollment-tokens list)')
    .action(adminAction(revokeToken));

  const audit = program.command('audit').description('the audit log (admins)');
  audit
    .command('list')
    .description('audited actions, newest first')
    .option('--actor <name|id>', 'who acted: a username, API token name or hostname')
    .option('--action <prefix>', 'a prefix of the action, e.g. allocation. or node.cordon')
    .option('--target-type <type>', 'e.g. node, gpu, deployment, user')
    .option('--target-id <id>', 'the target id')
    .option('--from <time>', 'ISO time, inclusive')
    .option('--to <time>', 'ISO time, exclusive')
    .option('--limit <n>', 'events per page (at most 200)', positiveInt('--limit'), 50)
    .option('--cursor <cursor>', 'the next page: the cursor the previous one printed')
    .action(adminAction(listAudit));
}

async function listClusters(ctx: Context): Promise<void> {
  const list = await ctx.api.get<Cluster[]>('/clusters');
  ctx.out.result(list, () =>
    list.length === 0
      ? 'No clusters.'
      : table(
          ['NAME', 'REGION', 'NODES', 'ONLINE', 'CREATED'],
          list.map((c) => [c.name, c.region ?? DASH, c.nodes, c.onlineNodes, c.createdAt.slice(0, 10)]),
          [2, 3],
        ),
  );
}

async function createCluster(ctx: Context, name: string, options: { region?: string }): Promise<void> {
  const cluster = await ctx.api.post<Cluster>('/clusters', { name, region: options.region });
  ctx.out.result(
    cluster,
    () => `Created cluster ${cluster.name}${cluster.region ? ` (${cluster.region})` : ''}.`,
  );
}

async function listTokens(ctx: Context, options: { cluster?: string }): Promise<void> {
  let list = await ctx.api.get<EnrollmentToken[]>('/enrollment-tokens');
  if (options.cluster) list = list.filter((t) => t.clusterName === options.cluster);
  ctx.out.result(list, () =>
    list.length === 0
      ? 'No enrollment tokens.'
      : table(
          ['ID', 'CLUSTER', 'DESCRIPTION', 'USES', 'EXPIRES', 'STATE', 'NODES'],
          list.map((t) => [
            t.id,
            t.clusterName,
            t.replacesNode ? `replaces ${t.replacesNode.hostname}` : t.description,
            `${t.uses}/${t.maxUses}`,
            t.expiresAt ? t.expiresAt.slice(0, 16).replace('T', ' ') : 'never',
            t.state,
            t.enrolled.map((n) => n.hostname).join(', ') || DASH,
          ]),
        ),
  );
}

/** The command that starts an agent on a new machine with this token (README "Connecting an agent"). */
export function agentCommand(serverUrl: string, token: string): string {
  return `npm run agent -- --server ${serverUrl.replace(/\/+$/, '')} --token ${token}`;
}

async function createToken(
  ctx: Context & { url: string },
  options: { cluster: string; uses: number; hours: number; description: string },
): Promise<void> {
  const created = await ctx.api.post<CreatedEnrollmentToken>('/enrollment-tokens', {
    cluster: options.cluster,
    maxUses: options.uses,
    expiresInHours: options.hours,
    description: options.description,
  });
  const command = agentCommand(ctx.url, created.token);
  ctx.out.result({ ...created, agentCommand: command }, () =>
    [
      `Enrollment token for ${created.clusterName} (${created.maxUses} use${created.maxUses === 1 ? '' : 's'}, ` +
        `expires ${created.expiresAt ?? 'never'}). Shown this once:`,
      created.token,
      '',
      'Start an agent on the new machine with:',
      `  ${command}`,
    ].join('\n'),
  );
}

async function revokeToken(ctx: Context, id: string): Promise<void> {
  const revoked = await ctx.api.post<{ id: string; revokedAt: string }>(
    `/enrollment-tokens/${encodeURIComponent(id)}/revoke`,
  );
  ctx.out.result(revoked, () => `Revoked enrollment token ${revoked.id}.`);
}

function isoOption(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const at = Date.parse(value);
  if (!Number.isFinite(at))
    throw usageError(`${flag}: "${value}" is not a time; use e.g. 2026-12-03T10:00:00Z`);
  return new Date(at).toISOString();
}

async function listAudit(
  ctx: Context,
  options: {
    actor?: string;
    action?: string;
    targetType?: string;
    targetId?: string;
    from?: string;
    to?: string;
    limit: number;
    cursor?: string;
  },
): Promise<void> {
  const page = await ctx.api.get<AuditPage>('/audit', {
    actor: options.actor,
    action: options.action,
    targetType: options.targetType,
    targetId: options.targetId,
    from: isoOption('--from', options.from),
    to: isoOption('--to', options.to),
    limit: options.limit,
    cursor: options.cursor,
  });
  ctx.out.result(page, () => {
    if (page.events.length === 0) return 'No audit events match.';
    const rows = page.events.map((e) => [
      e.at.replace('T', ' ').slice(0, 19),
      `${e.actorName} (${e.actorType})`,
      e.action,
      `${e.targetType}${e.targetName ? ` ${e.targetName}` : e.targetId ? ` ${e.targetId}` : ''}`,
      e.outcome,
      e.reason ?? '',
    ]);
    const more = page.nextCursor ? `\nMore: add --cursor ${page.nextCursor}` : '';
    return `${table(['AT (UTC)', 'ACTOR', 'ACTION', 'TARGET', 'OUTCOME', 'REASON'], rows)}${more}`;
  });
}
