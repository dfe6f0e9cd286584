import type { MouseEvent } from 'react';
import { utilColor } from '@/components/fleet/util-color';
import { fmtPct } from '@/components/format';
import { type BoardGpu, gpuIndex } from './model';

/** Above this utilization the viridis fill is light, so the number on it is drawn dark. */
const LIGHT_FILL_FROM_PCT = 55;

function chipTitle(gpu: BoardGpu, util: number | null): string {
  const parts = [gpu.label, util === null ? 'no utilization data' : `${fmtPct(util)} busy`];
  if (gpu.health !== 'ok') parts.push(`health: ${gpu.health}`);
  if (gpu.cordoned) parts.push('cordoned');
  if (!gpu.eligible) parts.push('cannot take a new owner');
  if (gpu.busyChangeId) parts.push('held by a change in progress');
  return parts.join(' · ');
}

/**
 * One GPU on the board, coloured by utilization. Unhealthy GPUs get a red edge, cordoned
 * ones a hatch, ones held by an in-flight change are dimmed with a spinner. Operators click
 * to select (shift-click for a range); viewers see the same chip without the button.
 */
export function GpuChip({
  gpu,
  util,
  selected,
  onSelect,
}: {
  gpu: BoardGpu;
  util: number | null;
  selected: boolean;
  /** Absent for people who may not move GPUs. */
  onSelect?: (gpu: BoardGpu, range: boolean) => void;
}) {
  const classes = [
    'gpu-chip',
    util === null ? 'gpu-chip-nodata' : util >= LIGHT_FILL_FROM_PCT ? 'gpu-chip-light' : '',
    gpu.health !== 'ok' ? 'gpu-chip-unhealthy' : '',
    gpu.cordoned ? 'gpu-chip-cordoned' : '',
    gpu.busyChangeId ? 'gpu-chip-busy' : '',
    selected ? 'gpu-chip-selected' : '',
  ]
    .filter(Boolean)
    .join(' ');
  const title = chipTitle(gpu, util);
  const style = util === null ? undefined : { background: utilColor(util) };
  const content = (
    <>{gpu.busyChangeId ? <span className="spinner spinner-small" aria-hidden="true" /> : gpuIndex(gpu)}</>
  );
  const data = {
    'data-testid': 'gpu-chip',
    'data-gpu-id': gpu.id,
    'data-label': gpu.label,
    'data-busy': gpu.busyChangeId ? 'true' : 'false',
    'data-eligible': gpu.eligible ? 'true' : 'false',
  };

  if (!onSelect) {
    return (
      <span className={classes} style={style} title={title} role="img" aria-label={title} {...data}>
        {content}
      </span>
    );
  }
  return (
    <button
      type="button"
      className={classes}
      style={style}
      title={title}
      aria-label={title}
      aria-pressed={selected}
      disabled={gpu.busyChangeId !== null}
      onClick={(event: MouseEvent) => onSelect(gpu, event.shiftKey)}
      {...data}
    >
      {content}
    </button>
  );
}
