import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { Agent } from './agent';
import { sleep } from './backoff';
import {
  type AgentCliOptions,
  collectList,
  collectRepeated,
  describeCliError,
  ZAgentCliOptions,
} from './cli-options';
import { CREDENTIAL_FILE, readCredential } from './data-dir';
import { DEFAULT_BUFFER_CAPACITY } from './frame-buffer';
import { type AgentLog, errorMessage, lineLog } from './log';
import { rotateStoredCredential } from './rotate-credential';
import { createSource, SOURCE_NAMES } from './sources/create-source';
import { DEFAULT_DCGM_URL } from './sources/dcgm/dcgm-source';
import { MODEL_SERVER_KINDS } from './sources/model-server/readers';
import { DEFAULT_NVIDIA_SMI_COMMAND } from './sources/nvidia-smi/nvidia-smi-source';
import { buildTelemetryFrame } from './telemetry-frame';

/**
 * The node agent's command line:
 *   npm run agent -- --server http://localhost:3000 --token ENROLLMENT_TOKEN
 *   npm run agent -- --server http://sy-1:3000,http://sy-2:3000 --token ENROLLMENT_TOKEN
 *   npm run agent -- --once --print --source simulator --hostname use1-h100-01
 *   npm run agent -- --server URL --source nvidia-smi,model-server --metrics-url http://localhost:8000/metrics
 *   npm run agent -- --rotate-credential --data-dir ./.switchyard/agent
 * Exit codes: 0 done or stopped by a signal, 1 failed at run time, 2 bad command line.
 */

const PROGRAM = 'switchyard-agent';
/** Usage errors exit 2, as is customary for command-line tools; run-time failures exit 1. */
const EXIT_USAGE = 2;

function usageError(message: string): never {
  process.stderr.write(`${PROGRAM}: ${message}\nRun with --help for usage.\n`);
  process.exit(EXIT_USAGE);
}

function parseCommandLine(argv: string[]): AgentCliOptions {
  const program = new Command()
    .name(PROGRAM)
    .description('Streams GPU and model-server telemetry from this node to a Switchyard server.')
    .option(
      '--server <urls>',
      'Switchyard server base URL, e.g. http://localhost:3000; or several, comma-separated, tried in ' +
        'order: after a failed attempt the agent moves to the next (behind a load balancer, give its URL alone)',
    )
    .option(
      '--token <token>',
      'enrollment token, needed on first start (default: $SWITCHYARD_ENROLLMENT_TOKEN)',
    )
    .option('--hostname <name>', 'this node’s hostname', osHostname())
    .option(
      '--data-dir <dir>',
      'where the node credential, state and unacknowledged frames are kept',
      './.switchyard/agent',
    )
    .option('--interval-ms <ms>', 'sampling interval in milliseconds', '1000')
    .option(
      '--source <names>',
      `telemetry sources, repeatable or comma-separated: ${SOURCE_NAMES.join(', ')} (default: simulator)`,
      collectList,
    )
    .option(
      '--nvidia-smi-command <command>',
      'how to run nvidia-smi (a command line, run without a shell)',
      DEFAULT_NVIDIA_SMI_COMMAND,
    )
    .option('--dcgm-url <url>', 'dcgm-exporter metrics endpoint', DEFAULT_DCGM_URL)
    .option(
      '--metrics-url <url>',
      'model server /metrics endpoint, repeatable (with --source model-server)',
      collectList,
    )
    .option(
      '--deployment-id <id>',
      'the deployment the model servers serve (default: the one assigned to this node)',
    )
    .option('--model-server <kind>', `model server kind: ${MODEL_SERVER_KINDS.join(', ')}`, 'auto')
    .option(
      '--buffer-frames <n>',
      'unacknowledged frames kept during an outage',
      String(DEFAULT_BUFFER_CAPACITY),
    )
    .option(
      '--apply-hook <command>',
      'shell command run for each allocation change before confirming it (change JSON on stdin; non-zero exit = failed)',
    )
    .option(
      '--endpoint <name=url>',
      'inference endpoint of a deployment on this node, for stress tests, repeatable (e.g. chat-70b=http://10.0.0.5:8000)',
      collectRepeated,
    )
    .option('--once', 'take a single sample and exit (with --print)')
    .option('--print', 'print the telemetry frame as JSON on stdout instead of sending it')
    .option(
      '--rotate-credential',
      'replace the node credential in --data-dir with a new one and exit (the old one stops working at once; a running agent picks up the new one)',
    )
    .allowExcessArguments(false)
    .exitOverride();

  try {
    program.parse(argv);
  } catch (error) {
    // Commander has already printed its message (or the help text).
    if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE);
    throw error;
  }
  const raw = { token: process.env.SWITCHYARD_ENROLLMENT_TOKEN || undefined, ...program.opts() };
  const parsed = ZAgentCliOptions.safeParse(raw);
  if (!parsed.success) usageError(describeCliError(parsed.error, raw));
  return parsed.data;
}

function sourceFor(options: AgentCliOptions, log: AgentLog) {
  return createSource({
    sources: options.source,
    hostname: options.hostname,
    log,
    nvidiaSmiCommand: options.nvidiaSmiCommand,
    dcgmUrl: options.dcgmUrl,
    metricsUrls: options.metricsUrl,
    deploymentId: options.deploymentId,
    modelServer: options.modelServer,
  });
}

/**
 * One frame on stdout. Sources that count (model-server histograms, ECC and XID counters)
 * are read twice, one interval apart, so the frame covers a real interval instead of
 * printing the first read's empty baseline.
 */
async function printOneFrame(options: AgentCliOptions): Promise<void> {
  const log = lineLog(`agent[${options.hostname}]`);
  const { source } = sourceFor(options, log);
  const names = options.source.join(',');
  if (source.cumulative) {
    await source.sample(options.intervalMs);
    log.info(`${names}: first read taken as the baseline; sampling again in ${options.intervalMs} ms`);
    await sleep(options.intervalMs);
  }
  const sample = await source.sample(options.intervalMs);
  const frame = buildTelemetryFrame(1, options.intervalMs, sample);
  if (!frame.success)
    throw new Error(`the ${names} source produced an invalid frame: ${frame.error.message}`);
  process.stdout.write(`${JSON.stringify(frame.data)}\n`);
}

async function runAgent(options: AgentCliOptions & { server: string[] }): Promise<void> {
  const log = lineLog(`agent[${options.hostname}]`);
  if (!options.token && !(await readCredential(options.dataDir))) {
    usageError(`--token: is required on first start (no ${join(options.dataDir, CREDENTIAL_FILE)} yet)`);
  }
  const { source, agentVersion, labels } = sourceFor(options, log);
  const agent = new Agent({
    serverUrl: options.server,
    hostname: options.hostname,
    dataDir: options.dataDir,
    enrollmentToken: options.token,
    intervalMs: options.intervalMs,
    bufferCapacity: options.bufferFrames,
    endpoints: options.endpoint,
    applyHook: options.applyHook,
    source,
    agentVersion,
    labels,
    log,
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn(`${signal} again: exiting without waiting`);
      process.exit(1);
    }
    stopping = true;
    log.info(`${signal}: stopping`);
    // Never hang on the way out: a stuck close must not keep a service manager waiting.
    setTimeout(() => process.exit(1), 10_000).unref();
    agent.stop().then(
      () => process.exit(0),
      (error) => {
        log.error(`stopping failed: ${errorMessage(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  log.info(
    `starting: server ${options.server.join(', ')}, source ${options.source.join(',')}, every ${options.intervalMs} ms`,
  );
  await agent.start();
}

async function rotate(options: AgentCliOptions): Promise<void> {
  const { credential, path } = await rotateStoredCredential({
    dataDir: options.dataDir,
    serverUrl: options.server,
  });
  process.stdout.write(
    `rotated the credential of node ${credential.nodeId} (${credential.hostname}) and wrote it to ${path}; ` +
      'an agent running on this data directory reconnects with it within seconds\n',
  );
}

async function main(): Promise<void> {
  const options = parseCommandLine(process.argv);
  if (options.rotateCredential) await rotate(options);
  else if (options.once) await printOneFrame(options);
  else if (options.server) await runAgent({ ...options, server: options.server });
}

main().catch((error) => {
  process.stderr.write(`${PROGRAM}: ${errorMessage(error)}\n`);
  process.exit(1);
});
