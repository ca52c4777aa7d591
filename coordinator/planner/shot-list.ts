import path from "node:path";
import { parseCsvShotList } from "./csv-shot-list.ts";
import { parseEdlShotList } from "./edl-shot-list.ts";
import type { Shot } from "./shot.ts";
import type { ShotListOptions } from "./shot-list-common.ts";

export type { ShotListOptions };
export { parseCsvShotList, parseEdlShotList };

/**
 * Shot lists: text in, shots out (pure; the caller reads the file). Two
 * formats, chosen by the file name's extension (.edl is an EDL, anything else
 * CSV) or by `format`:
 *
 * - CSV: one shot per line, start and end frame, inclusive ("0,47"); a header
 *   line is optional ("start,end" or "in,out", other columns ignored); cells
 *   may be timecodes HH:MM:SS:FF (needs fps), end still inclusive; '#'
 *   starts a comment line.
 * - CMX3600 EDL: each video event's record in/out timecodes (out exclusive)
 *   become a shot; audio-only events and zero-length events are skipped;
 *   frame 0 is `recordStart` (default: the earliest record in), so an edit
 *   laid out from 01:00:00:00 maps onto a video that starts at frame 0.
 *
 * Shots come back sorted; overlapping shots are refused. Errors are
 * BadInputError naming chunking.shotList, with "file:line:" in the message.
 */

export function parseShotList(text: string, options: ShotListOptions & { format?: "csv" | "edl" } = {}): Shot[] {
  const format = options.format ?? (path.extname(options.source ?? "").toLowerCase() === ".edl" ? "edl" : "csv");
  return format === "edl" ? parseEdlShotList(text, options) : parseCsvShotList(text, options);
}
