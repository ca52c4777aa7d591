import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import type { VerifyReport } from "../../coordinator/provenance/verify-frames.ts";
import type { Store } from "../../coordinator/store/store.ts";
import { BadInputError } from "../../shared/errors.ts";
import { EXIT_FAILURE } from "../exit-codes.ts";
import { printJson, withControl } from "./client-options.ts";

interface VerifyFlags {
  ca?: string;
  dataDir?: string;
  json?: boolean;
  rerender?: string;
  sceneTree?: string;
  coordinator?: string;
  adminCredentials?: string;
  timeout: string;
}

/** The studio CA certificate: --ca, else <data-dir>/ca/ca.crt. */
function caPemFrom(flags: VerifyFlags): string {
  const file = flags.ca ?? (flags.dataDir === undefined ? undefined : join(flags.dataDir, "ca", "ca.crt"));
  if (file === undefined) throw new BadInputError("verify needs the studio CA certificate: --ca FILE, or --data-dir DIR of the coordinator", { field: "ca" });
  if (!existsSync(file)) throw new BadInputError(`${file}: no studio CA certificate there`, { field: flags.ca ? "ca" : "dataDir" });
  return readFileSync(file, "utf8");
}

function printHuman(r: VerifyReport): void {
  const out = process.stdout;
  for (const f of r.findings) out.write(`${f.kind.padEnd(8)} ${f.file}: ${f.reason}\n`);
  const against = [r.usedJobManifest ? "manifest.json" : "", r.usedLedger ? "the ledger" : ""].filter(Boolean).join(" and ");
  out.write(`${r.checkedFiles} file(s) checked, ${r.verified.length} verified${against ? ` (also against ${against})` : ""}, ${r.findings.length} problem(s)\n`);
}

export function registerVerify(program: Command): void {
  program
    .command("verify <path>")
    .description("check frames (a folder or one PNG or EXR) against their signed provenance, the job's manifest.json and, with --data-dir, the ledger; with --rerender N, <path> is a done job's id: render N of its frames again on another agent and compare pixels")
    .option("--ca <file>", "the studio CA certificate (default: <data-dir>/ca/ca.crt)")
    .option("--data-dir <dir>", "the coordinator's data dir: its CA and its ledger (frames table)")
    .option("--json", "print the report as JSON")
    .option("--scene-tree <dir>", "also check the files of a Blender job's scene tree in DIR against the sha256 and size its manifest.json lists (<path> is the job folder)")
    .option("--rerender <n>", "re-render N sampled frames of job <path> on agents other than the original and compare pixels")
    .option("--coordinator <host:port>", "with --rerender: coordinator address (default: from --data-dir)")
    .option("--admin-credentials <dir>", "with --rerender: admin certificate folder")
    .option("--timeout <seconds>", "with --rerender: how long to wait for the re-render job", "600")
    .action(async (path: string, flags: VerifyFlags) => {
      if (flags.rerender !== undefined) return verifyByRerender(path, flags);
      // SQLite and the PNG/x509 code load here, not when the CLI starts.
      const [{ verifyPath }, { Store }] = await Promise.all([import("../../coordinator/provenance/verify-frames.ts"), import("../../coordinator/store/store.ts")]);
      const caPem = caPemFrom(flags);
      if (flags.sceneTree !== undefined && !existsSync(flags.sceneTree)) throw new BadInputError(`--scene-tree: ${flags.sceneTree}: no such folder`, { field: "sceneTree" });
      let store: Store | undefined;
      if (flags.dataDir !== undefined) {
        const db = join(flags.dataDir, "nightshift.db");
        if (!existsSync(db)) throw new BadInputError(`--data-dir: no nightshift store at ${db}`, { field: "dataDir" });
        store = Store.open(db);
      }
      try {
        const s = store;
        const report = verifyPath(path, caPem, s === undefined ? undefined : (jobId) => (s.jobs.get(jobId) ? s.frames.listByJob(jobId) : undefined), {
          ...(flags.sceneTree !== undefined ? { sceneTree: flags.sceneTree } : {}),
        });
        if (flags.json) printJson({ ok: report.findings.length === 0, ...report });
        else printHuman(report);
        if (report.findings.length > 0) process.exitCode = EXIT_FAILURE;
      } finally {
        store?.close();
      }
    });
}

async function verifyByRerender(jobId: string, flags: VerifyFlags): Promise<void> {
  const n = Number(flags.rerender);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new BadInputError(`--rerender: '${flags.rerender}' is not a frame count from 1 to 1000`, { field: "rerender" });
  const timeout = Number(flags.timeout);
  if (!(timeout > 0 && timeout <= 86_400)) throw new BadInputError(`--timeout: '${flags.timeout}' is not a number of seconds from 1 to 86400`, { field: "timeout" });
  // The store, the job specs and the pixel comparison load here, not when the CLI starts.
  const { printRerender, rerenderCheck } = await import("./verify-rerender.ts");
  const report = await withControl(flags, (c) =>
    rerenderCheck(c, jobId, n, { ...(flags.dataDir ? { dataDir: flags.dataDir } : {}), timeoutMs: timeout * 1000, onProgress: (line) => flags.json || process.stderr.write(`${line}\n`) }),
  );
  if (flags.json) printJson(report);
  else printRerender(report);
  if (!report.ok) process.exitCode = EXIT_FAILURE;
}
