/**
 * A decoded RGB frame, 8 bits per channel, row-major, no padding. Same shape
 * as the executor contract's RgbFrame (structurally identical), kept here so
 * that shared/ never imports from agent/.
 */
export interface RgbFrame {
  width: number;
  height: number;
  /** length = width * height * 3 */
  data: Uint8Array;
}

/** Throws unless the buffer length matches the dimensions. */
export function assertRgbFrame(frame: RgbFrame, what = "frame"): void {
  if (!Number.isInteger(frame.width) || !Number.isInteger(frame.height) || frame.width <= 0 || frame.height <= 0) {
    throw new RangeError(`${what}: bad size ${frame.width}x${frame.height}`);
  }
  if (frame.data.length !== frame.width * frame.height * 3) {
    throw new RangeError(`${what}: ${frame.data.length} bytes, expected ${frame.width * frame.height * 3}`);
  }
}
