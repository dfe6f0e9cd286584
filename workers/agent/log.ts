/** Where the agent reports what it is doing; the fleet simulator prefixes lines per node. */
export interface AgentLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/**
 * One line per event, with a timestamp and a prefix naming the node. The agent CLI logs to
 * stderr, so that stdout stays clean for `--print` output.
 */
export function lineLog(prefix: string, stream: NodeJS.WritableStream = process.stderr): AgentLog {
  const write = (level: string, message: string) =>
    stream.write(`${new Date().toISOString()} ${level} ${prefix} ${message}\n`);
  return {
    info: (message) => write('INFO ', message),
    warn: (message) => write('WARN ', message),
    error: (message) => write('ERROR', message),
  };
}

export const silentLog: AgentLog = { info() {}, warn() {}, error() {} };

/** An error's message, with its cause when it has one: fetch() hides ECONNREFUSED in the cause. */
export function errorMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  return cause && !error.message.includes(cause) ? `${error.message} (${cause})` : error.message;
}

/**
 * Says each thing once: a collector that meets the same unsupported field or unreachable
 * endpoint every second should not fill the log with it.
 */
export class OnceLog {
  private readonly said = new Set<string>();

  constructor(readonly log: AgentLog) {}

  warn(key: string, message: string): void {
    if (this.said.has(key)) return;
    this.said.add(key);
    this.log.warn(message);
  }

  /** Lets `key` be said again (e.g. after the condition it reported went away). */
  forget(key: string): boolean {
    return this.said.delete(key);
  }
}
