import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { z } from 'zod';
import { DEMO_AGENT_VERSION, DEMO_DEPLOYMENTS, DEMO_NODES } from '../../lib/demo-fleet';
import { Agent } from '../agent/agent';
import { describeCliError } from '../agent/cli-options';
import { errorMessage, lineLog } from '../agent/log';
import { SimulatorSource } from '../agent/sources/simulator/simulator-source';

/**
 * The demo fleet in one process: one Agent per DEMO_NODES entry, each with its own
 * credential, data directory and socket, speaking the ordinary agent protocol, so the
 * server cannot tell them from agents on real machines.
 *
 *   SWITCHYARD_ENROLLMENT_TOKENS='{"us-east-1":"…","use1-h100-01":"…"}' npm run fleet-sim
 *   npm run fleet-sim -- --tokens-file tokens.json --server http://localhost:3000
 */

const PROGRAM = 'switchyard-fleet-sim';
const EXIT_USAGE = 2;
const STAGGER_MS = 1000;
const SUMMARY_EVERY_MS = 30_000;

const ZFleetSimOptions = z.object({
  server: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://localhost:3000' }),
  dataDir: z.string().min(1, 'must not be empty'),
  intervalMs: z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().min(100, 'must be at least 100').max(60_000, 'must be at most 60000')),
  tokensFile: z.string().min(1).optional(),
});

/**
 * Cluster name or node hostname → enrollment token. A node's own key (a replacement token
 * for an existing node) wins over its cluster's (an ordinary token, for new nodes only).
 */
const ZEnrollmentTokens = z.record(z.string(), z.string().min(16).max(200));

const log = lineLog('fleet-sim', process.stdout);

function usageError(message: string): never {
  process.stderr.write(`${PROGRAM}: ${message}\n`);
  process.exit(EXIT_USAGE);
}

function parseCommandLine(argv: string[]): z.infer<typeof ZFleetSimOptions> {
  const program = new Command()
    .name(PROGRAM)
    .description('Runs a simulated agent for every node of the demo fleet.')
    .option('--server <url>', 'Switchyard server base URL', 'http://localhost:3000')
    .option('--data-dir <dir>', 'parent of the per-node data directories', './.switchyard/agents')
    .option('--interval-ms <ms>', 'sampling interval in milliseconds', '1000')
    .option(
      '--tokens-file <path>',
      'JSON file {clusterName or hostname: enrollmentToken} (default: $SWITCHYARD_ENROLLMENT_TOKENS)',
    )
    .allowExcessArguments(false)
    .exitOverride();
  try {
    program.parse(argv);
  } catch (error) {
    if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE);
    throw error;
  }
  const raw = program.opts();
  const parsed = ZFleetSimOptions.safeParse(raw);
  if (!parsed.success) usageError(describeCliError(parsed.error, raw));
  return parsed.data;
}

async function loadTokens(tokensFile: string | undefined): Promise<Record<string, string>> {
  const origin = tokensFile ? `--tokens-file ${tokensFile}` : '$SWITCHYARD_ENROLLMENT_TOKENS';
  let text = process.env.SWITCHYARD_ENROLLMENT_TOKENS;
  if (tokensFile) {
    try {
      text = await readFile(tokensFile, 'utf8');
    } catch (error) {
      usageError(`${origin}: cannot read it (${errorMessage(error)})`);
    }
  }
  // Without tokens, agents that enrolled before still start from their stored credentials.
  if (!text) return {};
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    usageError(`${origin}: not valid JSON`);
  }
  const parsed = ZEnrollmentTokens.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    usageError(`${origin}: ${issue?.path.join('.') || 'value'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

async function main(): Promise<void> {
  const options = parseCommandLine(process.argv);
  const tokens = await loadTokens(options.tokensFile);

  const agents = DEMO_NODES.map((node) => ({
    hostname: node.hostname,
    agent: new Agent({
      serverUrl: options.server,
      hostname: node.hostname,
      dataDir: join(options.dataDir, node.hostname),
      enrollmentToken: tokens[node.hostname] ?? tokens[node.cluster],
      intervalMs: options.intervalMs,
      source: new SimulatorSource({ node, deployments: DEMO_DEPLOYMENTS }),
      agentVersion: DEMO_AGENT_VERSION,
      labels: { source: 'simulator' },
      log: lineLog(`agent[${node.hostname}]`, process.stdout),
    }),
  }));

  // Spread the starts over a second, so enrollments and frames do not arrive in lockstep.
  const starts = agents.map(({ hostname, agent }, i) =>
    setTimeout(
      () => {
        agent.start().catch((error) => log.error(`${hostname} cannot start: ${errorMessage(error)}`));
      },
      Math.round((i * STAGGER_MS) / agents.length),
    ),
  );

  const summary = setInterval(() => {
    const total = { connected: 0, acked: 0, buffered: 0, dropped: 0 };
    for (const { agent } of agents) {
      const stats = agent.stats();
      if (stats.connected) total.connected++;
      total.acked += stats.acked;
      total.buffered += stats.buffered;
      total.dropped += stats.dropped;
    }
    log.info(
      `${total.connected}/${agents.length} agents connected; frames acked ${total.acked}, ` +
        `buffered ${total.buffered}, dropped ${total.dropped}`,
    );
  }, SUMMARY_EVERY_MS);

  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${why}: stopping ${agents.length} agents`);
    for (const timer of starts) clearTimeout(timer);
    clearInterval(summary);
    setTimeout(() => process.exit(1), 10_000).unref();
    Promise.allSettled(agents.map(({ agent }) => agent.stop())).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Spawned with an IPC channel (by the server): when the parent goes away, so do we.
  if (process.send) process.on('disconnect', () => stop('parent process went away'));

  log.info(`starting ${agents.length} simulated agents against ${options.server}`);
}

main().catch((error) => {
  process.stderr.write(`${PROGRAM}: ${errorMessage(error)}\n`);
  process.exit(1);
});
