import { execFile } from 'node:child_process';
import { parse } from 'shell-quote';

/**
 * `--nvidia-smi-command` is a command line (`nvidia-smi`, `/opt/bin/smi-wrapper --gpu 0`,
 * `ssh gpu-7 nvidia-smi`). It is split into argv the way a shell would split words and run
 * without a shell, so nothing in it is interpreted: pipes, redirections, globs and `;` are
 * refused (put them in a wrapper script), and `$VAR` stays literal.
 */
export function splitCommandLine(commandLine: string): string[] {
  const words = parse(commandLine, (name) => `$${name}`);
  const argv: string[] = [];
  for (const word of words) {
    if (typeof word !== 'string') {
      const what = 'op' in word ? `"${word.op === 'glob' ? word.pattern : word.op}"` : 'a comment';
      throw new Error(`${what} in a command line is not supported: use a plain command or a wrapper script`);
    }
    argv.push(word);
  }
  if (argv.length === 0) throw new Error('the command line is empty');
  return argv;
}

export type CommandResult = { stdout: string; stderr: string };

export type RunOptions = { timeoutMs: number; maxOutputBytes: number; env?: NodeJS.ProcessEnv };

export type RunCommand = (argv: string[], options: RunOptions) => Promise<CommandResult>;

export class CommandFailedError extends Error {
  override name = 'CommandFailedError';
}

/** Runs argv without a shell; fails on a non-zero exit, a timeout or too much output. */
export const runCommand: RunCommand = (argv, { timeoutMs, maxOutputBytes, env }) =>
  new Promise((resolve, reject) => {
    const [file, ...args] = argv;
    if (!file) {
      reject(new CommandFailedError('empty command'));
      return;
    }
    execFile(
      file,
      args,
      {
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: maxOutputBytes,
        encoding: 'utf8',
        env,
        windowsHide: true,
      },
      (error, stdout, stderr) => {
        if (!error) {
          resolve({ stdout, stderr });
          return;
        }
        const failed = error as NodeJS.ErrnoException & {
          killed?: boolean;
          code?: number | string;
          signal?: string | null;
        };
        // The query's field list is long; the start of each argument is enough to tell calls apart.
        const shown = [file, ...args.map((arg) => (arg.length > 48 ? `${arg.slice(0, 45)}...` : arg))].join(
          ' ',
        );
        if (failed.code === 'ENOENT') {
          reject(new CommandFailedError(`${file}: not found`));
          return;
        }
        let why: string;
        if (failed.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER')
          why = `printed more than ${maxOutputBytes} bytes`;
        else if (failed.killed) why = `timed out after ${timeoutMs} ms`;
        else {
          // nvidia-smi prints its errors on stdout; show the first line of whichever has one.
          const said = `${stderr}\n${stdout}`.split('\n').find((line) => line.trim() !== '');
          const status = failed.code ?? failed.signal ?? 'an error';
          why = `exited with ${String(status)}${said ? `: ${said.trim().slice(0, 300)}` : ''}`;
        }
        reject(new CommandFailedError(`${shown}: ${why}`));
      },
    );
  });
