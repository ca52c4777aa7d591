import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { AGENT_SERVICE_TYPE, COORDINATOR_SERVICE_TYPE } from "../../shared/discovery/discovery.ts";
import { Lan, requireRoot, type LanHost } from "./netns.ts";

// Needs root: mDNS runs only on interfaces inside namespaces this test creates,
// never on the machine's own network.

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const CA = "5682b658c77a469de709bd172348a3912b6060d35b2d6d8752cd139c9b3087fd";

type Line = { event: string; service?: { txt: Record<string, unknown>; port: number; referer?: string }; parsed?: unknown };

/** Collects the child's JSON stdout lines; `next` waits for the first one matching. */
function jsonLines(child: ChildProcess) {
  const lines: Line[] = [];
  let buffered = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    buffered += d;
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    for (const part of parts) if (part.trim() !== "") lines.push(JSON.parse(part) as Line);
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  return {
    lines,
    async next(match: (l: Line) => boolean, timeoutMs: number): Promise<Line> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const found = lines.find(match);
        if (found !== undefined) return found;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no matching line within ${timeoutMs} ms; got ${JSON.stringify(lines)}; stderr ${stderr}`);
    },
  };
}

function node(lan: Lan, host: LanHost, script: string, args: string[]): ChildProcess {
  return lan.spawn(host, process.execPath, ["--import", "tsx", fixture(script), ...args]);
}

test("coordinator and agent adverts cross the LAN with TXT intact; goodbye reaches the browser; an unplugged host sees nothing", async (t) => {
  if (!requireRoot(t)) return;
  const lan = await Lan.create({ hosts: 3 });
  t.after(() => lan.cleanup());
  const [host1, host2, host3] = lan.hosts as [LanHost, LanHost, LanHost];
  await lan.linkDown(host3);

  const coordinator = { grpcPort: 7443, nats: { port: 4222 }, caFingerprint: CA, enrollPort: 7444 };
  const agent = { id: "gpu-box-1", name: "Gpu box: one", port: 7500, gpus: [{ name: "RTX 4090", vramMiB: 24564 }] };
  const coordinatorAdvertiser = node(lan, host1, "mdns-advertise.ts", [host1.ip, "coordinator", JSON.stringify(coordinator)]);
  const advertiser = jsonLines(coordinatorAdvertiser);
  await advertiser.next((l) => l.event === "advertising", 15_000);
  const agentAdvertiser = jsonLines(node(lan, host2, "mdns-advertise.ts", [host2.ip, "agent", JSON.stringify(agent)]));
  await agentAdvertiser.next((l) => l.event === "advertising", 15_000);

  const fromHost2 = jsonLines(node(lan, host2, "mdns-browse.ts", [host2.ip, COORDINATOR_SERVICE_TYPE, "20000"]));
  const fromHost1 = jsonLines(node(lan, host1, "mdns-browse.ts", [host1.ip, AGENT_SERVICE_TYPE, "20000"]));
  const fromHost3 = jsonLines(node(lan, host3, "mdns-browse.ts", [host3.ip, COORDINATOR_SERVICE_TYPE, "3000"]));

  const up = await fromHost2.next((l) => l.event === "up", 15_000);
  assert.deepEqual(up.parsed, { ok: true, value: { version: "1", ...coordinator } });
  assert.equal(up.service?.port, 7443);
  assert.equal(up.service?.referer, host1.ip, "the answer came from host1 over the bridge");

  const agentUp = await fromHost1.next((l) => l.event === "up", 15_000);
  assert.deepEqual(agentUp.parsed, { ok: true, value: { version: "1", ...agent, gpuCount: 1 } });
  assert.equal(agentUp.service?.referer, host2.ip);

  // Goodbye: the coordinator stops cleanly and the browser on host2 hears it.
  assert.ok(coordinatorAdvertiser.pid !== undefined);
  process.kill(coordinatorAdvertiser.pid, "SIGTERM");
  await fromHost2.next((l) => l.event === "down", 10_000);
  if (coordinatorAdvertiser.exitCode === null) await once(coordinatorAdvertiser, "exit");
  assert.equal(coordinatorAdvertiser.exitCode, 0);

  // host3 is unplugged: it browsed the whole time and heard nothing.
  await fromHost3.next((l) => l.event === "browsing", 15_000);
  await new Promise((r) => setTimeout(r, 3500));
  assert.deepEqual(
    fromHost3.lines.filter((l) => l.event !== "browsing"),
    [],
  );
});
