package admin

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/store"
)

// Helpers shared by the key, team, user, customer and spend routes.

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func usdOrNil(v *int64) *float64 {
	if v == nil {
		return nil
	}
	f := microsToUSD(*v)
	return &f
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func orEmptyMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return m
}

func query(r *Request, name string) string {
	if r.Query == nil {
		return ""
	}
	return strings.TrimSpace(r.Query(name))
}

// paging reads the 1-based "page" and the page size, under the first of
// sizeNames present (LiteLLM spells it "size" on some routes and
// "page_size" on others). The size is capped at store.MaxPageSize here as
// well as in the store, so page counts match the page returned.
func paging(r *Request, defSize int, sizeNames ...string) (page, size int, err error) {
	page, size = 1, defSize
	for _, name := range append([]string{"page"}, sizeNames...) {
		s := query(r, name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return 0, 0, badRequest(name, "%s must be a positive integer, got %q", name, s)
		}
		if name == "page" {
			page = n
		} else {
			size = n
			break
		}
	}
	return page, min(size, store.MaxPageSize), nil
}

// newID returns a random UUID (version 4), LiteLLM's form for generated
// team and user ids.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// missing turns a store ErrNotFound into a 404 naming what is missing;
// other errors pass through.
func missing(err error, what, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound(fmt.Sprintf("%s %q not found", what, id))
	}
	return err
}

// requiredID reads a required, non-empty string field such as team_id.
func requiredID(m object, name string) (string, error) {
	raw, ok := m[name]
	if !ok || isNull(raw) {
		return "", badRequest(name, "%s is required", name)
	}
	var s string
	if err := decode(raw, &s, name, "a string"); err != nil {
		return "", err
	}
	if s = strings.TrimSpace(s); s == "" {
		return "", badRequest(name, "%s is required", name)
	}
	return s, nil
}

// idList reads a required, non-empty list of ids (team_ids, user_ids),
// dropping blanks and duplicates.
func idList(m object, name string) ([]string, error) {
	raw, ok := m[name]
	if !ok || isNull(raw) {
		return nil, badRequest(name, "%s is required", name)
	}
	var in []string
	if err := decode(raw, &in, name, "a list of strings"); err != nil {
		return nil, err
	}
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, badRequest(name, "%s must list at least one id", name)
	}
	return out, nil
}

// onlyFields rejects any field of m not in allowed.
func onlyFields(m object, allowed ...string) error {
	for _, name := range m.names() {
		if !slices.Contains(allowed, name) {
			return badRequest(name, "unknown field %q", name)
		}
	}
	return nil
}

// stringList decodes a list of strings; null is the empty list.
func stringList(raw json.RawMessage, name string) (*[]string, error) {
	v := []string{}
	if !isNull(raw) {
		if err := decode(raw, &v, name, "a list of strings"); err != nil {
			return nil, err
		}
	}
	return &v, nil
}

// metadata decodes a JSON object; null is the empty object.
func metadata(raw json.RawMessage, name string) (*map[string]any, error) {
	v := map[string]any{}
	if !isNull(raw) {
		if err := decode(raw, &v, name, "an object"); err != nil {
			return nil, err
		}
	}
	return &v, nil
}

// optBool decodes a boolean; null is absent (nil), since a flag has no
// "no value" state.
func optBool(raw json.RawMessage, name string) (*bool, error) {
	if isNull(raw) {
		return nil, nil
	}
	var v bool
	if err := decode(raw, &v, name, "a boolean"); err != nil {
		return nil, err
	}
	return &v, nil
}

// budgetDuration decodes a budget_duration; null or "" means the budget
// never resets.
func budgetDuration(raw json.RawMessage, name string) (*string, error) {
	d, err := optString(raw, name)
	if err == nil && *d != "" && !store.ValidDuration(*d) {
		err = badRequest(name, "%s %q is not a duration like 30s, 30m, 30h, 30d, 1mo", name, *d)
	}
	return d, err
}

// budgetReset is the reset time stored with a new budget_duration (nil if
// the duration does not change). It is computed here, from the API's clock,
// rather than left to the store, so the window the response shows is the
// one stored.
func (a *API) budgetReset(d *string) (*store.Null[time.Time], error) {
	switch {
	case d == nil:
		return nil, nil
	case *d == "":
		return store.None[time.Time](), nil
	}
	t, err := store.NextReset(a.now(), *d)
	if err != nil {
		return nil, badRequest("budget_duration", "%v", err)
	}
	return store.Some(t), nil
}

// allKeys returns every key matching f, page by page.
func (a *API) allKeys(ctx context.Context, f store.KeyFilter) ([]store.Key, error) {
	var out []store.Key
	f.Size = store.MaxPageSize
	for f.Page = 1; ; f.Page++ {
		ks, total, err := a.keys.ListKeys(ctx, f)
		if err != nil {
			return nil, err
		}
		out = append(out, ks...)
		if len(ks) == 0 || len(out) >= total {
			return out, nil
		}
	}
}

// deleteKeysOf deletes every key matching f (a deleted team's or user's
// keys, as LiteLLM does) and drops them from the gateway's cache.
func (a *API) deleteKeysOf(ctx context.Context, f store.KeyFilter) (int, error) {
	ks, err := a.allKeys(ctx, f)
	if err != nil || len(ks) == 0 {
		return 0, err
	}
	hashes := make([]string, len(ks))
	for i := range ks {
		hashes[i] = ks[i].TokenHash
	}
	n, err := a.keys.DeleteKeys(ctx, hashes)
	for _, h := range hashes {
		a.invalidate(h)
	}
	return n, err
}

// callerKey returns the calling virtual key's record; a 403 when there is
// none, so a non-admin learns nothing about the object it asked for.
func (a *API) callerKey(ctx context.Context, c Caller, what string) (*store.Key, error) {
	if c.KeyHash == "" {
		return nil, forbidden("only the proxy admin or a key of " + what + " may read it")
	}
	k, err := a.keys.GetKey(ctx, c.KeyHash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, forbidden("only the proxy admin or a key of " + what + " may read it")
	}
	return k, err
}

// dateBound parses a start_date/end_date: a UTC date (YYYY-MM-DD) or an
// RFC 3339 time. A date is the whole day, so as an end bound it means the
// start of the next day; an end time is inclusive. The result is an
// exclusive end when end is set.
func dateBound(r *Request, name string, end bool) (time.Time, error) {
	s := query(r, name)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, badRequest(name, "%s must be a date (YYYY-MM-DD) or an RFC 3339 time, got %q", name, s)
	}
	t = t.UTC()
	if end {
		t = t.Truncate(time.Microsecond).Add(time.Microsecond)
	}
	return t, nil
}

// ownerID is the id an info route reads: the param for the admin; for a
// virtual key, only the team or user it belongs to (the param may then be
// omitted), else 403.
func (a *API) ownerID(ctx context.Context, r *Request, param, what string, ownerOf func(*store.Key) string, denied string) (string, error) {
	id := query(r, param)
	if !r.Caller.Admin {
		k, err := a.callerKey(ctx, r.Caller, what)
		if err != nil {
			return "", err
		}
		owner := ownerOf(k)
		if id == "" {
			id = owner
		}
		if owner == "" || owner != id {
			return "", forbidden(denied)
		}
	}
	if id == "" {
		return "", badRequest(param, "%s is required", param)
	}
	return id, nil
}

// keyViews lists every key matching f in its public form.
func (a *API) keyViews(ctx context.Context, f store.KeyFilter) ([]keyView, error) {
	ks, err := a.allKeys(ctx, f)
	if err != nil {
		return nil, err
	}
	keys := make([]keyView, len(ks))
	for i := range ks {
		keys[i] = view(&ks[i])
	}
	return keys, nil
}

// set and setNull copy one field of an update onto an entity being built:
// a nil update field leaves the entity's value alone; a Null clears or sets.
func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func setNull[T any](dst **T, v *store.Null[T]) {
	if v != nil {
		*dst = v.Ptr()
	}
}
