/*
 * sqlite_schema.c - the SQLite back end's schema, as numbered migrations.
 *
 * A store records the migrations applied to it in schema_migrations; opening applies the
 * missing ones in order, all in one transaction (sqlite_db.c), so a store is always at a
 * version listed here. Migrations are append-only history: a released migration is never
 * edited - a change to the schema is a new migration at the end. docs/store.md describes the
 * tables for people.
 *
 * Choices worth knowing:
 * - observations is WITHOUT ROWID, clustered by (item, t): an item's points are contiguous and
 *   in time order, so loading a series and the ingest's merge against the stored range are
 *   sequential reads, and appending new points in time order appends to the B-tree.
 * - A missing value is SQL NULL (SQLite stores a bound NaN as NULL anyway).
 * - The content hash lives in the data set's row as four 64-bit lanes (h0..h3), kept current by
 *   every batch in the same transaction as the rows; `rev` counts the batches, which lets an
 *   ingest tell whether someone else wrote to the data set since its last batch.
 * - Append-only tables (revisions, model_audit, params, events) refuse UPDATE and DELETE with
 *   triggers; artifacts and the immutable columns of models likewise.
 * - Endpoints point at their current deployment; deployments are append-only history, each
 *   remembering the one it replaced, so a rollback walks back one step at a time. The jobs
 *   table holds the daemon's asynchronous jobs, claimed under leases like executions.
 * - "At most one active and one queued execution per forecaster" is also enforced by partial
 *   unique indexes, so no race between workers can break it.
 */
#include "store/sqlite_be.h"

// clang-format off
#define APPEND_ONLY(t) \
    "CREATE TRIGGER " t "_no_update BEFORE UPDATE ON " t \
    " BEGIN SELECT RAISE(ABORT, '" t " is append-only'); END;\n" \
    "CREATE TRIGGER " t "_no_delete BEFORE DELETE ON " t \
    " BEGIN SELECT RAISE(ABORT, '" t " is append-only'); END;\n"

static const char M1[] =
    "CREATE TABLE datasets (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL UNIQUE,\n"
    "  freq TEXT,\n" /* canonical text (tsl_freq_format), NULL when not declared */
    "  freq_anchor INTEGER NOT NULL DEFAULT 0,\n"
    "  dims TEXT NOT NULL DEFAULT '[]',\n" /* JSON array of dimension names */
    "  created_ms INTEGER NOT NULL,\n"
    "  updated_ms INTEGER NOT NULL,\n"
    "  items INTEGER NOT NULL DEFAULT 0,\n"
    "  observations INTEGER NOT NULL DEFAULT 0,\n"
    "  t_min INTEGER,\n"
    "  t_max INTEGER,\n"
    "  h0 INTEGER NOT NULL DEFAULT 0,\n"
    "  h1 INTEGER NOT NULL DEFAULT 0,\n"
    "  h2 INTEGER NOT NULL DEFAULT 0,\n"
    "  h3 INTEGER NOT NULL DEFAULT 0,\n"
    "  rev INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE TABLE items (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  dataset_id INTEGER NOT NULL REFERENCES datasets(id),\n"
    "  item_id TEXT NOT NULL,\n"
    "  dims TEXT NOT NULL DEFAULT '[]',\n" /* JSON array of values, in the data set's order */
    "  observations INTEGER NOT NULL DEFAULT 0,\n"
    "  t_min INTEGER NOT NULL,\n"
    "  t_max INTEGER NOT NULL,\n"
    "  created_ms INTEGER NOT NULL,\n"
    "  UNIQUE (dataset_id, item_id)\n"
    ");\n"
    "CREATE TABLE ingests (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  dataset_id INTEGER NOT NULL REFERENCES datasets(id),\n"
    "  source TEXT NOT NULL,\n"
    "  who TEXT NOT NULL,\n"
    "  status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'failed')),\n"
    "  error TEXT,\n"
    "  started_ms INTEGER NOT NULL,\n"
    "  updated_ms INTEGER NOT NULL,\n"
    "  ended_ms INTEGER,\n"
    "  inserted INTEGER NOT NULL DEFAULT 0,\n"
    "  updated INTEGER NOT NULL DEFAULT 0,\n"
    "  unchanged INTEGER NOT NULL DEFAULT 0,\n"
    "  rejected INTEGER NOT NULL DEFAULT 0,\n"
    "  new_items INTEGER NOT NULL DEFAULT 0,\n"
    "  dim_conflicts INTEGER NOT NULL DEFAULT 0,\n"
    "  hash TEXT NOT NULL DEFAULT '',\n"
    "  owner_host TEXT NOT NULL,\n"
    "  owner_boot TEXT NOT NULL,\n"
    "  owner_pid INTEGER NOT NULL,\n"
    "  owner_start INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX ingests_dataset ON ingests(dataset_id, id);\n"
    "CREATE TABLE ingest_rejects (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  ingest_id INTEGER NOT NULL REFERENCES ingests(id),\n"
    "  line INTEGER NOT NULL,\n"
    "  reason TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX ingest_rejects_ingest ON ingest_rejects(ingest_id, id);\n"
    "CREATE TABLE observations (\n"
    "  item INTEGER NOT NULL REFERENCES items(id),\n"
    "  t INTEGER NOT NULL,\n"
    "  value REAL,\n"
    "  ingest_id INTEGER NOT NULL,\n" /* the ingest that wrote the current value */
    "  PRIMARY KEY (item, t)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE revisions (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  item INTEGER NOT NULL REFERENCES items(id),\n"
    "  t INTEGER NOT NULL,\n"
    "  old_value REAL,\n"
    "  new_value REAL,\n"
    "  ingest_id INTEGER NOT NULL REFERENCES ingests(id),\n"
    "  at_ms INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX revisions_item ON revisions(item, t);\n"
    APPEND_ONLY("revisions");

static const char M2[] =
    "CREATE TABLE executions (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  forecaster TEXT NOT NULL,\n"
    "  status TEXT NOT NULL CHECK (status IN ('Queued', 'Executing', 'Stopping', 'Stopped',\n"
    "                                         'Failed', 'Succeeded')),\n"
    "  trigger TEXT NOT NULL,\n"
    "  dedupe_key TEXT NOT NULL,\n"
    "  params TEXT NOT NULL,\n"
    "  who TEXT NOT NULL,\n"
    "  reason TEXT,\n"
    "  created_ms INTEGER NOT NULL,\n"
    "  started_ms INTEGER,\n"
    "  ended_ms INTEGER,\n"
    "  not_before_ms INTEGER NOT NULL DEFAULT 0,\n"
    "  owner TEXT,\n" /* the holding handle's token; NULL when nobody holds it */
    "  owner_host TEXT,\n"
    "  owner_boot TEXT,\n"
    "  owner_pid INTEGER,\n"
    "  owner_start INTEGER,\n"
    "  lease_until_ms INTEGER,\n"
    "  requests INTEGER NOT NULL DEFAULT 1,\n"
    "  recoveries INTEGER NOT NULL DEFAULT 0,\n"
    "  retry_max INTEGER NOT NULL,\n"
    "  retry_first_ms INTEGER NOT NULL,\n"
    "  retry_factor REAL NOT NULL,\n"
    "  retry_cap_ms INTEGER NOT NULL\n"
    ");\n"
    "CREATE UNIQUE INDEX executions_one_active ON executions(forecaster)\n"
    "  WHERE status IN ('Executing', 'Stopping');\n"
    "CREATE UNIQUE INDEX executions_one_queued ON executions(forecaster) WHERE status = "
    "'Queued';\n"
    "CREATE INDEX executions_forecaster ON executions(forecaster, id);\n"
    "CREATE INDEX executions_open ON executions(status, not_before_ms, id)\n"
    "  WHERE status IN ('Queued', 'Executing', 'Stopping');\n"
    "CREATE TABLE execution_requests (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  execution_id INTEGER NOT NULL REFERENCES executions(id),\n"
    "  forecaster TEXT NOT NULL,\n"
    "  dedupe_key TEXT NOT NULL,\n"
    "  trigger TEXT NOT NULL,\n"
    "  who TEXT NOT NULL,\n"
    "  params TEXT NOT NULL,\n"
    "  at_ms INTEGER NOT NULL,\n"
    "  UNIQUE (forecaster, dedupe_key)\n"
    ");\n"
    "CREATE TABLE execution_steps (\n"
    "  execution_id INTEGER NOT NULL REFERENCES executions(id),\n"
    "  name TEXT NOT NULL,\n"
    "  seq INTEGER NOT NULL,\n"
    "  status TEXT NOT NULL CHECK (status IN ('Running', 'Succeeded', 'Failed')),\n"
    "  attempts INTEGER NOT NULL,\n"
    "  next_retry_ms INTEGER NOT NULL DEFAULT 0,\n"
    "  output TEXT,\n"
    "  output_blob BLOB,\n"
    "  PRIMARY KEY (execution_id, name)\n"
    ");\n"
    "CREATE TABLE step_attempts (\n"
    "  execution_id INTEGER NOT NULL,\n"
    "  name TEXT NOT NULL,\n"
    "  number INTEGER NOT NULL,\n"
    "  status TEXT NOT NULL CHECK (status IN ('Running', 'Succeeded', 'Failed')),\n"
    "  started_ms INTEGER NOT NULL,\n"
    "  ended_ms INTEGER,\n"
    "  error TEXT,\n"
    "  worker TEXT NOT NULL,\n"
    "  PRIMARY KEY (execution_id, name, number),\n"
    "  FOREIGN KEY (execution_id, name) REFERENCES execution_steps(execution_id, name)\n"
    ");\n"
    "CREATE INDEX step_attempts_running ON step_attempts(execution_id) WHERE status = "
    "'Running';\n";

static const char M3[] =
    "CREATE TABLE models (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  forecaster TEXT NOT NULL,\n"
    "  version INTEGER NOT NULL,\n"
    "  status TEXT NOT NULL\n"
    "    CHECK (status IN ('PendingManualApproval', 'Approved', 'Rejected')),\n"
    "  metrics TEXT NOT NULL,\n"
    "  choices TEXT NOT NULL,\n"
    "  dataset TEXT,\n"
    "  dataset_hash TEXT,\n"
    "  config_hash TEXT,\n"
    "  program_version TEXT NOT NULL,\n"
    "  execution_id INTEGER REFERENCES executions(id),\n"
    "  artifact_len INTEGER NOT NULL,\n"
    "  artifact_crc32 INTEGER NOT NULL,\n"
    "  artifact_sha256 TEXT NOT NULL,\n"
    "  created_ms INTEGER NOT NULL,\n"
    "  status_ms INTEGER NOT NULL,\n"
    "  approved_ms INTEGER NOT NULL DEFAULT 0,\n"
    "  UNIQUE (forecaster, version)\n"
    ");\n"
    "CREATE INDEX models_approved ON models(forecaster, approved_ms)\n"
    "  WHERE status = 'Approved';\n"
    "CREATE TRIGGER models_immutable BEFORE UPDATE OF forecaster, version, metrics, choices,\n"
    "  dataset, dataset_hash, config_hash, program_version, execution_id, artifact_len,\n"
    "  artifact_crc32, artifact_sha256, created_ms ON models\n"
    "  BEGIN SELECT RAISE(ABORT, 'a model version is immutable'); END;\n"
    "CREATE TRIGGER models_no_delete BEFORE DELETE ON models\n"
    "  BEGIN SELECT RAISE(ABORT, 'model versions are kept'); END;\n"
    "CREATE TABLE artifacts (\n"
    "  model_id INTEGER PRIMARY KEY REFERENCES models(id),\n"
    "  data BLOB NOT NULL\n"
    ");\n"
    APPEND_ONLY("artifacts")
    "CREATE TABLE model_audit (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  model_id INTEGER NOT NULL REFERENCES models(id),\n"
    "  from_status TEXT,\n"
    "  to_status TEXT NOT NULL,\n"
    "  who TEXT NOT NULL,\n"
    "  why TEXT NOT NULL,\n"
    "  at_ms INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX model_audit_model ON model_audit(model_id, id);\n"
    APPEND_ONLY("model_audit");

static const char M4[] =
    "CREATE TABLE params (\n"
    "  key TEXT NOT NULL,\n"
    "  version INTEGER NOT NULL,\n"
    "  value TEXT NOT NULL,\n"
    "  who TEXT NOT NULL,\n"
    "  why TEXT NOT NULL,\n"
    "  at_ms INTEGER NOT NULL,\n"
    "  PRIMARY KEY (key, version)\n"
    ") WITHOUT ROWID;\n"
    APPEND_ONLY("params");

static const char M5[] =
    "CREATE TABLE events (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  at_ms INTEGER NOT NULL,\n"
    "  type TEXT NOT NULL,\n"
    "  subject TEXT NOT NULL,\n"
    "  payload TEXT NOT NULL\n"
    ");\n"
    APPEND_ONLY("events");

static const char M6[] =
    "CREATE TABLE deployments (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  endpoint TEXT NOT NULL,\n"
    "  model_id INTEGER NOT NULL REFERENCES models(id),\n"
    "  action TEXT NOT NULL CHECK (action IN ('deploy', 'rollback')),\n"
    "  previous_id INTEGER REFERENCES deployments(id),\n" /* current before this one */
    "  who TEXT NOT NULL,\n"
    "  why TEXT NOT NULL,\n"
    "  at_ms INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX deployments_endpoint ON deployments(endpoint, id);\n"
    APPEND_ONLY("deployments")
    "CREATE TABLE endpoints (\n"
    "  name TEXT PRIMARY KEY,\n"
    "  current_id INTEGER NOT NULL REFERENCES deployments(id),\n"
    "  created_ms INTEGER NOT NULL\n"
    ");\n"
    "CREATE TRIGGER endpoints_no_delete BEFORE DELETE ON endpoints\n"
    "  BEGIN SELECT RAISE(ABORT, 'endpoints are kept'); END;\n"
    "CREATE TABLE tokens (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL UNIQUE,\n"
    "  role TEXT NOT NULL CHECK (role IN ('reader', 'writer', 'approver', 'admin')),\n"
    "  hash BLOB NOT NULL UNIQUE,\n" /* BLAKE2b-256 of the token */
    "  who TEXT NOT NULL,\n"
    "  created_ms INTEGER NOT NULL,\n"
    "  revoked_ms INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE TABLE captures (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  inference_id TEXT NOT NULL,\n"
    "  endpoint TEXT NOT NULL,\n"
    "  model_id INTEGER NOT NULL,\n"
    "  item TEXT NOT NULL,\n"
    "  origin INTEGER NOT NULL,\n" /* the last observation the forecast starts from */
    "  at_ms INTEGER NOT NULL,\n"
    "  steps INTEGER NOT NULL,\n"
    "  nq INTEGER NOT NULL,\n"
    /* little-endian arrays: int64 target times, float64 levels, means, quantiles (row-major) */
    "  targets BLOB NOT NULL,\n"
    "  levels BLOB NOT NULL,\n"
    "  mean BLOB NOT NULL,\n"
    "  quant BLOB NOT NULL\n"
    ");\n"
    /* Only append-ordered indexes: a random key (the inference id) would cost a random B-tree
     * write per capture, the daemon's write rate. Listing by inference id scans. */
    "CREATE INDEX captures_endpoint ON captures(endpoint, id);\n"
    "CREATE TABLE jobs (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  kind TEXT NOT NULL,\n"
    "  endpoint TEXT,\n"
    "  status TEXT NOT NULL CHECK (status IN ('Queued', 'Running', 'Failed', 'Succeeded')),\n"
    "  request TEXT NOT NULL,\n"
    "  result TEXT,\n"
    "  error TEXT,\n"
    "  who TEXT NOT NULL,\n"
    "  owner TEXT,\n" /* the holding handle's token */
    "  attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  lease_until_ms INTEGER NOT NULL DEFAULT 0,\n"
    "  created_ms INTEGER NOT NULL,\n"
    "  started_ms INTEGER,\n"
    "  ended_ms INTEGER\n"
    ");\n"
    "CREATE INDEX jobs_runnable ON jobs(status, id) WHERE status IN ('Queued', 'Running');\n";

/* Migration 7: the retraining trigger reactor (src/ops/retrain.c). retrain_decisions holds one
 * row per (event, forecaster) that asked for a retraining (one ingest may ask for several
 * forecasters), with what was decided: (event, forecaster) is the key,
 * so an event is decided once however often it is read again, and the rows that requested are
 * what the cooldown and the daily cap count. retrain_cursor is how far the reactor has read
 * the event log. */
static const char M7[] =
    "CREATE TABLE retrain_decisions (\n"
    "  event_id INTEGER NOT NULL,\n"
    "  forecaster TEXT NOT NULL,\n"
    "  trigger TEXT NOT NULL,\n"
    "  reason TEXT NOT NULL,\n"
    "  requested INTEGER NOT NULL CHECK (requested IN (0, 1)),\n"
    "  suppressed TEXT,\n"          /* why not, when requested = 0 */
    "  execution_id INTEGER,\n"     /* once the request is recorded */
    "  done INTEGER NOT NULL DEFAULT 0,\n" /* its event (retrain.requested/suppressed) is in */
    "  at_ms INTEGER NOT NULL,\n"
    "  PRIMARY KEY (event_id, forecaster)\n"
    ");\n"
    "CREATE INDEX retrain_decisions_forecaster ON retrain_decisions(forecaster, requested, at_ms);\n"
    "CREATE TABLE retrain_cursor (\n"
    "  name TEXT PRIMARY KEY,\n"
    "  event_id INTEGER NOT NULL\n"
    ");\n";

/* Migration 8: the inbox watcher's record of the files it handled, and each notification
 * channel's position in the event log (docs/notifications.md, docs/inbox.md). */
static const char M8[] =
    "CREATE TABLE inbox_files (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  dataset TEXT NOT NULL,\n"
    "  name TEXT NOT NULL,\n"
    "  size INTEGER NOT NULL,\n"
    "  sha256 TEXT NOT NULL,\n"
    "  status TEXT NOT NULL CHECK (status IN ('processed', 'failed')),\n"
    "  ingest_id INTEGER NOT NULL DEFAULT 0,\n"
    "  error TEXT,\n"
    "  at_ms INTEGER NOT NULL,\n"
    "  UNIQUE (dataset, name, size, sha256)\n"
    ");\n"
    "CREATE TABLE notify_channels (\n"
    "  channel TEXT PRIMARY KEY,\n"
    "  cursor INTEGER NOT NULL,\n"   /* the last event handled: delivered, dead-lettered or not routed */
    "  event_id INTEGER NOT NULL DEFAULT 0,\n" /* the event being retried, 0: none */
    "  attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  next_ms INTEGER NOT NULL DEFAULT 0,\n"
    "  error TEXT,\n"
    "  updated_ms INTEGER NOT NULL\n"
    ");\n";

/* Migration 9: named leases (the scheduler's lock: one scheduler per store) and the last fire
 * time of each schedule, so that a fire time runs once across restarts and daemons. */
static const char M9[] =
    "CREATE TABLE locks (\n"
    "  name TEXT PRIMARY KEY,\n"
    "  token TEXT NOT NULL,\n" /* the holding handle's token */
    "  host TEXT NOT NULL,\n"
    "  boot TEXT NOT NULL,\n"
    "  pid INTEGER NOT NULL,\n"
    "  start INTEGER NOT NULL,\n"
    "  lease_until_ms INTEGER NOT NULL,\n"
    "  acquired_ms INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE schedule_fires (\n"
    "  key TEXT PRIMARY KEY,\n" /* "forecast:F" or "retrain:F" */
    "  last_fire INTEGER NOT NULL,\n" /* seconds since the epoch, a whole minute */
    "  fired_ms INTEGER NOT NULL\n"
    ");\n";

/* Migration 10: monitoring - metric datapoints (one per monitor, window, item, step and metric,
 * replaced on re-evaluation), alarm states and their history, the evaluator's cursors over the
 * event log, and ingest spans: per ingest and item, the time range of the points whose value
 * that ingest wrote (inserted or changed), from which the evaluator finds the observations an
 * ingest wrote (the windows it touches) by primary-key range reads filtered by ingest_id.
 * This migration was first released with an index observations(ingest_id) instead; it cost
 * every ingested row a second B-tree insert (ingest CPU +40%, the store +60%), and since
 * migration 10 had never been released it was edited in place rather than followed by an 11. */
static const char M10[] =
    "CREATE TABLE metric_datapoints (\n"
    "  monitor TEXT NOT NULL,\n"
    "  win TEXT NOT NULL,\n"
    "  item TEXT NOT NULL,\n" /* '' = the aggregate */
    "  step INTEGER NOT NULL,\n" /* 0 = all steps */
    "  metric TEXT NOT NULL,\n"
    "  endpoint TEXT NOT NULL,\n"
    "  win_start INTEGER NOT NULL,\n"
    "  win_end INTEGER NOT NULL,\n"
    "  value REAL,\n"
    "  n INTEGER NOT NULL,\n"
    "  computed_ms INTEGER NOT NULL,\n"
    "  PRIMARY KEY (monitor, win, item, step, metric)\n"
    ") WITHOUT ROWID;\n"
    "CREATE INDEX metric_datapoints_time ON metric_datapoints(monitor, win_start);\n"
    "CREATE INDEX metric_datapoints_endpoint ON metric_datapoints(endpoint, win_start);\n"
    "CREATE TABLE alarms (\n"
    "  monitor TEXT PRIMARY KEY,\n"
    "  state TEXT NOT NULL,\n"
    "  changed_at INTEGER NOT NULL,\n"
    "  evaluated_at INTEGER NOT NULL,\n"
    "  changes INTEGER NOT NULL,\n"
    "  threshold REAL,\n"
    "  threshold_metric REAL,\n"
    "  value REAL,\n"
    "  reason TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE alarm_history (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  monitor TEXT NOT NULL,\n"
    "  previous TEXT NOT NULL,\n"
    "  state TEXT NOT NULL,\n"
    "  value REAL,\n"
    "  threshold REAL,\n"
    "  reason TEXT NOT NULL,\n"
    "  at_ms INTEGER NOT NULL,\n"
    "  event_id INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX alarm_history_monitor ON alarm_history(monitor, id);\n"
    "CREATE TRIGGER alarm_history_append_only BEFORE UPDATE ON alarm_history\n"
    "  BEGIN SELECT RAISE(ABORT, 'alarm history is append-only'); END;\n"
    "CREATE TABLE eval_cursors (\n"
    "  name TEXT PRIMARY KEY,\n"
    "  value INTEGER NOT NULL,\n"
    "  updated_ms INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE ingest_spans (\n"
    "  ingest_id INTEGER NOT NULL,\n"
    "  item INTEGER NOT NULL,\n" /* items.id */
    "  t_min INTEGER NOT NULL,\n"
    "  t_max INTEGER NOT NULL,\n"
    "  PRIMARY KEY (ingest_id, item)\n"
    ") WITHOUT ROWID;\n";

/* Migration 11: the residual detectors' states, one per (monitor, endpoint, item): the
 * CUSUM or Page-Hinkley state as JSON, the version it belongs to, and the target time of the
 * last residual fed (what keeps re-evaluation from feeding a residual twice). */
static const char M11[] =
    "CREATE TABLE detector_states (\n"
    "  monitor TEXT NOT NULL,\n"
    "  endpoint TEXT NOT NULL,\n"
    "  item TEXT NOT NULL,\n"
    "  forecaster TEXT NOT NULL,\n"
    "  version INTEGER NOT NULL,\n"
    "  last_t INTEGER NOT NULL,\n"
    "  fed INTEGER NOT NULL,\n"
    "  signals INTEGER NOT NULL,\n"
    "  state TEXT NOT NULL,\n"
    "  updated_ms INTEGER NOT NULL,\n"
    "  PRIMARY KEY (monitor, endpoint, item)\n"
    ") WITHOUT ROWID;\n";

/* Migration 12: quality monitors' reports, one per (monitor, ingest): that the monitor
 * evaluated the ingest, what it found in a line, and its dataset.quality event (what keeps an
 * event from being emitted twice for one ingest). */
static const char M12[] =
    "CREATE TABLE quality_reports (\n"
    "  monitor TEXT NOT NULL,\n"
    "  ingest_id INTEGER NOT NULL,\n"
    "  dataset TEXT NOT NULL,\n"
    "  worst TEXT NOT NULL,\n"
    "  summary TEXT NOT NULL,\n"
    "  event_id INTEGER NOT NULL,\n" /* 0: clean, no event */
    "  at_ms INTEGER NOT NULL,\n"
    "  PRIMARY KEY (ingest_id, monitor)\n"
    ") WITHOUT ROWID;\n";
/* Migration 13: shadow deployments. A capture says whether it is a shadow's (default live:
 * every existing capture is); shadows keeps every shadow run of a version on an endpoint, at
 * most one running per endpoint (a partial unique index), with how it ended and, once
 * completed, its comparison with the live version on the paired captures. */
static const char M13[] =
    "ALTER TABLE captures ADD COLUMN shadow INTEGER NOT NULL DEFAULT 0;\n"
    "CREATE TABLE shadows (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  endpoint TEXT NOT NULL,\n"
    "  model_id INTEGER NOT NULL REFERENCES models(id),\n"
    "  champion_version INTEGER NOT NULL,\n"
    "  windows INTEGER NOT NULL,\n"
    "  progress INTEGER NOT NULL DEFAULT 0,\n"
    "  capture_after INTEGER NOT NULL,\n" /* the largest capture id when it started */
    "  who TEXT NOT NULL,\n"
    "  why TEXT NOT NULL,\n"
    "  started_ms INTEGER NOT NULL,\n"
    "  ended_ms INTEGER,\n"
    "  outcome TEXT CHECK (outcome IN ('completed', 'stopped', 'superseded', 'deployed')),\n"
    "  end_why TEXT,\n"
    "  comparison TEXT,\n"
    "  decided INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE UNIQUE INDEX shadows_running ON shadows(endpoint) WHERE ended_ms IS NULL;\n"
    "CREATE INDEX shadows_model ON shadows(model_id);\n";
/* Migration 14: a capture's span - its earliest and latest target time - so an evaluation reads
 * only the captures that can target the times it recomputes (tsl_store_capture_span). Existing
 * rows are backfilled from their targets blob by tsl_le64_min/tsl_le64_max, SQL functions the
 * connection registers before migrating (sqlite_db.c). The index is nearly append-ordered for
 * live traffic (later forecasts target later times: a new row lands at or near the right edge
 * of its (endpoint, shadow) range), so it costs the daemon's writer little; docs/store.md. */
static const char M14[] =
    "ALTER TABLE captures ADD COLUMN t_first INTEGER;\n"
    "ALTER TABLE captures ADD COLUMN t_last INTEGER;\n"
    "UPDATE captures SET t_first = tsl_le64_min(targets), t_last = tsl_le64_max(targets);\n"
    "CREATE INDEX captures_span ON captures(endpoint, shadow, t_last);\n";
// clang-format on

const sq_migration tsl_sq_migrations[] = {
    {1, "data sets, items, observations, revisions and ingest records", M1},
    {2, "pipeline executions, their requests, steps and attempts", M2},
    {3, "model registry: versions, artifacts and the approval audit log", M3},
    {4, "versioned parameters", M4},
    {5, "the event log", M5},
    {6, "endpoints, deployments, API tokens, captured forecasts and jobs", M6},
    {7, "retraining triggers: decisions and the reactor's cursor", M7},
    {8, "inbox files handled and notification channel cursors", M8},
    {9, "the scheduler's lock and schedules' last fire times", M9},
    {10, "metric datapoints, alarms, alarm history, evaluation cursors, ingest spans", M10},
    {11, "residual detectors' states", M11},
    {12, "quality monitors' reports per ingest", M12},
    {13, "shadow deployments; captures flagged shadow", M13},
    {14, "captures' first and last target times, indexed for span reads", M14},
};

const size_t tsl_sq_nmigrations = sizeof tsl_sq_migrations / sizeof tsl_sq_migrations[0];
