import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { verifyPath, type VerifyReport } from "../../coordinator/provenance/verify-frames.ts";
import { Store } from "../../coordinator/store/store.ts";
import { BadInputError } from "../../shared/errors.ts";
import { EXIT_FAILURE } from "../exit-codes.ts";
import { printJson } from "./client-options.ts";

interface VerifyFlags {
  ca?: string;
  dataDir?: string;
  json?: boolean;
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
    .description("check frames (a folder or one PNG) against their signed provenance, the job's manifest.json and, with --data-dir, the ledger")
    .option("--ca <file>", "the studio CA certificate (default: <data-dir>/ca/ca.crt)")
    .option("--data-dir <dir>", "the coordinator's data dir: its CA and its ledger (frames table)")
    .option("--json", "print the report as JSON")
    .action((path: string, flags: VerifyFlags) => {
      const caPem = caPemFrom(flags);
      let store: Store | undefined;
      if (flags.dataDir !== undefined) {
        const db = join(flags.dataDir, "nightshift.db");
        if (!existsSync(db)) throw new BadInputError(`--data-dir: no nightshift store at ${db}`, { field: "dataDir" });
        store = Store.open(db);
      }
      try {
        const s = store;
        const report = verifyPath(path, caPem, s === undefined ? undefined : (jobId) => (s.jobs.get(jobId) ? s.frames.listByJob(jobId) : undefined));
        if (flags.json) printJson({ ok: report.findings.length === 0, ...report });
        else printHuman(report);
        if (report.findings.length > 0) process.exitCode = EXIT_FAILURE;
      } finally {
        store?.close();
      }
    });
}
