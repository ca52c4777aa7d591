import onnxProto from "onnx-proto";
import { sha256Bytes } from "../shared/model-manifest/model-file-hash.ts";
import type { ModelManifest } from "../shared/model-manifest/manifest-schema.ts";

/**
 * The demo temporal model, "temporal mean": each output frame is the mean of
 * the WINDOW input frames centred on it (a box blur in time, the simplest
 * temporal denoiser). It is built op by op like the colour grade, so the
 * bytes are reproducible:
 *
 *   frames [WINDOW,3,H,W] float 0..1 -> ReduceMean over axis 0 -> [1,3,H,W]
 *
 * The window is the first dimension of the input: the agent stacks the frame
 * and its neighbours there (shared/model-manifest/frame-tensor.ts), repeating
 * the edge frame where the window meets a shot cut or the range's end.
 */
const { onnx } = onnxProto;

export const TEMPORAL_MEAN_NAME = "temporal-mean";
export const TEMPORAL_MEAN_VERSION = "1.0.0";
export const TEMPORAL_MEAN_FILE = "temporal-mean.onnx";
export const TEMPORAL_MEAN_WINDOW = 5;

export function buildTemporalMean(): { onnx: Uint8Array; manifest: ModelManifest } {
  const bytes = onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 13 }],
    producerName: "nightshift",
    producerVersion: TEMPORAL_MEAN_VERSION,
    modelVersion: 1,
    docString: `temporal mean over ${TEMPORAL_MEAN_WINDOW} frames`,
    graph: {
      name: "temporal_mean",
      node: [
        {
          opType: "ReduceMean",
          input: ["frames"],
          output: ["mean"],
          name: "mean",
          attribute: [
            { name: "axes", type: onnx.AttributeProto.AttributeType.INTS, ints: [0] },
            { name: "keepdims", type: onnx.AttributeProto.AttributeType.INT, i: 1 },
          ],
        },
      ],
      input: [value("frames", TEMPORAL_MEAN_WINDOW)],
      output: [value("mean", 1)],
    },
  }).finish();
  const floatFrame = 1920 * 1080 * 3 * 4;
  return {
    onnx: bytes,
    manifest: {
      name: TEMPORAL_MEAN_NAME,
      version: TEMPORAL_MEAN_VERSION,
      file: TEMPORAL_MEAN_FILE,
      sha256: sha256Bytes(bytes),
      executor: "onnx",
      inputs: [{ name: "frames", dtype: "float32", shape: [TEMPORAL_MEAN_WINDOW, 3, "height", "width"] }],
      outputs: [{ name: "mean", dtype: "float32", shape: [1, 3, "height", "width"] }],
      layout: "nchw-float01",
      memoryBytes: (TEMPORAL_MEAN_WINDOW + 2) * floatFrame + 64 * 1024 * 1024,
      description: `Temporal mean: each frame becomes the average of the ${TEMPORAL_MEAN_WINDOW} frames centred on it (edge frames repeated at cuts). A temporal step with window ${TEMPORAL_MEAN_WINDOW}.`,
      license: "Apache-2.0",
      scale: 1,
    },
  };
}

function value(name: string, batch: number): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: batch }, { dimValue: 3 }, { dimParam: "height" }, { dimParam: "width" }] } } },
  };
}
