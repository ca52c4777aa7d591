import { assertRgbFrame, type RgbFrame } from "../../shared/media/rgb-frame.ts";
import { toByte } from "../../shared/model-manifest/frame-tensor.ts";
import { layoutAxes, type ModelManifest } from "../../shared/model-manifest/manifest-schema.ts";

/**
 * Pure geometry and blending for running an image model on overlapping tiles
 * (agent/executors/onnx-session.ts runs the model). A model with a fixed
 * input size, or one whose manifest asks for tiles, sees windows of the frame
 * `size` pixels wide that overlap by `overlap`; a window smaller than a fixed
 * model input is padded by repeating its edge pixels. The outputs (scale x
 * larger) are blended with weights that are 0 in the outer quarter of each
 * overlap (where a tile's border effects live) and ramp linearly across the
 * middle half, then divided by the summed weight: no seam, and a model that
 * only looks at nearby pixels gives the same pixels as a whole-frame run.
 */

export interface TilePlan {
  /** Window size, input pixels. */
  size: number;
  overlap: number;
  scale: number;
  /** The model's fixed input width/height, or undefined when symbolic (the window is the input). */
  fixedWidth: number | undefined;
  fixedHeight: number | undefined;
}

export interface TileWindow {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The tiling a manifest asks for, or undefined when the frame can go through whole. */
export function tilePlanFor(manifest: ModelManifest, frame: { width: number; height: number }): TilePlan | undefined {
  const axes = layoutAxes(manifest.layout);
  const shape = manifest.inputs[0]?.shape ?? [];
  const fw = shape[axes.width];
  const fh = shape[axes.height];
  const fixedWidth = typeof fw === "number" ? fw : undefined;
  const fixedHeight = typeof fh === "number" ? fh : undefined;
  const fixed = fixedWidth !== undefined || fixedHeight !== undefined;
  if (!fixed && manifest.tile === undefined) return undefined;
  if (fixedWidth === frame.width && fixedHeight === frame.height) return undefined;
  const limit = Math.min(fixedWidth ?? Infinity, fixedHeight ?? Infinity);
  const size = Math.min(manifest.tile?.size ?? limit, limit);
  const overlap = Math.min(manifest.tile?.overlap ?? Math.floor(size / 16), Math.floor((size - 1) / 2));
  if (!fixed && frame.width <= size && frame.height <= size) return undefined;
  return { size, overlap, scale: manifest.scale, fixedWidth, fixedHeight };
}

/** Window starts along one axis: step size - overlap, the last one flush with the end. */
export function tileStarts(length: number, size: number, overlap: number): number[] {
  if (length <= size) return [0];
  const stride = size - overlap;
  const starts: number[] = [];
  for (let s = 0; s + size < length; s += stride) starts.push(s);
  starts.push(length - size);
  return starts;
}

export function tileWindows(frame: { width: number; height: number }, plan: TilePlan): TileWindow[] {
  const windows: TileWindow[] = [];
  for (const y of tileStarts(frame.height, plan.size, plan.overlap)) {
    for (const x of tileStarts(frame.width, plan.size, plan.overlap)) {
      windows.push({ x, y, width: Math.min(plan.size, frame.width), height: Math.min(plan.size, frame.height) });
    }
  }
  return windows;
}

/** The model input for one window: its pixels, padded to the fixed input size by repeating edge pixels. */
export function cropTile(frame: RgbFrame, w: TileWindow, plan: TilePlan): RgbFrame {
  assertRgbFrame(frame);
  const width = plan.fixedWidth ?? w.width;
  const height = plan.fixedHeight ?? w.height;
  const data = new Uint8Array(width * height * 3);
  for (let ty = 0; ty < height; ty++) {
    const sy = w.y + Math.min(ty, w.height - 1);
    for (let tx = 0; tx < width; tx++) {
      const sx = w.x + Math.min(tx, w.width - 1);
      const s = (sy * frame.width + sx) * 3;
      const d = (ty * width + tx) * 3;
      data[d] = frame.data[s]!;
      data[d + 1] = frame.data[s + 1]!;
      data[d + 2] = frame.data[s + 2]!;
    }
  }
  return { width, height, data };
}

/** A model output tile as planar float values in 0..1: value(c, y, x) = planes[(c * height + y) * width + x]. */
export interface OutputTile {
  width: number;
  height: number;
  planes: Float32Array;
}

/** Accumulates weighted output tiles into the scale x larger frame. */
export class TileBlender {
  private readonly sum: Float32Array;
  private readonly weight: Float32Array;
  readonly width: number;
  readonly height: number;
  private readonly margin: number;
  private readonly ramp: number;

  constructor(
    private readonly frame: { width: number; height: number },
    private readonly plan: TilePlan,
  ) {
    this.width = frame.width * plan.scale;
    this.height = frame.height * plan.scale;
    this.sum = new Float32Array(this.width * this.height * 3);
    this.weight = new Float32Array(this.width * this.height);
    const overlapOut = plan.overlap * plan.scale;
    this.margin = Math.floor(overlapOut / 4);
    this.ramp = Math.max(1, overlapOut - 2 * this.margin);
  }

  add(w: TileWindow, tile: OutputTile): void {
    const s = this.plan.scale;
    const expectW = (this.plan.fixedWidth ?? w.width) * s;
    const expectH = (this.plan.fixedHeight ?? w.height) * s;
    if (tile.width !== expectW || tile.height !== expectH) {
      throw new Error(`model output tile is ${tile.width}x${tile.height}, expected ${expectW}x${expectH} (scale ${s} in the manifest)`);
    }
    const ow = w.width * s;
    const oh = w.height * s;
    const ox = w.x * s;
    const oy = w.y * s;
    const wx = this.axisWeights(ow, w.x > 0, w.x + w.width < this.frame.width);
    const wy = this.axisWeights(oh, w.y > 0, w.y + w.height < this.frame.height);
    const plane = tile.width * tile.height;
    for (let ly = 0; ly < oh; ly++) {
      const rowW = wy[ly]!;
      if (rowW === 0) continue;
      for (let lx = 0; lx < ow; lx++) {
        const wt = rowW * wx[lx]!;
        if (wt === 0) continue;
        const p = (oy + ly) * this.width + ox + lx;
        const t = ly * tile.width + lx;
        this.weight[p]! += wt;
        this.sum[p * 3]! += wt * tile.planes[t]!;
        this.sum[p * 3 + 1]! += wt * tile.planes[plane + t]!;
        this.sum[p * 3 + 2]! += wt * tile.planes[2 * plane + t]!;
      }
    }
  }

  /** The blended frame, rounded like a whole-frame run (toByte). */
  finish(): RgbFrame {
    const data = new Uint8Array(this.width * this.height * 3);
    for (let p = 0; p < this.weight.length; p++) {
      const wt = this.weight[p]!;
      if (!(wt > 0)) throw new Error(`tile blend: output pixel ${p % this.width},${Math.floor(p / this.width)} not covered by any tile`);
      data[p * 3] = toByte(this.sum[p * 3]! / wt);
      data[p * 3 + 1] = toByte(this.sum[p * 3 + 1]! / wt);
      data[p * 3 + 2] = toByte(this.sum[p * 3 + 2]! / wt);
    }
    return { width: this.width, height: this.height, data };
  }

  /** 1 inside; 0 in the outer quarter of an overlap next to a neighbour, then a linear ramp. */
  private axisWeights(length: number, before: boolean, after: boolean): Float32Array {
    const out = new Float32Array(length);
    const rampAt = (d: number): number => Math.min(1, Math.max(0, (d - this.margin + 0.5) / this.ramp));
    for (let i = 0; i < length; i++) {
      let v = 1;
      if (before) v = Math.min(v, rampAt(i));
      if (after) v = Math.min(v, rampAt(length - 1 - i));
      out[i] = v;
    }
    return out;
  }
}
