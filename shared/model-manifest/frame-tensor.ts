import { BadInputError } from "../errors.ts";
import { assertRgbFrame, type RgbFrame } from "../media/rgb-frame.ts";
import { layoutAxes, type ModelManifest } from "./manifest-schema.ts";

/**
 * Pure conversions between an RGB8 frame and a model's image tensor, for the
 * two layouts a manifest may name:
 *  - "nchw-float01": float32 [1,3,H,W], values 0..1
 *  - "nhwc-uint8":   uint8   [1,H,W,3], values 0..255
 * Going back to RGB8 rounds deterministically: Math.round(clamp01(v) * 255),
 * NaN becomes 0.
 */

export interface ImageTensor {
  dtype: "float32" | "uint8";
  data: Float32Array | Uint8Array;
  dims: number[];
}

/** Builds the model's input tensor; fixed H/W in the manifest must match the frame. */
export function frameToTensor(frame: RgbFrame, manifest: ModelManifest): ImageTensor {
  assertRgbFrame(frame);
  const spec = manifest.inputs[0];
  if (spec === undefined) throw new BadInputError(`model ${manifest.name}: no input`, { field: "inputs" });
  const axes = layoutAxes(manifest.layout);
  const wantH = spec.shape[axes.height];
  const wantW = spec.shape[axes.width];
  if ((typeof wantH === "number" && wantH !== frame.height) || (typeof wantW === "number" && wantW !== frame.width)) {
    throw new BadInputError(
      `model ${manifest.name} takes ${String(wantW)}x${String(wantH)} frames only, got ${frame.width}x${frame.height}`,
      { field: "input" },
    );
  }
  const { width, height, data } = frame;
  if (manifest.layout === "nhwc-uint8") {
    return { dtype: "uint8", data: new Uint8Array(data), dims: [1, height, width, 3] };
  }
  const plane = width * height;
  const out = new Float32Array(plane * 3);
  for (let p = 0, s = 0; p < plane; p++, s += 3) {
    out[p] = data[s]! / 255;
    out[plane + p] = data[s + 1]! / 255;
    out[2 * plane + p] = data[s + 2]! / 255;
  }
  return { dtype: "float32", data: out, dims: [1, 3, height, width] };
}

/** Frames a temporal model sees at once (its input's first dimension); 1 for a per-frame model. */
export function modelWindow(manifest: ModelManifest): number {
  const first = manifest.inputs[0]?.shape[0];
  return typeof first === "number" && first > 1 ? first : 1;
}

/** A temporal model's input: the frames' tensors stacked along the first axis (the window). */
export function framesToTensor(frames: readonly RgbFrame[], manifest: ModelManifest): ImageTensor {
  const parts = frames.map((f) => frameToTensor(f, manifest));
  const first = parts[0];
  if (first === undefined) throw new Error(`model ${manifest.name}: no frames for its window`);
  const size = first.data.length;
  const data = first.dtype === "float32" ? new Float32Array(size * parts.length) : new Uint8Array(size * parts.length);
  parts.forEach((p, i) => {
    if (p.data.length !== size) throw new BadInputError(`model ${manifest.name}: the frames of one window differ in size`, { field: "input" });
    data.set(p.data, i * size);
  });
  return { dtype: first.dtype, data, dims: [parts.length, ...first.dims.slice(1)] };
}

/** Turns the model's image output back into an RGB8 frame. */
export function tensorToFrame(tensor: ImageTensor, manifest: ModelManifest): RgbFrame {
  const axes = layoutAxes(manifest.layout);
  const dims = tensor.dims;
  const height = dims[axes.height];
  const width = dims[axes.width];
  if (dims.length !== 4 || dims[0] !== 1 || dims[axes.channels] !== 3 || height === undefined || width === undefined) {
    throw new Error(`model ${manifest.name}: output dims [${dims.join(",")}] do not fit layout ${manifest.layout}`);
  }
  if (tensor.dtype !== axes.dtype) {
    throw new Error(`model ${manifest.name}: output dtype ${tensor.dtype}, layout ${manifest.layout} needs ${axes.dtype}`);
  }
  const plane = width * height;
  if (tensor.data.length !== plane * 3) {
    throw new Error(`model ${manifest.name}: output has ${tensor.data.length} values, expected ${plane * 3}`);
  }
  if (manifest.layout === "nhwc-uint8") {
    return { width, height, data: new Uint8Array(tensor.data) };
  }
  const src = tensor.data;
  const out = new Uint8Array(plane * 3);
  for (let p = 0, d = 0; p < plane; p++, d += 3) {
    out[d] = toByte(src[p]!);
    out[d + 1] = toByte(src[plane + p]!);
    out[d + 2] = toByte(src[2 * plane + p]!);
  }
  return { width, height, data: out };
}

/** Math.round(clamp(v, 0, 1) * 255); NaN -> 0. */
export function toByte(v: number): number {
  if (!(v > 0)) return 0;
  if (v >= 1) return 255;
  return Math.round(v * 255);
}
