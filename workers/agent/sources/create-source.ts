import { DEMO_AGENT_VERSION, DEMO_DEPLOYMENTS } from '../../../lib/demo-fleet';
import type { AgentLog } from '../log';
import { AGENT_VERSION } from '../version';
import { CompositeSource } from './composite-source';
import { DcgmSource } from './dcgm/dcgm-source';
import type { GpuReadingSource } from './gpu-reading';
import { ModelServerSource } from './model-server/model-server-source';
import type { ModelServerKind } from './model-server/readers';
import { NvidiaSmiSource } from './nvidia-smi/nvidia-smi-source';
import { simulatedNode } from './simulator/simulated-node';
import { SimulatorSource } from './simulator/simulator-source';
import type { TelemetrySource } from './source';

/** Sources the CLI can name with `--source` (repeatable, or comma-separated). */
export const SOURCE_NAMES = ['simulator', 'nvidia-smi', 'dcgm', 'model-server'] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

/** The collectors of real GPUs; the simulator invents its own, so it is never combined with them. */
export const REAL_GPU_SOURCES: readonly SourceName[] = ['nvidia-smi', 'dcgm'];

export type SourceConfig = {
  /** In order of preference where two GPU collectors both read a value. */
  sources: readonly SourceName[];
  hostname: string;
  log: AgentLog;
  nvidiaSmiCommand?: string;
  dcgmUrl?: string;
  metricsUrls?: string[];
  deploymentId?: string;
  modelServer?: ModelServerKind | 'auto';
};

export type CreatedSource = {
  source: TelemetrySource;
  /** Reported at enrollment and in the inventory; says when a node's numbers are simulated. */
  agentVersion: string;
  labels: Record<string, string>;
};

/** Why a combination of sources cannot work, or null when it can. */
export function sourceCombinationProblem(sources: readonly SourceName[]): string | null {
  if (sources.length === 0) return 'name at least one source';
  if (sources.includes('simulator') && sources.some((name) => REAL_GPU_SOURCES.includes(name))) {
    return 'the simulator invents its own GPUs: combine it only with model-server';
  }
  return null;
}

export function createSource(config: SourceConfig): CreatedSource {
  const problem = sourceCombinationProblem(config.sources);
  if (problem) throw new RangeError(problem);
  const sources = [...new Set(config.sources)];
  const { log } = config;
  const labels = { source: sources.join(',') };
  const agentVersion = sources.includes('simulator') ? DEMO_AGENT_VERSION : AGENT_VERSION;

  const gpuSources: GpuReadingSource[] = [];
  const otherSources: { name: string; source: TelemetrySource }[] = [];
  for (const name of sources) {
    switch (name) {
      case 'simulator':
        otherSources.push({
          name,
          source: new SimulatorSource({
            node: simulatedNode(config.hostname),
            deployments: DEMO_DEPLOYMENTS,
          }),
        });
        break;
      case 'nvidia-smi':
        gpuSources.push(new NvidiaSmiSource({ command: config.nvidiaSmiCommand, log }));
        break;
      case 'dcgm':
        gpuSources.push(new DcgmSource({ url: config.dcgmUrl, log }));
        break;
      case 'model-server':
        otherSources.push({
          name,
          source: new ModelServerSource({
            urls: config.metricsUrls ?? [],
            kind: config.modelServer,
            deploymentId: config.deploymentId,
            log,
          }),
        });
        break;
    }
  }
  const [onlyGpu] = gpuSources;
  const [onlyOther] = otherSources;
  let source: TelemetrySource;
  if (gpuSources.length + otherSources.length === 1)
    source = (onlyGpu ?? onlyOther?.source) as TelemetrySource;
  else source = new CompositeSource({ gpuSources, otherSources, log });
  return { source, agentVersion, labels };
}
