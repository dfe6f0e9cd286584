import { spawn } from 'node:child_process';
import type { AllocationCommand, AllocationCommandAck } from '../../lib/protocol/agent';

/** An apply hook that has not finished by then has failed; the server rolls the change back. */
export const APPLY_HOOK_TIMEOUT_MS = 60_000;
const STDERR_TAIL_CHARS = 400;

/**
 * Runs the operator's apply hook (`--apply-hook`), e.g. a script that restarts model servers
 * on the node's new GPUs. It gets the command as JSON on stdin and SWITCHYARD_CHANGE_ID /
 * SWITCHYARD_ROLLBACK in its environment; exit status 0 means applied, anything else failed
 * (the end of its stderr becomes the reason the server records).
 */
export function runApplyHook(
  hook: string,
  command: AllocationCommand,
  timeoutMs = APPLY_HOOK_TIMEOUT_MS,
): Promise<AllocationCommandAck> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', hook], {
      stdio: ['pipe', 'ignore', 'pipe'],
      env: {
        ...process.env,
        SWITCHYARD_CHANGE_ID: command.changeId,
        SWITCHYARD_ROLLBACK: command.rollback ? '1' : '0',
      },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL_CHARS);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, error: `apply hook could not start: ${error.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ ok: true });
      else {
        const how = signal ? `was killed (${signal})` : `exited with status ${code}`;
        const detail = stderr.trim();
        resolve({ ok: false, error: `apply hook ${how}${detail ? `: ${detail}` : ''}` });
      }
    });
    // A hook that ignores stdin closes the pipe early; that is not a failure.
    child.stdin.on('error', () => {});
    child.stdin.end(JSON.stringify(command));
  });
}
