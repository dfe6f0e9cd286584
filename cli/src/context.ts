import type { Command } from 'commander';
import { ApiClient, DEFAULT_URL, signIn } from './api';
import { usageError } from './errors';
import { Output } from './output';

/** What every command gets: the API client and the output, from the global flags and env. */
export type Context = { api: ApiClient; out: Output };

type GlobalOptions = { url?: string; token?: string; json?: boolean; user?: string };

export function outputOf(command: Command): Output {
  return new Output(Boolean(command.optsWithGlobals<GlobalOptions>().json));
}

function serverUrlOf(command: Command): string {
  const options = command.optsWithGlobals<GlobalOptions>();
  const url = options.url ?? process.env.SWITCHYARD_URL ?? DEFAULT_URL;
  const from = options.url ? '--url' : process.env.SWITCHYARD_URL ? 'SWITCHYARD_URL' : 'the default URL';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usageError(`${from}: "${url}" is not a URL; use e.g. http://localhost:3000`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw usageError(`${from}: "${url}" must be an http(s) URL`);
  }
  return url;
}

export function contextOf(command: Command): Context {
  const options = command.optsWithGlobals<GlobalOptions>();
  const url = serverUrlOf(command);
  const token = (options.token ?? process.env.SWITCHYARD_TOKEN)?.trim() || undefined;
  return { api: new ApiClient({ url, token }), out: outputOf(command) };
}

/**
 * Wraps a command's action: builds its context and records the exit code it returns
 * (0 when it returns nothing). Errors propagate to main, which prints them.
 */
export function action<A extends unknown[]>(
  run: (ctx: Context, ...args: A) => Promise<unknown>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args.at(-1) as Command;
    const code = await run(contextOf(command), ...(args.slice(0, -1) as A));
    process.exitCode = typeof code === 'number' ? code : 0;
  };
}

/**
 * Like `action`, for admin commands: API tokens never reach admin actions, so these sign in as
 * a person — `--user` or SWITCHYARD_USER, with the password from SWITCHYARD_PASSWORD only (a
 * flag would show in the shell history and the process list) — and sign out afterwards.
 */
export function adminAction<A extends unknown[]>(
  run: (ctx: Context & { url: string }, ...args: A) => Promise<unknown>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args.at(-1) as Command;
    const options = command.optsWithGlobals<GlobalOptions>();
    const url = serverUrlOf(command);
    const username = (options.user ?? process.env.SWITCHYARD_USER)?.trim();
    const password = process.env.SWITCHYARD_PASSWORD;
    if (!username || !password) {
      throw usageError(
        'this command signs in as an admin: set SWITCHYARD_USER (or --user) and SWITCHYARD_PASSWORD ' +
          '(API tokens cannot manage clusters, enrollment tokens or read the audit log)',
      );
    }
    const session = await signIn(url, username, password);
    try {
      const code = await run({ api: session.api, out: outputOf(command), url }, ...(args.slice(0, -1) as A));
      process.exitCode = typeof code === 'number' ? code : 0;
    } finally {
      await session.signOut();
    }
  };
}
