/** The demo's job: procedurally generated frames through the colour-grade model, chunks of 8, then an MP4. */
export function demoJobSpec(frames: number, width = 320, height = 180): Record<string, unknown> {
  return {
    name: "demo",
    seed: 7,
    input: { type: "generated", width, height, frames, fps: 24 },
    steps: [
      { id: "grade", kind: "model", model: "colour-grade" },
      { id: "video", kind: "assemble" },
    ],
    chunking: { mode: "fixed", size: 8 },
    output: { path: "{job}", framePattern: "frame_{frame:06}.png", video: "{name}.mp4" },
  };
}
