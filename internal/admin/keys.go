package admin

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/switchboard-gw/switchboard/internal/auth"
	"github.com/switchboard-gw/switchboard/internal/store"
)

// keyView is a key as the API shows it, with LiteLLM's field names. Unset
// optional fields are null, and lists and maps are [] and {}, never
// missing, as LiteLLM's own responses are. It never holds the plaintext.
type keyView struct {
	Token               string                     `json:"token"` // the hash
	KeyName             string                     `json:"key_name"`
	KeyAlias            *string                    `json:"key_alias"`
	TeamID              *string                    `json:"team_id"`
	UserID              *string                    `json:"user_id"`
	Models              []string                   `json:"models"`
	Aliases             map[string]string          `json:"aliases"`
	Spend               float64                    `json:"spend"`
	MaxBudget           *float64                   `json:"max_budget"`
	SoftBudget          *float64                   `json:"soft_budget"`
	BudgetDuration      *string                    `json:"budget_duration"`
	BudgetResetAt       *time.Time                 `json:"budget_reset_at"`
	RPMLimit            *int64                     `json:"rpm_limit"`
	TPMLimit            *int64                     `json:"tpm_limit"`
	MaxParallelRequests *int64                     `json:"max_parallel_requests"`
	ModelMaxBudget      map[string]modelBudgetView `json:"model_max_budget"`
	ModelRPMLimit       map[string]int64           `json:"model_rpm_limit"`
	ModelTPMLimit       map[string]int64           `json:"model_tpm_limit"`
	Expires             *time.Time                 `json:"expires"`
	Blocked             bool                       `json:"blocked"`
	Metadata            map[string]any             `json:"metadata"`
	Tags                []string                   `json:"tags"`
	CreatedAt           time.Time                  `json:"created_at"`
	UpdatedAt           time.Time                  `json:"updated_at"`
	CreatedBy           *string                    `json:"created_by"`
}

type modelBudgetView struct {
	MaxBudget      float64 `json:"max_budget"`
	BudgetDuration *string `json:"budget_duration"`
}

// infoView is /key/info's "info": the key plus what a client would
// otherwise compute, the budget left.
type infoView struct {
	keyView
	RemainingBudget *float64 `json:"remaining_budget"` // null = no budget
}

// createdView answers generate and regenerate: the only responses that
// carry the plaintext key.
type createdView struct {
	keyView
	Key      string   `json:"key"`      // plaintext, shown this once
	TokenID  string   `json:"token_id"` // the hash, under LiteLLM's other name for it
	Warnings []string `json:"warnings,omitempty"`
}

// changedView answers update, block and unblock; "key" is the hash, so a
// plaintext given in the request is not echoed into logs.
type changedView struct {
	keyView
	Key      string   `json:"key"`
	Warnings []string `json:"warnings,omitempty"`
}

func view(k *store.Key) keyView {
	v := keyView{
		Token:               k.TokenHash,
		KeyName:             k.KeyName,
		KeyAlias:            strOrNil(k.KeyAlias),
		TeamID:              strOrNil(k.TeamID),
		UserID:              strOrNil(k.UserID),
		Models:              orEmpty(k.Models),
		Aliases:             orEmptyMap(k.Aliases),
		Spend:               microsToUSD(k.Spend),
		MaxBudget:           usdOrNil(k.MaxBudget),
		SoftBudget:          usdOrNil(k.SoftBudget),
		BudgetDuration:      strOrNil(k.BudgetDuration),
		BudgetResetAt:       utc(k.BudgetResetAt),
		RPMLimit:            k.RPMLimit,
		TPMLimit:            k.TPMLimit,
		MaxParallelRequests: k.MaxParallelRequests,
		ModelMaxBudget:      make(map[string]modelBudgetView, len(k.ModelMaxBudget)),
		ModelRPMLimit:       orEmptyMap(k.ModelRPMLimit),
		ModelTPMLimit:       orEmptyMap(k.ModelTPMLimit),
		Expires:             utc(k.ExpiresAt),
		Blocked:             k.Blocked,
		Metadata:            orEmptyMap(k.Metadata),
		Tags:                orEmpty(k.Tags),
		CreatedAt:           k.CreatedAt.UTC(),
		UpdatedAt:           k.UpdatedAt.UTC(),
		CreatedBy:           strOrNil(k.CreatedBy),
	}
	for m, b := range k.ModelMaxBudget {
		v.ModelMaxBudget[m] = modelBudgetView{MaxBudget: microsToUSD(b.MaxBudget), BudgetDuration: strOrNil(b.BudgetDuration)}
	}
	return v
}

// apply sets the fields of u on a key being created.
func apply(k *store.Key, u store.KeyUpdate) {
	set(&k.KeyAlias, u.KeyAlias)
	set(&k.TeamID, u.TeamID)
	set(&k.UserID, u.UserID)
	set(&k.BudgetDuration, u.BudgetDuration)
	set(&k.Models, u.Models)
	set(&k.Aliases, u.Aliases)
	setNull(&k.MaxBudget, u.MaxBudget)
	setNull(&k.SoftBudget, u.SoftBudget)
	setNull(&k.BudgetResetAt, u.BudgetResetAt)
	set(&k.Spend, u.Spend)
	setNull(&k.RPMLimit, u.RPMLimit)
	setNull(&k.TPMLimit, u.TPMLimit)
	setNull(&k.MaxParallelRequests, u.MaxParallelRequests)
	set(&k.ModelMaxBudget, u.ModelMaxBudget)
	set(&k.ModelRPMLimit, u.ModelRPMLimit)
	set(&k.ModelTPMLimit, u.ModelTPMLimit)
	setNull(&k.ExpiresAt, u.ExpiresAt)
	set(&k.Blocked, u.Blocked)
	set(&k.Metadata, u.Metadata)
	set(&k.Tags, u.Tags)
}

// generate serves POST /key/generate.
func (a *API) generate(ctx context.Context, r *Request) (any, error) {
	m, err := parseObject(r.Body)
	if err != nil {
		return nil, err
	}
	plaintext, err := customKey(m, "key")
	if err != nil {
		return nil, err
	}
	u, warnings, err := a.keyFields(m, "key")
	if err != nil {
		return nil, err
	}
	k, plaintext, err := a.createKey(ctx, plaintext, u)
	if err != nil {
		return nil, err
	}
	return createdView{keyView: view(k), Key: plaintext, TokenID: k.TokenHash, Warnings: warnings}, nil
}

// createKey stores a new key with the settings in u: plaintext is the
// admin's chosen key, or "" for a generated one. It returns the stored key
// and its plaintext, the only time the plaintext exists.
func (a *API) createKey(ctx context.Context, plaintext string, u store.KeyUpdate) (*store.Key, string, error) {
	var hash, name string
	if plaintext == "" {
		plaintext, hash, name = auth.NewVirtualKey()
	} else {
		hash, name = auth.HashKey(plaintext), auth.MaskKey(plaintext)
	}
	now := a.now().UTC().Truncate(time.Microsecond)
	k := &store.Key{TokenHash: hash, KeyName: name, CreatedAt: now, UpdatedAt: now}
	apply(k, u)
	if err := a.keys.CreateKey(ctx, k); err != nil {
		return nil, "", a.conflict(ctx, err, k.KeyAlias, "key")
	}
	return k, plaintext, nil
}

// conflict explains an ErrConflict from creating or changing a key: which
// unique value is taken. LiteLLM answers 400 here, so we do too.
func (a *API) conflict(ctx context.Context, err error, alias, keyParam string) error {
	if !errors.Is(err, store.ErrConflict) {
		return err
	}
	if alias != "" {
		if _, n, lerr := a.keys.ListKeys(ctx, store.KeyFilter{KeyAlias: alias, Size: 1}); lerr == nil && n > 0 {
			return badRequest("key_alias", "key_alias %q is already used by another key", alias)
		}
	}
	return badRequest(keyParam, "this key already exists")
}

// update serves POST /key/update: only the fields present change.
func (a *API) update(ctx context.Context, r *Request) (any, error) {
	m, err := parseObject(r.Body)
	if err != nil {
		return nil, err
	}
	hash, err := requiredKey(m, "key")
	if err != nil {
		return nil, err
	}
	u, warnings, err := a.keyFields(m, "key")
	if err != nil {
		return nil, err
	}
	k, err := a.keys.UpdateKey(ctx, hash, u)
	if err != nil {
		alias := ""
		if u.KeyAlias != nil {
			alias = *u.KeyAlias
		}
		return nil, a.conflict(ctx, err, alias, "key")
	}
	a.invalidate(hash)
	if u.Spend != nil {
		a.hooks.SpendSet(store.EntityKey, hash, k.BudgetDuration, k.BudgetResetAt)
	}
	return changedView{keyView: view(k), Key: hash, Warnings: warnings}, nil
}

// setBlocked serves POST /key/block and /key/unblock.
func (a *API) setBlocked(ctx context.Context, r *Request, blocked bool) (any, error) {
	m, err := parseObject(r.Body)
	if err != nil {
		return nil, err
	}
	for _, name := range m.names() {
		if name != "key" {
			return nil, badRequest(name, "unknown field %q", name)
		}
	}
	hash, err := requiredKey(m, "key")
	if err != nil {
		return nil, err
	}
	k, err := a.keys.UpdateKey(ctx, hash, store.KeyUpdate{Blocked: &blocked})
	if err != nil {
		return nil, err
	}
	a.invalidate(hash)
	return changedView{keyView: view(k), Key: hash}, nil
}

func (a *API) block(ctx context.Context, r *Request) (any, error) { return a.setBlocked(ctx, r, true) }
func (a *API) unblock(ctx context.Context, r *Request) (any, error) {
	return a.setBlocked(ctx, r, false)
}

// delete serves POST /key/delete: {"keys": [...]} and/or
// {"key_aliases": [...]}. It answers the identifiers, as given, that named
// an existing key, and 404 when none did.
func (a *API) delete(ctx context.Context, r *Request) (any, error) {
	m, err := parseObject(r.Body)
	if err != nil {
		return nil, err
	}
	var keys, aliases []string
	for _, name := range m.names() {
		switch name {
		case "keys":
			err = decode(m[name], &keys, name, "a list of keys or key hashes")
		case "key_aliases":
			err = decode(m[name], &aliases, name, "a list of key aliases")
		default:
			err = badRequest(name, "unknown field %q", name)
		}
		if err != nil {
			return nil, err
		}
	}
	if len(keys)+len(aliases) == 0 {
		return nil, badRequest("keys", "keys or key_aliases is required")
	}
	var found, hashes []string
	seen := map[string]bool{}
	for _, id := range keys {
		h := keyID(id)
		if seen[h] {
			continue
		}
		if _, err := a.keys.GetKey(ctx, h); errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		seen[h] = true
		found, hashes = append(found, id), append(hashes, h)
	}
	for _, alias := range aliases {
		if alias == "" {
			// An empty filter matches every key: never let it pick one.
			continue
		}
		ks, _, err := a.keys.ListKeys(ctx, store.KeyFilter{KeyAlias: alias, Size: 1})
		if err != nil {
			return nil, err
		}
		if len(ks) == 0 || seen[ks[0].TokenHash] {
			continue
		}
		seen[ks[0].TokenHash] = true
		found, hashes = append(found, alias), append(hashes, ks[0].TokenHash)
	}
	if len(hashes) == 0 {
		return nil, notFound("none of the keys to delete exist")
	}
	if _, err := a.keys.DeleteKeys(ctx, hashes); err != nil {
		return nil, err
	}
	for _, h := range hashes {
		a.invalidate(h)
	}
	return map[string][]string{"deleted_keys": found}, nil
}

// info serves GET /key/info?key=. The admin may read any key; a virtual
// key only itself, so one leaked key cannot enumerate the others' limits.
func (a *API) info(ctx context.Context, r *Request) (any, error) {
	q := query(r, "key")
	var hash string
	switch {
	case q != "":
		hash = keyID(q)
	case r.Caller.Admin:
		return nil, badRequest("key", "key is required")
	default:
		hash = r.Caller.KeyHash
	}
	// Checked before the lookup so a non-admin learns nothing, not even
	// whether another key exists.
	if !r.Caller.Admin && (r.Caller.KeyHash == "" || hash != r.Caller.KeyHash) {
		return nil, forbidden("a virtual key may only read its own info")
	}
	k, err := a.keys.GetKey(ctx, hash)
	if err != nil {
		return nil, err
	}
	v := infoView{keyView: view(k)}
	if k.MaxBudget != nil {
		rem := microsToUSD(*k.MaxBudget - k.Spend)
		v.RemainingBudget = &rem
	}
	return map[string]any{"key": hash, "info": v}, nil
}

// list serves GET /key/list.
func (a *API) list(ctx context.Context, r *Request) (any, error) {
	f := store.KeyFilter{TeamID: query(r, "team_id"), UserID: query(r, "user_id"), KeyAlias: query(r, "key_alias")}
	var err error
	if f.Page, f.Size, err = paging(r, store.DefaultPageSize, "size"); err != nil {
		return nil, err
	}
	full := false
	if s := query(r, "return_full_object"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, badRequest("return_full_object", "return_full_object must be true or false, got %q", s)
		}
		full = b
	}
	ks, total, err := a.keys.ListKeys(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(ks))
	for i := range ks {
		if full {
			out = append(out, view(&ks[i]))
		} else {
			out = append(out, ks[i].TokenHash)
		}
	}
	return map[string]any{
		"keys":         out,
		"total_count":  total,
		"current_page": f.Page,
		"total_pages":  (total + f.Size - 1) / f.Size,
	}, nil
}

// regenerate serves POST /key/regenerate ({"key": ...}).
func (a *API) regenerate(ctx context.Context, r *Request) (any, error) {
	return a.regenerateKey(ctx, r, "")
}

// regenerateKey serves both regenerate routes; pathKey is the key from
// /key/{key}/regenerate ("" for the body form). The key gets a new
// plaintext (or the admin's new_key) and keeps every setting and its
// spend; other key fields in the body are applied as an update.
func (a *API) regenerateKey(ctx context.Context, r *Request, pathKey string) (any, error) {
	m, err := parseObject(r.Body)
	if err != nil {
		return nil, err
	}
	var old string
	if pathKey != "" {
		old = keyID(pathKey)
		if _, inBody := m["key"]; inBody {
			if b, err := requiredKey(m, "key"); err != nil || b != old {
				return nil, badRequest("key", "the key in the body differs from the key in the path")
			}
		}
	} else if old, err = requiredKey(m, "key"); err != nil {
		return nil, err
	}
	newKey, err := customKey(m, "new_key")
	if err != nil {
		return nil, err
	}
	u, warnings, err := a.keyFields(m, "key", "new_key", "grace_period")
	if err != nil {
		return nil, err
	}
	if _, ok := m["grace_period"]; ok {
		// Without a grace period the old key stops working at once, which
		// is the safe reading of a request we cannot fully honour.
		warnings = append(warnings, "grace_period is not implemented yet: the old key stopped working immediately")
	}
	// The update goes first: if it fails (say, a taken alias) nothing has
	// rotated, whereas failing after the rotation would lose the only copy
	// of the new plaintext.
	if u != (store.KeyUpdate{}) {
		if _, err := a.keys.UpdateKey(ctx, old, u); err != nil {
			alias := ""
			if u.KeyAlias != nil {
				alias = *u.KeyAlias
			}
			return nil, a.conflict(ctx, err, alias, "key")
		}
		a.invalidate(old)
	}
	var hash, name string
	if newKey == "" {
		newKey, hash, name = auth.NewVirtualKey()
	} else {
		hash, name = auth.HashKey(newKey), auth.MaskKey(newKey)
	}
	k, err := a.keys.RegenerateKey(ctx, old, hash, name)
	if err != nil {
		return nil, a.conflict(ctx, err, "", "new_key")
	}
	a.invalidate(old)
	// The new hash too: a gateway that caches "no such key" must not keep
	// refusing an admin-chosen new_key it saw before.
	a.invalidate(hash)
	return createdView{keyView: view(k), Key: newKey, TokenID: hash, Warnings: warnings}, nil
}
