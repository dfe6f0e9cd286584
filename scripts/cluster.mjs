// `npm run cluster`: several Switchyard servers behind HAProxy, sharing one PostgreSQL and
// one Redis (docs/cluster.md). Builds what `npm start` builds, starts each server as
// `npm start` starts its one, then HAProxy in front; Ctrl-C or SIGTERM stops them all.
//   npm run cluster -- --servers 3 --port 3000 --demo on
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { Cluster, DEFAULTS } from './cluster/cluster.mjs';
import { redactUrl } from './cluster/services.mjs';
import { prepareProduct } from './prepare-product.mjs';

const PROGRAM = 'npm run cluster --';

function wholeNumber(min, max) {
  return (value) => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a whole number');
    const number = Number(value);
    if (number < min || number > max) throw new InvalidArgumentError(`must be ${min}–${max}`);
    return number;
  };
}

function parseCommandLine(argv) {
  const program = new Command()
    .name(PROGRAM)
    .description(
      'Runs several Switchyard servers behind HAProxy. They share one PostgreSQL and one Redis; ' +
        'browsers and agents connect to HAProxy, which spreads them over the servers and routes ' +
        'around a server that dies.',
    )
    .option('--servers <n>', 'how many servers', wholeNumber(1, 64), DEFAULTS.servers)
    .option(
      '--port <port>',
      "HAProxy's public port; the servers listen on the next ports, on 127.0.0.1",
      wholeNumber(1, 65535),
      DEFAULTS.port,
    )
    .option(
      '--stats-port <port>',
      "HAProxy's statistics page (127.0.0.1 only)",
      wholeNumber(1, 65535),
      DEFAULTS.statsPort,
    )
    .addOption(
      new Option('--demo <on|off>', 'seed the demo fleet and run its simulated agents (on one server)')
        .choices(['on', 'off'])
        .default(process.env.SWITCHYARD_DEMO || DEFAULTS.demo),
    )
    .option(
      '--redis-url <url>',
      'the Redis the servers share (default: $SWITCHYARD_REDIS_URL or redis://127.0.0.1:6379)',
    )
    .option(
      '--database-url <url>',
      'the PostgreSQL database the servers share, created if missing (default: $DATABASE_URL or postgres://postgres@127.0.0.1:5432/switchyard)',
    )
    .option(
      '--data-dir <dir>',
      'HAProxy configuration and the simulated agents’ credentials',
      DEFAULTS.dataDir,
    )
    .option('--haproxy <path>', 'the haproxy program (default: $HAPROXY_PATH or /usr/sbin/haproxy)')
    .allowExcessArguments(false)
    .exitOverride();
  try {
    program.parse(argv);
  } catch (error) {
    if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
    throw error;
  }
  const options = program.opts();
  if (!['on', 'off'].includes(options.demo)) {
    process.stderr.write(`${PROGRAM}: SWITCHYARD_DEMO=${options.demo}: use on or off\n`);
    process.exit(2);
  }
  return {
    ...options,
    redisUrl: options.redisUrl || process.env.SWITCHYARD_REDIS_URL || DEFAULTS.redisUrl,
    databaseUrl: options.databaseUrl || process.env.DATABASE_URL || DEFAULTS.databaseUrl,
    haproxy: options.haproxy || process.env.HAPROXY_PATH || DEFAULTS.haproxy,
  };
}

function summary(cluster) {
  const { plan, options } = cluster;
  const lines = [
    `Switchyard cluster: ${plan.servers.length} server${plan.servers.length > 1 ? 's' : ''} behind HAProxy`,
    `  ${`http://localhost:${plan.bind.port}`.padEnd(28)} the product: browsers, the API and agents (HAProxy)`,
    `  ${plan.statsUrl.padEnd(28)} HAProxy statistics`,
  ];
  for (const server of cluster.servers.values()) {
    const simulator = server.runsSimulator ? ', runs the demo fleet’s simulated agents' : '';
    lines.push(`  ${server.url.padEnd(28)} ${server.id} (pid ${server.child.pid}${simulator})`);
  }
  lines.push(
    `  PostgreSQL ${redactUrl(options.databaseUrl)}`,
    `  Redis      ${redactUrl(options.redisUrl)}`,
    `  HAProxy configuration ${cluster.configFile} (pid ${cluster.haproxy.pid})`,
    'Ctrl-C stops everything. Stop one server (kill <pid>) to watch the others take over its agents.',
  );
  return lines.map((line) => `${cluster.label('cluster')} ${line}\n`).join('');
}

async function main() {
  const options = parseCommandLine(process.argv);
  let cluster;
  try {
    cluster = new Cluster(options);
  } catch (error) {
    process.stderr.write(`${PROGRAM}: ${error.message}\n`);
    process.exit(2);
  }
  prepareProduct();

  let signals = 0;
  const stop = (signal) => {
    signals += 1;
    cluster.say(
      signals === 1
        ? `${signal}: stopping the servers, then HAProxy`
        : `${signal} again: telling the servers to exit now`,
    );
    void cluster.stop();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', stop);
  // `npm run cluster` runs this under `sh -c`; npm signals only that shell, which dies
  // without passing the signal on. Being re-parented means whoever started us is gone.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent && signals === 0) stop('parent gone');
  }, 500).unref();

  try {
    await cluster.start();
    process.stdout.write(summary(cluster));
  } catch (error) {
    if (signals === 0) process.stderr.write(`${cluster.label('cluster')} cannot start: ${error.message}\n`);
  }
  process.exit(await cluster.exited);
}

main().catch((error) => {
  process.stderr.write(`${PROGRAM}: ${error.stack ?? error}\n`);
  process.exit(1);
});
