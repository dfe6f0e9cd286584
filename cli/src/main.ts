import { Command, CommanderError } from 'commander';
import { DEFAULT_URL } from './api';
import { registerAdminCommands } from './commands/admin';
import { registerAllocationCommands } from './commands/allocation';
import { registerFleetCommands } from './commands/fleet';
import { registerStressCommands } from './commands/stress';
import { CliError, EXIT, EXIT_CODES_HELP } from './errors';
import { Output } from './output';

const program = new Command('switchyard')
  .description(
    'Read the GPU fleet, move GPUs and run stress tests through the Switchyard REST API (/api/v1).',
  )
  .option('--url <url>', `Switchyard address (env SWITCHYARD_URL; default ${DEFAULT_URL})`)
  .option('--token <token>', 'API token (env SWITCHYARD_TOKEN); create one under API tokens in the console')
  .option(
    '--user <username>',
    'for admin commands: sign in as this person (env SWITCHYARD_USER; password in SWITCHYARD_PASSWORD)',
  )
  .option('--json', 'print exactly one JSON document on stdout (errors too: {"error": …})')
  .addHelpText(
    'after',
    `${EXIT_CODES_HELP}

Examples:
  export SWITCHYARD_URL=http://localhost:3000 SWITCHYARD_TOKEN=syt_…
  switchyard gpus list --free
  switchyard move --gpu euw1-h100-02/3 --to chat-70b --reason "p95 over SLO"
  switchyard plan --json > plan.json && switchyard apply --plan plan.json --steps step-1
  switchyard stress start --deployment chat-70b --rate 50 --duration 60 --threshold "p95<250ms"
  SWITCHYARD_USER=admin SWITCHYARD_PASSWORD=… switchyard enrollment-tokens create --cluster us-east-1
  SWITCHYARD_USER=admin SWITCHYARD_PASSWORD=… switchyard audit list --action allocation. --json`,
  )
  // Commander's own exits (usage errors, --help) become exit codes below.
  .exitOverride()
  .showHelpAfterError('(add --help for usage)');

registerFleetCommands(program);
registerAllocationCommands(program);
registerStressCommands(program);
registerAdminCommands(program);

const wantsJson = process.argv.includes('--json');

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const out = new Output(wantsJson);
  if (error instanceof CommanderError) {
    // Commander has printed the problem (or the help) already.
    const shownOnRequest = error.code === 'commander.helpDisplayed' || error.code === 'commander.version';
    process.exitCode = shownOnRequest ? EXIT.ok : EXIT.usage;
    if (!shownOnRequest && wantsJson) {
      process.stdout.write(
        `${JSON.stringify({ error: { message: error.message, exitCode: EXIT.usage } })}\n`,
      );
    }
  } else if (error instanceof CliError) {
    out.error(error.message, error.exitCode, error.details);
    process.exitCode = error.exitCode;
  } else {
    out.error(`unexpected failure: ${(error as Error).stack ?? String(error)}`, EXIT.failed);
    process.exitCode = EXIT.failed;
  }
}
