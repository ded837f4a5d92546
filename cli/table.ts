// Plain-text tables for the command line (columns padded to their widest cell), and the times
// and release stage lines printed beside them.
import type { Stage } from '../services/shared/workflow-result.ts';

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function seconds(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

/**
 * How long a release stage took, on a line whose other times are wall times. Stage times come from
 * the workflow's clock (sys.now()), which a time-scaled local cloud runs `scale` times faster than
 * the wall: show the wall time, and the workflow's own time beside it, labelled.
 */
export function stageSeconds(workflowMs: number | undefined, scale: number): string {
  if (workflowMs === undefined || !Number.isFinite(workflowMs)) return '-';
  if (scale === 1) return seconds(workflowMs);
  return `${seconds(workflowMs / scale)} (${seconds(workflowMs)} in workflow time, x${scale})`;
}

/** One stage of a finished release: mark, name, how long it took, detail. */
export function stageLine(stage: Stage, scale: number): string {
  const mark = stage.outcome === 'OK' ? '✓' : stage.outcome === 'SKIPPED' ? '·' : '✗';
  const ms = stage.end ? Date.parse(stage.end) - Date.parse(stage.start) : undefined;
  // A multi-region release's stages name their region.
  const detail = [stage.region, stage.detail].filter(Boolean).join(': ');
  return `${mark} ${stage.name.padEnd(8)} ${stageSeconds(ms, scale).padStart(5)}  ${detail}`.trimEnd();
}
