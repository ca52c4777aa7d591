/**
 * Why this file exists: the generated codec for ModelStore.Fetch copies every
 * part's bytes several times (the writer's buffer grown by doubling from 1 KiB,
 * finish, Buffer.from on the way out; Buffer.from again on the way in), and at
 * 1 MiB parts those short-lived buffers were the largest share of a transfer's
 * garbage collection. This codec writes a part with one copy of its data and
 * reads it as a view into the received message (which grpc-js keeps nothing
 * else of). The store goes one step further: it reads the file's bytes
 * straight into a part laid out by `allocEncodedPart`, so a part served from
 * disk is never copied before grpc-js frames it. The bytes on the wire are plain protobuf either way (fields in
 * order 1, 2, 3); anything unusual on the wire goes through the generated
 * decoder.
 */
import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import { makeGenericClientConstructor, type ChannelCredentials, type ClientOptions } from "@grpc/grpc-js";
import { ModelPart, ModelStoreService, type ModelStoreClient } from "../../proto/gen/nightshift/v1/model_store.ts";

const DATA_FIELD_TAG = 10; // ModelPart.data, length-delimited
const OFFSET_FIELD_TAG = 16; // ModelPart.offset, varint
const TOTAL_SIZE_FIELD_TAG = 24; // ModelPart.total_size, varint
const NO_BYTES = Buffer.alloc(0);

/** A part already in its wire form; the serializer sends it as it is. */
export class EncodedModelPart {
  constructor(readonly wire: Buffer) {}
}

/** The most bytes a part's encoding adds to its data: the data field's tag and length, the offset and total size fields. */
export const MAX_PART_OVERHEAD = 1 + 5 + (1 + 10) * 2;

/**
 * A part of `length` data bytes at `offset` of an asset of `totalSize`, encoded
 * but for its data: `data` is the view into `part` where those bytes go. With
 * `backing` (at least `length + MAX_PART_OVERHEAD` bytes, owned by the caller
 * until the part is written), the part is laid out in it instead of a new buffer.
 */
export function allocEncodedPart(offset: number, totalSize: number, length: number, backing?: Buffer): { part: EncodedModelPart; data: Buffer } {
  const head = new BinaryWriter().uint32(DATA_FIELD_TAG).uint32(length).finish();
  const tail = ModelPart.encode({ data: NO_BYTES, offset, totalSize }).finish();
  const bytes = head.length + length + tail.length;
  if (backing !== undefined && backing.length < bytes) throw new RangeError(`part of ${bytes} bytes does not fit its ${backing.length}-byte buffer`);
  const wire = backing === undefined ? Buffer.allocUnsafe(bytes) : backing.subarray(0, bytes);
  wire.set(head, 0);
  wire.set(tail, head.length + length);
  return { part: new EncodedModelPart(wire), data: wire.subarray(head.length, head.length + length) };
}

export function encodeModelPart(m: ModelPart | EncodedModelPart): Buffer {
  if (m instanceof EncodedModelPart) return m.wire;
  if (m.data.length === 0) return Buffer.from(ModelPart.encode(m).finish());
  const { part, data } = allocEncodedPart(m.offset, m.totalSize, m.data.length);
  data.set(m.data);
  return part.wire;
}

/** A part with only the three known fields, `data` as a view; null for anything else. */
function decodeKnownFields(buf: Buffer): ModelPart | null {
  const r = new BinaryReader(buf);
  const part: ModelPart = { data: NO_BYTES, offset: 0, totalSize: 0 };
  while (r.pos < buf.length) {
    const tag = r.uint32();
    if (tag === DATA_FIELD_TAG) {
      const n = r.uint32();
      if (r.pos + n > buf.length) return null;
      part.data = buf.subarray(r.pos, r.pos + n);
      r.pos += n;
    } else if (tag === OFFSET_FIELD_TAG) part.offset = safeNumber(r.uint64());
    else if (tag === TOTAL_SIZE_FIELD_TAG) part.totalSize = safeNumber(r.uint64());
    else return null; // unknown or unexpected: let the generated codec decide
  }
  return part;
}

function safeNumber(v: bigint | string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`asset part field ${String(v)} is past 2^53`);
  return n;
}

export function decodeModelPart(buf: Buffer): ModelPart {
  try {
    const part = decodeKnownFields(buf);
    if (part) return part;
  } catch {
    // malformed: the generated decoder raises the error
  }
  return ModelPart.decode(buf);
}

/** ModelStoreService with the part codec; both ends use it (the wire format is unchanged). */
export const MODEL_STORE_SERVICE = {
  ...ModelStoreService,
  fetch: { ...ModelStoreService.fetch, responseSerialize: encodeModelPart, responseDeserialize: decodeModelPart },
} as const;

export const ModelStoreCodecClient = makeGenericClientConstructor(MODEL_STORE_SERVICE, "nightshift.v1.ModelStore") as unknown as {
  new (address: string, credentials: ChannelCredentials, options?: Partial<ClientOptions>): ModelStoreClient;
};
