// `npm run enrollment-token -- --cluster NAME [--uses N] [--hours H] [--create-cluster]`
// `npm run enrollment-token -- --cluster NAME --replace HOSTNAME [--hours H]`
// Prints a new enrollment token for connecting agents to a cluster. An ordinary token
// enrolls new hostnames only; `--replace` makes a single-use replacement token for an
// existing node (a reinstalled machine), valid 1 h unless --hours says otherwise. Talks to
// the same database as the server (DATABASE_URL, or the embedded one of a running `npm start`).
import { Command, InvalidArgumentError } from 'commander';
import { closeDb, getDb } from '../server/db/client';
import { runningEmbeddedDatabaseUrl } from '../server/db/embedded-postgres';
import { parseEnv } from '../server/env';
import { createEnrollmentToken, createReplacementToken } from '../server/services/agents/enrollment';

const positiveInt = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};

const program = new Command('enrollment-token')
  .requiredOption('--cluster <name>', 'cluster the agents join')
  .option('--uses <n>', 'how many agents may enroll with it', positiveInt('--uses'), 1)
  .option('--hours <n>', 'hours until it expires', positiveInt('--hours'), 24)
  .option('--create-cluster', 'create the cluster if it does not exist', false)
  .option('--replace <hostname>', "a single-use token that replaces this existing node's agent")
  .parse();
const options = program.opts<{
  cluster: string;
  uses: number;
  hours: number;
  createCluster: boolean;
  replace?: string;
}>();
if (options.replace && program.getOptionValueSource('uses') !== 'default') {
  console.error('--uses: a replacement token is single use; leave --uses out with --replace');
  process.exit(2);
}

const env = parseEnv();
const databaseUrl =
  env.DATABASE_URL ??
  (await runningEmbeddedDatabaseUrl(env.dataDir, env.SWITCHYARD_PG_PORT).catch(() => {
    console.error(
      `No database: set DATABASE_URL, or start Switchyard (npm start) with data in ${env.dataDir}.`,
    );
    process.exit(1);
  }));
const db = getDb(databaseUrl);
try {
  let cluster = await db.cluster.findUnique({ where: { name: options.cluster } });
  if (!cluster && options.createCluster)
    cluster = await db.cluster.create({ data: { name: options.cluster } });
  const node =
    cluster && options.replace
      ? await db.node.findUnique({
          where: { clusterId_hostname: { clusterId: cluster.id, hostname: options.replace } },
        })
      : null;
  if (!cluster) {
    console.error(`--cluster: no cluster named "${options.cluster}" (add --create-cluster to create it)`);
    process.exitCode = 2;
  } else if (options.replace && !node) {
    console.error(
      `--replace: no node named "${options.replace}" in ${cluster.name} (enroll it with an ordinary token)`,
    );
    process.exitCode = 2;
  } else if (node) {
    const { token } = await createReplacementToken(db, {
      nodeId: node.id,
      expiresInMinutes: program.getOptionValueSource('hours') === 'default' ? undefined : options.hours * 60,
      actor: { kind: 'system', id: null, name: 'npm run enrollment-token' },
    });
    console.log(token);
  } else {
    const { token } = await createEnrollmentToken(db, {
      clusterId: cluster.id,
      description: 'created with npm run enrollment-token',
      maxUses: options.uses,
      expiresAt: new Date(Date.now() + options.hours * 3600_000),
      actor: { kind: 'system', id: null, name: 'npm run enrollment-token' },
    });
    console.log(token);
  }
} catch (error) {
  console.error(`Could not create the token: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await closeDb(databaseUrl);
}
