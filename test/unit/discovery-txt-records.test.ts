import assert from "node:assert/strict";
import { test } from "node:test";
import DnsTxt from "bonjour-service/dist/lib/dns-txt.js";
import {
  encodeAgentTxt,
  encodeCoordinatorTxt,
  encodeGpuList,
  parseAgentTxt,
  parseCoordinatorTxt,
  parseGpuList,
} from "../../shared/discovery/txt-records.ts";
import { BadInputError } from "../../shared/errors.ts";

const CA = "ab".repeat(32);

/** What a browser would see: encoded with bonjour-service's own TXT codec and decoded again. */
function overTheWire(record: Readonly<Record<string, string>>): Record<string, unknown> {
  const codec = new DnsTxt.default();
  return codec.decodeAll(codec.encode(record)) as Record<string, unknown>;
}

test("coordinator TXT: exact keys, and it survives bonjour-service's TXT codec", () => {
  const txt = encodeCoordinatorTxt({ grpcPort: 7443, nats: { port: 4222 }, caFingerprint: CA.toUpperCase(), enrollPort: 7444 });
  assert.deepEqual(txt, { role: "coordinator", v: "1", grpc: "7443", nats: "4222", ca: CA, enroll: "7444" });
  assert.deepEqual(parseCoordinatorTxt(overTheWire(txt)), {
    ok: true,
    value: { version: "1", grpcPort: 7443, nats: { port: 4222 }, caFingerprint: CA, enrollPort: 7444 },
  });
  const external = encodeCoordinatorTxt({ grpcPort: 1, nats: { url: "tls://nats.studio.lan:4222" }, caFingerprint: CA });
  assert.deepEqual(parseCoordinatorTxt(overTheWire(external)), {
    ok: true,
    value: { version: "1", grpcPort: 1, nats: { url: "tls://nats.studio.lan:4222" }, caFingerprint: CA },
  });
});

test("coordinator TXT from a stranger is refused with a reason, never thrown", () => {
  const good = { role: "coordinator", v: "1", grpc: "7443", nats: "4222", ca: CA };
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...good, role: "agent" }, /role/],
    [{ ...good, role: undefined }, /role/],
    [{ ...good, v: undefined }, /version/],
    [{ ...good, grpc: "0" }, /grpc/],
    [{ ...good, grpc: "65536" }, /grpc/],
    [{ ...good, grpc: "7443x" }, /grpc/],
    [{ ...good, nats: "http://evil" }, /nats/],
    [{ ...good, nats: "99999" }, /nats/],
    [{ ...good, ca: "ab" }, /ca/],
    [{ ...good, ca: "zz".repeat(32) }, /ca/],
    [{ ...good, enroll: "-1" }, /enroll/],
    [{}, /role/],
  ];
  for (const [txt, reason] of cases) {
    const result = parseCoordinatorTxt(txt);
    assert.equal(result.ok, false, JSON.stringify(txt));
    assert.match(!result.ok ? result.reason : "", reason);
  }
});

test("agent TXT: GPUs as name:MiB, escaped separators, round trip over the wire", () => {
  const gpus = [
    { name: "RTX 4090", vramMiB: 24564 },
    { name: "Odd;name:with%signs", vramMiB: 8192 },
  ];
  const txt = encodeAgentTxt({ id: "gpu-box-1", name: "Gpu box: one", port: 7500, gpus });
  assert.equal(txt["gpus"], "RTX 4090:24564;Odd%3Bname%3Awith%25signs:8192");
  assert.equal(txt["ngpu"], "2");
  assert.deepEqual(parseAgentTxt(overTheWire(txt)), {
    ok: true,
    value: { version: "1", id: "gpu-box-1", name: "Gpu box: one", port: 7500, gpus, gpuCount: 2 },
  });
  const noGpu = encodeAgentTxt({ id: "cpu-only", name: "cpu", port: 7501, gpus: [] });
  assert.equal(noGpu["gpus"], undefined, "no empty values (bonjour-service would drop the key anyway)");
  assert.deepEqual(parseAgentTxt(overTheWire(noGpu)), {
    ok: true,
    value: { version: "1", id: "cpu-only", name: "cpu", port: 7501, gpus: [], gpuCount: 0 },
  });
  assert.throws(() => encodeAgentTxt({ id: "bad id", name: "x", port: 1, gpus: [] }), BadInputError);
});

test("many GPUs: the list is cut at a GPU boundary to fit one 255-byte TXT string; ngpu keeps the true count", () => {
  const gpus = Array.from({ length: 40 }, (_, i) => ({ name: `NVIDIA GeForce RTX 3090 #${i}`, vramMiB: 24576 }));
  const txt = encodeAgentTxt({ id: "farm", name: "n".repeat(400), port: 9, gpus });
  for (const [key, value] of Object.entries(txt)) assert.ok(Buffer.byteLength(`${key}=${value}`) <= 255, key);
  const parsed = parseAgentTxt(overTheWire(txt));
  assert.ok(parsed.ok);
  assert.equal(parsed.value.gpuCount, 40);
  assert.ok(parsed.value.gpus.length > 0 && parsed.value.gpus.length < 40);
  assert.deepEqual(parsed.value.gpus, gpus.slice(0, parsed.value.gpus.length));
  assert.equal(parsed.value.name, "n".repeat(250));
});

test("GPU list parsing refuses garbage", () => {
  assert.deepEqual(parseGpuList(""), []);
  assert.deepEqual(parseGpuList("A:1"), [{ name: "A", vramMiB: 1 }]);
  for (const bad of ["A", ":12", "A:", "A:x", "A:1;", "A:-1", "%ZZ:1"]) assert.equal(parseGpuList(bad), undefined, bad);
  assert.equal(encodeGpuList([{ name: "A", vramMiB: 1 }], 2), "", "nothing fits");
});

test("agent TXT from a stranger is refused with a reason", () => {
  const good = { role: "agent", v: "1", id: "a1", name: "A", port: "7500", gpus: "X:1" };
  assert.equal(parseAgentTxt(good).ok, true);
  for (const [txt, reason] of [
    [{ ...good, role: "coordinator" }, /role/],
    [{ ...good, id: "../etc" }, /id/],
    [{ ...good, id: undefined }, /id/],
    [{ ...good, port: "x" }, /port/],
    [{ ...good, gpus: "nonsense" }, /gpus/],
  ] as Array<[Record<string, unknown>, RegExp]>) {
    const result = parseAgentTxt(txt);
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.reason : "", reason);
  }
});
