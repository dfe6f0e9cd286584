import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DEMO_NODES } from '../../../lib/demo-fleet';
import { ZTelemetryFrame } from '../../../lib/protocol/agent';
import { vllmMetrics } from '../sources/model-server/__tests__/metrics-text';
import { FakeAgentServer } from './fake-server';
import { MetricsEndpoint } from './metrics-endpoint';

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

/** `npm run agent -- ...`, exactly as documented; resolves with the exit code instead of throwing. */
async function npmRunAgent(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('npm', ['run', '--silent', 'agent', '--', ...args], {
      cwd: REPO_ROOT,
      timeout: 60_000,
      env: { ...process.env, SWITCHYARD_ENROLLMENT_TOKEN: '', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

const FAKE_NVIDIA_SMI = new URL('../sources/nvidia-smi/__tests__/fake-nvidia-smi.mjs', import.meta.url)
  .pathname;
const H100_CAPTURE = join(
  REPO_ROOT,
  '..',
  'shared',
  'fixtures',
  'nvidia-smi',
  'linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt',
);

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

  it('prints one frame read through nvidia-smi with --once --print', async () => {
    const result = await npmRunAgent(
      ['--once', '--print', '--source', 'nvidia-smi', '--nvidia-smi-command', `node ${FAKE_NVIDIA_SMI}`],
      { FAKE_NVIDIA_SMI_CAPTURE: H100_CAPTURE, FAKE_NVIDIA_SMI_SECTION: 'load' },
    );
    expect(result.stderr).not.toContain('ERROR');
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const frame = ZTelemetryFrame.parse(JSON.parse(lines[0] ?? ''));
    expect(frame.gpus).toHaveLength(1);
    expect(frame.gpus[0]).toMatchObject({
      uuid: 'GPU-00000000-0000-0000-0000-000000000000-0',
      utilizationPct: 100,
      memoryUsedMiB: 19818,
      memoryTotalMiB: 81559,
      powerW: 631.95,
      temperatureC: 59,
      smClockMHz: 1980,
    });
    // nvidia-smi counts ECC errors, so --once reads twice, one interval apart.
    expect(result.stderr).toContain('first read taken as the baseline');
  });

  it('prints one model-server interval with --once --print, from two scrapes', async () => {
    const endpoint = new MetricsEndpoint();
    const base = {
      e2e: Array.from({ length: 16 }, () => 0),
      e2eSumSeconds: 0,
      stop: 0,
      length: 0,
      waiting: 2,
      running: 1,
    };
    endpoint.serve(
      vllmMetrics({
        ...base,
        e2e: base.e2e.map((_, i) => (i === 1 ? 100 : 0)),
        e2eSumSeconds: 40,
        stop: 100,
      }),
      vllmMetrics({
        ...base,
        e2e: base.e2e.map((_, i) => (i === 1 ? 107 : 0)),
        e2eSumSeconds: 42.8,
        stop: 107,
      }),
    );
    await endpoint.start();
    try {
      const result = await npmRunAgent([
        '--once',
        '--print',
        '--source',
        'model-server',
        '--metrics-url',
        endpoint.url,
        '--deployment-id',
        'dep-chat',
      ]);
      expect(result.code).toBe(0);
      const frame = ZTelemetryFrame.parse(JSON.parse(result.stdout.trim()));
      expect(frame.gpus).toEqual([]);
      expect(frame.deployments).toHaveLength(1);
      expect(frame.deployments[0]).toMatchObject({
        deploymentId: 'dep-chat',
        requests: 7,
        errors: 0,
        queueDepth: 2,
      });
      expect(frame.deployments[0]?.latencyMs.count).toBe(7);
      expect(endpoint.scrapes).toBe(2);
    } finally {
      await endpoint.stop();
    }
  });

  it('refuses source combinations that cannot work, naming the flag', async () => {
    const mixed = await agentCli(['--once', '--print', '--source', 'simulator,nvidia-smi']);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/--source.*combine it only with model-server/);

    const noUrl = await agentCli(['--once', '--print', '--source', 'nvidia-smi', '--source', 'model-server']);
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain('--metrics-url: is required with --source model-server');

    const unknown = await agentCli(['--once', '--print', '--source', 'dcgm,nvml']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--source "nvml": must be one of');

    const piped = await agentCli([
      '--once',
      '--print',
      '--source',
      'nvidia-smi',
      '--nvidia-smi-command',
      'nvidia-smi | cat',
    ]);
    expect(piped.code).toBe(2);
    expect(piped.stderr).toContain('--nvidia-smi-command');
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

  it('rotates the stored node credential with --rotate-credential, against the server it came from', {
    timeout: 90_000,
  }, async () => {
    const server = new FakeAgentServer({ enrollmentToken: 'enr_cli_rotate_token_0000' });
    await server.start();
    const dataDir = await mkdtemp(join(tmpdir(), 'switchyard-agent-rotate-'));
    try {
      const node = { nodeId: 'node-1', hostname: 'use1-h100-02', frames: new Map() };
      server.credentials.set('cred-cli-old', node);
      const stored = {
        nodeId: 'node-1',
        clusterId: 'cluster-1',
        clusterName: 'test-1',
        nodeCredential: 'cred-cli-old',
        serverUrl: server.url,
        hostname: 'use1-h100-02',
        enrolledAt: new Date().toISOString(),
      };
      await writeFile(join(dataDir, 'credential.json'), JSON.stringify(stored), { mode: 0o600 });

      const rotated = await agentCli(['--rotate-credential', '--data-dir', dataDir]);
      expect(rotated.code, rotated.stderr).toBe(0);
      expect(rotated.stdout).toContain('rotated the credential of node node-1');
      const after = JSON.parse(await readFile(join(dataDir, 'credential.json'), 'utf8'));
      expect(after.nodeCredential).not.toBe('cred-cli-old');
      expect(server.credentials.has(after.nodeCredential)).toBe(true);
      expect(server.credentials.has('cred-cli-old')).toBe(false);

      // The old one is refused; the file keeps the new one.
      await writeFile(join(dataDir, 'credential.json'), JSON.stringify(stored), { mode: 0o600 });
      const again = await agentCli(['--rotate-credential', '--data-dir', dataDir]);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('refused to rotate');

      const empty = await mkdtemp(join(tmpdir(), 'switchyard-agent-rotate-'));
      const missing = await agentCli(['--rotate-credential', '--data-dir', empty]);
      await rm(empty, { recursive: true, force: true });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('no node credential');
    } finally {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
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
