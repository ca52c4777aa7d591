import type { Command } from "commander";
import type { FarmReport } from "../../coordinator/report/report-types.ts";
import { BUNDLED_MODELS_DIR } from "../paths.ts";
import { reportCsv, reportText } from "../format/report-text.ts";
import { printJson, withControl } from "./client-options.ts";

interface ReportFlags {
  coordinator?: string;
  dataDir?: string;
  config?: string;
  json?: boolean;
  csv?: boolean;
  adminCredentials?: string;
}

export function registerReport(program: Command): void {
  program
    .command("report [job]")
    .description("what a job (or the night) cost: frames, seconds, energy, memory, money")
    .option("--coordinator <host:port>", "ask a running coordinator")
    .option("--data-dir <dir>", "read a coordinator's data dir directly (works when it is stopped)")
    .option("--config <file>", "coordinator config (for the tariff) when reading --data-dir")
    .option("--json", "print JSON")
    .option("--csv", "print CSV")
    .option("--admin-credentials <dir>", "admin certificate folder (a copy of the coordinator's <data-dir>/admin)")
    .action(async (job: string | undefined, flags: ReportFlags) => {
      let report: FarmReport;
      if (flags.dataDir && !flags.coordinator) {
        const [{ readConfigFile }, { compileCoordinatorConfig }, { offlineReport }] = await Promise.all([
          import("../config-file.ts"),
          import("../../coordinator/config/coordinator-config.ts"),
          import("../../coordinator/report/offline-report.ts"),
        ]);
        const file = flags.config ? readConfigFile(flags.config) : {};
        const config = compileCoordinatorConfig({ ...file, dataDir: flags.dataDir }, BUNDLED_MODELS_DIR);
        report = offlineReport(config.dataDir, job, { compiled: config.tariff, label: config.tariffLabel });
      } else {
        report = await withControl(flags, async (c) => JSON.parse((await c.report(job ?? "")).reportJson) as FarmReport);
      }
      if (flags.json) printJson(report);
      else if (flags.csv) process.stdout.write(reportCsv(report));
      else process.stdout.write(reportText(report));
    });
}
