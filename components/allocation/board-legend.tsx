/** What the chips' colours and marks mean. */
export function BoardLegend() {
  return (
    <div className="heatmap-legend board-legend">
      <span className="legend-item">
        <span className="legend-scale-label">0 %</span>
        <span className="legend-scale" />
        <span className="legend-scale-label">100 % utilization</span>
      </span>
      <span className="legend-item">
        <span className="gpu-chip gpu-chip-legend gpu-chip-nodata" /> no data
      </span>
      <span className="legend-item">
        <span className="gpu-chip gpu-chip-legend gpu-chip-unhealthy" /> unhealthy
      </span>
      <span className="legend-item">
        <span className="gpu-chip gpu-chip-legend gpu-chip-cordoned" /> cordoned
      </span>
      <span className="legend-item">
        <span className="gpu-chip gpu-chip-legend gpu-chip-busy" /> held by a change in progress
      </span>
      <span className="legend-item">
        <span className="gpu-chip gpu-chip-legend gpu-chip-selected" /> selected
      </span>
    </div>
  );
}
