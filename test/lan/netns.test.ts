import assert from "node:assert/strict";
import { execFileSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { Lan, requireRoot, type LanHost } from "./netns.ts";

// Needs root: builds two network namespaces joined by a bridge in a third one.

const ECHO_SERVER = `
const net = require("node:net");
const server = net.createServer((s) => s.on("data", (d) => s.end("pong:" + d)));
server.listen(0, process.argv[1], () => console.log("listening " + server.address().port));
`;

const CLIENT = `
const net = require("node:net");
const s = net.connect({ host: process.argv[1], port: Number(process.argv[2]) });
s.setTimeout(1000);
s.on("connect", () => s.write("ping"));
s.on("data", (d) => { console.log(String(d)); process.exit(0); });
s.on("timeout", () => { console.log("timeout"); process.exit(3); });
s.on("error", (e) => { console.log("error " + e.code); process.exit(4); });
`;

async function firstLine(child: ChildProcess): Promise<string> {
  let buffered = "";
  child.stdout?.setEncoding("utf8");
  while (!buffered.includes("\n")) {
    const [chunk] = (await once(child.stdout!, "data")) as [string];
    buffered += chunk;
  }
  return buffered.split("\n")[0] ?? "";
}

async function connect(lan: Lan, from: LanHost, to: LanHost, port: number) {
  return lan.run(from, process.execPath, ["-e", CLIENT, to.ip, String(port)], 10_000);
}

function ourNamespaces(prefix: string): string[] {
  return execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((name) => name.startsWith(prefix));
}

test("two hosts talk over the bridge, a cut link stops them, restoring it heals, cleanup removes everything", async (t) => {
  if (!requireRoot(t)) return;
  const lan = await Lan.create({ hosts: 2 });
  t.after(() => lan.cleanup());
  const [host1, host2] = lan.hosts as [LanHost, LanHost];
  assert.equal(ourNamespaces(lan.prefix).length, 3, "bridge namespace + two hosts");
  assert.match(host1.ip, /^10\.77\.\d+\.10$/);

  const server = lan.spawn(host1, process.execPath, ["-e", ECHO_SERVER, host1.ip]);
  const port = Number((await firstLine(server)).replace("listening ", ""));
  assert.ok(port > 0);

  const before = await connect(lan, host2, host1, port);
  assert.equal(before.code, 0, `connect before the cut: ${before.stdout}${before.stderr}`);
  assert.equal(before.stdout.trim(), "pong:ping");

  await lan.linkDown(host1);
  const during = await connect(lan, host2, host1, port);
  assert.notEqual(during.code, 0, "a connection across a cut link must fail");

  await lan.linkUp(host1);
  let after = await connect(lan, host2, host1, port);
  for (let attempt = 0; attempt < 5 && after.code !== 0; attempt++) {
    await new Promise((r) => setTimeout(r, 200));
    after = await connect(lan, host2, host1, port);
  }
  assert.equal(after.code, 0, `connect after restoring: ${after.stdout}${after.stderr}`);

  // The host namespaces cannot see the machine's own interfaces.
  const links = await lan.run(host2, "ip", ["-o", "link", "show"]);
  assert.deepEqual(
    links.stdout
      .trim()
      .split("\n")
      .map((l) => l.split(":")[1]?.trim().split("@")[0]),
    ["lo", "eth0"],
  );

  await lan.cleanup();
  assert.deepEqual(ourNamespaces(lan.prefix), []);
  if (server.exitCode === null && server.signalCode === null) await once(server, "exit");
  assert.equal(server.signalCode, "SIGKILL", "cleanup kills what ran in the LAN");
});
