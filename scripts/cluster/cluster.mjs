// N Switchyard servers behind HAProxy, sharing one PostgreSQL and one Redis
// (docs/cluster.md). scripts/cluster.mjs is the command line; this is the machinery.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../prepare-product.mjs';
import {
  checkHaproxyConfig,
  DEFAULT_HAPROXY,
  maxconnForThisMachine,
  renderHaproxyConfig,
  startHaproxy,
} from './haproxy.mjs';
import {
  exitDescription,
  hasExited,
  portInUse,
  prefixLines,
  SERVER_COMMAND,
  spawnServer,
  stopProcess,
  waitUntilHealthy,
} from './processes.mjs';
import { checkRedis, ensureDatabase, redactUrl } from './services.mjs';

export const DEFAULTS = {
  servers: 3,
  port: 3000,
  statsPort: 8404,
  host: '0.0.0.0',
  demo: 'on',
  redisUrl: 'redis://127.0.0.1:6379',
  databaseUrl: 'postgres://postgres@127.0.0.1:5432/switchyard',
  dataDir: '.switchyard/cluster',
  haproxy: DEFAULT_HAPROXY,
};

/** A server's first start migrates, seeds and builds nothing, but a cold Next.js takes a while. */
const START_TIMEOUT_MS = 180_000;
/** A server's clean shutdown (agents told, rollups flushed) before it is killed. */
const SERVER_STOP_MS = 30_000;

/** An address this machine can connect to for a bind address (0.0.0.0 means every one). */
function localHost(host) {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Where everything listens: HAProxy on `port`, servers on the next `servers` ports (on
 * 127.0.0.1 only, so nothing bypasses the balancer), statistics on `statsPort`. The last
 * server runs the demo fleet's simulated agents (see Cluster.start for why the last).
 */
export function planCluster({ servers, port, statsPort, host }) {
  if (!Number.isInteger(servers) || servers < 1) throw new RangeError('--servers: at least 1');
  if (port + servers > 65535) throw new RangeError(`--port ${port}: servers would need ports above 65535`);
  const list = Array.from({ length: servers }, (_, i) => ({
    id: `server-${i + 1}`,
    host: '127.0.0.1',
    port: port + 1 + i,
  }));
  if (statsPort === port || list.some((server) => server.port === statsPort))
    throw new RangeError(
      `--stats-port ${statsPort}: taken by HAProxy or a server (ports ${port}–${port + servers})`,
    );
  return {
    servers: list,
    bind: { host, port },
    stats: { host: '127.0.0.1', port: statsPort },
    simulatorHost: list.at(-1).id,
    localUrl: `http://${localHost(host)}:${port}`,
    statsUrl: `http://127.0.0.1:${statsPort}/`,
  };
}

/** The environment of one server: the operator's, plus the cluster's own settings. */
export function serverEnvironment({ base, plan, server, redisUrl, databaseUrl, dataDir, demo }) {
  return {
    ...base,
    NEXT_TELEMETRY_DISABLED: '1',
    PORT: String(server.port),
    HOST: server.host,
    DATABASE_URL: databaseUrl,
    SWITCHYARD_REDIS_URL: redisUrl,
    SWITCHYARD_SERVER_ID: server.id,
    SWITCHYARD_DATA_DIR: dataDir,
    SWITCHYARD_DEMO: demo,
    // Exactly one server runs the demo's simulated agents, and they connect through
    // HAProxy like any agent, so they are spread over the servers and fail over.
    SWITCHYARD_SIMULATOR: demo === 'on' && server.id === plan.simulatorHost ? 'on' : 'off',
    SWITCHYARD_SIMULATOR_URL: plan.localUrl,
  };
}

/** HAProxy says each server state change twice: on stderr and in its log (stdout). */
const HAPROXY_DUPLICATE = /^\[WARNING\]\s+\(\d+\) : Server \S+ is /;

/**
 * The cluster's processes. start() checks what the servers need, starts them and HAProxy,
 * and resolves once HAProxy answers; stop() stops them all. A server that dies on its own
 * is reported and the others keep running; `exited` resolves with an exit code when the
 * cluster ends (0 after stop(), 1 when no server or HAProxy is left).
 */
export class Cluster {
  constructor(options = {}) {
    this.options = { ...DEFAULTS, ...options };
    this.options.dataDir = path.resolve(ROOT, this.options.dataDir);
    this.plan = planCluster(this.options);
    this.out = options.out ?? process.stdout;
    this.err = options.err ?? process.stderr;
    const width = Math.max('haproxy'.length, ...this.plan.servers.map((server) => server.id.length));
    this.label = (name) => `[${name}]`.padEnd(width + 2);
    /** id → { id, host, port, url, child, runsSimulator } */
    this.servers = new Map();
    this.haproxy = null;
    this.configFile = path.join(this.options.dataDir, 'haproxy.cfg');
    this.phase = 'new';
    this.stopping = null;
    this.exited = new Promise((resolve) => {
      this.finish = resolve;
    });
  }

  say(line) {
    this.out.write(`${this.label('cluster')} ${line}\n`);
  }

  async start() {
    if (this.phase !== 'new') throw new Error('a Cluster starts once');
    this.phase = 'starting';
    const { options, plan } = this;
    try {
      await this.checkPorts();
      fs.mkdirSync(options.dataDir, { recursive: true });
      fs.writeFileSync(
        this.configFile,
        renderHaproxyConfig({
          bind: plan.bind,
          stats: plan.stats,
          servers: plan.servers,
          maxconn: options.maxconn ?? maxconnForThisMachine(),
        }),
      );
      const check = checkHaproxyConfig(this.configFile, options.haproxy);
      if (!check.ok) throw new Error(`HAProxy refuses ${this.configFile}:\n${check.output}`);
      await checkRedis(options.redisUrl);
      const { created } = await ensureDatabase(options.databaseUrl);
      if (created) this.say(`created the database ${redactUrl(options.databaseUrl)}`);
      this.throwIfStopping();

      // The first server alone: it migrates the database, creates the first admin and seeds
      // the demo fleet, which are not safe to run from several processes at once.
      const [first, ...rest] = plan.servers;
      await this.waitHealthy(this.startServer(first));
      this.throwIfStopping();
      // The rest together. The last runs the simulated agents: they connect through HAProxy,
      // which starts once every server answers, so leastconn spreads them over all servers
      // instead of piling them onto whichever was up first.
      await Promise.all(rest.map((server) => this.waitHealthy(this.startServer(server))));
      this.throwIfStopping();
      this.throwIfAnyExited();

      this.haproxy = startHaproxy(this.configFile, { haproxy: options.haproxy });
      prefixLines(this.haproxy.stdout, this.label('haproxy'), this.out);
      prefixLines(this.haproxy.stderr, this.label('haproxy'), this.err, {
        skip: (line) => HAPROXY_DUPLICATE.test(line),
      });
      this.haproxy.on('exit', (code, signal) => this.onHaproxyExit(code, signal));
      await waitUntilHealthy(`${plan.localUrl}/api/health`, {
        child: this.haproxy,
        timeoutMs: 15_000,
        what: 'HAProxy',
      });
      this.throwIfStopping();
      this.throwIfAnyExited();
    } catch (error) {
      if (this.stopping) throw new Error('stopped while starting');
      await this.stop(1);
      throw error;
    }
    this.phase = 'running';
  }

  /** Stops every server (cleanly, together), then HAProxy. A second call hurries them. */
  stop(code = 0) {
    if (this.stopping) {
      for (const { child } of this.servers.values()) if (!hasExited(child)) child.kill('SIGTERM');
      return this.stopping;
    }
    this.phase = 'stopping';
    this.stopping = (async () => {
      await Promise.all(
        [...this.servers.values()].map(({ child }) => stopProcess(child, { killAfterMs: SERVER_STOP_MS })),
      );
      if (this.haproxy) await stopProcess(this.haproxy, { killAfterMs: 5_000 });
      this.finish(code);
    })();
    return this.stopping;
  }

  /** Servers still running, in order. */
  alive() {
    return [...this.servers.values()].filter(({ child }) => !hasExited(child));
  }

  throwIfStopping() {
    if (this.stopping) throw new Error('stopped while starting');
  }

  /** A server that answered once and died while the others started fails the start. */
  throwIfAnyExited() {
    for (const { id, child } of this.servers.values()) {
      if (hasExited(child))
        throw new Error(
          `${id} exited (${exitDescription(child.exitCode, child.signalCode)}) during the start`,
        );
    }
  }

  async checkPorts() {
    const { plan } = this;
    const wanted = [
      { ...plan.bind, what: 'HAProxy' },
      { ...plan.stats, what: 'HAProxy statistics' },
      ...plan.servers.map((server) => ({ ...server, what: server.id })),
    ];
    const busy = [];
    for (const { host, port, what } of wanted)
      if (await portInUse(port, host)) busy.push(`${port} (${what})`);
    if (busy.length > 0) {
      throw new Error(
        `port${busy.length > 1 ? 's' : ''} already in use: ${busy.join(', ')}. ` +
          'Is another Switchyard running? Choose others with --port and --stats-port.',
      );
    }
  }

  startServer(server) {
    const { options, plan } = this;
    const env = serverEnvironment({
      base: options.env ?? process.env,
      plan,
      server,
      redisUrl: options.redisUrl,
      databaseUrl: options.databaseUrl,
      dataDir: options.dataDir,
      demo: options.demo,
    });
    const child = spawnServer({ command: options.serverCommand ?? SERVER_COMMAND, env, cwd: ROOT });
    const entry = {
      ...server,
      url: `http://${server.host}:${server.port}`,
      child,
      runsSimulator: env.SWITCHYARD_SIMULATOR === 'on',
    };
    this.servers.set(server.id, entry);
    prefixLines(child.stdout, this.label(server.id), this.out);
    prefixLines(child.stderr, this.label(server.id), this.err);
    child.on('exit', (code, signal) => this.onServerExit(entry, code, signal));
    return entry;
  }

  waitHealthy(entry) {
    return waitUntilHealthy(`${entry.url}/api/health`, {
      child: entry.child,
      timeoutMs: this.options.startTimeoutMs ?? START_TIMEOUT_MS,
      what: entry.id,
    });
  }

  onServerExit(entry, code, signal) {
    if (this.phase !== 'running') return; // stopping, or start() reports it
    const alive = this.alive().map((server) => server.id);
    const simulator = entry.runsSimulator
      ? '; the demo fleet’s simulated agents ran under it and stopped with it'
      : '';
    if (alive.length === 0) {
      this.say(
        `${entry.id} exited (${exitDescription(code, signal)}) and no server is left: stopping HAProxy`,
      );
      void this.stop(1);
      return;
    }
    this.say(
      `${entry.id} exited (${exitDescription(code, signal)})${simulator}. HAProxy takes it out of rotation; ` +
        `${alive.join(', ')} keep${alive.length === 1 ? 's' : ''} serving, and agents reconnect to ${alive.length === 1 ? 'it' : 'them'}.`,
    );
  }

  onHaproxyExit(code, signal) {
    if (this.phase !== 'running') return;
    this.say(
      `HAProxy exited (${exitDescription(code, signal)}): nothing reaches the servers now, stopping them`,
    );
    void this.stop(1);
  }
}
