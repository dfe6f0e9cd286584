// Types of services.mjs, for the TypeScript tests that use it.
export function redactUrl(url: string): string;
export function checkRedis(url: string, options?: { timeoutMs?: number }): Promise<void>;
export function ensureDatabase(url: string): Promise<{ created: boolean }>;
