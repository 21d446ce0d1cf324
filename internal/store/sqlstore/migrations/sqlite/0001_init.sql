-- Switchboard schema v1 for SQLite.
-- Times are INTEGER unix microseconds UTC (compact, sortable, exact round
-- trip); money is INTEGER micro-dollars; JSON values are TEXT; booleans are
-- INTEGER 0/1; daily_spend.day is TEXT 'YYYY-MM-DD' (sorts as a date).

CREATE TABLE virtual_keys (
    token_hash            TEXT PRIMARY KEY,
    key_name              TEXT NOT NULL DEFAULT '',
    key_alias             TEXT NOT NULL DEFAULT '',
    team_id               TEXT NOT NULL DEFAULT '',
    user_id               TEXT NOT NULL DEFAULT '',
    models                TEXT NOT NULL DEFAULT 'null',
    aliases               TEXT NOT NULL DEFAULT 'null',
    max_budget            INTEGER,
    soft_budget           INTEGER,
    budget_duration       TEXT NOT NULL DEFAULT '',
    budget_reset_at       INTEGER,
    spend                 INTEGER NOT NULL DEFAULT 0,
    rpm_limit             INTEGER,
    tpm_limit             INTEGER,
    max_parallel_requests INTEGER,
    model_max_budget      TEXT NOT NULL DEFAULT 'null',
    model_rpm_limit       TEXT NOT NULL DEFAULT 'null',
    model_tpm_limit       TEXT NOT NULL DEFAULT 'null',
    expires_at            INTEGER,
    blocked               INTEGER NOT NULL DEFAULT 0,
    metadata              TEXT NOT NULL DEFAULT 'null',
    tags                  TEXT NOT NULL DEFAULT 'null',
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    created_by            TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX virtual_keys_alias_uq ON virtual_keys (key_alias) WHERE key_alias <> '';
CREATE INDEX virtual_keys_team_idx ON virtual_keys (team_id, created_at);
CREATE INDEX virtual_keys_user_idx ON virtual_keys (user_id, created_at);
CREATE INDEX virtual_keys_created_idx ON virtual_keys (created_at, token_hash);
CREATE INDEX virtual_keys_reset_idx ON virtual_keys (budget_reset_at) WHERE budget_reset_at IS NOT NULL;

CREATE TABLE teams (
    team_id               TEXT PRIMARY KEY,
    team_alias            TEXT NOT NULL DEFAULT '',
    models                TEXT NOT NULL DEFAULT 'null',
    max_budget            INTEGER,
    soft_budget           INTEGER,
    budget_duration       TEXT NOT NULL DEFAULT '',
    budget_reset_at       INTEGER,
    spend                 INTEGER NOT NULL DEFAULT 0,
    rpm_limit             INTEGER,
    tpm_limit             INTEGER,
    max_parallel_requests INTEGER,
    blocked               INTEGER NOT NULL DEFAULT 0,
    metadata              TEXT NOT NULL DEFAULT 'null',
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
CREATE INDEX teams_alias_idx ON teams (team_alias);
CREATE INDEX teams_created_idx ON teams (created_at, team_id);
CREATE INDEX teams_reset_idx ON teams (budget_reset_at) WHERE budget_reset_at IS NOT NULL;

CREATE TABLE team_members (
    team_id TEXT NOT NULL REFERENCES teams (team_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    role    TEXT NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user_idx ON team_members (user_id);

CREATE TABLE users (
    user_id               TEXT PRIMARY KEY,
    user_email            TEXT NOT NULL DEFAULT '',
    user_alias            TEXT NOT NULL DEFAULT '',
    user_role             TEXT NOT NULL,
    teams                 TEXT NOT NULL DEFAULT 'null',
    models                TEXT NOT NULL DEFAULT 'null',
    max_budget            INTEGER,
    budget_duration       TEXT NOT NULL DEFAULT '',
    budget_reset_at       INTEGER,
    spend                 INTEGER NOT NULL DEFAULT 0,
    rpm_limit             INTEGER,
    tpm_limit             INTEGER,
    max_parallel_requests INTEGER,
    metadata              TEXT NOT NULL DEFAULT 'null',
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
CREATE INDEX users_email_idx ON users (user_email);
CREATE INDEX users_created_idx ON users (created_at, user_id);
CREATE INDEX users_reset_idx ON users (budget_reset_at) WHERE budget_reset_at IS NOT NULL;

CREATE TABLE customers (
    user_id              TEXT PRIMARY KEY,
    alias                TEXT NOT NULL DEFAULT '',
    blocked              INTEGER NOT NULL DEFAULT 0,
    max_budget           INTEGER,
    budget_duration      TEXT NOT NULL DEFAULT '',
    budget_reset_at      INTEGER,
    spend                INTEGER NOT NULL DEFAULT 0,
    rpm_limit            INTEGER,
    tpm_limit            INTEGER,
    allowed_model_region TEXT NOT NULL DEFAULT '',
    default_model        TEXT NOT NULL DEFAULT '',
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX customers_created_idx ON customers (created_at, user_id);
CREATE INDEX customers_reset_idx ON customers (budget_reset_at) WHERE budget_reset_at IS NOT NULL;

CREATE TABLE spend_logs (
    request_id        TEXT PRIMARY KEY,
    start_time        INTEGER NOT NULL,
    end_time          INTEGER NOT NULL,
    key_hash          TEXT NOT NULL DEFAULT '',
    key_alias         TEXT NOT NULL DEFAULT '',
    team_id           TEXT NOT NULL DEFAULT '',
    user_id           TEXT NOT NULL DEFAULT '',
    end_user          TEXT NOT NULL DEFAULT '',
    model_group       TEXT NOT NULL DEFAULT '',
    deployment        TEXT NOT NULL DEFAULT '',
    provider          TEXT NOT NULL DEFAULT '',
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens     INTEGER NOT NULL DEFAULT 0,
    cost              INTEGER NOT NULL DEFAULT 0,
    latency_ms        INTEGER NOT NULL DEFAULT 0,
    ttft_ms           INTEGER NOT NULL DEFAULT 0,
    status            TEXT NOT NULL DEFAULT 'ok',
    tags              TEXT NOT NULL DEFAULT 'null',
    metadata          TEXT NOT NULL DEFAULT 'null'
);
CREATE INDEX spend_logs_start_idx ON spend_logs (start_time, request_id);
CREATE INDEX spend_logs_key_idx ON spend_logs (key_hash, start_time);
CREATE INDEX spend_logs_team_idx ON spend_logs (team_id, start_time);
CREATE INDEX spend_logs_user_idx ON spend_logs (user_id, start_time);
CREATE INDEX spend_logs_end_user_idx ON spend_logs (end_user, start_time);
CREATE INDEX spend_logs_model_idx ON spend_logs (model_group, start_time);

CREATE TABLE daily_spend (
    day               TEXT NOT NULL,
    entity_type       TEXT NOT NULL,
    entity_id         TEXT NOT NULL,
    spend             INTEGER NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    requests          INTEGER NOT NULL DEFAULT 0,
    failed_requests   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, entity_type, entity_id)
);
CREATE INDEX daily_spend_entity_idx ON daily_spend (entity_type, day, entity_id);
