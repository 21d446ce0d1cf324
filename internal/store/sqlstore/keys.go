package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/switchboard-gw/switchboard/internal/store"
)

const keyCols = "token_hash, key_name, key_alias, team_id, user_id, models, aliases, " +
	"max_budget, soft_budget, budget_duration, budget_reset_at, spend, " +
	"rpm_limit, tpm_limit, max_parallel_requests, model_max_budget, model_rpm_limit, model_tpm_limit, " +
	"expires_at, blocked, metadata, tags, created_at, updated_at, created_by"

const keyColCount = 25

func scanKey(sc scanner) (*store.Key, error) {
	var k store.Key
	err := sc.Scan(&k.TokenHash, &k.KeyName, &k.KeyAlias, &k.TeamID, &k.UserID,
		jsonCol{&k.Models}, jsonCol{&k.Aliases},
		nullIntCol{&k.MaxBudget}, nullIntCol{&k.SoftBudget}, &k.BudgetDuration, nullTsCol{&k.BudgetResetAt}, &k.Spend,
		nullIntCol{&k.RPMLimit}, nullIntCol{&k.TPMLimit}, nullIntCol{&k.MaxParallelRequests},
		jsonCol{&k.ModelMaxBudget}, jsonCol{&k.ModelRPMLimit}, jsonCol{&k.ModelTPMLimit},
		nullTsCol{&k.ExpiresAt}, &k.Blocked, jsonCol{&k.Metadata}, jsonCol{&k.Tags},
		tsCol{&k.CreatedAt}, tsCol{&k.UpdatedAt}, &k.CreatedBy)
	if err != nil {
		return nil, err
	}
	return &k, nil
}

// CreateKey implements store.KeyStore.
func (s *Store) CreateKey(ctx context.Context, k *store.Key) error {
	if k == nil || k.TokenHash == "" {
		return fmt.Errorf("create key: empty token hash: %w", store.ErrInvalid)
	}
	if err := createStamps(&k.CreatedAt, &k.UpdatedAt, k.BudgetDuration, &k.BudgetResetAt); err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	k.ExpiresAt = normp(k.ExpiresAt)
	var js [8]string
	for i, v := range []any{k.Models, k.Aliases, k.ModelMaxBudget, k.ModelRPMLimit, k.ModelTPMLimit, k.Metadata, k.Tags} {
		var err error
		if js[i], err = jsonText(v); err != nil {
			return fmt.Errorf("create key: %w", err)
		}
	}
	return insertOrConflict(ctx, s.db, "key", k.KeyName, s.q.insertKey,
		k.TokenHash, k.KeyName, k.KeyAlias, k.TeamID, k.UserID, js[0], js[1],
		k.MaxBudget, k.SoftBudget, k.BudgetDuration, s.tsp(k.BudgetResetAt), k.Spend,
		k.RPMLimit, k.TPMLimit, k.MaxParallelRequests, js[2], js[3], js[4],
		s.tsp(k.ExpiresAt), k.Blocked, js[5], js[6], s.ts(k.CreatedAt), s.ts(k.UpdatedAt), k.CreatedBy)
}

// GetKey implements store.KeyStore. The lookup is by primary key, so it
// stays a B-tree search however many keys there are.
func (s *Store) GetKey(ctx context.Context, tokenHash string) (*store.Key, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, s.q.getKey, tokenHash))
	if err != nil {
		return nil, notFound(err, "get key", abbrev(tokenHash))
	}
	return k, nil
}

// UpdateKey implements store.KeyStore: one UPDATE … RETURNING touching only
// the set columns, so concurrent updates of different fields all survive
// and the caller gets the row as committed.
func (s *Store) UpdateKey(ctx context.Context, tokenHash string, u store.KeyUpdate) (*store.Key, error) {
	at := now()
	st := s.update("virtual_keys", at)
	if u.KeyAlias != nil {
		st.val("key_alias", *u.KeyAlias)
	}
	if u.TeamID != nil {
		st.val("team_id", *u.TeamID)
	}
	if u.UserID != nil {
		st.val("user_id", *u.UserID)
	}
	if u.Models != nil {
		st.json("models", *u.Models)
	}
	if u.Aliases != nil {
		st.json("aliases", *u.Aliases)
	}
	st.nullInt("max_budget", u.MaxBudget)
	st.nullInt("soft_budget", u.SoftBudget)
	st.budget(u.BudgetDuration, u.BudgetResetAt, at)
	if u.Spend != nil {
		st.val("spend", *u.Spend)
	}
	st.nullInt("rpm_limit", u.RPMLimit)
	st.nullInt("tpm_limit", u.TPMLimit)
	st.nullInt("max_parallel_requests", u.MaxParallelRequests)
	if u.ModelMaxBudget != nil {
		st.json("model_max_budget", *u.ModelMaxBudget)
	}
	if u.ModelRPMLimit != nil {
		st.json("model_rpm_limit", *u.ModelRPMLimit)
	}
	if u.ModelTPMLimit != nil {
		st.json("model_tpm_limit", *u.ModelTPMLimit)
	}
	st.nullTime("expires_at", u.ExpiresAt)
	if u.Blocked != nil {
		st.val("blocked", *u.Blocked)
	}
	if u.Metadata != nil {
		st.json("metadata", *u.Metadata)
	}
	if u.Tags != nil {
		st.json("tags", *u.Tags)
	}
	q, args, err := st.finish("token_hash", tokenHash, keyCols)
	if err != nil {
		return nil, fmt.Errorf("update key %s: %w", abbrev(tokenHash), err)
	}
	k, err := scanKey(s.db.QueryRowContext(ctx, q, args...))
	if err != nil {
		return nil, notFound(err, "update key", abbrev(tokenHash))
	}
	return k, nil
}

// DeleteKeys implements store.KeyStore.
func (s *Store) DeleteKeys(ctx context.Context, hashes []string) (int, error) {
	return s.deleteIn(ctx, s.db, "virtual_keys", "token_hash", hashes)
}

// ListKeys implements store.KeyStore.
func (s *Store) ListKeys(ctx context.Context, f store.KeyFilter) ([]store.Key, int, error) {
	var w where
	if f.TeamID != "" {
		w.eq("team_id", f.TeamID)
	}
	if f.UserID != "" {
		w.eq("user_id", f.UserID)
	}
	if f.KeyAlias != "" {
		w.eq("key_alias", f.KeyAlias)
	}
	var out []store.Key
	total, err := s.list(ctx, "virtual_keys", keyCols, "created_at, token_hash", &w, f.Page, f.Size, func(r *sql.Rows) error {
		k, err := scanKey(r)
		if err == nil {
			out = append(out, *k)
		}
		return err
	})
	return out, total, err
}

// RegenerateKey implements store.KeyStore: rewriting the primary key in a
// single UPDATE keeps every other column (spend, budgets, metadata) and
// never leaves a moment with zero or two live keys.
func (s *Store) RegenerateKey(ctx context.Context, oldHash, newHash, newName string) (*store.Key, error) {
	if newHash == "" {
		return nil, fmt.Errorf("regenerate key %s: empty new hash: %w", abbrev(oldHash), store.ErrInvalid)
	}
	k, err := scanKey(s.db.QueryRowContext(ctx, s.q.regenerateKey, newHash, newName, s.ts(now()), oldHash))
	if err != nil {
		return nil, notFound(err, "regenerate key", abbrev(oldHash))
	}
	return k, nil
}

// abbrev shortens a key hash for error messages: enough to correlate, and
// a hash is not a secret, but full hashes make logs unreadable.
func abbrev(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
