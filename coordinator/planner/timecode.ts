/**
 * SMPTE non-drop-frame timecodes, HH:MM:SS:FF, to frame numbers. The frame
 * field counts at the nominal rate round(fps) (so 23.976 counts 24 frames a
 * second, as editing software labels it). Drop-frame timecodes (';' before
 * the frames) are refused rather than misread.
 */

export const TIMECODE = /^(\d{1,2}):(\d{2}):(\d{2})([:;])(\d{2})$/;

export type TimecodeParse = { ok: true; frame: number } | { ok: false; problem: string };

export function isTimecodeLike(text: string): boolean {
  return TIMECODE.test(text.trim());
}

export function timecodeToFrame(text: string, fps: number): TimecodeParse {
  const match = TIMECODE.exec(text.trim());
  if (match === null) return { ok: false, problem: `'${text}' is not a timecode (HH:MM:SS:FF)` };
  if (match[4] === ";") return { ok: false, problem: `'${text}' is a drop-frame timecode, which is not supported; export non-drop-frame` };
  if (!Number.isFinite(fps) || fps <= 0) return { ok: false, problem: `timecode '${text}' needs the frame rate (fps)` };
  const nominal = Math.round(fps);
  const [h, m, s, f] = [match[1], match[2], match[3], match[5]].map(Number) as [number, number, number, number];
  if (m > 59 || s > 59) return { ok: false, problem: `'${text}' has minutes or seconds past 59` };
  if (f >= nominal) return { ok: false, problem: `'${text}' has frame ${f}, but a second has only ${nominal} frames at ${fps} fps` };
  return { ok: true, frame: ((h * 60 + m) * 60 + s) * nominal + f };
}
