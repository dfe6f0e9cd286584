'use client';

import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { useCallback, useDeferredValue, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import {
  filterGpus,
  filterOptions,
  filtersFromSearch,
  filtersToSearch,
  HeatmapFilterBar,
  type HeatmapFilters,
  IDLE_ALLOCATED_AFTER_MS,
  IDLE_UTIL_PCT,
  isFiltered,
  NO_FILTERS,
} from '@/components/fleet/heatmap-filters';
import { utilColor } from '@/components/fleet/util-color';
import { fmtCelsius, fmtDuration, fmtMemory, fmtPct, fmtWatts } from '@/components/format';
import { useLiveEvent } from '@/components/live/use-live';
import { type GpuView, useTRPC } from '@/components/trpc/client';
import { EmptyState, ErrorState, Loading } from '@/components/ui/states';
import type { GpuLivePoint } from '@/lib/protocol/live';

/**
 * Every GPU of the fleet (or those the filters keep) as one small square, grouped by node
 * (one labelled row per node, rows flowing into as many columns as fit) and by cluster.
 * Drawn on a canvas, only in requestAnimationFrame, so ten thousand GPUs at one frame per
 * second stay cheap; the previous frame stays on screen until the next one is drawn.
 * Allocated GPUs idle for five minutes or more get an amber outline.
 */

type Cell = { gpu: GpuView; x: number; y: number };
type Block = { nodeId: string; hostname: string; x: number; y: number; w: number; h: number; cells: Cell[] };
type Section = { cluster: string; y: number; nodes: number; gpus: number };
type Layout = {
  width: number;
  height: number;
  cell: number;
  gap: number;
  labelW: number;
  fontPx: number;
  blocks: Block[];
  sections: Section[];
  gpuCount: number;
  /** The drawn GPUs' ids, in drawing order. */
  ids: string[];
};

const COLORS = {
  background: '#121720',
  label: '#8a94a6',
  labelHover: '#e6ebf2',
  section: '#5d6778',
  noData: '#1d232c',
  noDataEdge: '#3a4452',
  failed: '#e5484d',
  failedMark: '#2a0d0f',
  cordoned: '#c9d1dc',
  degraded: '#f5a524',
  allocatedIdle: '#f5a524',
  hoverRow: 'rgba(255, 255, 255, 0.05)',
  hoverCell: '#ffffff',
};
const SECTION_H = 26;
const COL_GAP = 22;
const MAX_PER_LINE = 16;

function computeLayout(gpus: readonly GpuView[], width: number): Layout {
  const n = gpus.length;
  const cell = n <= 256 ? 18 : n <= 1024 ? 14 : n <= 4096 ? 10 : 7;
  const gap = n <= 256 ? 3 : n <= 4096 ? 2 : 1;
  const fontPx = cell >= 18 ? 12 : cell >= 14 ? 11 : cell >= 10 ? 10 : 8;
  const rowGap = cell >= 10 ? 4 : 2;

  // cluster → node → gpus, keeping the server's hostname/index order within a cluster.
  const clusters = new Map<string, Map<string, GpuView[]>>();
  for (const gpu of gpus) {
    let nodes = clusters.get(gpu.clusterName);
    if (!nodes) {
      nodes = new Map();
      clusters.set(gpu.clusterName, nodes);
    }
    const list = nodes.get(gpu.nodeId);
    if (list) list.push(gpu);
    else nodes.set(gpu.nodeId, [gpu]);
  }
  let maxPerNode = 1;
  let maxHostLen = 4;
  for (const nodes of clusters.values()) {
    for (const list of nodes.values()) {
      maxPerNode = Math.max(maxPerNode, list.length);
      maxHostLen = Math.max(maxHostLen, list[0]?.hostname.length ?? 0);
    }
  }
  const perLine = Math.min(maxPerNode, MAX_PER_LINE);
  const labelW = Math.round(Math.min(150, Math.max(56, maxHostLen * fontPx * 0.62 + 12)));
  const pitch = cell + gap;
  const blockW = labelW + perLine * pitch - gap;
  const maxCols = Math.max(1, Math.floor((width + COL_GAP) / (blockW + COL_GAP)));

  const blocks: Block[] = [];
  const sections: Section[] = [];
  let y = 0;
  for (const [cluster, nodes] of [...clusters.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    const nodeLists = [...nodes.values()];
    sections.push({ cluster, y, nodes: nodeLists.length, gpus: nodeLists.reduce((s, l) => s + l.length, 0) });
    y += SECTION_H;
    // As few rows as fit, then spread evenly over them (6 nodes in 5 columns → 3 + 3, not 5 + 1).
    const cols = Math.ceil(nodeLists.length / Math.ceil(nodeLists.length / maxCols));
    for (let start = 0; start < nodeLists.length; start += cols) {
      const rowNodes = nodeLists.slice(start, start + cols);
      let rowH = 0;
      rowNodes.forEach((list, col) => {
        const lines = Math.ceil(list.length / perLine);
        const h = lines * pitch - gap;
        rowH = Math.max(rowH, h);
        const x = col * (blockW + COL_GAP);
        const cells = list.map((gpu, i) => ({
          gpu,
          x: x + labelW + (i % perLine) * pitch,
          y: y + Math.floor(i / perLine) * pitch,
        }));
        const first = list[0]!;
        blocks.push({ nodeId: first.nodeId, hostname: first.hostname, x, y, w: blockW, h, cells });
      });
      y += rowH + rowGap;
    }
    y += 6;
  }
  const ids = blocks.flatMap((b) => b.cells.map((c) => c.gpu.id));
  return { width, height: Math.max(y, 40), cell, gap, labelW, fontPx, blocks, sections, gpuCount: n, ids };
}

type Hover = { block: Block; cell: Cell | null; px: number; py: number };

function hitTest(layout: Layout, x: number, y: number): { block: Block; cell: Cell | null } | null {
  for (const block of layout.blocks) {
    if (x < block.x || x > block.x + block.w || y < block.y - 1 || y > block.y + block.h + 1) continue;
    const pitch = layout.cell + layout.gap;
    const cell = block.cells.find((c) => x >= c.x && x < c.x + pitch && y >= c.y && y < c.y + pitch) ?? null;
    return { block, cell };
  }
  return null;
}

export function GpuHeatmap() {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const gpusQuery = useQuery(trpc.fleet.gpus.queryOptions(undefined, { refetchInterval: 15_000 }));
  const gpus = gpusQuery.data;

  const wrapRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [width, setWidth] = useState(0);
  const layoutRef = useRef<Layout | null>(null);
  const liveRef = useRef<Map<string, GpuLivePoint>>(new Map());
  const haveFrameRef = useRef(false);
  const hoverRef = useRef<Hover | null>(null);
  const rafRef = useRef<number | null>(null);
  const lastUnknownRefetch = useRef(0);
  const [hover, setHover] = useState<Hover | null>(null);
  const [, setTick] = useState(0);
  const [hasLive, setHasLive] = useState(false);

  // Filters live in the address (`?state=free`), so a filtered view can be shared or reloaded.
  const [filters, setFilters] = useState<HeatmapFilters>(NO_FILTERS);
  useEffect(() => {
    setFilters(filtersFromSearch(window.location.search));
  }, []);
  const changeFilters = useCallback((next: HeatmapFilters) => {
    setFilters(next);
    const url = `${window.location.pathname}${filtersToSearch(next)}${window.location.hash}`;
    window.history.replaceState(window.history.state, '', url);
  }, []);
  // Typing in the search box stays responsive however many GPUs are re-laid out.
  const appliedFilters = useDeferredValue(filters);

  const options = useMemo(() => filterOptions(gpus ?? []), [gpus]);
  const shown = useMemo(() => (gpus ? filterGpus(gpus, appliedFilters) : null), [gpus, appliedFilters]);
  const layout = useMemo(() => (shown && width > 0 ? computeLayout(shown, width) : null), [shown, width]);
  const gpuIds = useMemo(() => new Set(gpus?.map((g) => g.id) ?? []), [gpus]);

  // When each GPU went idle, as of the list; with the live frames this decides the amber outline.
  const listAt = gpusQuery.dataUpdatedAt;
  const idleSinceRef = useRef<Map<string, number>>(new Map());
  useEffect(() => {
    const idleSince = new Map<string, number>();
    for (const gpu of gpus ?? []) {
      if (gpu.owner && gpu.idleForMs !== null) idleSince.set(gpu.id, listAt - gpu.idleForMs);
    }
    idleSinceRef.current = idleSince;
  }, [gpus, listAt]);

  const draw = useCallback(() => {
    rafRef.current = null;
    const canvas = canvasRef.current;
    const current = layoutRef.current;
    if (!canvas || !current) return;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    const dpr = window.devicePixelRatio || 1;
    const pxW = Math.round(current.width * dpr);
    const pxH = Math.round(current.height * dpr);
    // Resizing the bitmap clears it; it is redrawn below in the same frame, so nothing blinks.
    if (canvas.width !== pxW || canvas.height !== pxH) {
      canvas.width = pxW;
      canvas.height = pxH;
      canvas.style.width = `${current.width}px`;
      canvas.style.height = `${current.height}px`;
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = COLORS.background;
    ctx.fillRect(0, 0, current.width, current.height);

    const { cell, fontPx } = current;
    const live = liveRef.current;
    const hovered = hoverRef.current;
    const idleSince = idleSinceRef.current;
    const idleBefore = Date.now() - IDLE_ALLOCATED_AFTER_MS;
    const idleLine = Math.min(2.5, Math.max(1.5, cell / 7));

    ctx.textBaseline = 'middle';
    ctx.font = `600 11px ui-sans-serif, system-ui, sans-serif`;
    for (const section of current.sections) {
      ctx.fillStyle = COLORS.section;
      ctx.fillText(
        `${section.cluster.toUpperCase()}  ·  ${section.nodes} ${section.nodes === 1 ? 'node' : 'nodes'}  ·  ${section.gpus} ${section.gpus === 1 ? 'GPU' : 'GPUs'}`,
        0,
        section.y + SECTION_H / 2 - 2,
      );
    }

    ctx.font = `${fontPx}px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace`;
    for (const block of current.blocks) {
      const isHovered = hovered?.block.nodeId === block.nodeId;
      if (isHovered) {
        ctx.fillStyle = COLORS.hoverRow;
        ctx.fillRect(block.x - 4, block.y - 3, block.w + 8, block.h + 6);
      }
      ctx.fillStyle = isHovered ? COLORS.labelHover : COLORS.label;
      ctx.fillText(fitText(ctx, block.hostname, current.labelW - 8), block.x, block.y + cell / 2 + 0.5);

      for (const c of block.cells) {
        const point = live.get(c.gpu.id);
        if (c.gpu.health === 'failed') {
          ctx.fillStyle = COLORS.failed;
          ctx.fillRect(c.x, c.y, cell, cell);
          ctx.strokeStyle = COLORS.failedMark;
          ctx.lineWidth = 1.5;
          ctx.beginPath();
          ctx.moveTo(c.x + 3, c.y + 3);
          ctx.lineTo(c.x + cell - 3, c.y + cell - 3);
          ctx.moveTo(c.x + cell - 3, c.y + 3);
          ctx.lineTo(c.x + 3, c.y + cell - 3);
          ctx.stroke();
        } else if (!point) {
          ctx.fillStyle = COLORS.noData;
          ctx.fillRect(c.x, c.y, cell, cell);
          ctx.strokeStyle = COLORS.noDataEdge;
          ctx.lineWidth = 1;
          ctx.strokeRect(c.x + 0.5, c.y + 0.5, cell - 1, cell - 1);
        } else {
          ctx.fillStyle = utilColor(point.util);
          ctx.fillRect(c.x, c.y, cell, cell);
        }
        // Allocated, idle for 5 minutes or more, and still idle in the latest frame.
        const since = idleSince.get(c.gpu.id);
        const allocatedIdle =
          since !== undefined && since <= idleBefore && point !== undefined && point.util < IDLE_UTIL_PCT;
        if (allocatedIdle) {
          ctx.strokeStyle = COLORS.allocatedIdle;
          ctx.lineWidth = idleLine;
          ctx.strokeRect(c.x + idleLine / 2, c.y + idleLine / 2, cell - idleLine, cell - idleLine);
        }
        if (c.gpu.cordoned) {
          ctx.strokeStyle = COLORS.cordoned;
          ctx.lineWidth = 1.5;
          ctx.beginPath();
          ctx.moveTo(c.x, c.y + cell);
          ctx.lineTo(c.x + cell, c.y);
          ctx.stroke();
          if (!allocatedIdle) ctx.strokeRect(c.x + 0.75, c.y + 0.75, cell - 1.5, cell - 1.5);
        } else if (c.gpu.health === 'degraded') {
          ctx.fillStyle = COLORS.degraded;
          ctx.beginPath();
          ctx.moveTo(c.x + cell, c.y);
          ctx.lineTo(c.x + cell, c.y + cell * 0.5);
          ctx.lineTo(c.x + cell * 0.5, c.y);
          ctx.fill();
        }
      }
    }
    if (hovered?.cell) {
      ctx.strokeStyle = COLORS.hoverCell;
      ctx.lineWidth = 1.5;
      ctx.strokeRect(hovered.cell.x - 1, hovered.cell.y - 1, cell + 2, cell + 2);
    }
  }, []);

  const scheduleDraw = useCallback(() => {
    if (rafRef.current === null) rafRef.current = requestAnimationFrame(draw);
  }, [draw]);

  useEffect(
    () => () => {
      if (rafRef.current !== null) cancelAnimationFrame(rafRef.current);
    },
    [],
  );

  /** Mirrors what is drawn into attributes that tests and tools can read. */
  const publish = useCallback((frameAt: number | null) => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const current = layoutRef.current;
    canvas.setAttribute('data-gpu-count', String(current?.gpuCount ?? 0));
    // The mean of what is drawn (every GPU when nothing is filtered out).
    const points = liveRef.current;
    let sum = 0;
    let count = 0;
    for (const id of current?.ids ?? []) {
      const p = points.get(id);
      if (p) {
        sum += p.util;
        count += 1;
      }
    }
    if (count > 0) {
      canvas.setAttribute('data-mean-util', (sum / count).toFixed(1));
    } else {
      canvas.removeAttribute('data-mean-util');
    }
    if (frameAt !== null) canvas.setAttribute('data-frame-at', String(frameAt));
  }, []);

  // Until the first live frame, the values that came with the GPU list are the latest there are.
  useEffect(() => {
    if (!gpus || haveFrameRef.current) return;
    const seeded = new Map<string, GpuLivePoint>();
    for (const gpu of gpus) if (gpu.live) seeded.set(gpu.id, gpu.live);
    liveRef.current = seeded;
    setHasLive(seeded.size > 0);
  }, [gpus]);

  useEffect(() => {
    layoutRef.current = layout;
    // The hovered square moves (or goes) with a new layout: follow it.
    const hovered = hoverRef.current;
    if (hovered) {
      const block = layout?.blocks.find((b) => b.nodeId === hovered.block.nodeId) ?? null;
      const cell = hovered.cell
        ? (block?.cells.find((c) => c.gpu.id === hovered.cell!.gpu.id) ?? null)
        : null;
      const next = block && (cell || !hovered.cell) ? { ...hovered, block, cell } : null;
      hoverRef.current = next;
      setHover(next);
    }
    publish(null);
    scheduleDraw();
  }, [layout, publish, scheduleDraw]);

  useLiveEvent('fleet:gpus', (update) => {
    const next = new Map<string, GpuLivePoint>();
    for (const point of update.gpus) next.set(point.id, point);
    liveRef.current = next;
    haveFrameRef.current = true;
    publish(update.at);
    scheduleDraw();
    if (next.size > 0 !== hasLive) setHasLive(next.size > 0);
    if (hoverRef.current) setTick((t) => t + 1);
    // A GPU that is not in the list yet (a node just enrolled): fetch the list again, at most every 10 s.
    const known = gpus?.length ?? 0;
    if (gpus && (update.gpus.length > known || update.gpus.some((p) => !gpuIds.has(p.id)))) {
      const now = Date.now();
      if (now - lastUnknownRefetch.current > 10_000) {
        lastUnknownRefetch.current = now;
        void queryClient.invalidateQueries({ queryKey: trpc.fleet.gpus.queryKey() });
      }
    }
  });
  useLayoutEffect(() => {
    const wrap = wrapRef.current;
    if (!wrap) return;
    setWidth(Math.floor(wrap.clientWidth));
    const observer = new ResizeObserver((entries) => {
      const entry = entries[0];
      if (entry) setWidth(Math.floor(entry.contentRect.width));
    });
    observer.observe(wrap);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const locate = (event: MouseEvent) => {
      const rect = canvas.getBoundingClientRect();
      const x = event.clientX - rect.left;
      const y = event.clientY - rect.top;
      const current = layoutRef.current;
      return { x, y, hit: current ? hitTest(current, x, y) : null };
    };
    const onMove = (event: MouseEvent) => {
      const { x, y, hit } = locate(event);
      canvas.style.cursor = hit ? 'pointer' : 'default';
      const previous = hoverRef.current;
      const next = hit ? { ...hit, px: x, py: y } : null;
      hoverRef.current = next;
      setHover(next);
      if (previous?.block !== next?.block || previous?.cell !== next?.cell) scheduleDraw();
    };
    const onLeave = () => {
      if (!hoverRef.current) return;
      hoverRef.current = null;
      setHover(null);
      scheduleDraw();
    };
    const onClick = (event: MouseEvent) => {
      const { hit } = locate(event);
      if (!hit) return;
      // A square opens its GPU; the hostname label (or the row around the squares) its node.
      router.push(hit.cell ? `/gpus/${hit.cell.gpu.id}` : `/nodes/${hit.block.nodeId}`);
    };
    canvas.addEventListener('mousemove', onMove);
    canvas.addEventListener('mouseleave', onLeave);
    canvas.addEventListener('click', onClick);
    return () => {
      canvas.removeEventListener('mousemove', onMove);
      canvas.removeEventListener('mouseleave', onLeave);
      canvas.removeEventListener('click', onClick);
    };
  }, [router, scheduleDraw]);

  return (
    <div ref={wrapRef} className="heatmap">
      {!gpus ? (
        gpusQuery.error ? (
          <ErrorState error={gpusQuery.error} />
        ) : (
          <Loading label="Loading GPUs…" />
        )
      ) : gpus.length === 0 ? (
        <EmptyState>No GPUs have been enrolled yet — waiting for telemetry…</EmptyState>
      ) : (
        !hasLive && <p className="heatmap-note muted">Waiting for telemetry…</p>
      )}
      {gpus && gpusQuery.error && (
        <p className="inline-error">Could not refresh the GPU list: {gpusQuery.error.message}</p>
      )}
      {gpus && gpus.length > 0 && (
        <HeatmapFilterBar
          filters={filters}
          options={options}
          onChange={changeFilters}
          shown={shown?.length ?? 0}
          total={gpus.length}
        />
      )}
      {gpus && gpus.length > 0 && shown?.length === 0 && (
        <EmptyState>
          No GPU matches these filters.{' '}
          <button type="button" className="button button-ghost" onClick={() => changeFilters(NO_FILTERS)}>
            Clear filters
          </button>
        </EmptyState>
      )}
      <div className="heatmap-canvas-wrap" hidden={!gpus || gpus.length === 0 || shown?.length === 0}>
        <canvas
          ref={canvasRef}
          data-testid="gpu-heatmap"
          data-filtered={isFiltered(appliedFilters) ? 'true' : 'false'}
          role="img"
          aria-label={`Utilization of ${shown?.length ?? 0} GPUs, grouped by node`}
          className="heatmap-canvas"
        />
        {hover?.cell && (
          <GpuTooltip
            hover={hover}
            point={liveRef.current.get(hover.cell.gpu.id)}
            width={width}
            idleSince={idleSinceRef.current.get(hover.cell.gpu.id)}
          />
        )}
        {hover && !hover.cell && (
          <div className="heatmap-tooltip" style={tooltipPosition(hover, width)}>
            <div className="tt-title">{hover.block.hostname}</div>
            <div className="muted">Open node</div>
          </div>
        )}
      </div>
      {gpus && gpus.length > 0 && <HeatmapLegend />}
    </div>
  );
}

function tooltipPosition(hover: Hover, width: number): { left: number; top: number } {
  const TOOLTIP_W = 260;
  const left = hover.px + 16 + TOOLTIP_W > width ? Math.max(0, hover.px - 16 - TOOLTIP_W) : hover.px + 16;
  return { left, top: hover.py + 14 };
}

function GpuTooltip({
  hover,
  point,
  width,
  idleSince,
}: {
  hover: Hover;
  point: GpuLivePoint | undefined;
  width: number;
  idleSince: number | undefined;
}) {
  const gpu = hover.cell!.gpu;
  const idleFor =
    idleSince !== undefined && point !== undefined && point.util < IDLE_UTIL_PCT
      ? Date.now() - idleSince
      : null;
  const state =
    gpu.health === 'failed'
      ? 'failed'
      : gpu.cordoned
        ? 'cordoned'
        : gpu.health === 'degraded'
          ? 'degraded'
          : null;
  return (
    <div className="heatmap-tooltip" style={tooltipPosition(hover, width)} data-testid="gpu-tooltip">
      <div className="tt-title">
        {gpu.hostname} <span className="muted">GPU {gpu.index}</span>
        {state && <span className={`tt-flag tt-${state}`}>{state}</span>}
      </div>
      <div className="tt-model muted">{gpu.modelName}</div>
      <dl className="tt-grid">
        <dt>Utilization</dt>
        <dd>{point ? fmtPct(point.util) : 'no data'}</dd>
        <dt>Memory</dt>
        <dd>{fmtMemory(point?.memUsedMiB, point?.memTotalMiB ?? gpu.memoryTotalMiB)}</dd>
        <dt>Power</dt>
        <dd>{fmtWatts(point?.powerW)}</dd>
        <dt>Temperature</dt>
        <dd>{fmtCelsius(point?.tempC)}</dd>
        <dt>Owner</dt>
        <dd>{gpu.owner ? `${gpu.owner.name} (${gpu.owner.kind})` : 'unallocated'}</dd>
        {idleFor !== null && (
          <>
            <dt>Idle for</dt>
            <dd className={idleFor >= IDLE_ALLOCATED_AFTER_MS ? 'text-warn' : undefined}>
              {fmtDuration(idleFor)}
            </dd>
          </>
        )}
      </dl>
      <div className="tt-hint muted">Click to open this GPU</div>
    </div>
  );
}

function HeatmapLegend() {
  return (
    <div className="heatmap-legend">
      <span className="legend-item">
        <span className="legend-scale-label">0 %</span>
        <span className="legend-scale" aria-hidden="true" />
        <span className="legend-scale-label">100 % utilization</span>
      </span>
      <span className="legend-item">
        <span className="legend-swatch swatch-nodata" aria-hidden="true" /> no data
      </span>
      <span className="legend-item">
        <span className="legend-swatch swatch-failed" aria-hidden="true" /> failed
      </span>
      <span className="legend-item">
        <span className="legend-swatch swatch-cordoned" aria-hidden="true" /> cordoned
      </span>
      <span className="legend-item">
        <span className="legend-swatch swatch-degraded" aria-hidden="true" /> degraded
      </span>
      <span className="legend-item">
        <span className="legend-swatch swatch-allocated-idle" aria-hidden="true" /> allocated, idle ≥ 5 min
      </span>
      <span className="legend-item muted">Click a GPU to open it, a hostname to open its node</span>
    </div>
  );
}

const fitCache = new Map<string, string>();

/** The text, shortened with an ellipsis to fit `maxWidth` (cached per font and width). */
function fitText(ctx: CanvasRenderingContext2D, text: string, maxWidth: number): string {
  const key = `${ctx.font}|${maxWidth}|${text}`;
  const cached = fitCache.get(key);
  if (cached !== undefined) return cached;
  let fitted = text;
  if (ctx.measureText(text).width > maxWidth) {
    let end = text.length;
    while (end > 1 && ctx.measureText(`${text.slice(0, end)}…`).width > maxWidth) end -= 1;
    fitted = `${text.slice(0, end)}…`;
  }
  if (fitCache.size > 20_000) fitCache.clear();
  fitCache.set(key, fitted);
  return fitted;
}
