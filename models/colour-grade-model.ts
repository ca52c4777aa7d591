import onnxProto from "onnx-proto";
import { sha256Bytes } from "../shared/model-manifest/model-file-hash.ts";
import type { ModelManifest } from "../shared/model-manifest/manifest-schema.ts";

/**
 * The demo model, "filmic warm grade", built op by op so that no Python or
 * training is needed and the bytes are reproducible. Per frame:
 *
 *   image [1,3,H,W] float 0..1
 *   -> 1x1 Conv: 3x3 colour matrix (saturation x1.15 around Rec.709 luma,
 *      warm gains R 1.08 / G 1.00 / B 0.88) + a warm shadow lift (bias)
 *   -> Clip 0..1
 *   -> filmic S-curve f(x) = x(0.2x + 0.6) / (x(0.8x - 1) + 1):
 *      f(0)=0, f(1)=1, toe slope 0.6, shoulder slope 0.5, f(0.5)=0.5,
 *      monotonic on 0..1, denominator never zero
 *   -> edge-replicating Pad + 3x3 depthwise sharpen Conv (group 3)
 *   -> Clip 0..1 -> graded [1,3,H,W]
 */

const { onnx } = onnxProto;
type INodeProto = onnxProto.onnx.INodeProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
type IValueInfoProto = onnxProto.onnx.IValueInfoProto;

export const COLOUR_GRADE_NAME = "colour-grade";
export const COLOUR_GRADE_VERSION = "1.0.0";
export const COLOUR_GRADE_FILE = "colour-grade.onnx";
const OPSET = 13;
/** IR version 8 (ONNX 1.10): the newest onnx-proto knows, read by onnxruntime-node 1.30. */
const IR_VERSION = 8;

export const GRADE = {
  saturation: 1.15,
  luma: [0.2126, 0.7152, 0.0722],
  gains: [1.08, 1.0, 0.88],
  lift: [0.01, 0.004, 0],
  /** f(x) = x(a x + b) / (x(c x + d) + e) */
  curve: { a: 0.2, b: 0.6, c: 0.8, d: -1, e: 1 },
  /** Sharpen kernel: centre 1 + 4k, the four neighbours -k. */
  sharpen: 0.125,
} as const;

/** The 3x3 colour matrix, row = output channel: diag(gains) * saturation matrix. */
export function colourMatrix(): number[][] {
  const { saturation: s, luma, gains } = GRADE;
  return [0, 1, 2].map((row) =>
    [0, 1, 2].map((col) => gains[row]! * ((row === col ? s : 0) + (1 - s) * luma[col]!)),
  );
}

export interface BuiltModel {
  onnx: Uint8Array;
  manifest: ModelManifest;
}

/** Builds the model bytes and its manifest. Pure: same output on every call. */
export function buildColourGrade(): BuiltModel {
  const bytes = onnx.ModelProto.encode(modelProto()).finish();
  return { onnx: bytes, manifest: manifestFor(bytes) };
}

function modelProto(): onnxProto.onnx.IModelProto {
  const { a, b, c, d, e } = GRADE.curve;
  const k = GRADE.sharpen;
  const initializer: ITensorProto[] = [
    floatTensor("colour_w", [3, 3, 1, 1], colourMatrix().flat()),
    floatTensor("colour_b", [3], [...GRADE.lift]),
    floatTensor("zero", [], [0]),
    floatTensor("one", [], [1]),
    floatTensor("ca", [], [a]),
    floatTensor("cb", [], [b]),
    floatTensor("cc", [], [c]),
    floatTensor("cd", [], [d]),
    floatTensor("ce", [], [e]),
    int64Tensor("edge_pads", [8], [0, 0, 1, 1, 0, 0, 1, 1]),
    floatTensor("sharpen_w", [3, 1, 3, 3], [0, 1, 2].flatMap(() => [0, -k, 0, -k, 1 + 4 * k, -k, 0, -k, 0])),
  ];
  const nodes: INodeProto[] = [
    node("Conv", ["image", "colour_w", "colour_b"], ["colour"], [ints("kernel_shape", [1, 1])]),
    node("Clip", ["colour", "zero", "one"], ["x"]),
    node("Mul", ["x", "ca"], ["num_1"]),
    node("Add", ["num_1", "cb"], ["num_2"]),
    node("Mul", ["x", "num_2"], ["num"]),
    node("Mul", ["x", "cc"], ["den_1"]),
    node("Add", ["den_1", "cd"], ["den_2"]),
    node("Mul", ["x", "den_2"], ["den_3"]),
    node("Add", ["den_3", "ce"], ["den"]),
    node("Div", ["num", "den"], ["toned"]),
    node("Pad", ["toned", "edge_pads"], ["padded"], [str("mode", "edge")]),
    node("Conv", ["padded", "sharpen_w"], ["sharp"], [ints("kernel_shape", [3, 3]), int("group", 3)]),
    node("Clip", ["sharp", "zero", "one"], ["graded"]),
  ];
  return {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: OPSET }],
    producerName: "nightshift",
    producerVersion: COLOUR_GRADE_VERSION,
    modelVersion: 1,
    docString: "filmic warm grade: colour matrix, S-curve, sharpen",
    graph: {
      name: "colour_grade",
      node: nodes,
      initializer,
      input: [imageValue("image")],
      output: [imageValue("graded")],
    },
  };
}

function manifestFor(bytes: Uint8Array): ModelManifest {
  const shape: (number | string)[] = [1, 3, "height", "width"];
  // Peak per 1080p frame: the input, the model's intermediates (onnxruntime
  // reuses buffers, so about five live float tensors of input size at once,
  // one of them padded), the float output and the uint8 copies on the way in
  // and out, plus a fixed allowance for the runtime (session, arena, threads).
  const floatFrame = 1920 * 1080 * 3 * 4;
  const memoryBytes = 8 * floatFrame + 64 * 1024 * 1024;
  return {
    name: COLOUR_GRADE_NAME,
    version: COLOUR_GRADE_VERSION,
    file: COLOUR_GRADE_FILE,
    sha256: sha256Bytes(bytes),
    executor: "onnx",
    inputs: [{ name: "image", dtype: "float32", shape }],
    outputs: [{ name: "graded", dtype: "float32", shape }],
    layout: "nchw-float01",
    memoryBytes,
    description:
      "Filmic warm grade: saturation x1.15 and a warm tint (R x1.08, B x0.88), a filmic S-curve, " +
      "a mild 3x3 sharpen. Per frame, any size, deterministic.",
    license: "Apache-2.0",
    scale: 1,
  };
}

function imageValue(name: string): IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimValue: 1 }, { dimValue: 3 }, { dimParam: "height" }, { dimParam: "width" }] },
      },
    },
  };
}

function node(opType: string, input: string[], output: string[], attribute: onnxProto.onnx.IAttributeProto[] = []): INodeProto {
  return { opType, input, output, attribute, name: output[0] ?? opType };
}

function ints(name: string, values: number[]): onnxProto.onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: values };
}

function int(name: string, value: number): onnxProto.onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
}

function str(name: string, value: string): onnxProto.onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(value) };
}

/** Values are stored as little-endian float32 raw data (Math.fround of the double). */
function floatTensor(name: string, dims: number[], values: number[]): ITensorProto {
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw };
}

function int64Tensor(name: string, dims: number[], values: number[]): ITensorProto {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return { name, dims, dataType: onnx.TensorProto.DataType.INT64, rawData: raw };
}
