// `npm run enrollment-token -- --cluster NAME [--uses N] [--hours H] [--create-cluster]`
// Prints a new enrollment token for connecting agents to a cluster. Talks to the same
// database as the server (DATABASE_URL, or the embedded one of a running `npm start`).
import { Command, InvalidArgumentError } from 'commander';
import { closeDb, getDb } from '../server/db/client';
import { runningEmbeddedDatabaseUrl } from '../server/db/embedded-postgres';
import { parseEnv } from '../server/env';
import { createEnrollmentToken } from '../server/services/agents/enrollment';

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
  .parse();
const options = program.opts<{ cluster: string; uses: number; hours: number; createCluster: boolean }>();

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
  if (!cluster) {
    console.error(`--cluster: no cluster named "${options.cluster}" (add --create-cluster to create it)`);
    process.exitCode = 2;
  } else {
    const { token } = await createEnrollmentToken(db, {
      clusterId: cluster.id,
      description: 'created with npm run enrollment-token',
      maxUses: options.uses,
      expiresAt: new Date(Date.now() + options.hours * 3600_000),
    });
    console.log(token);
  }
} catch (error) {
  console.error(`Could not create the token: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await closeDb(databaseUrl);
}
