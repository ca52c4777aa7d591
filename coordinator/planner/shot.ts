import { BadInputError } from "../../shared/errors.ts";

/** One shot: an inclusive range of 0-based input frame indices between two cuts. */
export interface Shot {
  start: number;
  end: number;
}

/** The field that shot problems are reported against. */
export const SHOT_LIST_FIELD = "chunking.shotList";

/**
 * Checks that shots are whole numbers, each start <= end, sorted and not
 * overlapping. Throws BadInputError naming chunking.shotList.
 */
export function checkShotsOrdered(shots: readonly Shot[]): void {
  shots.forEach((shot, i) => {
    if (!Number.isSafeInteger(shot.start) || !Number.isSafeInteger(shot.end) || shot.start < 0 || shot.end < shot.start) {
      throw new BadInputError(`${SHOT_LIST_FIELD}: shot ${i} (${shot.start}..${shot.end}) is not a frame range`, { field: SHOT_LIST_FIELD });
    }
    const previous = i > 0 ? shots[i - 1] : undefined;
    if (previous !== undefined && shot.start <= previous.end) {
      throw new BadInputError(
        `${SHOT_LIST_FIELD}: shot ${i} (${shot.start}..${shot.end}) starts before shot ${i - 1} (${previous.start}..${previous.end}) ends`,
        { field: SHOT_LIST_FIELD },
      );
    }
  });
}
