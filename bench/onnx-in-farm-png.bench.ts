/**
 * What the ONNX farm's slowest stage costs: PNG encoding of the colour
 * grade's output frames (what the agent's encoder thread and the bare loop do
 * per frame), with pngjs at several deflate levels, strategies and filters,
 * and with sharp (libvips/libspng, already a dependency for the dashboard).
 *
 *   node --import tsx bench/onnx-in-farm-png.bench.ts [--frames 24] [--width 320 --height 180] [--reps 3]
 *
 * Prints one JSON object: per encoder the median ms of wall and of this
 * process's CPU per frame (sharp encodes on libuv/libvips threads, so its CPU
 * is counted process-wide), bytes per frame, and the ratio to the current
 * settings (shared/media/png-codec.ts) measured in the same run. Every
 * encoder's output is decoded and must give the same RGB8 samples as the
 * frame it was given (lossless); a mismatch fails the run.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { constants as zlib } from "node:zlib";
import pngjs from "pngjs";
import sharp from "sharp";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { BUNDLED_MODELS_DIR } from "../cli/paths.ts";
import { generateFrame } from "../shared/media/generated-frames.ts";
import { encodePng } from "../shared/media/png-codec.ts";
import type { RgbFrame } from "../shared/media/rgb-frame.ts";
import { frameToTensor, tensorToFrame } from "../shared/model-manifest/frame-tensor.ts";
import { loadManifest } from "../shared/model-manifest/manifest-load.ts";
import { pixelsOf, rgbPixelsSha256 } from "../shared/provenance/pixel-hash.ts";
import { intFlag, median, parseFlags, round, runBench } from "./bench-cli.ts";

type Encode = (frame: RgbFrame) => Uint8Array | Promise<Uint8Array>;

function pngjsWith(o: { filterType: number; deflateLevel: number; deflateStrategy: number }): Encode {
  return (frame) => {
    const image = { width: frame.width, height: frame.height, data: Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength) };
    return pngjs.PNG.sync.write(image as unknown as InstanceType<typeof pngjs.PNG>, { colorType: 2, inputColorType: 2, inputHasAlpha: false, bitDepth: 8, ...o });
  };
}

function sharpWith(compressionLevel: number, adaptiveFiltering: boolean): Encode {
  return (frame) =>
    sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } })
      .png({ compressionLevel, adaptiveFiltering, palette: false })
      .toBuffer();
}

const ENCODERS: Record<string, Encode> = {
  "current (png-codec: pngjs Sub, level 6)": encodePng,
  "pngjs Sub level 1": pngjsWith({ filterType: 1, deflateLevel: 1, deflateStrategy: zlib.Z_DEFAULT_STRATEGY }),
  "pngjs Sub level 2": pngjsWith({ filterType: 1, deflateLevel: 2, deflateStrategy: zlib.Z_DEFAULT_STRATEGY }),
  "pngjs Sub level 3": pngjsWith({ filterType: 1, deflateLevel: 3, deflateStrategy: zlib.Z_DEFAULT_STRATEGY }),
  "pngjs Sub level 6 filtered": pngjsWith({ filterType: 1, deflateLevel: 6, deflateStrategy: zlib.Z_FILTERED }),
  "pngjs Sub level 1 filtered": pngjsWith({ filterType: 1, deflateLevel: 1, deflateStrategy: zlib.Z_FILTERED }),
  "pngjs Sub rle": pngjsWith({ filterType: 1, deflateLevel: 6, deflateStrategy: zlib.Z_RLE }),
  "pngjs Sub huffman only": pngjsWith({ filterType: 1, deflateLevel: 6, deflateStrategy: zlib.Z_HUFFMAN_ONLY }),
  "pngjs Up level 1": pngjsWith({ filterType: 2, deflateLevel: 1, deflateStrategy: zlib.Z_DEFAULT_STRATEGY }),
  "pngjs None level 1": pngjsWith({ filterType: 0, deflateLevel: 1, deflateStrategy: zlib.Z_DEFAULT_STRATEGY }),
  "sharp level 6 adaptive": sharpWith(6, true),
  "sharp level 6": sharpWith(6, false),
  "sharp level 3": sharpWith(3, false),
  "sharp level 2": sharpWith(2, false),
  "sharp level 1": sharpWith(1, false),
  "sharp level 1 adaptive": sharpWith(1, true),
};

async function colourGradeFrames(frames: number, width: number, height: number): Promise<RgbFrame[]> {
  const manifest = await loadManifest(join(BUNDLED_MODELS_DIR, "colour-grade.manifest.json"));
  const session = await InferenceSession.create(join(BUNDLED_MODELS_DIR, manifest.file), { executionProviders: ["cpu"], intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
  const out: RgbFrame[] = [];
  try {
    for (let i = 0; i < frames; i++) {
      const input = frameToTensor(generateFrame(i, width, height, 7), manifest);
      const results = await session.run({ [manifest.inputs[0]!.name]: new Tensor(input.dtype, input.data, input.dims) });
      const t = results[manifest.outputs[0]!.name]!;
      out.push(tensorToFrame({ dtype: "float32", data: t.data as Float32Array, dims: [...t.dims] }, manifest));
    }
  } finally {
    await session.release();
  }
  return out;
}

async function pngEncodeBench(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { frames: { default: "24" }, width: { default: "320" }, height: { default: "180" }, reps: { default: "3" } });
  const frames = await colourGradeFrames(intFlag("frames", f.frames, 1, 1000), intFlag("width", f.width, 16, 3840), intFlag("height", f.height, 16, 2160));
  const reps = intFlag("reps", f.reps, 1, 20);
  sharp.concurrency(1);
  const expected = frames.map((fr) => rgbPixelsSha256(fr));
  const wall: Record<string, number[]> = {};
  const cpu: Record<string, number[]> = {};
  const bytes: Record<string, number> = {};
  // Interleaved: each rep runs every encoder over every frame, so load changes hit all of them alike.
  for (let rep = 0; rep < reps; rep++) {
    for (const [name, encode] of Object.entries(ENCODERS)) {
      let total = 0;
      for (let i = 0; i < frames.length; i++) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const png = await encode(frames[i]!);
        (wall[name] ??= []).push(performance.now() - t0);
        const c = process.cpuUsage(c0);
        (cpu[name] ??= []).push((c.user + c.system) / 1000);
        total += png.length;
        if (rep === 0 && pixelsOf(png).sha256 !== expected[i]) throw new Error(`${name}: frame ${i} does not decode to the pixels it was given`);
      }
      bytes[name] = total / frames.length;
    }
  }
  const base = "current (png-codec: pngjs Sub, level 6)";
  const baseWall = median(wall[base]!);
  const baseBytes = bytes[base]!;
  return {
    benchmark: "onnx-in-farm-png",
    frames: frames.length,
    width: frames[0]!.width,
    height: frames[0]!.height,
    reps,
    lossless: true,
    rawBytesPerFrame: frames[0]!.data.length,
    sampleSha256: createHash("sha256").update(expected.join()).digest("hex").slice(0, 16),
    encoders: Object.keys(ENCODERS).map((name) => ({
      name,
      wallMsPerFrame: round(median(wall[name]!), 2),
      cpuMsPerFrame: round(median(cpu[name]!), 2),
      bytesPerFrame: Math.round(bytes[name]!),
      wallRatioToCurrent: round(median(wall[name]!) / baseWall, 3),
      bytesRatioToCurrent: round(bytes[name]! / baseBytes, 3),
    })),
  };
}

runBench(() => pngEncodeBench(process.argv.slice(2)));
