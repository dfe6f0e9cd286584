import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeAgentServer } from './fake-server';

const REPO_ROOT = new URL('../../..', import.meta.url).pathname;
const TOKEN = 'enr_restart_test_token_0000';
const HOSTNAME = 'restart-node-01';

type AgentProcess = { child: ChildProcess; stderr: () => string; exited: Promise<number | null> };

function startAgent(server: FakeAgentServer, dataDir: string): AgentProcess {
  const args = ['--server', server.url, '--token', TOKEN, '--hostname', HOSTNAME];
  args.push('--data-dir', dataDir, '--interval-ms', '100', '--source', 'simulator');
  // Run node directly (not through npx) so signals reach the agent itself.
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/agent/main.ts', ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  children.push(child);
  return { child, stderr: () => stderr, exited };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const children: ChildProcess[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe('agent restart', () => {
  it('delivers every unacknowledged frame after a SIGKILL, in order and under its own seq', async () => {
    const server = new FakeAgentServer({ enrollmentToken: TOKEN });
    await server.start();
    cleanups.push(() => server.stop());
    const dataDir = await mkdtemp(join(tmpdir(), 'switchyard-agent-restart-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));

    const first = startAgent(server, dataDir);
    await waitFor(() => server.framesOf(HOSTNAME).length >= 5, 'the first frames');

    // The server stops acknowledging (and storing): frames pile up unacknowledged.
    server.swallowFrames = true;
    await waitFor(() => server.swallowed.length >= 15, 'frames sent and never acknowledged');
    first.child.kill('SIGKILL');
    await first.exited;
    const swallowed = new Map(server.swallowed.map((frame) => [frame.seq, frame]));
    const lastSwallowed = Math.max(...swallowed.keys());
    server.swallowFrames = false;

    const second = startAgent(server, dataDir);
    await waitFor(
      () => server.framesOf(HOSTNAME).some((frame) => frame.seq > lastSwallowed + 5),
      'the replay and new frames',
    );
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);

    const seqs = server.framesOf(HOSTNAME).map((frame) => frame.seq);
    expect(seqs[0]).toBe(1);
    // Contiguous and complete: no seq missing, none twice.
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    // What the server finally holds under a swallowed seq is that very frame, replayed from disk.
    for (const [seq, frame] of swallowed) {
      expect(server.framesOf(HOSTNAME)[seq - 1]).toEqual(frame);
    }
    expect(second.stderr()).toMatch(/restored \d+ unacknowledged frames/);
  });
});
