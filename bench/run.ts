// npm run bench -- [--suite telemetry,allocation,stress] [--nodes 6250] [--duration 20] [--hosts 2] [--skip-persistence]
// Every suite measures Switchyard against a baseline run on this machine in the same
// process and prints a table of ratios; docs/benchmarks.md explains each one.
import { Command } from 'commander';
import { z } from 'zod';
import { runAllocationBench } from './allocation';
import { runStressBench } from './stress';
import { runTelemetryBench, ZTelemetryBenchOptions } from './telemetry';

const SUITES = ['telemetry', 'allocation', 'stress'] as const;

const cli = new Command('bench')
  .option('--suite <names>', `comma-separated suites: ${SUITES.join(', ')}`, SUITES.join(','))
  .option('--nodes <n>', 'telemetry: simulated agents (8 GPUs each)', '6250')
  .option('--duration <s>', 'telemetry: seconds of each measured phase', '20')
  .option('--hosts <n>', 'telemetry: load processes hosting the agents', '2')
  .option('--skip-persistence', 'telemetry: skip the rollup persistence comparison', false)
  .parse()
  .opts();

const parsedSuites = z
  .array(z.enum(SUITES, { error: `--suite: expected ${SUITES.join(', ')}` }))
  .min(1, '--suite: name at least one suite')
  .safeParse(String(cli.suite).split(',').filter(Boolean));
if (!parsedSuites.success) {
  process.stderr.write(`${parsedSuites.error.issues[0]?.message}\n`);
  process.exit(2);
}
const suites = parsedSuites.data;
const log = (line: string) => process.stdout.write(`${line}\n`);

async function main() {
  for (const suite of suites) {
    log(`\n## ${suite}\n`);
    if (suite === 'telemetry') {
      const options = ZTelemetryBenchOptions.safeParse(cli);
      if (!options.success) {
        const issue = options.error.issues[0];
        throw new Error(`--${String(issue?.path[0] ?? '')}: ${issue?.message}`);
      }
      await runTelemetryBench(options.data);
    }
    if (suite === 'allocation') await runAllocationBench(log);
    if (suite === 'stress') await runStressBench(log);
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
