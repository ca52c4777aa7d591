import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { ModelPart } from "../../proto/gen/nightshift/v1/model_store.ts";
import { allocEncodedPart, decodeModelPart, encodeModelPart, MAX_PART_OVERHEAD } from "../../shared/assets/asset-part-codec.ts";
import { PartBufferPool } from "../../coordinator/assets/part-buffer-pool.ts";

const generated = (m: ModelPart): Buffer => Buffer.from(ModelPart.encode(m).finish());

test("an asset part round-trips both ways with the generated codec: same bytes on the wire, data intact", () => {
  for (const [n, offset] of [[1, 0], [127, 5], [128, 2 ** 40], [16_384, 1_048_576], [4 * 1_048_576 + 3, 2 ** 52]] as const) {
    const part: ModelPart = { data: randomBytes(n), offset, totalSize: offset + n };
    const ours = encodeModelPart(part);
    assert.ok(ours.equals(generated(part)), `identical encoding (${n} bytes at ${offset})`);
    assert.deepEqual(ModelPart.decode(ours), part, "the generated decoder reads ours");
    assert.deepEqual(decodeModelPart(generated(part)), part, "ours reads the generated encoding");
  }
});

test("a part laid out before its bytes are read in encodes as the generated codec would", () => {
  for (const [n, offset] of [[1, 0], [300, 12], [1_048_576, 2 ** 33]] as const) {
    const bytes = randomBytes(n);
    const { part, data } = allocEncodedPart(offset, offset + n, n);
    assert.equal(data.length, n);
    data.set(bytes);
    assert.ok(encodeModelPart(part).equals(generated({ data: bytes, offset, totalSize: offset + n })), `${n} bytes at ${offset}`);
  }
});

test("a part laid out in a reused buffer of the largest part's size encodes as the generated codec would, in that buffer", () => {
  const pool = new PartBufferPool(1_048_576 + MAX_PART_OVERHEAD, 1);
  // The worst case first (the longest offset and size varints), then a short last part in the same buffer.
  for (const [n, offset, totalSize] of [[1_048_576, Number.MAX_SAFE_INTEGER - 1_048_576, Number.MAX_SAFE_INTEGER], [300, 2 ** 20, 2 ** 20 + 300]] as const) {
    const backing = pool.take();
    const bytes = randomBytes(n);
    const { part, data } = allocEncodedPart(offset, totalSize, n, backing);
    assert.equal(data.buffer, backing.buffer, "laid out in the pool's buffer");
    data.set(bytes);
    assert.ok(encodeModelPart(part).equals(generated({ data: bytes, offset, totalSize })), `${n} bytes at ${offset}`);
    pool.give(backing);
    assert.equal(pool.take(), backing, "a buffer given back is the next one taken");
    pool.give(backing);
  }
  assert.throws(() => allocEncodedPart(0, 2_000_000, 1_048_576 + MAX_PART_OVERHEAD, pool.take()), RangeError, "a part larger than its buffer");
});

test("the decoded data is a view into the received message, not a copy", () => {
  const wire = encodeModelPart({ data: randomBytes(1000), offset: 0, totalSize: 1000 });
  assert.equal(decodeModelPart(wire).data.buffer, wire.buffer);
});

test("an empty part, an unknown field and a malformed buffer go through the generated codec", () => {
  const empty: ModelPart = { data: Buffer.alloc(0), offset: 7, totalSize: 7 };
  assert.deepEqual(decodeModelPart(encodeModelPart(empty)), empty);
  const part: ModelPart = { data: randomBytes(300), offset: 3, totalSize: 303 };
  const withUnknown = Buffer.concat([encodeModelPart(part), new BinaryWriter().uint32((9 << 3) | 0).uint32(1).finish()]);
  assert.deepEqual(decodeModelPart(withUnknown), part, "an unknown field is skipped, as protobuf says");
  const truncated = encodeModelPart(part).subarray(0, 100);
  assert.throws(() => decodeModelPart(truncated), "a truncated part is an error, not a short part");
});
