// Types of haproxy.mjs, for the TypeScript tests that use it.
import type { ChildProcess, StdioOptions } from 'node:child_process';

export type Address = { host: string; port: number };
export type ClusterServer = Address & { id: string };

export const HAPROXY_TEMPLATE: string;
export const DEFAULT_HAPROXY: string;
export const DEFAULT_MAXCONN: number;

export function renderHaproxyConfig(
  options: { bind: Address; stats: Address; servers: ClusterServer[]; maxconn?: number },
  template?: string,
): string;
export function maxconnForThisMachine(wanted?: number): number;
export function checkHaproxyConfig(file: string, haproxy?: string): { ok: boolean; output: string };
export function startHaproxy(
  file: string,
  options?: { haproxy?: string; stdio?: StdioOptions },
): ChildProcess;
