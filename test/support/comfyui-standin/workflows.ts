/**
 * API-format workflows for the comfyui tests, shaped as ComfyUI's "Export
 * (API)" writes its default text-to-image graph ({node id: {inputs,
 * class_type, _meta}}), plus an image-to-image variant with LoadImage.
 */

export type ApiWorkflow = Record<string, { class_type: string; inputs: Record<string, unknown>; _meta?: { title: string } }>;

export function txt2img(o: { width?: number; height?: number; steps?: number; batch?: number; extraNode?: string } = {}): ApiWorkflow {
  const wf: ApiWorkflow = {
    "3": { inputs: { seed: 156680208700286, steps: o.steps ?? 4, cfg: 8, sampler_name: "euler", scheduler: "normal", denoise: 1, model: ["4", 0], positive: ["6", 0], negative: ["7", 0], latent_image: ["5", 0] }, class_type: "KSampler", _meta: { title: "KSampler" } },
    "4": { inputs: { ckpt_name: "standin-sd15.safetensors" }, class_type: "CheckpointLoaderSimple", _meta: { title: "Load Checkpoint" } },
    "5": { inputs: { width: o.width ?? 32, height: o.height ?? 24, batch_size: o.batch ?? 1 }, class_type: "EmptyLatentImage", _meta: { title: "Empty Latent Image" } },
    "6": { inputs: { text: "a product shot of a teapot, studio light", clip: ["4", 1] }, class_type: "CLIPTextEncode", _meta: { title: "CLIP Text Encode (Prompt)" } },
    "7": { inputs: { text: "blurry, text, watermark", clip: ["4", 1] }, class_type: "CLIPTextEncode", _meta: { title: "CLIP Text Encode (Prompt)" } },
    "8": { inputs: { samples: ["3", 0], vae: ["4", 2] }, class_type: "VAEDecode", _meta: { title: "VAE Decode" } },
    "9": { inputs: { filename_prefix: "ComfyUI", images: ["8", 0] }, class_type: "SaveImage", _meta: { title: "Save Image" } },
  };
  if (o.extraNode !== undefined) {
    wf["11"] = { inputs: { images: ["8", 0], strength: 0.2 }, class_type: o.extraNode };
    wf["9"]!.inputs.images = ["11", 0];
  }
  return wf;
}

export function img2img(o: { steps?: number } = {}): ApiWorkflow {
  const wf = txt2img(o);
  delete wf["5"];
  wf["10"] = { inputs: { image: "example.png", upload: "image" }, class_type: "LoadImage", _meta: { title: "Load Image" } };
  wf["12"] = { inputs: { pixels: ["10", 0], vae: ["4", 2] }, class_type: "VAEEncode", _meta: { title: "VAE Encode" } };
  wf["3"]!.inputs.latent_image = ["12", 0];
  wf["3"]!.inputs.denoise = 0.6;
  return wf;
}

/**
 * img2img over a folder of frames: VideoHelperSuite's VHS_LoadImages (a custom node: stand-ins started
 * with customNodes) loads every image of an input folder as one batch; one prompt remakes them all.
 */
export function vid2vid(o: { steps?: number } = {}): ApiWorkflow {
  const wf = img2img(o);
  wf["10"] = { inputs: { directory: "", image_load_cap: 0, skip_first_images: 0, select_every_nth: 1 }, class_type: "VHS_LoadImages", _meta: { title: "Load Images (Upload) 🎥🅥🅗🅢" } };
  return wf;
}

/** img2vid as Stable Video Diffusion starts: one LoadImage frame, repeated into a batch of `frames` (RepeatImageBatch). */
export function img2batch(frames: number, o: { steps?: number } = {}): ApiWorkflow {
  const wf = img2img(o);
  wf["13"] = { inputs: { image: ["10", 0], amount: frames }, class_type: "RepeatImageBatch", _meta: { title: "RepeatImageBatch" } };
  wf["12"]!.inputs.pixels = ["13", 0];
  return wf;
}

export const TXT2IMG_BIND = { seed: { node: "3", input: "seed" }, image: null, prefix: { node: "9", input: "filename_prefix" } } as const;
export const IMG2IMG_BIND = { ...TXT2IMG_BIND, image: { node: "10", input: "image" } } as const;
/** vid2vid's binding: the chunk's frames folder goes to VHS_LoadImages' `directory`. */
export const VID2VID_BIND = { ...TXT2IMG_BIND, image: { node: "10", input: "directory" } } as const;
