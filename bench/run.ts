// npm run bench -- [--suite telemetry,flood,allocation,stress] [--nodes 6250] [--duration 20] [--hosts 2] [--skip-persistence]
//                   [--flood-fleet 1000] [--flood-rate 10000]
// Every suite measures Switchyard against a baseline run on this machine in the same
// process and prints a table of ratios; docs/benchmarks.md explains each one.
import { Command } from 'commander';
import { z } from 'zod';
import { runAllocationBench } from './allocation';
import { runFloodBench, ZFloodBenchOptions } from './flood';
import { runStressBench } from './stress';
import { runTelemetryBench, ZTelemetryBenchOptions } from './telemetry';

const SUITES = ['telemetry', 'flood', 'allocation', 'stress'] as const;

const cli = new Command('bench')
  .option('--suite <names>', `comma-separated suites: ${SUITES.join(', ')}`, SUITES.join(','))
  .option('--nodes <n>', 'telemetry: simulated agents (8 GPUs each)', '6250')
  .option('--duration <s>', 'telemetry: seconds of each measured phase', '20')
  .option('--hosts <n>', 'telemetry: load processes hosting the agents', '2')
  .option('--skip-persistence', 'telemetry: skip the rollup persistence comparison', false)
  .option('--flood-fleet <n>', 'flood: well-behaved agents (8 GPUs each) beside the flooding one', '1000')
  .option('--flood-rate <n>', 'flood: frames a second the flooding agent sends', '10000')
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
        throw new Error(
          `--${String(issue?.path[0] ?? '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${issue?.message}`,
        );
      }
      await runTelemetryBench(options.data);
    }
    if (suite === 'flood') {
      const options = ZFloodBenchOptions.safeParse(cli);
      if (!options.success) {
        const issue = options.error.issues[0];
        throw new Error(
          `--${String(issue?.path[0] ?? '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${issue?.message}`,
        );
      }
      await runFloodBench(options.data);
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
