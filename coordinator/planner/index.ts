/**
 * The planner: pure functions from a job's frames to chunks. Scene detection
 * runs ffmpeg, so it is not exported here; import detect-scenes.ts directly.
 */
export { planChunks, type Chunk, type PlanInput } from "./plan-chunks.ts";
export { adaptiveBase, chunkSizer, type AgentSpeed } from "./chunk-size.ts";
export { parseShotList, parseCsvShotList, parseEdlShotList, type ShotListOptions } from "./shot-list.ts";
export { shotsFromCuts } from "./scene-cuts.ts";
export { timecodeToFrame } from "./timecode.ts";
export { checkShotsOrdered, SHOT_LIST_FIELD, type Shot } from "./shot.ts";
