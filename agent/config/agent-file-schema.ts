import { z } from "zod";
import { badInputFromIssues, specIssuesFromZod } from "../../shared/job-spec/format-issues.ts";
import { AgentKindsConfigSchema } from "./agent-kinds-config.ts";

/**
 * Every key an agent's config file (`nightshift agent --config agent.yaml`) may hold, in one schema, as the
 * coordinator's config does: unknown keys are refused so typos are caught (`keepUploadByte`, `claimnext`),
 * and a wrong type is refused by key. The values are compiled where they always were (sizes and the
 * providers list by their parsers, which name the key; the step kinds with the flags on top); this file only
 * says which keys exist and what type each holds.
 *
 *   coordinator: coordinator-host:7400   # --coordinator: skip mDNS discovery
 *   joinToken: nsj_...                   # --join-token
 *   cacheSize: 20GiB                     # --cache-size (agent/assets/cache-size.ts)
 *   onnxProviders: [webgpu, cpu]         # --onnx-providers, or the text webgpu,cpu
 *   keepUploadBytes: 64MiB               # --keep-upload-bytes (agent-limits.ts)
 *   claimNext: true                      # --no-claim-next
 *   sharedRoot, blender, commands, comfyui   # the step kinds (agent-kinds-config.ts)
 */
export const AgentFileSchema = z.strictObject({
  coordinator: z.string().min(1).optional(),
  joinToken: z.string().min(1).optional(),
  cacheSize: z.union([z.string(), z.number()], { error: "expected a size like '20GiB' or a number of bytes" }).optional(),
  /** Compiled to the text form `--onnx-providers` takes (webgpu,cpu). */
  onnxProviders: z
    .union([z.string(), z.array(z.string())], { error: "expected a list such as [webgpu, cpu] or the text webgpu,cpu" })
    .transform((v) => (Array.isArray(v) ? v.join(",") : v))
    .optional(),
  keepUploadBytes: z.union([z.string(), z.number()], { error: "expected a size like '64MiB' or a number of bytes (0: keep none)" }).optional(),
  claimNext: z.boolean().optional(),
  ...AgentKindsConfigSchema.shape,
});
export type AgentFile = z.output<typeof AgentFileSchema>;

/** The keys the file may hold, for "did you mean" and the docs check. */
export const AGENT_FILE_KEYS: readonly string[] = Object.keys(AgentFileSchema.shape);

/** A config file's mapping checked against the schema; a BadInputError (exit 2) naming the file and each bad key otherwise. */
export function parseAgentFile(raw: Record<string, unknown>, path: string): AgentFile {
  const parsed = AgentFileSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw badInputFromIssues(specIssuesFromZod(parsed.error.issues, raw, AGENT_FILE_KEYS), `agent config ${path}`);
}
