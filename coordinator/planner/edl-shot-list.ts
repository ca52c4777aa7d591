import { timecodeToFrame, isTimecodeLike } from "./timecode.ts";
import { finishShots, shotListError, type LinedShot, type ShotListOptions } from "./shot-list-common.ts";
import { BadInputError } from "../../shared/errors.ts";
import { SHOT_LIST_FIELD, type Shot } from "./shot.ts";

/** CMX3600 EDL shot lists; the rules are described in shot-list.ts. */

interface EdlEvent {
  line: number;
  recordIn: number;
  recordOut: number;
}

export function parseEdlShotList(text: string, options: ShotListOptions = {}): Shot[] {
  const source = options.source ?? "shot list";
  const fps = options.fps ?? Number.NaN;
  const events: EdlEvent[] = [];
  text.split(/\r?\n/).forEach((rawLine, i) => {
    const line = i + 1;
    const trimmed = rawLine.trim();
    if (/^FCM:\s*DROP\s*FRAME/i.test(trimmed)) {
      throw shotListError(source, line, "drop-frame EDLs are not supported; export non-drop-frame timecode");
    }
    const tokens = trimmed.split(/\s+/);
    if (!/^\d+$/.test(tokens[0] ?? "")) return; // TITLE:, FCM:, comments (*), M2 and blank lines
    const timecodes = tokens.slice(-4);
    if (tokens.length < 8 || !timecodes.every(isTimecodeLike)) {
      throw shotListError(source, line, "an event line needs reel, track, transition and four timecodes (source in/out, record in/out)");
    }
    const track = (tokens[2] ?? "").toUpperCase();
    if (!track.includes("V") && track !== "B") return; // audio-only event
    const recordIn = frameOf(timecodes[2] ?? "", fps, source, line);
    const recordOut = frameOf(timecodes[3] ?? "", fps, source, line);
    if (recordOut < recordIn) throw shotListError(source, line, "record out is before record in");
    if (recordOut > recordIn) events.push({ line, recordIn, recordOut });
  });
  if (events.length === 0) return finishShots([], source);
  const zero = options.recordStart === undefined ? Math.min(...events.map((e) => e.recordIn)) : recordStartFrame(options.recordStart, fps, source);
  const shots: LinedShot[] = events.map((e) => {
    if (e.recordIn < zero) throw shotListError(source, e.line, `record in is before the record start ${options.recordStart ?? ""}`);
    return { start: e.recordIn - zero, end: e.recordOut - 1 - zero, line: e.line };
  });
  return finishShots(shots, source);
}

function recordStartFrame(timecode: string, fps: number, source: string): number {
  const parsed = timecodeToFrame(timecode, fps);
  if (!parsed.ok) throw new BadInputError(`${source}: record start: ${parsed.problem}`, { field: SHOT_LIST_FIELD });
  return parsed.frame;
}

function frameOf(timecode: string, fps: number, source: string, line: number): number {
  const parsed = timecodeToFrame(timecode, fps);
  if (!parsed.ok) throw shotListError(source, line, parsed.problem);
  return parsed.frame;
}
