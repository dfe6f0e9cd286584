import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEMO_NODES } from '../../lib/demo-fleet';
import { FakeAgentServer } from '../agent/__tests__/fake-server';

const REPO_ROOT = new URL('../..', import.meta.url).pathname;

describe('fleet simulator', () => {
  it('runs an agent per demo node on its own credential, and exits when its parent goes away', async () => {
    const token = 'enr_fleet_sim_token_00000';
    const server = new FakeAgentServer({ enrollmentToken: token });
    await server.start();
    const dataDir = await mkdtemp(join(tmpdir(), 'switchyard-fleet-sim-'));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'workers/fleet-sim/main.ts', '--server', server.url, '--data-dir', dataDir],
      {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          SWITCHYARD_ENROLLMENT_TOKENS: JSON.stringify({ 'us-east-1': token, 'eu-west-1': token }),
        },
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      },
    );
    let output = '';
    child.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const everyNodeStreaming = () => DEMO_NODES.every((node) => server.framesOf(node.hostname).length >= 1);
      const deadline = Date.now() + 20_000;
      while (!everyNodeStreaming() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(everyNodeStreaming()).toBe(true);

      expect(server.enrollments).toBe(DEMO_NODES.length);
      expect(server.engineConnections).toBe(DEMO_NODES.length);
      expect((await readdir(dataDir)).sort()).toEqual(DEMO_NODES.map((node) => node.hostname).sort());
      for (const node of DEMO_NODES) {
        const [frame] = server.framesOf(node.hostname);
        expect(frame?.gpus.map((gpu) => gpu.uuid)).toEqual(node.gpuUuids);
      }
      expect(output.match(/connected as node/g)).toHaveLength(DEMO_NODES.length);

      child.disconnect();
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
