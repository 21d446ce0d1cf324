-- Switchboard schema v1 for PostgreSQL.
-- Times are TIMESTAMPTZ (UTC, microseconds); money is BIGINT micro-dollars;
-- JSON values are JSONB; daily_spend.day is DATE (UTC).

CREATE TABLE virtual_keys (
    token_hash            TEXT PRIMARY KEY,
    key_name              TEXT NOT NULL DEFAULT '',
    key_alias             TEXT NOT NULL DEFAULT '',
    team_id               TEXT NOT NULL DEFAULT '',
    user_id               TEXT NOT NULL DEFAULT '',
    models                JSONB NOT NULL DEFAULT 'null',
    aliases               JSONB NOT NULL DEFAULT 'null',
    max_budget            BIGINT,
    soft_budget           BIGINT,
    budget_duration       TEXT NOT NULL DEFAULT '',
    budget_reset_at       TIMESTAMPTZ,
    spend                 BIGINT NOT NULL DEFAULT 0,
    rpm_limit             BIGINT,
    tpm_limit             BIGINT,
    max_parallel_requests BIGINT,
    model_max_budget      JSONB NOT NULL DEFAULT 'null',
    model_rpm_limit       JSONB NOT NULL DEFAULT 'null',
    model_tpm_limit       JSONB NOT NULL DEFAULT 'null',
    expires_at            TIMESTAMPTZ,
    blocked               BOOLEAN NOT NULL DEFAULT FALSE,
    metadata              JSONB NOT NULL DEFAULT 'null',
    tags                  JSONB NOT NULL DEFAULT 'null',
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL,
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
    models                JSONB NOT NULL DEFAULT 'null',
    max_budget            BIGINT,
    soft_budget           BIGINT,
    budget_duration       TEXT NOT NULL DEFAULT '',
    budget_reset_at       TIMESTAMPTZ,
    spend                 BIGINT NOT NULL DEFAULT 0,
    rpm_limit             BIGINT,
    tpm_limit             BIGINT,
    max_parallel_requests BIGINT,
    blocked               BOOLEAN NOT NULL DEFAULT FALSE,
    metadata              JSONB NOT NULL DEFAULT 'null',
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL
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
    teams                 JSONB NOT NULL DEFAULT 'null',
    models                JSONB NOT NULL DEFAULT 'null',
    max_budget            BIGINT,
    budget_duration       TEXT NOT NULL DEFAULT '',
    budget_reset_at       TIMESTAMPTZ,
    spend                 BIGINT NOT NULL DEFAULT 0,
    rpm_limit             BIGINT,
    tpm_limit             BIGINT,
    max_parallel_requests BIGINT,
    metadata              JSONB NOT NULL DEFAULT 'null',
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX users_email_idx ON users (user_email);
CREATE INDEX users_created_idx ON users (created_at, user_id);
CREATE INDEX users_reset_idx ON users (budget_reset_at) WHERE budget_reset_at IS NOT NULL;

CREATE TABLE customers (
    user_id              TEXT PRIMARY KEY,
    alias                TEXT NOT NULL DEFAULT '',
    blocked              BOOLEAN NOT NULL DEFAULT FALSE,
    max_budget           BIGINT,
    budget_duration      TEXT NOT NULL DEFAULT '',
    budget_reset_at      TIMESTAMPTZ,
    spend                BIGINT NOT NULL DEFAULT 0,
    rpm_limit            BIGINT,
    tpm_limit            BIGINT,
    allowed_model_region TEXT NOT NULL DEFAULT '',
    default_model        TEXT NOT NULL DEFAULT '',
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX customers_created_idx ON customers (created_at, user_id);
CREATE INDEX customers_reset_idx ON customers (budget_reset_at) WHERE budget_reset_at IS NOT NULL;

CREATE TABLE spend_logs (
    request_id        TEXT PRIMARY KEY,
    start_time        TIMESTAMPTZ NOT NULL,
    end_time          TIMESTAMPTZ NOT NULL,
    key_hash          TEXT NOT NULL DEFAULT '',
    key_alias         TEXT NOT NULL DEFAULT '',
    team_id           TEXT NOT NULL DEFAULT '',
    user_id           TEXT NOT NULL DEFAULT '',
    end_user          TEXT NOT NULL DEFAULT '',
    model_group       TEXT NOT NULL DEFAULT '',
    deployment        TEXT NOT NULL DEFAULT '',
    provider          TEXT NOT NULL DEFAULT '',
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    cached_tokens     BIGINT NOT NULL DEFAULT 0,
    cost              BIGINT NOT NULL DEFAULT 0,
    latency_ms        BIGINT NOT NULL DEFAULT 0,
    ttft_ms           BIGINT NOT NULL DEFAULT 0,
    status            TEXT NOT NULL DEFAULT 'ok',
    tags              JSONB NOT NULL DEFAULT 'null',
    metadata          JSONB NOT NULL DEFAULT 'null'
);
CREATE INDEX spend_logs_start_idx ON spend_logs (start_time, request_id);
CREATE INDEX spend_logs_key_idx ON spend_logs (key_hash, start_time);
CREATE INDEX spend_logs_team_idx ON spend_logs (team_id, start_time);
CREATE INDEX spend_logs_user_idx ON spend_logs (user_id, start_time);
CREATE INDEX spend_logs_end_user_idx ON spend_logs (end_user, start_time);
CREATE INDEX spend_logs_model_idx ON spend_logs (model_group, start_time);

CREATE TABLE daily_spend (
    day               DATE NOT NULL,
    entity_type       TEXT NOT NULL,
    entity_id         TEXT NOT NULL,
    spend             BIGINT NOT NULL DEFAULT 0,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    requests          BIGINT NOT NULL DEFAULT 0,
    failed_requests   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, entity_type, entity_id)
);
CREATE INDEX daily_spend_entity_idx ON daily_spend (entity_type, day, entity_id);
