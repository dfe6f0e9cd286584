import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Assignments } from '../../../lib/protocol/agent';
import { Agent, type AgentOptions } from '../agent';
import { rotateStoredCredential } from '../rotate-credential';
import { FakeAgentServer } from './fake-server';
import { consecutive, MemoryLog, OneGpuSource, waitFor } from './test-agent';

const TOKEN = 'enr_test_token_0123456789';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function fakeServer(assignments?: Assignments): Promise<FakeAgentServer> {
  const server = new FakeAgentServer({ enrollmentToken: TOKEN, assignments });
  await server.start();
  cleanups.push(() => server.stop());
  return server;
}

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-agent-test-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function newAgent(server: FakeAgentServer, dir: string, options: Partial<AgentOptions> = {}) {
  const source = new OneGpuSource();
  const log = new MemoryLog();
  const agent = new Agent({
    serverUrl: server.url,
    hostname: 'node-a',
    dataDir: dir,
    enrollmentToken: TOKEN,
    intervalMs: 100,
    source,
    log,
    ...options,
  });
  cleanups.push(() => agent.stop());
  return { agent, source, log };
}

describe('Agent', () => {
  it('enrolls, keeps the credential private and streams frames in seq order', async () => {
    const server = await fakeServer();
    const dir = await dataDir();
    const { agent } = newAgent(server, dir);
    await agent.start();
    await waitFor(() => server.framesOf('node-a').length >= 5, 'five frames');

    const stored = JSON.parse(await readFile(join(dir, 'credential.json'), 'utf8'));
    expect(stored.nodeCredential).toBe('cred-node-a-1');
    expect((await stat(join(dir, 'credential.json'))).mode & 0o777).toBe(0o600);
    const seqs = server.framesOf('node-a').map((f) => f.seq);
    expect(seqs[0]).toBe(1);
    expect(consecutive(seqs)).toBe(true);
    await waitFor(() => agent.stats().acked >= 5, 'acks');
    expect(agent.stats()).toMatchObject({ connected: true, dropped: 0, rejected: 0 });
    expect(agent.stats().buffered).toBeLessThanOrEqual(1);
    expect(server.inventories).toBe(1);

    await agent.stop();
    const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8'));
    expect(state.nextSeq).toBe(agent.stats().seq + 1);
    expect(agent.stats().connected).toBe(false);
  });

  it('replays frames buffered during a server outage, losing none', async () => {
    const server = await fakeServer();
    const { agent } = newAgent(server, await dataDir());
    await agent.start();
    await waitFor(() => server.framesOf('node-a').length >= 3, 'first frames');

    await server.stop();
    await waitFor(() => !agent.stats().connected && agent.stats().buffered >= 8, 'frames buffered offline');
    const builtOffline = agent.stats().seq;
    await server.start();
    await waitFor(
      () => server.framesOf('node-a').length >= builtOffline && agent.stats().buffered <= 1,
      'replay after the outage',
    );

    const seqs = server.framesOf('node-a').map((f) => f.seq);
    expect(seqs[0]).toBe(1);
    expect(consecutive(seqs)).toBe(true);
    expect(server.inventories).toBe(2);
    expect(agent.stats().dropped).toBe(0);
  });

  it('keeps numbering from state.json across restarts, with the stored credential', async () => {
    const server = await fakeServer();
    const dir = await dataDir();
    const first = newAgent(server, dir);
    await first.agent.start();
    await waitFor(() => first.agent.stats().acked >= 3, 'first run');
    await first.agent.stop();
    const lastSeq = first.agent.stats().seq;

    const second = newAgent(server, dir, { enrollmentToken: undefined });
    await second.agent.start();
    await waitFor(() => second.agent.stats().acked >= 3, 'second run');
    const seqs = server.framesOf('node-a').map((f) => f.seq);
    expect(seqs.slice(0, lastSeq)).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1));
    expect(consecutive(seqs)).toBe(true);
    expect(server.enrollments).toBe(1);
  });

  it('gives fresh numbers to frames numbered before it learnt the server’s history', async () => {
    const server = await fakeServer();
    const dir = await dataDir();
    const first = newAgent(server, dir);
    await first.agent.start();
    await waitFor(() => first.agent.stats().acked >= 2, 'enrolled and streaming');
    await first.agent.stop();
    // The server holds more than this node's state.json knows about, as after a crash.
    server.seedHistory('node-a', 50);
    await server.stop();

    const startedAt = Date.now();
    const second = newAgent(server, dir);
    await second.agent.start();
    await waitFor(() => second.agent.stats().buffered >= 4, 'frames built while the server is down');
    expect(second.agent.stats().seq).toBeLessThan(50);
    await server.start();
    await waitFor(() => second.agent.stats().connected && second.agent.stats().buffered <= 1, 'replay');

    const fresh = server.framesOf('node-a').filter((f) => f.sampledAt >= startedAt);
    expect(fresh[0]?.seq).toBe(51);
    expect(consecutive(fresh.map((f) => f.seq))).toBe(true);
    expect(fresh.length).toBe(second.agent.stats().acked);
    expect(second.agent.stats().seq).toBeGreaterThan(50);
  });

  it('survives a damaged state.json by numbering above what the server holds', async () => {
    const server = await fakeServer();
    const dir = await dataDir();
    const first = newAgent(server, dir);
    await first.agent.start();
    await waitFor(() => first.agent.stats().acked >= 3, 'first run');
    await first.agent.stop();
    const lastSeq = first.agent.stats().seq;
    await writeFile(join(dir, 'state.json'), '{"nextSeq": "garbled');

    const second = newAgent(server, dir);
    await second.agent.start();
    await waitFor(() => second.agent.stats().acked >= 3, 'second run');
    const seqs = server.framesOf('node-a').map((f) => f.seq);
    expect(seqs.length).toBe(lastSeq + second.agent.stats().acked);
    expect(consecutive(seqs)).toBe(true);
    expect(second.log.lines.some((line) => line.startsWith('warn') && line.includes('state.json'))).toBe(
      true,
    );
  });

  it('enrolls again once when the server stops accepting its credential', async () => {
    const server = await fakeServer();
    const dir = await dataDir();
    const { agent, log } = newAgent(server, dir);
    await agent.start();
    await waitFor(() => agent.stats().acked >= 2, 'streaming');

    server.revokeCredentials();
    await server.stop();
    await server.start();
    await waitFor(() => server.enrollments === 2 && agent.stats().connected, 're-enrollment');
    const acked = agent.stats().acked;
    await waitFor(() => agent.stats().acked >= acked + 2, 'streaming again');

    const stored = JSON.parse(await readFile(join(dir, 'credential.json'), 'utf8'));
    expect(stored.nodeCredential).toBe('cred-node-a-2');
    expect(log.lines.some((line) => line.includes('UNAUTHORIZED'))).toBe(true);
    expect(consecutive(server.framesOf('node-a').map((f) => f.seq))).toBe(true);
  });

  it('fails to start with the server’s message when enrollment is refused', async () => {
    const server = await fakeServer();
    const dir = await dataDir();
    const { agent } = newAgent(server, dir, { enrollmentToken: 'enr_wrong_token_000000' });
    await expect(agent.start()).rejects.toThrow(
      /unknown or expired enrollment token \(field: enrollmentToken\)/,
    );
    await expect(stat(join(dir, 'credential.json'))).rejects.toThrow();
  });

  it('fails to start without a credential or a token to get one', async () => {
    const server = await fakeServer();
    const { agent } = newAgent(server, await dataDir(), { enrollmentToken: undefined });
    await expect(agent.start()).rejects.toThrow(/no node credential/);
  });

  it('drops a frame the server refuses as invalid, logs the field and carries on', async () => {
    const server = await fakeServer();
    server.refuseFrame = (frame) =>
      frame.seq === 3
        ? { code: 'BAD_FRAME', field: 'gpus.0.utilizationPct', message: 'gpus.0.utilizationPct: too big' }
        : null;
    const { agent, log } = newAgent(server, await dataDir());
    await agent.start();
    await waitFor(() => server.framesOf('node-a').length >= 6, 'frames after the refused one');

    expect(
      server
        .framesOf('node-a')
        .map((f) => f.seq)
        .slice(0, 5),
    ).toEqual([1, 2, 4, 5, 6]);
    expect(agent.stats().rejected).toBe(1);
    expect(log.lines.some((line) => line.startsWith('error') && line.includes('gpus.0.utilizationPct'))).toBe(
      true,
    );
  });

  it('keeps a frame the server could not store and replays it in order', async () => {
    const server = await fakeServer();
    let failures = 0;
    server.refuseFrame = (frame) =>
      frame.seq === 3 && failures++ === 0
        ? { code: 'INTERNAL', message: 'internal error; retry later' }
        : null;
    const { agent } = newAgent(server, await dataDir());
    await agent.start();
    await waitFor(() => server.framesOf('node-a').length >= 6, 'frames after the retry');

    const seqs = server.framesOf('node-a').map((f) => f.seq);
    expect(seqs.slice(0, 6)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(server.connections).toBe(2);
    expect(agent.stats().rejected).toBe(0);
  });

  it('starts over on a fresh connection when an acknowledgement never comes', async () => {
    const server = await fakeServer();
    let withheld = 0;
    server.withholdAck = (frame) => frame.seq === 3 && withheld++ === 0;
    const { agent } = newAgent(server, await dataDir(), { ackTimeoutMs: 500 });
    await agent.start();
    // Caught up means replayed too: the reconnect itself can come after eight acks already.
    await waitFor(
      () => server.connections === 2 && agent.stats().acked >= 8 && agent.stats().buffered <= 1,
      'reconnect and catch up',
    );

    expect(consecutive(server.framesOf('node-a').map((f) => f.seq))).toBe(true);
    expect(server.connections).toBe(2);
  });

  it('drops the oldest frames when an outage outlasts the buffer, and counts them', async () => {
    const server = await fakeServer();
    const { agent } = newAgent(server, await dataDir(), { bufferCapacity: 5 });
    await agent.start();
    await waitFor(() => agent.stats().acked >= 2, 'streaming');
    await server.stop();
    await waitFor(() => agent.stats().dropped >= 3, 'drops');
    expect(agent.stats().buffered).toBe(5);

    await server.start();
    await waitFor(() => agent.stats().connected && agent.stats().buffered <= 1, 'catch up');
    const seqs = server.framesOf('node-a').map((f) => f.seq);
    const missing = (seqs.at(-1) ?? 0) - seqs.length;
    expect(missing).toBe(agent.stats().dropped);
  });

  it('hands assignments to the source from the inventory reply and from pushes', async () => {
    const initial: Assignments = {
      gpus: [{ uuid: 'GPU-test-0000', deploymentId: 'dep-1', jobId: null }],
      deployments: [{ id: 'dep-1', name: 'chat-70b', gpusPerReplica: 1, totalGpus: 1, sloP95Ms: 1200 }],
    };
    const server = await fakeServer(initial);
    const { agent, source } = newAgent(server, await dataDir());
    await agent.start();
    await waitFor(() => source.applied.length === 1, 'assignments from the inventory reply');
    expect(source.applied[0]).toEqual(initial);

    const moved: Assignments = {
      gpus: [{ uuid: 'GPU-test-0000', deploymentId: null, jobId: 'job-9' }],
      deployments: [],
    };
    server.pushAssignments(moved);
    await waitFor(() => source.applied.length === 2, 'pushed assignments');
    expect(source.applied[1]).toEqual(moved);
  });

  it('gives every agent in a process its own connection', async () => {
    const server = await fakeServer();
    const agents = await Promise.all(
      ['node-a', 'node-b', 'node-c'].map(async (hostname) => {
        const { agent } = newAgent(server, await dataDir(), { hostname });
        await agent.start();
        return agent;
      }),
    );
    await waitFor(() => agents.every((agent) => agent.stats().acked >= 2), 'all agents streaming');
    expect(server.engineConnections).toBe(3);
    for (const hostname of ['node-a', 'node-b', 'node-c']) {
      expect(server.framesOf(hostname).length).toBeGreaterThanOrEqual(2);
    }
  });
});

describe('the node credential', () => {
  it('is rotated from the data directory; the running agent reconnects with the new one', async () => {
    const server = await fakeServer();
    const dir = await dataDir();
    const { agent, log } = newAgent(server, dir);
    await agent.start();
    await waitFor(() => agent.stats().acked >= 2, 'streaming');
    const before = JSON.parse(await readFile(join(dir, 'credential.json'), 'utf8'));

    const { credential } = await rotateStoredCredential({ dataDir: dir });
    expect(credential.nodeCredential).not.toBe(before.nodeCredential);
    const stored = JSON.parse(await readFile(join(dir, 'credential.json'), 'utf8'));
    expect(stored).toMatchObject({ nodeCredential: credential.nodeCredential, nodeId: before.nodeId });
    expect(stored.rotatedAt).toEqual(expect.any(String));
    expect((await stat(join(dir, 'credential.json'))).mode & 0o777).toBe(0o600);

    const acked = agent.stats().acked;
    await waitFor(() => agent.stats().connected && agent.stats().acked >= acked + 2, 'streaming again');
    expect(server.enrollments).toBe(1);
    expect(log.lines.some((line) => line.includes('revoked') && line.includes('credential rotated'))).toBe(
      true,
    );
    expect(consecutive(server.framesOf('node-a').map((f) => f.seq))).toBe(true);
    // The old credential cannot rotate again.
    await writeFile(join(dir, 'credential.json'), JSON.stringify(before));
    await expect(rotateStoredCredential({ dataDir: dir })).rejects.toThrow(/refused to rotate/);
  });

  it('once revoked is never presented again, nor replaced by enrolling with the token', async () => {
    const server = await fakeServer();
    const dir = await dataDir();
    const { agent, log } = newAgent(server, dir);
    await agent.start();
    await waitFor(() => agent.stats().connected, 'connected');

    server.revokeNode('node-a');
    await waitFor(() => !agent.stats().connected, 'disconnected');
    const attempts = server.authAttempts;
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(server.authAttempts).toBe(attempts);
    expect(server.enrollments).toBe(1);
    expect(log.lines.some((line) => line.startsWith('error') && line.includes('revoked'))).toBe(true);

    // A new credential in credential.json (here: one the server knows) brings it back.
    const stored = JSON.parse(await readFile(join(dir, 'credential.json'), 'utf8'));
    server.credentials.set('cred-node-a-new', server.nodesByHostname.get('node-a')!);
    await writeFile(
      join(dir, 'credential.json'),
      JSON.stringify({ ...stored, nodeCredential: 'cred-node-a-new' }),
    );
    await waitFor(() => agent.stats().connected, 'reconnected with the new credential');
  });

  it('stops knocking when the server refuses it and no token can replace it', async () => {
    const server = await fakeServer();
    const dir = await dataDir();
    const first = newAgent(server, dir);
    await first.agent.start();
    await waitFor(() => first.agent.stats().connected, 'connected');
    await first.agent.stop();

    server.revokeCredentials();
    const { agent, log } = newAgent(server, dir, { enrollmentToken: undefined });
    await agent.start();
    await waitFor(() => log.lines.some((line) => line.includes('refused node credential')), 'gave up');
    const attempts = server.authAttempts;
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(server.authAttempts).toBe(attempts);
  });
});
