import type { RgbFrame } from "../../../shared/media/rgb-frame.ts";

/**
 * The stand-in's node classes: a small, fake subset of ComfyUI's built-in
 * nodes (nodes.py) with the same names, input specs (INPUT_TYPES), return
 * types and OUTPUT_NODE flags, so that API-format workflows exported from
 * ComfyUI's default text-to-image and image-to-image graphs validate and run
 * here. "Running" makes no diffusion: KSampler counts its steps (sending
 * `progress` and binary previews), VAEDecode paints a pattern chosen by the
 * seed (or inverts the encoded input image), SaveImage writes real PNGs.
 * Tests only, never shipped.
 */

export type InputSpec = readonly [type: string | readonly string[], opts?: Readonly<Record<string, unknown>>];

export interface Latent {
  width: number;
  height: number;
  batch: number;
  seed: number | null;
  source: RgbFrame[] | null;
}

export interface RunContext {
  nodeId: string;
  /** Throws the interrupt when POST /interrupt hit this prompt. */
  checkInterrupt(): void;
  /** One sampler step: waits the configured step time, then sends `progress` and a preview frame. */
  step(value: number, max: number): Promise<void>;
  /** ComfyUI's SaveImage: writes the images with prompt/extra_pnginfo text chunks; returns the ui entries. */
  saveImages(images: RgbFrame[], prefix: string): Promise<Array<{ filename: string; subfolder: string; type: string }>>;
  /** Reads a file from the input folder (LoadImage). */
  loadInput(name: string): Promise<RgbFrame>;
  /** Files in the input folder, for LoadImage's combo. */
  inputFiles(): string[];
  /** Folders in the input folder, for directory loaders' combos (VHS_LoadImages). */
  inputDirs(): string[];
  /** folder_paths.exists_annotated_filepath: a file ("name.png", "sub/name.png", "name.png [input]") exists in the input folder. */
  inputFileExists(name: string): boolean;
  /** The images of one input folder, sorted by name. */
  inputFolderFiles(dir: string): string[];
  /** Fault control: throw an execution error from this node. */
  injectedError(): string | null;
}

/** What a node's input spec and VALIDATE_INPUTS may look at: the input folder's files and folders. */
export type InputListing = Pick<RunContext, "inputFiles" | "inputDirs" | "inputFileExists">;

export interface NodeResult {
  outputs: unknown[];
  ui?: Record<string, unknown>;
}

export interface NodeClass {
  name: string;
  category: string;
  input(ctx: InputListing): { required: Record<string, InputSpec>; optional?: Record<string, InputSpec>; hidden?: Record<string, string> };
  output: readonly string[];
  outputName?: readonly string[];
  outputNode: boolean;
  /** VALIDATE_INPUTS: names it checks itself (then the combo check is skipped for them), and its answer. */
  validate?: { inputs: readonly string[]; check(values: Record<string, unknown>, ctx: InputListing): true | string };
  run(inputs: Record<string, unknown>, ctx: RunContext): Promise<NodeResult>;
}

const SAMPLERS = ["euler", "euler_ancestral", "dpmpp_2m", "dpmpp_2m_sde", "uni_pc"] as const;
const SCHEDULERS = ["normal", "karras", "exponential", "sgm_uniform", "simple"] as const;
export const STANDIN_CHECKPOINTS = ["standin-sd15.safetensors", "standin-sdxl.safetensors"] as const;
const MAX_RES = 16384;

/** splitmix32: a colour per seed that differs visibly between neighbouring seeds. */
function mix(seed: number): number {
  let z = (seed >>> 0) + 0x9e3779b9;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** What VAEDecode paints for a generated latent: a seed colour with a diagonal ramp, so frames are real, distinct images. */
export function seedPattern(width: number, height: number, seed: number): RgbFrame {
  const c = mix(seed);
  const data = new Uint8Array(width * height * 3);
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i += 3) {
      const ramp = (x + y) & 63;
      data[i] = ((c & 0xff) + ramp) & 0xff;
      data[i + 1] = (((c >>> 8) & 0xff) + ramp) & 0xff;
      data[i + 2] = ((c >>> 16) & 0xff) ^ ramp;
    }
  }
  return { width, height, data };
}

/** What VAEDecode paints for an encoded image: its inverse (so a test sees the input frame was used). */
export function invert(frame: RgbFrame): RgbFrame {
  return { width: frame.width, height: frame.height, data: frame.data.map((v) => 255 - v) };
}

const token = (kind: string, name: string) => ({ kind, name });

export const STANDIN_NODES: readonly NodeClass[] = [
  {
    name: "CheckpointLoaderSimple",
    category: "loaders",
    input: () => ({ required: { ckpt_name: [STANDIN_CHECKPOINTS] } }),
    output: ["MODEL", "CLIP", "VAE"],
    outputNode: false,
    run: async (i) => ({ outputs: [token("MODEL", String(i.ckpt_name)), token("CLIP", String(i.ckpt_name)), token("VAE", String(i.ckpt_name))] }),
  },
  {
    name: "CLIPTextEncode",
    category: "conditioning",
    input: () => ({ required: { text: ["STRING", { multiline: true, dynamicPrompts: true }], clip: ["CLIP"] } }),
    output: ["CONDITIONING"],
    outputNode: false,
    run: async (i) => ({ outputs: [{ text: String(i.text) }] }),
  },
  {
    name: "EmptyLatentImage",
    category: "latent",
    input: () => ({
      required: {
        width: ["INT", { default: 512, min: 16, max: MAX_RES, step: 8 }],
        height: ["INT", { default: 512, min: 16, max: MAX_RES, step: 8 }],
        batch_size: ["INT", { default: 1, min: 1, max: 4096 }],
      },
    }),
    output: ["LATENT"],
    outputNode: false,
    run: async (i) => ({ outputs: [{ width: Number(i.width), height: Number(i.height), batch: Number(i.batch_size), seed: null, source: null } satisfies Latent] }),
  },
  {
    name: "KSampler",
    category: "sampling",
    input: () => ({
      required: {
        model: ["MODEL"],
        seed: ["INT", { default: 0, min: 0, max: 0xffffffffffffffff, control_after_generate: true }],
        steps: ["INT", { default: 20, min: 1, max: 10000 }],
        cfg: ["FLOAT", { default: 8.0, min: 0.0, max: 100.0, step: 0.1, round: 0.01 }],
        sampler_name: [SAMPLERS],
        scheduler: [SCHEDULERS],
        positive: ["CONDITIONING"],
        negative: ["CONDITIONING"],
        latent_image: ["LATENT"],
        denoise: ["FLOAT", { default: 1.0, min: 0.0, max: 1.0, step: 0.01 }],
      },
    }),
    output: ["LATENT"],
    outputNode: false,
    run: async (i, ctx) => {
      const steps = Number(i.steps);
      for (let s = 1; s <= steps; s++) {
        ctx.checkInterrupt();
        const injected = ctx.injectedError();
        if (injected !== null) throw new Error(injected);
        await ctx.step(s, steps);
      }
      const latent = i.latent_image as Latent;
      return { outputs: [{ ...latent, seed: Number(i.seed) } satisfies Latent] };
    },
  },
  {
    name: "VAEDecode",
    category: "latent",
    input: () => ({ required: { samples: ["LATENT"], vae: ["VAE"] } }),
    output: ["IMAGE"],
    outputNode: false,
    run: async (i) => {
      const l = i.samples as Latent;
      const images: RgbFrame[] = [];
      for (let b = 0; b < l.batch; b++) {
        const src = l.source?.[b % l.source.length];
        images.push(src !== undefined ? invert(src) : seedPattern(l.width, l.height, (l.seed ?? 0) + b));
      }
      return { outputs: [images] };
    },
  },
  {
    name: "VAEEncode",
    category: "latent",
    input: () => ({ required: { pixels: ["IMAGE"], vae: ["VAE"] } }),
    output: ["LATENT"],
    outputNode: false,
    run: async (i) => {
      const images = i.pixels as RgbFrame[];
      const first = images[0]!;
      return { outputs: [{ width: first.width, height: first.height, batch: images.length, seed: null, source: images } satisfies Latent] };
    },
  },
  {
    name: "LoadImage",
    category: "image",
    input: (ctx) => ({ required: { image: [ctx.inputFiles().sort(), { image_upload: true }] } }),
    output: ["IMAGE", "MASK"],
    outputNode: false,
    validate: {
      inputs: ["image"],
      // nodes.py LoadImage.VALIDATE_INPUTS: the file exists (a subfolder's too, such as an upload's), not only the combo's top-level files.
      check: (v, ctx) => (ctx.inputFileExists(String(v.image)) ? true : `Invalid image file: ${String(v.image)}`),
    },
    run: async (i, ctx) => {
      const frame = await ctx.loadInput(String(i.image));
      return { outputs: [[frame], { width: frame.width, height: frame.height }] };
    },
  },
  {
    name: "RepeatImageBatch",
    category: "image/batch",
    input: () => ({ required: { image: ["IMAGE"], amount: ["INT", { default: 1, min: 1, max: 4096 }] } }),
    output: ["IMAGE"],
    outputNode: false,
    run: async (i) => {
      const images = i.image as RgbFrame[];
      return { outputs: [Array.from({ length: Number(i.amount) }, (_, k) => images[k % images.length]!)] };
    },
  },
  {
    name: "SaveImage",
    category: "image",
    input: () => ({
      required: { images: ["IMAGE"], filename_prefix: ["STRING", { default: "ComfyUI" }] },
      hidden: { prompt: "PROMPT", extra_pnginfo: "EXTRA_PNGINFO" },
    }),
    output: [],
    outputNode: true,
    run: async (i, ctx) => ({ outputs: [], ui: { images: await ctx.saveImages(i.images as RgbFrame[], String(i.filename_prefix)) } }),
  },
];

/**
 * VideoHelperSuite's "Load Images (Upload)" (Kosinkadink/ComfyUI-VideoHelperSuite, VHS_LoadImages), as a
 * custom node pack adds it: `directory` is a folder of ComfyUI's input folder (a combo of its folders),
 * whose images load sorted by name as one batch (image_load_cap 0 = all, skip_first_images,
 * select_every_nth); outputs IMAGE, MASK, frame count.
 */
const VHS_LOAD_IMAGES: NodeClass = {
  name: "VHS_LoadImages",
  category: "Video Helper Suite 🎥🅥🅗🅢",
  input: (ctx) => ({
    required: { directory: [ctx.inputDirs().sort()] },
    optional: {
      image_load_cap: ["INT", { default: 0, min: 0, max: 100000, step: 1 }],
      skip_first_images: ["INT", { default: 0, min: 0, max: 100000, step: 1 }],
      select_every_nth: ["INT", { default: 1, min: 1, max: 100000, step: 1 }],
    },
  }),
  output: ["IMAGE", "MASK", "INT"],
  outputName: ["IMAGE", "MASK", "frame_count"],
  outputNode: false,
  run: async (i, ctx) => {
    const skip = Number(i.skip_first_images ?? 0);
    const nth = Number(i.select_every_nth ?? 1);
    const cap = Number(i.image_load_cap ?? 0);
    let names = ctx.inputFolderFiles(String(i.directory)).slice(skip).filter((_, k) => k % nth === 0);
    if (cap > 0) names = names.slice(0, cap);
    if (names.length === 0) throw new Error(`No files in directory '${String(i.directory)}'.`);
    const frames = await Promise.all(names.map((n) => ctx.loadInput(`${String(i.directory)}/${n}`)));
    return { outputs: [frames, null, frames.length] };
  },
};

/** Custom nodes (as custom_nodes/ packages would add), installed only on stand-ins started with them. */
export const STANDIN_CUSTOM_NODES: readonly NodeClass[] = [
  {
    name: "StandinFilmGrain",
    category: "standin/custom",
    input: () => ({ required: { images: ["IMAGE"], strength: ["FLOAT", { default: 0.1, min: 0, max: 1 }] } }),
    output: ["IMAGE"],
    outputNode: false,
    run: async (i) => ({ outputs: [(i.images as RgbFrame[]).map((f) => ({ ...f, data: f.data.map((v, k) => (v ^ (k & 3)) & 0xff) }))] }),
  },
  VHS_LOAD_IMAGES,
];

/** GET /object_info's entry for one class, shaped as server.py's node_info(). */
export function nodeInfo(n: NodeClass, ctx: InputListing): Record<string, unknown> {
  const input = n.input(ctx);
  return {
    input,
    input_order: Object.fromEntries(Object.entries(input).map(([k, v]) => [k, Object.keys(v as object)])),
    output: n.output,
    output_is_list: n.output.map(() => false),
    output_name: n.outputName ?? n.output,
    name: n.name,
    display_name: n.name,
    description: "",
    python_module: n.category.startsWith("standin/") ? "custom_nodes.standin" : "nodes",
    category: n.category,
    output_node: n.outputNode,
  };
}
