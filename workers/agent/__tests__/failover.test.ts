import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, type AgentOptions } from '../agent';
import { describeCliError, ZAgentCliOptions } from '../cli-options';
import { rotateStoredCredential } from '../rotate-credential';
import { FakeAgentServer } from './fake-server';
import { consecutive, MemoryLog, OneGpuSource, waitFor } from './test-agent';

const TOKEN = 'enr_failover_token_0123456';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** Two servers of one cluster: what one stores, the other knows (one database). */
async function twoServers(): Promise<[FakeAgentServer, FakeAgentServer]> {
  const a = new FakeAgentServer({ enrollmentToken: TOKEN });
  const b = new FakeAgentServer({ enrollmentToken: TOKEN, sharesStorageWith: a });
  for (const server of [a, b]) {
    await server.start();
    cleanups.push(() => server.stop());
  }
  return [a, b];
}

/** A URL where nothing listens. */
async function deadUrl(): Promise<string> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return `http://127.0.0.1:${port}`;
}

async function newAgent(servers: string[], options: Partial<AgentOptions> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-failover-test-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const log = new MemoryLog();
  const agent = new Agent({
    serverUrl: servers.join(','),
    hostname: 'node-a',
    dataDir: dir,
    enrollmentToken: TOKEN,
    intervalMs: 100,
    source: new OneGpuSource(),
    log,
    ...options,
  });
  cleanups.push(() => agent.stop());
  return { agent, log, dir };
}

describe('an agent given several servers', () => {
  it('moves to the next server when its own dies, and replays there what was not stored', async () => {
    const [a, b] = await twoServers();
    const { agent, log } = await newAgent([a.url, b.url]);
    await agent.start();
    await waitFor(() => agent.stats().acked >= 3, 'streaming to the first server');
    expect(b.connections).toBe(0);

    await a.stop();
    await waitFor(() => b.inventories === 1, 'the second server reached');
    const builtBy = agent.stats().seq;
    await waitFor(() => agent.stats().acked >= builtBy && agent.stats().buffered <= 1, 'caught up');

    const seqs = a.framesOf('node-a').map((frame) => frame.seq);
    expect(seqs[0]).toBe(1);
    expect(consecutive(seqs)).toBe(true);
    expect(agent.stats().dropped).toBe(0);
    expect(log.lines.some((line) => line.includes(`connected at ${b.url} as node`))).toBe(true);
  });

  it('retries the same server after a blip, and stays with the server that works', async () => {
    const [a, b] = await twoServers();
    const { agent } = await newAgent([a.url, b.url]);
    await agent.start();
    await waitFor(() => agent.stats().acked >= 2, 'streaming');

    a.dropConnections();
    await waitFor(() => a.inventories === 2 && agent.stats().connected, 'back on the first server');
    expect(b.connections).toBe(0);
  });

  it('goes to the next server at once when its server says it is shutting down', async () => {
    const [a, b] = await twoServers();
    const { agent } = await newAgent([a.url, b.url]);
    await agent.start();
    await waitFor(() => agent.stats().acked >= 2, 'streaming');

    a.announceShutdown();
    await waitFor(() => b.inventories === 1 && agent.stats().connected, 'on the second server');
    expect(a.connections).toBe(1);
    expect(consecutive(a.framesOf('node-a').map((frame) => frame.seq))).toBe(true);
  });

  it('gives up on a server that takes connections but never answers', async () => {
    const [, b] = await twoServers();
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      silent.close();
    });
    const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const { agent, log, dir } = await newAgent([silentUrl, b.url], {
      connectTimeoutMs: 300,
      requestTimeoutMs: 300,
    });
    // Enrollment: the silent server's request times out, the next server enrolls it.
    await agent.start();
    await waitFor(() => agent.stats().connected, 'connected to the working server');
    expect(b.enrollments).toBe(1);
    expect(log.lines.some((line) => line.includes(`cannot enroll at ${silentUrl}`))).toBe(true);
    // The whole list is kept with the credential, for --rotate-credential.
    const stored = JSON.parse(await readFile(join(dir, 'credential.json'), 'utf8'));
    expect(stored.serverUrl).toBe(`${silentUrl},${b.url}`);

    // Sent to the silent server, a connection attempt times out and the agent comes back.
    b.announceShutdown();
    await waitFor(
      () => log.lines.some((line) => line.includes(`cannot connect to ${silentUrl}/agent`)),
      'an attempt on the silent server',
    );
    await waitFor(() => b.inventories === 2 && agent.stats().connected, 'back on the working server');
  });

  it('enrolls at the next server when the first cannot be reached, and rotates there too', async () => {
    const [a] = await twoServers();
    const dead = await deadUrl();
    const { agent, log, dir } = await newAgent([dead, a.url]);
    await agent.start();
    await waitFor(() => agent.stats().connected, 'connected');
    expect(
      log.lines.some(
        (line) => line.includes(`cannot enroll at ${dead}`) && line.includes(`retrying at ${a.url}`),
      ),
    ).toBe(true);

    // --rotate-credential tries the stored list in order: the dead one is skipped.
    const { credential } = await rotateStoredCredential({ dataDir: dir });
    expect(a.rotations).toBe(1);
    expect(credential.serverUrl).toBe(`${dead},${a.url}`);
    const acked = agent.stats().acked;
    await waitFor(() => agent.stats().connected && agent.stats().acked >= acked + 2, 'streaming again');
  });

  it('stops at a server that refuses the rotation, and names it', async () => {
    const [a, b] = await twoServers();
    const { agent, dir } = await newAgent([a.url, b.url]);
    await agent.start();
    await waitFor(() => agent.stats().connected, 'connected');
    await agent.stop();
    a.revokeCredentials();
    await expect(rotateStoredCredential({ dataDir: dir })).rejects.toThrow(`${a.url} refused to rotate`);
    expect(b.rotations).toBe(0);
  });

  it('says when no server of the list can be reached to rotate', async () => {
    const [a] = await twoServers();
    const { agent, dir } = await newAgent([a.url]);
    await agent.start();
    await waitFor(() => agent.stats().connected, 'connected');
    await agent.stop();
    const [dead1, dead2] = [await deadUrl(), await deadUrl()];
    await expect(rotateStoredCredential({ dataDir: dir, serverUrl: [dead1, dead2] })).rejects.toThrow(
      new RegExp(`no server answered: ${dead1} \\(.*ECONNREFUSED.*\\), ${dead2}`),
    );
  });
});

describe('--server', () => {
  const base = { hostname: 'node-a', dataDir: '/tmp/agent', intervalMs: '1000' };

  it('takes one URL, or several separated by commas', () => {
    expect(ZAgentCliOptions.parse({ ...base, server: 'http://sy:3000/' }).server).toEqual(['http://sy:3000']);
    expect(ZAgentCliOptions.parse({ ...base, server: 'http://sy-1:3000, https://sy-2' }).server).toEqual([
      'http://sy-1:3000',
      'https://sy-2',
    ]);
  });

  it('names the URL at fault', () => {
    const problem = (server: string) => {
      const raw = { ...base, server };
      const parsed = ZAgentCliOptions.safeParse(raw);
      return parsed.success ? 'ok' : describeCliError(parsed.error, raw);
    };
    expect(problem('localhost:3000')).toBe(
      '--server "localhost:3000": must be an http(s) URL such as http://localhost:3000',
    );
    expect(problem('http://sy-1:3000,ftp://sy-2')).toBe(
      '--server "http://sy-1:3000,ftp://sy-2": "ftp://sy-2" is not an http(s) URL; each server of the list must be one',
    );
    expect(problem(' , ')).toBe('--server " , ": must be an http(s) URL such as http://localhost:3000');
  });
});
