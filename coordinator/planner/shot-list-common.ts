import { BadInputError } from "../../shared/errors.ts";
import { SHOT_LIST_FIELD, type Shot } from "./shot.ts";

/** What the CSV and EDL shot list parsers share: options, errors, the final check. */

export interface ShotListOptions {
  /** Frame rate for timecodes (required for EDLs and CSV timecodes). */
  fps?: number;
  /** Name used in error messages (the file name). */
  source?: string;
  /** EDL only: the record timecode that is frame 0. */
  recordStart?: string;
}

/** A shot and the line it came from, for error messages. */
export interface LinedShot extends Shot {
  line: number;
}

export function shotListError(source: string, line: number, problem: string): BadInputError {
  return new BadInputError(`${source}:${line}: ${problem}`, { field: SHOT_LIST_FIELD });
}

/** Sorts, refuses overlaps and empty lists, and drops line numbers. */
export function finishShots(shots: LinedShot[], source: string): Shot[] {
  if (shots.length === 0) throw new BadInputError(`${source}: lists no shots`, { field: SHOT_LIST_FIELD });
  const sorted = [...shots].sort((a, b) => a.start - b.start || a.line - b.line);
  sorted.forEach((shot, i) => {
    const previous = sorted[i - 1];
    if (previous !== undefined && shot.start <= previous.end) {
      throw shotListError(
        source,
        shot.line,
        `shot ${shot.start}..${shot.end} overlaps the shot on line ${previous.line} (${previous.start}..${previous.end})`,
      );
    }
  });
  return sorted.map(({ start, end }) => ({ start, end }));
}
