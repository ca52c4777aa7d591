import { isAbsolute } from "node:path";
import { z } from "zod";
import { CommandAllowlistSchema } from "../executors/command/command-allowlist.ts";

/**
 * The part of an agent's config file that says which step kinds beyond
 * `model` this machine offers, compiled once at start:
 *
 *   sharedRoot: /mnt/nas              # where the studio's shared root is mounted here
 *   blender: { path: /usr/bin/blender }   # default: `blender` on PATH, if any
 *   commands:                         # programs command steps may run, by name
 *     ffmpeg-denoise: { path: /usr/bin/ffmpeg }
 *   comfyui: { url: http://127.0.0.1:8188 }
 */
export const AgentKindsConfigSchema = z.object({
  sharedRoot: z.string().refine(isAbsolute, "must be an absolute path").optional(),
  blender: z.strictObject({ path: z.string().min(1).optional(), enabled: z.boolean().default(true) }).optional(),
  commands: CommandAllowlistSchema.default({}),
  comfyui: z.strictObject({ url: z.url() }).optional(),
});
export type AgentKindsConfig = z.infer<typeof AgentKindsConfigSchema>;
