import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DEMO_NODES } from '../../../lib/demo-fleet';
import { ZTelemetryFrame } from '../../../lib/protocol/agent';
import { FakeAgentServer } from './fake-server';

const run = promisify(execFile);
const REPO_ROOT = new URL('../../..', import.meta.url).pathname;

/** Runs the real CLI the way a user would; resolves with the exit code instead of throwing. */
async function agentCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('npx', ['tsx', 'workers/agent/main.ts', ...args], {
      cwd: REPO_ROOT,
      timeout: 60_000,
      env: { ...process.env, SWITCHYARD_ENROLLMENT_TOKEN: '' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('agent CLI', () => {
  it('prints one valid telemetry frame with --once --print, without a server', async () => {
    const result = await agentCli([
      '--once',
      '--print',
      '--source',
      'simulator',
      '--hostname',
      'use1-h100-01',
    ]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const frame = ZTelemetryFrame.parse(JSON.parse(lines[0] ?? ''));
    expect(frame.gpus).toHaveLength(8);
    expect(frame.gpus.map((gpu) => gpu.uuid)).toEqual(
      DEMO_NODES.find((n) => n.hostname === 'use1-h100-01')?.gpuUuids,
    );
    expect(frame.seq).toBe(1);
    expect(frame.intervalMs).toBe(1000);
  });

  it('rejects a bad flag value with exit code 2 and a message naming the flag', async () => {
    const result = await agentCli(['--once', '--print', '--interval-ms', 'nope']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--interval-ms');
    expect(result.stdout).toBe('');
  });

  it('names the missing flag when neither --server nor --once is given', async () => {
    const result = await agentCli(['--hostname', 'use1-h100-01']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--server');
  });

  it('refuses an unknown option with exit code 2', async () => {
    const result = await agentCli(['--once', '--print', '--intervall-ms', '500']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--intervall-ms');
  });

  it('streams to a server, and on SIGTERM closes, saves its state and exits 0', async () => {
    const token = 'enr_cli_test_token_000000';
    const server = new FakeAgentServer({ enrollmentToken: token });
    await server.start();
    const dataDir = await mkdtemp(join(tmpdir(), 'switchyard-agent-cli-'));
    const args = ['--server', server.url, '--token', token, '--hostname', 'use1-h100-02'];
    args.push('--data-dir', dataDir, '--interval-ms', '100');
    // Run node directly (not through npx) so the signal reaches the agent itself.
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/agent/main.ts', ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      let stderr = '';
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const deadline = Date.now() + 20_000;
      while (server.framesOf('use1-h100-02').length < 5 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      child.kill('SIGTERM');
      expect(await exited).toBe(0);

      const frames = server.framesOf('use1-h100-02');
      expect(frames.length).toBeGreaterThanOrEqual(5);
      expect(frames[0]?.gpus).toHaveLength(8);
      const state = JSON.parse(await readFile(join(dataDir, 'state.json'), 'utf8'));
      expect(state.nextSeq).toBeGreaterThan(frames.at(-1)?.seq ?? 0);
      expect(stderr).toContain('SIGTERM: stopping');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
