/** A small leveled logger: one line per event, prefixed with the component. */
type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
let threshold: Level = (process.env.SWITCHYARD_LOG_LEVEL as Level | undefined) ?? 'info';

export function setLogLevel(level: Level): void {
  threshold = level;
}

export type Logger = Record<Level, (message: string, extra?: unknown) => void>;

export function logger(component: string): Logger {
  const write = (level: Level) => (message: string, extra?: unknown) => {
    if (ORDER[level] < ORDER[threshold]) return;
    const line = `${new Date().toISOString()} ${level.padEnd(5)} [${component}] ${message}`;
    const stream = level === 'error' || level === 'warn' ? process.stderr : process.stdout;
    stream.write(extra === undefined ? `${line}\n` : `${line} ${formatExtra(extra)}\n`);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

function formatExtra(extra: unknown): string {
  if (extra instanceof Error) return extra.stack ?? extra.message;
  try {
    return JSON.stringify(extra);
  } catch {
    return String(extra);
  }
}
