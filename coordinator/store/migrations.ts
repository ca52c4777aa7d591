/**
 * Schema migrations. Append, never edit or reorder: each entry runs once, in
 * order, and the database's user_version records how many have run.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: jobs, chunks, attempts, agents, committed frames, accounting ledger
  `
  CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    state         TEXT NOT NULL,
    priority      INTEGER NOT NULL DEFAULT 0,
    spec_json     TEXT NOT NULL,
    base_dir      TEXT NOT NULL,
    output_dir    TEXT NOT NULL,
    frame_start   INTEGER NOT NULL,
    frame_end     INTEGER NOT NULL,
    fps           REAL NOT NULL,
    seed          INTEGER NOT NULL,
    model_name    TEXT NOT NULL,
    model_sha256  TEXT NOT NULL,
    video_path    TEXT,
    message       TEXT,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER
  );
  CREATE TABLE chunks (
    id                 TEXT PRIMARY KEY,
    job_id             TEXT NOT NULL REFERENCES jobs(id),
    idx                INTEGER NOT NULL,
    frame_start        INTEGER NOT NULL,
    frame_end          INTEGER NOT NULL,
    context_start      INTEGER NOT NULL,
    context_end        INTEGER NOT NULL,
    state              TEXT NOT NULL,
    dispatch_id        TEXT,
    current_attempt_id TEXT,
    attempts           INTEGER NOT NULL DEFAULT 0,
    failures           INTEGER NOT NULL DEFAULT 0,
    error              TEXT,
    updated_at         INTEGER NOT NULL,
    UNIQUE (job_id, idx)
  );
  CREATE INDEX chunks_by_job_state ON chunks(job_id, state);
  CREATE TABLE attempts (
    id          TEXT PRIMARY KEY,
    chunk_id    TEXT NOT NULL REFERENCES chunks(id),
    job_id      TEXT NOT NULL REFERENCES jobs(id),
    agent_id    TEXT NOT NULL,
    state       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    finished_at INTEGER,
    error       TEXT
  );
  CREATE INDEX attempts_by_agent_state ON attempts(agent_id, state);
  CREATE TABLE agents (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    state          TEXT NOT NULL,
    version        TEXT NOT NULL,
    gpus_json      TEXT NOT NULL,
    ram_bytes      INTEGER NOT NULL,
    cpu_count      INTEGER NOT NULL,
    tags_json      TEXT NOT NULL,
    executors_json TEXT NOT NULL,
    address        TEXT NOT NULL DEFAULT '',
    first_seen     INTEGER NOT NULL,
    last_seen      INTEGER NOT NULL
  );
  CREATE TABLE frames (
    job_id        TEXT NOT NULL REFERENCES jobs(id),
    frame         INTEGER NOT NULL,
    chunk_id      TEXT NOT NULL,
    attempt_id    TEXT NOT NULL,
    agent_id      TEXT NOT NULL,
    model_sha256  TEXT NOT NULL,
    seed          INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    bytes         INTEGER NOT NULL,
    path          TEXT NOT NULL,
    committed_at  INTEGER NOT NULL,
    PRIMARY KEY (job_id, frame)
  );
  CREATE TABLE ledger (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id             TEXT NOT NULL,
    chunk_id           TEXT NOT NULL,
    attempt_id         TEXT NOT NULL UNIQUE,
    agent_id           TEXT NOT NULL,
    frames             INTEGER NOT NULL,
    wall_seconds       REAL NOT NULL,
    busy_seconds       REAL NOT NULL,
    energy_joules      REAL NOT NULL,
    energy_source      TEXT NOT NULL,
    idle_energy_joules REAL NOT NULL,
    peak_memory_bytes  INTEGER NOT NULL,
    memory_kind        TEXT NOT NULL,
    mean_watts         REAL NOT NULL,
    finished_at        INTEGER NOT NULL
  );
  CREATE INDEX ledger_by_job ON ledger(job_id);
  CREATE INDEX ledger_by_agent ON ledger(agent_id);
  `,
  // faults: why a job is paused (a full output root resumes by itself), and per-job agent blocklist
  `
  ALTER TABLE jobs ADD COLUMN pause_reason TEXT;
  CREATE TABLE job_agent_failures (
    job_id      TEXT NOT NULL,
    agent_id    TEXT NOT NULL,
    failures    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    blocked_at  INTEGER,
    PRIMARY KEY (job_id, agent_id)
  );
  `,
  // trust: join tokens (sha256 only) and each agent's enrollment (key, certificate fingerprint, NATS password)
  `
  CREATE TABLE join_tokens (
    hash        TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    multi_use   INTEGER NOT NULL,
    label       TEXT,
    used_at     INTEGER,
    use_count   INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE agent_enrollments (
    agent_id         TEXT PRIMARY KEY,
    public_key_pem   TEXT,
    method           TEXT,
    approved_at      INTEGER,
    cert_pem         TEXT,
    cert_fingerprint TEXT,
    nats_password    TEXT,
    enrolled_at      INTEGER,
    removed_at       INTEGER
  );
  `,
  // accounting: agent power telemetry, downsampled (minute buckets, merged into hour buckets after a week)
  `
  CREATE TABLE telemetry (
    agent_id          TEXT NOT NULL,
    bucket_ms         INTEGER NOT NULL,
    start_ms          INTEGER NOT NULL,
    samples           INTEGER NOT NULL,
    busy_samples      INTEGER NOT NULL,
    watts_samples     INTEGER NOT NULL,
    min_watts         REAL,
    mean_watts        REAL,
    max_watts         REAL,
    energy_joules     REAL NOT NULL,
    max_vram_bytes    INTEGER,
    max_ram_bytes     INTEGER,
    max_temperature_c REAL,
    util_samples      INTEGER NOT NULL,
    mean_utilisation  REAL,
    source            TEXT NOT NULL,
    PRIMARY KEY (agent_id, bucket_ms, start_ms)
  ) WITHOUT ROWID;
  `,
  // scheduling: where a queued chunk was placed (an agent's own subject, or the pool) and a speculative second attempt
  `
  ALTER TABLE chunks ADD COLUMN placed_agent_id TEXT;
  ALTER TABLE chunks ADD COLUMN spec_dispatch_id TEXT;
  ALTER TABLE chunks ADD COLUMN spec_agent_id TEXT;
  ALTER TABLE chunks ADD COLUMN spec_attempt_id TEXT;
  CREATE INDEX chunks_by_state ON chunks(state, placed_agent_id);
  CREATE INDEX attempts_by_state ON attempts(state);
  `,
  // step kinds: the job's frame steps as they travel to agents (shared/steps/work-step.ts), and their content hash
  `
  ALTER TABLE jobs ADD COLUMN steps_json TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE jobs ADD COLUMN recipe_sha256 TEXT NOT NULL DEFAULT '';
  ALTER TABLE jobs ADD COLUMN shots_json TEXT NOT NULL DEFAULT '[]';
  `,
  // tool output per chunk attempt (Blender, command steps), for `nightshift job logs`
  `
  CREATE TABLE attempt_logs (
    attempt_id  TEXT PRIMARY KEY,
    text        TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // accounting: the idle part of a telemetry bucket's energy (samples taken while no chunk ran); older buckets count whole when all idle, as before
  `
  ALTER TABLE telemetry ADD COLUMN idle_energy_joules REAL NOT NULL DEFAULT 0;
  UPDATE telemetry SET idle_energy_joules = energy_joules WHERE busy_samples = 0;
  `,
  // listings: chunk counts per job read from the index alone (job list and job show over jobs of thousands of chunks)
  `
  CREATE INDEX chunks_counts ON chunks(job_id, state, frame_start, frame_end);
  `,
  // trust: agents' NATS users are nkeys; the store keeps the public key and forgets the old plain-text passwords
  `
  ALTER TABLE agent_enrollments ADD COLUMN nats_nkey TEXT;
  UPDATE agent_enrollments SET nats_password = NULL;
  `,
  // trust: the one admin certificate accepted per admin name (rotation refuses the old one)
  `
  CREATE TABLE admin_certificates (
    name             TEXT PRIMARY KEY,
    cert_fingerprint TEXT NOT NULL,
    issued_at        INTEGER NOT NULL
  );
  `,
  // assets: the model store's catalog (coordinator/assets/model-catalog.ts); the bytes live in <dataDir>/assets by sha256
  `
  CREATE TABLE models (
    name          TEXT PRIMARY KEY,
    sha256        TEXT NOT NULL,
    size          INTEGER NOT NULL,
    manifest_json TEXT NOT NULL,
    license       TEXT NOT NULL,
    source        TEXT NOT NULL,
    added_at      INTEGER NOT NULL
  );
  CREATE INDEX models_by_sha ON models(sha256);
  `,
  // notifications: webhook deliveries waiting, retried or done (coordinator/notify/), kept so a restart loses none
  `
  CREATE TABLE webhook_outbox (
    id           TEXT PRIMARY KEY,
    dedupe_key   TEXT NOT NULL UNIQUE,
    event        TEXT NOT NULL,
    url          TEXT NOT NULL,
    body         TEXT NOT NULL,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      INTEGER NOT NULL,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    delivered_at INTEGER
  );
  CREATE INDEX webhook_outbox_due ON webhook_outbox(state, next_at);
  `,
  // listings: each job's chunk counts kept by triggers on every chunk insert, update and delete, so the job
  // list reads one row per job instead of grouping every chunk (100 jobs of 900 chunks: 130 ms to under 1 ms)
  `
  CREATE TABLE job_chunk_counts (
    job_id       TEXT PRIMARY KEY,
    total        INTEGER NOT NULL DEFAULT 0,
    done         INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    cancelled    INTEGER NOT NULL DEFAULT 0,
    open         INTEGER NOT NULL DEFAULT 0,
    frames_total INTEGER NOT NULL DEFAULT 0,
    frames_done  INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  INSERT INTO job_chunk_counts (job_id, total, done, failed, cancelled, open, frames_total, frames_done)
    SELECT j.id, COUNT(c.id), IFNULL(SUM(c.state = 'done'), 0), IFNULL(SUM(c.state = 'failed'), 0), IFNULL(SUM(c.state = 'cancelled'), 0),
      IFNULL(SUM(c.state IN ('pending','queued','running')), 0), IFNULL(SUM(c.frame_end - c.frame_start + 1), 0),
      IFNULL(SUM(CASE WHEN c.state = 'done' THEN c.frame_end - c.frame_start + 1 ELSE 0 END), 0)
    FROM jobs j LEFT JOIN chunks c ON c.job_id = j.id GROUP BY j.id;
  DROP INDEX chunks_counts;
  CREATE TRIGGER job_chunk_counts_job AFTER INSERT ON jobs BEGIN
    INSERT OR IGNORE INTO job_chunk_counts (job_id) VALUES (NEW.id);
  END;
  CREATE TRIGGER job_chunk_counts_insert AFTER INSERT ON chunks BEGIN
    UPDATE job_chunk_counts SET total = total + 1,
      done = done + (NEW.state = 'done'),
      failed = failed + (NEW.state = 'failed'),
      cancelled = cancelled + (NEW.state = 'cancelled'),
      open = open + (NEW.state IN ('pending','queued','running')),
      frames_total = frames_total + (NEW.frame_end - NEW.frame_start + 1),
      frames_done = frames_done + (CASE WHEN NEW.state = 'done' THEN NEW.frame_end - NEW.frame_start + 1 ELSE 0 END)
    WHERE job_id = NEW.job_id;
  END;
  CREATE TRIGGER job_chunk_counts_delete AFTER DELETE ON chunks BEGIN
    UPDATE job_chunk_counts SET total = total - 1,
      done = done - (OLD.state = 'done'),
      failed = failed - (OLD.state = 'failed'),
      cancelled = cancelled - (OLD.state = 'cancelled'),
      open = open - (OLD.state IN ('pending','queued','running')),
      frames_total = frames_total - (OLD.frame_end - OLD.frame_start + 1),
      frames_done = frames_done - (CASE WHEN OLD.state = 'done' THEN OLD.frame_end - OLD.frame_start + 1 ELSE 0 END)
    WHERE job_id = OLD.job_id;
  END;
  -- a chunk never moves to another job (ids carry the job id)
  CREATE TRIGGER job_chunk_counts_update AFTER UPDATE OF state, frame_start, frame_end ON chunks BEGIN
    UPDATE job_chunk_counts SET done = done - (OLD.state = 'done') + (NEW.state = 'done'),
      failed = failed - (OLD.state = 'failed') + (NEW.state = 'failed'),
      cancelled = cancelled - (OLD.state = 'cancelled') + (NEW.state = 'cancelled'),
      open = open - (OLD.state IN ('pending','queued','running')) + (NEW.state IN ('pending','queued','running')),
      frames_total = frames_total - (OLD.frame_end - OLD.frame_start + 1) + (NEW.frame_end - NEW.frame_start + 1),
      frames_done = frames_done - (CASE WHEN OLD.state = 'done' THEN OLD.frame_end - OLD.frame_start + 1 ELSE 0 END) + (CASE WHEN NEW.state = 'done' THEN NEW.frame_end - NEW.frame_start + 1 ELSE 0 END)
    WHERE job_id = NEW.job_id;
  END;
  `,
  // trust: NATS user keys of removed agents, the nightshift account's revocation list (coordinator/trust/nats-operator-keys.ts)
  `
  CREATE TABLE nats_revocations (
    user_nkey  TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL,
    revoked_at INTEGER NOT NULL
  );
  `,
  // dispatch: what each pass reads kept cheap. Each job's unstarted (pending or queued) chunks and frames, and
  // a bound on its biggest chunk, kept by the chunk triggers (the pass read them by scanning every unstarted
  // chunk of every open job); and the job's chunks indexed in frame order by state, so "the next N pending
  // chunks" reads N entries instead of every pending chunk sorted (the index replaces chunks_by_job_state,
  // a prefix of it).
  `
  ALTER TABLE job_chunk_counts ADD COLUMN unstarted INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE job_chunk_counts ADD COLUMN frames_unstarted INTEGER NOT NULL DEFAULT 0;
  -- the most frames any chunk of the job had: never lowered, so at least its biggest unstarted chunk
  ALTER TABLE job_chunk_counts ADD COLUMN frames_max INTEGER NOT NULL DEFAULT 0;
  UPDATE job_chunk_counts SET
    unstarted = (SELECT COUNT(*) FROM chunks c WHERE c.job_id = job_chunk_counts.job_id AND c.state IN ('pending','queued')),
    frames_unstarted = (SELECT IFNULL(SUM(c.frame_end - c.frame_start + 1), 0) FROM chunks c WHERE c.job_id = job_chunk_counts.job_id AND c.state IN ('pending','queued')),
    frames_max = (SELECT IFNULL(MAX(c.frame_end - c.frame_start + 1), 0) FROM chunks c WHERE c.job_id = job_chunk_counts.job_id);
  CREATE TRIGGER job_chunk_unstarted_insert AFTER INSERT ON chunks BEGIN
    UPDATE job_chunk_counts SET unstarted = unstarted + (NEW.state IN ('pending','queued')),
      frames_unstarted = frames_unstarted + (CASE WHEN NEW.state IN ('pending','queued') THEN NEW.frame_end - NEW.frame_start + 1 ELSE 0 END),
      frames_max = MAX(frames_max, NEW.frame_end - NEW.frame_start + 1)
    WHERE job_id = NEW.job_id;
  END;
  CREATE TRIGGER job_chunk_unstarted_delete AFTER DELETE ON chunks BEGIN
    UPDATE job_chunk_counts SET unstarted = unstarted - (OLD.state IN ('pending','queued')),
      frames_unstarted = frames_unstarted - (CASE WHEN OLD.state IN ('pending','queued') THEN OLD.frame_end - OLD.frame_start + 1 ELSE 0 END)
    WHERE job_id = OLD.job_id;
  END;
  CREATE TRIGGER job_chunk_unstarted_update AFTER UPDATE OF state, frame_start, frame_end ON chunks BEGIN
    UPDATE job_chunk_counts SET unstarted = unstarted - (OLD.state IN ('pending','queued')) + (NEW.state IN ('pending','queued')),
      frames_unstarted = frames_unstarted - (CASE WHEN OLD.state IN ('pending','queued') THEN OLD.frame_end - OLD.frame_start + 1 ELSE 0 END)
        + (CASE WHEN NEW.state IN ('pending','queued') THEN NEW.frame_end - NEW.frame_start + 1 ELSE 0 END),
      frames_max = MAX(frames_max, NEW.frame_end - NEW.frame_start + 1)
    WHERE job_id = NEW.job_id;
  END;
  CREATE INDEX chunks_by_job_state_idx ON chunks(job_id, state, idx, frame_start, frame_end);
  DROP INDEX chunks_by_job_state;
  `,
  // dispatch: every pass lists the open jobs (jobs.listInStates) and their models (jobs.modelsInStates); without an
  // index on the state both scan every job the store ever held, stepping over each one's spec JSON.
  `
  CREATE INDEX jobs_by_state ON jobs(state);
  `,
  // job manifest facts recorded at the commit (coordinator/provenance/job-manifest.ts): the sha256 of the file the
  // sink made durable under the frame's name (sha256 above names the frame without its record) and the pixel hash
  // its record names (NULL: none). Rows committed before have file_sha256 NULL: the manifest reads those files back.
  `
  ALTER TABLE frames ADD COLUMN file_sha256 TEXT;
  ALTER TABLE frames ADD COLUMN pixels_sha256 TEXT;
  `,
];
