/**
 * Why this file exists: the generated codec for ResultSink.Upload copies a
 * frame's bytes about five times per message (the writer's buffer and its
 * growth, fork/join of the nested message, finish, Buffer.from on the way out;
 * Buffer.from again on the way in). For 1-8 MiB frames that was a large part
 * of the sink's CPU. This codec writes a frame message with one copy of the
 * data and reads it as a view into the received message (which grpc-js owns
 * nothing else of). Header and accounting messages, and anything unusual on
 * the wire, go through the generated codec. The bytes on the wire are plain
 * protobuf either way: only field order may differ, which protobuf allows.
 */
import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import { makeGenericClientConstructor, type ChannelCredentials, type ClientOptions } from "@grpc/grpc-js";
import { FrameData, ResultSinkService, UploadMessage, type ResultSinkClient } from "../proto/gen/nightshift/v1/sink.ts";

const FRAME_FIELD_TAG = 18; // UploadMessage.frame, length-delimited
const UPLOAD_ID_TAG = 32; // UploadMessage.upload_id, varint (UploadStream only)
const DATA_FIELD_TAG = 18; // FrameData.data, length-delimited
const NO_BYTES = Buffer.alloc(0);

export function encodeUploadMessage(m: UploadMessage): Buffer {
  if (m.body?.$case !== "frame") return Buffer.from(UploadMessage.encode(m).finish());
  const data = m.body.value.data;
  const meta = FrameData.encode({ ...m.body.value, data: NO_BYTES }).finish();
  const dataHead = new BinaryWriter().uint32(DATA_FIELD_TAG).uint32(data.length).finish();
  const innerLength = meta.length + dataHead.length + data.length;
  const w = new BinaryWriter();
  if (m.uploadId !== 0) w.uint32(UPLOAD_ID_TAG).uint32(m.uploadId);
  const head = w.uint32(FRAME_FIELD_TAG).uint32(innerLength).finish();
  const out = Buffer.allocUnsafe(head.length + innerLength);
  out.set(head, 0);
  out.set(meta, head.length);
  out.set(dataHead, head.length + meta.length);
  out.set(data, head.length + meta.length + dataHead.length);
  return out;
}

/** A message that is exactly one frame field (after its upload id, if any), decoded with `data` as a view; null for anything else. */
function decodeFrameOnly(buf: Buffer): UploadMessage | null {
  const r = new BinaryReader(buf);
  let tag = r.uint32();
  let uploadId = 0;
  if (tag === UPLOAD_ID_TAG) {
    uploadId = r.uint32();
    tag = r.uint32();
  }
  if (tag !== FRAME_FIELD_TAG) return null;
  const length = r.uint32();
  if (r.pos + length !== buf.length) return null;
  const frame: FrameData = { index: 0, data: NO_BYTES, sha256: "", format: "", size: 0, pixelsSha256: "" };
  while (r.pos < buf.length) {
    const tag = r.uint32();
    if (tag === 8) frame.index = r.uint32();
    else if (tag === DATA_FIELD_TAG) {
      const n = r.uint32();
      if (r.pos + n > buf.length) return null;
      frame.data = buf.subarray(r.pos, r.pos + n);
      r.pos += n;
    } else if (tag === 26) frame.sha256 = r.string();
    else if (tag === 34) frame.format = r.string();
    else if (tag === 40) frame.size = r.uint32();
    else if (tag === 50) frame.pixelsSha256 = r.string();
    else return null; // unknown or unexpected: let the generated codec decide
  }
  return { body: { $case: "frame", value: frame }, uploadId };
}

export function decodeUploadMessage(buf: Buffer): UploadMessage {
  try {
    const frame = decodeFrameOnly(buf);
    if (frame) return frame;
  } catch {
    // malformed: the generated decoder raises the error
  }
  return UploadMessage.decode(buf);
}

/**
 * Response metadata the coordinator sends as an UploadStream opens: the agent
 * starts its first upload on a stream only once it has seen it, so an older
 * coordinator's UNIMPLEMENTED comes before any frame was taken from the
 * executor, and the upload goes by Upload instead.
 */
export const UPLOAD_STREAM_READY_KEY = "nightshift-upload-stream";

/**
 * Ready metadata beside UPLOAD_STREAM_READY_KEY from a coordinator that takes
 * a small upload as one `whole` message (UploadMessage.whole): an agent sends
 * it only where it saw this, so an older coordinator gets header, frames and
 * accounting as before.
 */
export const UPLOAD_WHOLE_KEY = "nightshift-upload-whole";

/** ResultSinkService with the frame codec on both methods; both ends use it (the wire format is unchanged). */
export const UPLOAD_SERVICE = {
  upload: { ...ResultSinkService.upload, requestSerialize: encodeUploadMessage, requestDeserialize: decodeUploadMessage },
  uploadStream: { ...ResultSinkService.uploadStream, requestSerialize: encodeUploadMessage, requestDeserialize: decodeUploadMessage },
} as const;

export const UploadClient = makeGenericClientConstructor(UPLOAD_SERVICE, "nightshift.v1.ResultSink") as unknown as {
  new (address: string, credentials: ChannelCredentials, options?: Partial<ClientOptions>): ResultSinkClient;
};
