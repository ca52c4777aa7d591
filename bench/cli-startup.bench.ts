/**
 * How long `nightshift --help` takes and how much memory it peaks at: the compiled CLI (dist/, what
 * bin/nightshift.mjs runs) against the same command compiled on the fly through tsx (NIGHTSHIFT_FROM_SOURCE=1,
 * how every start ran before the build step), with `node -e 0` as the floor. Runs interleaved, medians.
 *
 *   node --import tsx bench/cli-startup.bench.ts [--runs 15] [--args "--help"]
 *
 * Builds dist/ first. Prints one JSON object.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { PROJECT_ROOT } from "../cli/paths.ts";
import { median } from "./bench-cli.ts";

const flag = (name: string, fallback: string): string => {
  const at = process.argv.indexOf(name);
  return at > 0 && process.argv[at + 1] !== undefined ? (process.argv[at + 1] as string) : fallback;
};
const runs = Math.max(3, Math.min(100, Number(flag("--runs", "15"))));
const cliArgs = flag("--args", "--help").split(" ").filter((a) => a !== "");

// Each child reports its own peak resident memory and CPU time (user + system, µs) as it exits: CPU time
// hardly moves with the load of a shared machine, where wall time does.
const REPORT_RSS = `data:text/javascript,process.on("exit",()=>{const u=process.resourceUsage();process.stderr.write("maxrss="+u.maxRSS+" cpu="+(u.userCPUTime+u.systemCPUTime)+"\\n")})`;

interface Sample {
  ms: number;
  cpuMs: number;
  rssKiB: number;
}

function once(args: string[], env: NodeJS.ProcessEnv): Sample {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ["--import", REPORT_RSS, ...args], { cwd: PROJECT_ROOT, env, encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return { ms, cpuMs: Number(/cpu=(\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1000, rssKiB: Number(/maxrss=(\d+)/.exec(r.stderr)?.[1] ?? NaN) };
}

const build = spawnSync(process.execPath, [join(PROJECT_ROOT, "scripts/build.mjs")], { stdio: "inherit" });
if (build.status !== 0) process.exit(1);

const bin = join(PROJECT_ROOT, "bin/nightshift.mjs");
const variants = {
  nodeFloor: { args: ["-e", "0"], env: process.env },
  compiled: { args: [bin, ...cliArgs], env: { ...process.env, NIGHTSHIFT_FROM_SOURCE: "" } },
  tsx: { args: [bin, ...cliArgs], env: { ...process.env, NIGHTSHIFT_FROM_SOURCE: "1" } },
};
const samples: Record<string, Sample[]> = { nodeFloor: [], compiled: [], tsx: [] };
for (let i = 0; i < runs; i++) for (const [key, v] of Object.entries(variants)) samples[key]?.push(once(v.args, v.env));

const summary = Object.fromEntries(
  Object.entries(samples).map(([key, xs]) => [
    key,
    { medianMs: Math.round(median(xs.map((x) => x.ms))), medianCpuMs: Math.round(median(xs.map((x) => x.cpuMs))), medianRssMiB: Math.round(median(xs.map((x) => x.rssKiB)) / 1024) },
  ]),
);
type Figures = { medianMs: number; medianCpuMs: number; medianRssMiB: number };
const compiled = summary.compiled as Figures;
const tsx = summary.tsx as Figures;
const floor = summary.nodeFloor as Figures;
const ratio = (a: number, b: number): number => Number((a / b).toFixed(3));
process.stdout.write(
  JSON.stringify(
    {
      command: `nightshift ${cliArgs.join(" ")}`,
      runs,
      node: process.version,
      ...summary,
      // The baseline is `node -e 0` from the same run: the ratio travels between machines, the rest is absolute.
      compiledOverNodeFloor: ratio(compiled.medianMs, floor.medianMs),
      compiledOverNodeFloorCpu: ratio(compiled.medianCpuMs, floor.medianCpuMs),
      compiledAboveFloorMs: compiled.medianMs - floor.medianMs,
      compiledOverTsx: ratio(compiled.medianMs, tsx.medianMs),
      compiledOverTsxCpu: ratio(compiled.medianCpuMs, tsx.medianCpuMs),
    },
    null,
    2,
  ) + "\n",
);
