/**
 * Placeholder substitution for command steps: each placeholder is a whole
 * argument ("{input}", never "-i{input}"; the job spec refuses anything else),
 * so a path with spaces or a leading dash stays one argument, and nothing is
 * ever interpreted by a shell.
 */
export type CommandValues = Partial<Record<
  "input" | "output" | "frame" | "first" | "last" | "seed" | "inputDir" | "outputDir" | "inputPattern" | "outputPattern",
  string
>>;

export function substituteArgs(args: readonly string[], values: CommandValues): string[] {
  return args.map((arg) => {
    const m = /^\{([A-Za-z]+)\}$/.exec(arg);
    if (!m) return arg;
    const v = values[m[1] as keyof CommandValues];
    if (v === undefined) throw new Error(`placeholder ${arg} has no value for this step`);
    return v;
  });
}

/** The file name every frame has in a command's input and output folders. */
export function frameFile(index: number): string {
  return `frame_${String(index).padStart(6, "0")}.png`;
}

/** The same as a printf pattern (ffmpeg's image2 muxer and demuxer). */
export const FRAME_PATTERN = "frame_%06d.png";
