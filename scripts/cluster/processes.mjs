// Starting, watching and stopping the cluster's child processes.
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import readline from 'node:readline';

/** How `npm start` runs a server once the build is done (scripts/start.mjs). */
export const SERVER_COMMAND = [process.execPath, '--import', 'tsx', 'server/main.ts'];

/**
 * Starts one server process. It runs in its own process group, so a terminal's Ctrl-C
 * reaches only the cluster script, which then sends each server one SIGTERM (a second one
 * makes a server skip its cleanup). The IPC channel lets a server notice that the cluster
 * script died without a word, and shut down (server/main.ts).
 */
export function spawnServer({ command = SERVER_COMMAND, env, cwd }) {
  const [file, ...args] = command;
  return spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], detached: true });
}

/** Copies each line of `input` to `output`, prefixed (`[server-1] …`). */
export function prefixLines(input, prefix, output, { skip = () => false } = {}) {
  if (!input) return;
  const lines = readline.createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  lines.on('line', (line) => {
    if (!skip(line)) output.write(`${prefix} ${line}\n`);
  });
}

/** GET on a fresh connection; resolves the status, or 0 when there is no answer. */
export function httpStatus(url, timeoutMs = 2_000) {
  return new Promise((resolve) => {
    const request = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(0));
  });
}

/**
 * Resolves once `url` answers 200; rejects when `child` exits first or `timeoutMs` passes.
 */
export async function waitUntilHealthy(url, { child, timeoutMs, what }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(
        `${what} exited (${exitDescription(child.exitCode, child.signalCode)}) before it answered`,
      );
    }
    if ((await httpStatus(url)) === 200) return;
    if (Date.now() > deadline) throw new Error(`${what} did not answer ${url} within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export function exitDescription(code, signal) {
  return signal ? `signal ${signal}` : `code ${code}`;
}

/** Whether a process has ended. */
export function hasExited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Sends `signal` and resolves once the process is gone; SIGKILL after `killAfterMs`.
 */
export function stopProcess(child, { signal = 'SIGTERM', killAfterMs = 30_000 } = {}) {
  if (hasExited(child)) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

/** Whether something already listens on host:port (a bind there would fail). */
export function portInUse(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', (error) => resolve(error.code === 'EADDRINUSE' || error.code === 'EACCES'));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(false)));
  });
}
