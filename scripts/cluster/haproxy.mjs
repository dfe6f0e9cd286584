// HAProxy in front of the cluster's servers: the configuration is
// deploy/haproxy/haproxy.cfg.template, filled in here and nowhere else.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export const HAPROXY_TEMPLATE = fileURLToPath(
  new URL('../../deploy/haproxy/haproxy.cfg.template', import.meta.url),
);
export const DEFAULT_HAPROXY = '/usr/sbin/haproxy';
export const DEFAULT_MAXCONN = 20_000;

const SERVER_NAME = /^[A-Za-z0-9_.-]+$/;

/** `host:port` for a bind line or a server address; IPv6 literals get brackets. */
function address(host, port) {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`port ${port}: not 1–65535`);
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The HAProxy configuration for one public address in front of `servers`:
 * { bind: { host, port }, stats: { host, port }, servers: [{ id, host, port }], maxconn? }.
 */
export function renderHaproxyConfig(
  { bind, stats, servers, maxconn = DEFAULT_MAXCONN },
  template = fs.readFileSync(HAPROXY_TEMPLATE, 'utf8'),
) {
  if (servers.length === 0) throw new RangeError('at least one server is needed');
  const ids = new Set();
  for (const server of servers) {
    if (!SERVER_NAME.test(server.id))
      throw new RangeError(`server id ${JSON.stringify(server.id)}: use letters, digits, . _ -`);
    if (ids.has(server.id)) throw new RangeError(`server id ${server.id} appears twice`);
    ids.add(server.id);
  }
  const values = {
    BIND: address(bind.host, bind.port),
    STATS_BIND: address(stats.host, stats.port),
    MAXCONN: String(maxconn),
    SERVERS: servers
      .map((server) => `    server ${server.id} ${address(server.host, server.port)}`)
      .join('\n'),
  };
  // Comment lines are left as they are: the template's header names the placeholders.
  const fill = (line) =>
    line.trimStart().startsWith('#')
      ? line
      : line.replace(/\{\{([A-Z_]+)\}\}/g, (placeholder, name) => {
          if (!(name in values))
            throw new Error(`unknown placeholder ${placeholder} in the HAProxy template`);
          return values[name];
        });
  const rendered = template.split('\n').map(fill).join('\n');
  const leftover = rendered
    .split('\n')
    .find((line) => !line.trimStart().startsWith('#') && line.includes('{{'));
  if (leftover) throw new Error(`unfilled placeholder in the HAProxy configuration: ${leftover.trim()}`);
  return rendered;
}

/**
 * The most connections HAProxy can hold here: it needs two file descriptors per connection
 * and refuses to start when the hard `ulimit -n` cannot cover `maxconn`.
 */
export function maxconnForThisMachine(wanted = DEFAULT_MAXCONN) {
  const result = spawnSync('/bin/sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' });
  const limit = result.stdout?.trim();
  if (result.status !== 0 || !limit || limit === 'unlimited') return wanted;
  // HAProxy keeps a few descriptors for itself (listeners, logs, checks).
  return Math.max(100, Math.min(wanted, Math.floor((Number(limit) - 200) / 2)));
}

/**
 * Runs `haproxy -c` on a configuration file. Returns { ok, output }: ok is false when
 * HAProxy refuses it, and output holds what it said.
 */
export function checkHaproxyConfig(file, haproxy = DEFAULT_HAPROXY) {
  const result = spawnSync(haproxy, ['-c', '-f', file], { encoding: 'utf8' });
  if (result.error) {
    const missing = result.error.code === 'ENOENT';
    return {
      ok: false,
      output: missing
        ? `${haproxy} not found: install HAProxy (Debian: apt-get install haproxy) or pass --haproxy PATH`
        : String(result.error.message),
    };
  }
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}`.trim() };
}

/**
 * Starts HAProxy in the foreground (-db: no daemon) on a checked configuration file. Its
 * own process group, like the servers: a terminal's Ctrl-C reaches only the cluster
 * script, which stops everything in order.
 */
export function startHaproxy(file, { haproxy = DEFAULT_HAPROXY, stdio = ['ignore', 'pipe', 'pipe'] } = {}) {
  return spawn(haproxy, ['-db', '-f', file], { stdio, detached: true });
}
