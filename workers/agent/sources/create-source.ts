import { DEMO_AGENT_VERSION, DEMO_DEPLOYMENTS } from '../../../lib/demo-fleet';
import { simulatedNode } from './simulator/simulated-node';
import { SimulatorSource } from './simulator/simulator-source';
import type { TelemetrySource } from './source';

/** Sources the CLI can name with `--source`; nvidia-smi, dcgm and model-server scrapes come next. */
export const SOURCE_NAMES = ['simulator'] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

export type CreatedSource = {
  source: TelemetrySource;
  /** Reported at enrollment and in the inventory; says when a node's numbers are simulated. */
  agentVersion: string;
  labels: Record<string, string>;
};

export function createSource(name: SourceName, hostname: string): CreatedSource {
  switch (name) {
    case 'simulator':
      return {
        source: new SimulatorSource({ node: simulatedNode(hostname), deployments: DEMO_DEPLOYMENTS }),
        agentVersion: DEMO_AGENT_VERSION,
        labels: { source: 'simulator' },
      };
  }
}
