import { timecodeToFrame, isTimecodeLike } from "./timecode.ts";
import { finishShots, shotListError, type LinedShot, type ShotListOptions } from "./shot-list-common.ts";
import type { Shot } from "./shot.ts";

/** CSV shot lists; the format is described in shot-list.ts. */

const START_NAMES = ["start", "in", "startframe", "first", "from", "begin", "starttimecode"];
const END_NAMES = ["end", "out", "endframe", "last", "to", "endtimecode"];

export function parseCsvShotList(text: string, options: ShotListOptions = {}): Shot[] {
  const source = options.source ?? "shot list";
  let columns: { start: number; end: number } | undefined;
  const shots: LinedShot[] = [];
  text.split(/\r?\n/).forEach((rawLine, i) => {
    const line = i + 1;
    const trimmed = rawLine.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const cells = trimmed.split(",").map((c) => c.trim().replace(/^"(.*)"$/, "$1").trim());
    if (columns === undefined) {
      columns = headerColumns(cells, source, line);
      if (columns !== undefined) return;
      columns = { start: 0, end: 1 };
    }
    const startCell = cells[columns.start];
    const endCell = cells[columns.end];
    if (startCell === undefined || endCell === undefined || startCell === "" || endCell === "") {
      throw shotListError(source, line, "needs a start and an end frame");
    }
    const start = frameOf(startCell, options.fps, source, line);
    const end = frameOf(endCell, options.fps, source, line);
    if (end < start) throw shotListError(source, line, `end ${end} is before start ${start}`);
    shots.push({ start, end, line });
  });
  return finishShots(shots, source);
}

/** Column positions from a header line, or undefined when the line is data. */
function headerColumns(cells: string[], source: string, line: number): { start: number; end: number } | undefined {
  if (cells.slice(0, 2).every((c) => /^\d+$/.test(c) || isTimecodeLike(c))) return undefined;
  const names = cells.map((c) => c.toLowerCase().replace(/[^a-z]/g, ""));
  const start = names.findIndex((n) => START_NAMES.includes(n));
  const end = names.findIndex((n) => END_NAMES.includes(n));
  if (start < 0 || end < 0) {
    throw shotListError(source, line, `is neither a shot (start,end) nor a header naming start and end columns (got '${cells.join(",")}')`);
  }
  return { start, end };
}

function frameOf(cell: string, fps: number | undefined, source: string, line: number): number {
  if (/^\d+$/.test(cell)) {
    const frame = Number(cell);
    if (!Number.isSafeInteger(frame)) throw shotListError(source, line, `frame '${cell}' is too large`);
    return frame;
  }
  if (!isTimecodeLike(cell)) throw shotListError(source, line, `'${cell}' is not a frame number or a timecode HH:MM:SS:FF`);
  const parsed = timecodeToFrame(cell, fps ?? Number.NaN);
  if (!parsed.ok) throw shotListError(source, line, parsed.problem);
  return parsed.frame;
}
