/**
 * The demo's job: procedurally generated frames through the colour-grade model
 * (or, with `model`, another model such as the fetched upscaler), chunks of 8,
 * then an MP4.
 */
export function demoJobSpec(frames: number, width = 320, height = 180, model?: { id: string; name: string }): Record<string, unknown> {
  return {
    name: "demo",
    seed: 7,
    input: { type: "generated", width, height, frames, fps: 24 },
    steps: [
      model === undefined ? { id: "grade", kind: "model", model: "colour-grade" } : { id: model.id, kind: "model", model: model.name },
      { id: "video", kind: "assemble" },
    ],
    chunking: { mode: "fixed", size: 8 },
    output: { path: "{job}", framePattern: "frame_{frame:06}.png", video: "{name}.mp4" },
  };
}
