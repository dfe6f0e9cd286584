import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import pg from 'pg';
import { Server as SocketServer } from 'socket.io';
import { AGENT_NAMESPACE, MAX_FRAME_BYTES } from '../lib/protocol/agent';
import { LIVE_NAMESPACE } from '../lib/protocol/live';
import { ensureFirstAdmin } from './auth/bootstrap';
import { LoginThrottle } from './auth/login-throttle';
import { principalFromSession, readCookie, SESSION_COOKIE } from './auth/sessions';
import { closeDb, getDb } from './db/client';
import { type EmbeddedDatabase, startEmbeddedPostgres } from './db/embedded-postgres';
import { migrate } from './db/migrate';
import { type Env, parseEnv } from './env';
import { AUDIT_EXPORT_PATH, handleAuditExport } from './http/audit-export';
import { sendJson } from './http/json';
import { createMetrics } from './http/metrics';
import { createOidcRoutes, OIDC_CALLBACK_PATH, OIDC_START_PATH } from './http/oidc';
import {
  API_BODY_LIMIT_BYTES,
  admitApiRequest,
  closeConnectionIfBodyUnread,
  MAX_BATCH_CALLS,
  originRefusal,
  refuseDeclaredBody,
} from './http/request-guards';
import { createRestApi, REST_PREFIX } from './http/rest-api';
import { handleEnroll, handleHealth, handleRotateCredential } from './http/routes';
import { addSocketHeaders, createSecurityHeaders } from './http/security-headers';
import { handleStressExport } from './http/stress-export';
import { startJobScheduler } from './jobs/scheduler';
import { logger, setLogLevel } from './log';
import { agentCommandChannel } from './realtime/agent-commands';
import { type AgentNamespace, attachAgentGateway } from './realtime/agent-gateway';
import { attachLiveGateway, BROADCAST_INTERVAL_MS } from './realtime/live-gateway';
import type { Runtime } from './runtime';
import { AllocationService } from './services/allocation/allocation-service';
import { AUTO_PLANNER_ACTOR, AutoPlanner } from './services/allocation/auto-planner';
import { buildPlannerInput } from './services/allocation/planner-input';
import { startFleetSimulator } from './services/demo/fleet-simulator';
import { seedDemoFleet } from './services/demo/seed';
import { FleetCatalog } from './services/fleet/catalog';
import { StressService } from './services/stress/stress-service';
import { GpuHealthMonitor } from './services/telemetry/gpu-health';
import { LiveTelemetry } from './services/telemetry/live-telemetry';
import { MinuteRollups } from './services/telemetry/minute-rollups';
import { NodeHealthMonitor } from './services/telemetry/node-health';
import { RollupWriter } from './services/telemetry/rollup-writer';
import { SequenceTracker } from './services/telemetry/sequence-tracker';
import { TelemetryIngest } from './services/telemetry/telemetry-ingest';
import { contextFactory } from './trpc/context';
import { appRouter } from './trpc/root';

const log = logger('server');
const ROOT = path.resolve(import.meta.dirname, '..');

export type StartOptions = {
  env: Env;
  /** Serve the Next.js pages (needs `next build` unless NODE_ENV=development). */
  pages?: boolean;
  /** Run the demo fleet's simulated agents (only when SWITCHYARD_DEMO=on). */
  simulator?: boolean;
  /** Sign-in throttling state (tests pass one with their own clock). */
  loginThrottle?: LoginThrottle;
};

export type RunningServer = { url: string; port: number; runtime: Runtime; close: () => Promise<void> };

/** One process: Next.js pages, tRPC at /api/trpc and socket.io on one HTTP port. */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { env } = options;
  setLogLevel(env.SWITCHYARD_LOG_LEVEL);

  const embedded: EmbeddedDatabase | null = env.DATABASE_URL
    ? null
    : await startEmbeddedPostgres(env.dataDir, env.SWITCHYARD_PG_PORT);
  const databaseUrl = env.DATABASE_URL ?? embedded!.url;
  await migrate(databaseUrl);
  const db = getDb(databaseUrl);
  await ensureFirstAdmin(db, env.SWITCHYARD_ADMIN_PASSWORD);
  const demo = env.SWITCHYARD_DEMO === 'on';
  if (demo) await seedDemoFleet(db);

  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  pool.on('error', (error) => log.error('idle database connection failed', error));
  const catalog = new FleetCatalog(db);
  await catalog.refresh();
  const sequences = new SequenceTracker();
  await sequences.load(pool);
  const telemetry = new LiveTelemetry(catalog);
  const minuteRollups = new MinuteRollups(pool);
  const rollups = new RollupWriter(pool, (bucketStarts) => minuteRollups.markWritten(bucketStarts));

  const httpServer = http.createServer();
  const originPolicy = { httpsOnly: env.SWITCHYARD_SECURE_COOKIES === 'true' };
  const io = new SocketServer(httpServer, {
    maxHttpBufferSize: MAX_FRAME_BYTES,
    serveClient: false,
    // Browsers authenticate /live with the session cookie, which a page of another site
    // could make them send; a browser always names the page's origin on a cross-site
    // handshake, so one from another origin is refused. Agents send no Origin.
    allowRequest: (req, callback) => {
      const refusal = req.headers.origin === undefined ? null : originRefusal(req, originPolicy);
      callback(refusal, refusal === null);
    },
  });
  const health = new NodeHealthMonitor(db, catalog, (change) => {
    io.of('/live').to('fleet').to(`node:${change.nodeId}`).emit('node:status', change);
  });
  const ingest = new TelemetryIngest(pool, sequences, telemetry, rollups, (nodeIds) => {
    // Their agents reconnect, learn what is stored, and resend the rest.
    for (const nodeId of nodeIds) io.of('/agent').in(`node:${nodeId}`).disconnectSockets(true);
  });
  await ingest.recover();
  minuteRollups.markRecent();
  const runtime: Runtime = {
    env,
    databaseUrl,
    db,
    pool,
    catalog,
    telemetry,
    ingest,
    rollups,
    minuteRollups,
    sequences,
    health,
    gpuHealth: new GpuHealthMonitor(db, catalog),
    io,
    allocation: new AllocationService({
      db,
      catalog,
      telemetry,
      agents: agentCommandChannel(io.of(AGENT_NAMESPACE) as unknown as AgentNamespace),
      publish: (change) => io.of(LIVE_NAMESPACE).to('allocations').emit('allocation:change', change),
      ackTimeoutMs: env.SWITCHYARD_ALLOCATION_ACK_TIMEOUT_MS,
    }),
    stress: new StressService({ db, io, maxRps: env.STRESS_MAX_RPS }),
    autoPlanner: new AutoPlanner({
      db,
      buildInput: () => buildPlannerInput(runtime),
      submit: (change) => runtime.allocation.submit(AUTO_PLANNER_ACTOR, change),
      lastChangedAt: (deploymentId) => runtime.allocation.lastChangedAt(deploymentId),
    }),
    startedAt: new Date(),
  };
  const interrupted = await runtime.allocation.dispatcher.recoverInterrupted();
  if (interrupted > 0) log.warn(`rolled back ${interrupted} allocation change(s) interrupted by a restart`);
  await runtime.stress.recoverInterrupted();

  const live = attachLiveGateway(io, runtime);
  const agents = attachAgentGateway(io, runtime, live.pushNode);

  const loginThrottle = options.loginThrottle ?? new LoginThrottle();
  const trpcHandler = createHTTPHandler({
    router: appRouter,
    createContext: contextFactory(runtime, loginThrottle),
    basePath: '/api/trpc/',
    // admitApiRequest enforces both first, with clearer answers; these are a second bound.
    maxBodySize: API_BODY_LIMIT_BYTES,
    maxBatchSize: MAX_BATCH_CALLS,
    onError: ({ error, path: procedure }) => {
      if (error.code === 'INTERNAL_SERVER_ERROR') log.error(`tRPC ${procedure ?? '?'} failed`, error);
    },
  });

  const restApi = createRestApi(runtime, { loginThrottle, originPolicy });
  const handleMetrics = createMetrics(runtime);
  const oidc = createOidcRoutes(runtime);
  const pages = options.pages ? await prepareNext(env) : null;

  const setSecurityHeaders = createSecurityHeaders(env);
  io.engine.on('headers', addSocketHeaders);
  httpServer.on('request', (req, res) => {
    // socket.io answers its own path; everything else is ours.
    if (req.url?.startsWith('/socket.io/')) return;
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    setSecurityHeaders(req, res, pathname);
    closeConnectionIfBodyUnread(req, res);
    if (refuseDeclaredBody(req, res, pathname)) return;
    route(req, res).catch((error) => {
      log.error(`request ${req.method} ${req.url} failed`, error);
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
      else res.end();
    });
  });
  if (pages?.upgrade) {
    const upgrade = pages.upgrade;
    httpServer.on('upgrade', (req, socket, head) => {
      if (!req.url?.startsWith('/socket.io/')) upgrade(req, socket, head);
    });
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const { pathname } = url;
    if (pathname === '/api/health') return handleHealth(runtime, res);
    if (pathname === '/api/agent/enroll') return handleEnroll(runtime, req, res);
    if (pathname === '/api/agent/rotate-credential') return handleRotateCredential(runtime, req, res);
    if (pathname === '/metrics') return handleMetrics(req, res);
    if (pathname.startsWith('/api/trpc/')) {
      if (await admitApiRequest(req, res, 'trpc', originPolicy)) await trpcHandler(req, res);
      return;
    }
    if (pathname.startsWith('/api/stress/')) return handleStressExport(runtime, req, res, pathname);
    if (pathname === AUDIT_EXPORT_PATH) return handleAuditExport(runtime, req, res);
    if (oidc && pathname === OIDC_START_PATH) return oidc.start(req, res);
    if (oidc && pathname === OIDC_CALLBACK_PATH) return oidc.callback(req, res);
    if (pathname === REST_PREFIX || pathname.startsWith(`${REST_PREFIX}/`)) return restApi(req, res);
    if (pathname.startsWith('/api/'))
      return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `No route ${pathname}` } });
    if (!pages)
      return sendJson(res, 404, {
        error: { code: 'NOT_FOUND', message: 'pages are not served by this process' },
      });
    if (needsSession(pathname)) {
      const token = readCookie(req.headers.cookie, SESSION_COOKIE);
      const principal = token ? await principalFromSession(db, token) : null;
      if (!principal) {
        const next = pathname === '/' ? '' : `?next=${encodeURIComponent(pathname + url.search)}`;
        res.writeHead(302, { location: `/login${next}` });
        res.end();
        return;
      }
    }
    return pages.handle(req, res);
  }

  const timers = [
    setInterval(live.broadcast, BROADCAST_INTERVAL_MS),
    setInterval(() => {
      health.sweep().catch((e) => log.error('health sweep failed', e));
      void runtime.gpuHealth.persist();
    }, 1_000),
    setInterval(() => void rollups.flush(), 2_000),
    setInterval(() => void catalog.refresh().catch((e) => log.error('catalog refresh failed', e)), 10_000),
  ];

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(env.PORT, env.HOST, () => resolve());
  });
  const stopJobs = startJobScheduler(runtime);
  await runtime.autoPlanner.start();
  const address = httpServer.address();
  const port = typeof address === 'object' && address ? address.port : env.PORT;
  const url = `http://127.0.0.1:${port}`;
  log.info(`Switchyard listening on http://localhost:${port}`);

  const stopSimulator =
    demo && options.simulator !== false
      ? await startFleetSimulator(db, { serverUrl: url, dataDir: env.dataDir })
      : null;

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      log.info('shutting down');
      for (const timer of timers) clearInterval(timer);
      await stopJobs();
      await runtime.autoPlanner.stop();
      // Changes being applied finish (or roll back) while their agents are still connected.
      await runtime.allocation.dispatcher.settled();
      // Runs in progress are stopped on their agents and recorded as far as they got.
      await runtime.stress.close();
      agents.emit('shutdown', { reason: 'server shutting down' });
      await stopSimulator?.();
      io.disconnectSockets(true);
      await new Promise<void>((resolve) => io.close(() => resolve()));
      // Everything acknowledged is in the journal; fold it into rollups before leaving.
      await ingest.settled();
      await rollups.flush({ all: true });
      await minuteRollups.run();
      await health.persist(true);
      await runtime.gpuHealth.persist();
      await pool.end();
      httpServer.closeAllConnections();
      await closeDb(databaseUrl);
      await embedded?.stop();
      log.info('stopped');
    })();
    return closing;
  };
  return { url, port, runtime, close };
}

/** Pages that need no session: the login and set-password pages and Next's own assets. */
function needsSession(pathname: string): boolean {
  return !(
    pathname === '/login' ||
    pathname === '/set-password' ||
    pathname.startsWith('/_next/') ||
    pathname === '/favicon.ico' ||
    pathname === '/icon.svg'
  );
}

async function prepareNext(env: Env) {
  const { default: next } = await import('next');
  const dev = env.NODE_ENV === 'development';
  const app = next({ dev, dir: ROOT, hostname: 'localhost', port: env.PORT });
  await app.prepare();
  return { handle: app.getRequestHandler(), upgrade: dev ? app.getUpgradeHandler() : null };
}

async function main(): Promise<void> {
  process.on('unhandledRejection', (reason) => log.error('unhandled rejection', reason));
  const env = parseEnv();
  const server = await startServer({ env, pages: true, simulator: true });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      log.warn(`second ${signal}: exiting now`);
      process.exit(1);
    }
    log.info(`${signal} received`);
    server.close().then(
      () => process.exit(0),
      (error) => {
        log.error('shutdown failed', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Started by scripts/start.mjs with an IPC channel: if that parent dies, shut down too.
  process.on('disconnect', () => onSignal('SIGTERM'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    log.error('failed to start', error);
    process.exit(1);
  });
}
