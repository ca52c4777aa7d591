import { accessSync, constants } from "node:fs";
import { isAbsolute } from "node:path";
import { z } from "zod";

/**
 * The programs this agent's admin allows command steps to run, by name. A
 * job names a program; only this file's entries map a name to a path. No
 * shell is ever involved, so a job can choose arguments, never the program.
 */
export const AllowedProgramSchema = z.strictObject({
  /** Absolute path of the executable. */
  path: z.string().refine(isAbsolute, "must be an absolute path"),
  /** Extra environment for the program (PATH, HOME and LANG are passed through; nothing else). */
  env: z.record(z.string(), z.string()).default({}),
  /** Seconds one run may take before it is killed (default one hour). */
  timeoutSeconds: z.number().positive().max(7 * 86_400).default(3600),
});
export type AllowedProgram = z.infer<typeof AllowedProgramSchema>;

export const CommandAllowlistSchema = z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be a program name"), AllowedProgramSchema);
export type CommandAllowlist = z.infer<typeof CommandAllowlistSchema>;

/** Names whose path exists and is executable here: what the agent advertises. */
export function runnablePrograms(list: CommandAllowlist): string[] {
  return Object.entries(list)
    .filter(([, p]) => {
      try {
        accessSync(p.path, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    })
    .map(([name]) => name)
    .sort();
}
