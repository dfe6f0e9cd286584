import { DEMO_NODES, type DemoNode, GPU_MODELS } from '../../../../lib/demo-fleet';
import { hashString, mulberry32 } from './random';

const GPUS_PER_SYNTHETIC_NODE = 8;

/**
 * The machine the simulator pretends to be: the demo fleet's node of that hostname, so the
 * UUIDs match what the server seeded; any other hostname gets eight H100s with UUIDs
 * derived from the hostname, stable across restarts.
 */
export function simulatedNode(hostname: string, cluster = 'unknown'): DemoNode {
  const demo = DEMO_NODES.find((node) => node.hostname === hostname);
  if (demo) return demo;
  return {
    cluster,
    hostname,
    gpuModel: GPU_MODELS.h100,
    gpuUuids: Array.from({ length: GPUS_PER_SYNTHETIC_NODE }, (_, index) =>
      syntheticGpuUuid(hostname, index),
    ),
  };
}

function syntheticGpuUuid(hostname: string, index: number): string {
  const rng = mulberry32(hashString(`${hostname}/gpu/${index}`));
  const hex = (digits: number) =>
    Array.from({ length: digits }, () => Math.floor(rng() * 16).toString(16)).join('');
  return `GPU-${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`;
}
