import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { decodePng } from "../../shared/media/png-codec.ts";
import { readPngText } from "../support/comfyui-standin/png-text.ts";
import { ComfyStandin } from "../support/comfyui-standin/standin-server.ts";
import { txt2img } from "../support/comfyui-standin/workflows.ts";

/**
 * The stand-in itself speaks ComfyUI's protocol: message order, answer
 * shapes and status codes, SaveImage's PNG text chunks. The executor tests
 * rely on it, so its behaviour is pinned here against what server.py,
 * execution.py and main.py do.
 */

type Msg = { type: string; data: Record<string, unknown> } | { binary: number; imageType: number };

function openSocket(url: string, clientId: string): Promise<{ ws: WebSocket; msgs: Msg[] }> {
  const ws = new WebSocket(`${url.replace("http", "ws")}/ws?clientId=${clientId}`);
  const msgs: Msg[] = [];
  ws.on("message", (d, isBinary) => {
    const b = d as Buffer;
    msgs.push(isBinary ? { binary: b.readUInt32BE(0), imageType: b.readUInt32BE(4) } : (JSON.parse(b.toString()) as Msg));
  });
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve({ ws, msgs }));
    ws.once("error", reject);
  });
}

async function until<T>(f: () => T | undefined | Promise<T | undefined>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error("timed out");
}

describe("ComfyUI stand-in protocol", () => {
  let s: ComfyStandin;
  before(async () => {
    s = await ComfyStandin.start({ stepMs: 5 });
  });
  after(async () => s.close());

  it("runs a prompt with ComfyUI's message order and writes a PNG carrying the prompt", async () => {
    const { ws, msgs } = await openSocket(s.url, "c1");
    s.holdHistory(true);
    const wf = txt2img({ width: 40, height: 16, steps: 3 });
    const res = await fetch(`${s.url}/prompt`, { method: "POST", body: JSON.stringify({ prompt: wf, client_id: "c1", prompt_id: "p-1", extra_data: { extra_pnginfo: { workflow: { nodes: [] }, nightshift: { job: "j" } } } }) });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { prompt_id: "p-1", number: 0, node_errors: {} });
    // /history/{id} is {} while the prompt runs (and during ComfyUI's gap before history is written)
    await until(() => msgs.find((m) => "type" in m && m.type === "execution_success"));
    assert.deepEqual(await (await fetch(`${s.url}/history/p-1`)).json(), {});
    const q = (await (await fetch(`${s.url}/queue`)).json()) as { queue_running: unknown[][] };
    assert.equal(q.queue_running[0]?.[1], "p-1");
    s.holdHistory(false);
    await until(() => msgs.find((m) => "type" in m && m.type === "executing" && m.data.node === null));
    ws.close();

    const order = msgs.flatMap((m) => ("type" in m ? (m.type === "executing" ? [`executing:${String(m.data.node)}`] : m.type === "progress" ? [`progress:${String(m.data.value)}/${String(m.data.max)}`] : [m.type]) : [`binary:${m.binary}/${m.imageType}`]));
    const first = order.indexOf("execution_start");
    assert.deepEqual(order.slice(0, 1), ["status"]);
    assert.deepEqual(order.slice(first), [
      "execution_start",
      "execution_cached",
      "executing:4",
      "executing:6",
      "executing:7",
      "executing:5",
      "executing:3",
      "progress:1/3",
      "binary:1/2",
      "progress:2/3",
      "binary:1/2",
      "progress:3/3",
      "binary:1/2",
      "executing:8",
      "executing:9",
      "executed",
      "execution_success",
      "status",
      "executing:null",
    ]);

    const h = ((await (await fetch(`${s.url}/history/p-1`)).json()) as Record<string, { outputs: Record<string, { images: Array<{ filename: string; subfolder: string; type: string }> }>; status: { status_str: string; completed: boolean; messages: [string, unknown][] } }>)["p-1"]!;
    assert.equal(h.status.status_str, "success");
    assert.deepEqual(h.status.messages.map((m) => m[0]), ["execution_start", "execution_cached", "execution_success"]);
    const img = h.outputs["9"]!.images[0]!;
    assert.deepEqual(img, { filename: "ComfyUI_00001_.png", subfolder: "", type: "output" });
    const viewed = new Uint8Array(await (await fetch(`${s.url}/view?filename=${img.filename}&subfolder=&type=output`)).arrayBuffer());
    assert.deepEqual(viewed, new Uint8Array(readFileSync(join(s.outputDir, img.filename))));
    const png = decodePng(viewed);
    assert.equal(png.width, 40);
    assert.equal(png.height, 16);
    const text = readPngText(viewed);
    assert.deepEqual([...text.keys()], ["prompt", "workflow", "nightshift"]);
    assert.deepEqual(JSON.parse(text.get("prompt")!), wf);
    assert.match(text.get("prompt")!, /^\{"3": \{"inputs": \{"seed": 156680208700286, /); // json.dumps separators
  });

  it("a second prompt finds its loader cached and numbers its file after the first", async () => {
    const res = await fetch(`${s.url}/prompt`, { method: "POST", body: JSON.stringify({ prompt: txt2img(), prompt_id: "p-2" }) });
    assert.equal(res.status, 200);
    const h = await until(async () => ((await (await fetch(`${s.url}/history/p-2`)).json()) as Record<string, { outputs: Record<string, { images: Array<{ filename: string }> }>; status: { messages: [string, { nodes?: string[] }][] } }>)["p-2"]);
    assert.deepEqual(h.status.messages[1]![1].nodes, ["4"]);
    assert.equal(h.outputs["9"]!.images[0]!.filename, "ComfyUI_00002_.png");
  });

  it("answers a workflow that does not validate with 400, error and node_errors as execution.py shapes them", async () => {
    const wf = txt2img({ steps: 0 });
    wf["4"]!.inputs.ckpt_name = "missing.safetensors";
    const res = await fetch(`${s.url}/prompt`, { method: "POST", body: JSON.stringify({ prompt: wf }) });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { type: string; message: string }; node_errors: Record<string, { class_type: string; errors: Array<{ type: string; message: string; details: string }>; dependent_outputs: string[] }> };
    assert.equal(body.error.type, "prompt_outputs_failed_validation");
    assert.equal(body.node_errors["3"]!.errors[0]!.message, "Value 0 smaller than min of 1");
    assert.equal(body.node_errors["4"]!.errors[0]!.type, "value_not_in_list");
    assert.deepEqual(body.node_errors["3"]!.dependent_outputs, ["9"]);

    const unknown = await fetch(`${s.url}/prompt`, { method: "POST", body: JSON.stringify({ prompt: txt2img({ extraNode: "StandinFilmGrain" }) }) });
    assert.equal(unknown.status, 400);
    assert.deepEqual(await unknown.json(), { error: { type: "invalid_prompt", message: "Cannot execute because node StandinFilmGrain does not exist.", details: "Node ID '#11'", extra_info: {} }, node_errors: {} });
    assert.equal((await fetch(`${s.url}/prompt`, { method: "POST", body: "{}" })).status, 400);
  });

  it("serves /system_stats, /object_info, /view and /upload/image with ComfyUI's codes", async () => {
    const stats = (await (await fetch(`${s.url}/system_stats`)).json()) as { system: { comfyui_version: string }; devices: Array<{ vram_total: number; vram_free: number }> };
    assert.match(stats.system.comfyui_version, /^0\.3\./);
    assert.ok(stats.devices[0]!.vram_total > stats.devices[0]!.vram_free);
    const info = (await (await fetch(`${s.url}/object_info`)).json()) as Record<string, { output_node: boolean; input: { required: Record<string, unknown> } }>;
    assert.equal(info.SaveImage!.output_node, true);
    assert.ok("seed" in info.KSampler!.input.required);
    assert.equal((await fetch(`${s.url}/view?filename=nope.png`)).status, 404);
    assert.equal((await fetch(`${s.url}/view?filename=../x.png`)).status, 400);
    assert.equal((await fetch(`${s.url}/view?filename=a.png&subfolder=../..`)).status, 403);
    assert.equal((await fetch(`${s.url}/nope`)).status, 404);
    const form = new FormData();
    form.set("image", new Blob([new Uint8Array([1, 2, 3])]), "in.png");
    const up = await fetch(`${s.url}/upload/image`, { method: "POST", body: form });
    assert.deepEqual(await up.json(), { name: "in.png", subfolder: "", type: "input" });
    const form2 = new FormData();
    form2.set("image", new Blob([new Uint8Array([4, 5])]), "in.png");
    assert.deepEqual(await (await fetch(`${s.url}/upload/image`, { method: "POST", body: form2 })).json(), { name: "in (1).png", subfolder: "", type: "input" });
    assert.equal((await fetch(`${s.url}/upload/image`, { method: "POST", body: new FormData() })).status, 400);
  });

  it("a restart loses the queue, the history and the running prompt", async () => {
    const slow = await ComfyStandin.start({ stepMs: 50 });
    try {
      await fetch(`${slow.url}/prompt`, { method: "POST", body: JSON.stringify({ prompt: txt2img({ steps: 50 }), prompt_id: "r-1" }) });
      await until(async () => (((await (await fetch(`${slow.url}/queue`)).json()) as { queue_running: unknown[] }).queue_running.length > 0 ? true : undefined));
      await slow.restart();
      // the client's pooled keep-alive socket died with the old process: the first request may fail, as it would against ComfyUI
      await fetch(`${slow.url}/queue`).catch(() => undefined);
      assert.deepEqual(await (await fetch(`${slow.url}/queue`)).json(), { queue_running: [], queue_pending: [] });
      assert.deepEqual(await (await fetch(`${slow.url}/history/r-1`)).json(), {});
    } finally {
      await slow.close();
    }
  });
});
