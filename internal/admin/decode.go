package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/auth"
	"github.com/switchboard-gw/switchboard/internal/store"
)

// object is a request body split into its top-level fields. Decoding field
// by field (rather than into one struct) is what lets an update tell an
// absent field (leave alone) from an explicit null (clear), and lets every
// type error name the offending field in "param".
type object map[string]json.RawMessage

func parseObject(b []byte) (object, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return object{}, nil
	}
	var m object
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, badRequest("", "request body must be a JSON object: %v", err)
	}
	if m == nil { // the body was "null"
		m = object{}
	}
	return m, nil
}

// names returns the fields in sorted order so that, of several bad fields,
// the one reported is always the same.
func (m object) names() []string { return slices.Sorted(maps.Keys(m)) }

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// decode unmarshals one field strictly (no unknown nested fields, numbers
// kept as written) and turns a failure into a 400 naming the field.
func decode(raw json.RawMessage, v any, name, want string) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return badRequest(name, "%s must be %s: %v", name, want, err)
	}
	return nil
}

// ignoredField reports LiteLLM key fields that we accept but do not
// implement yet. Rejecting them would break clients migrating from LiteLLM
// for settings that are often only defaults; silently dropping them would
// hide that they have no effect, hence the warning in the response.
func ignoredField(name string) bool {
	switch name {
	case "config", "permissions", "allowed_cache_controls", "guardrails", "organization_id",
		"send_invite_email", "key_type", "enforced_params", "allowed_routes", "object_permission",
		"budget_id", "rpm_limit_type", "tpm_limit_type", "auto_rotate", "rotation_interval",
		"project_id", "agent_id", "policies", "prompts", "access_group_ids", "router_settings",
		"allowed_passthrough_routes", "allowed_vector_store_indexes", "soft_budget_cooldown",
		"temp_budget_increase", "temp_budget_expiry":
		return true
	}
	return false
}

func notImplemented(name string) string {
	return fmt.Sprintf("%s is not implemented yet and was ignored", name)
}

// keyFields decodes the settable key fields of m into an update. Fields in
// own are the route's own (e.g. "key") and are skipped; the caller reads
// them. An explicit null clears a field: a limit or budget becomes
// unlimited, a string, list or map becomes empty, duration means never
// expires; null spend or blocked is treated as absent, since neither has a
// "no value" state. It returns warnings for ignored LiteLLM fields.
func (a *API) keyFields(m object, own ...string) (store.KeyUpdate, []string, error) {
	var u store.KeyUpdate
	var warnings []string
	for _, name := range m.names() {
		raw := m[name]
		null := isNull(raw)
		var err error
		switch {
		case slices.Contains(own, name):
		case ignoredField(name):
			warnings = append(warnings, notImplemented(name))
		case name == "key_alias":
			u.KeyAlias, err = optString(raw, name)
		case name == "team_id":
			u.TeamID, err = optString(raw, name)
		case name == "user_id":
			u.UserID, err = optString(raw, name)
		case name == "models":
			u.Models, err = stringList(raw, name)
		case name == "tags":
			u.Tags, err = stringList(raw, name)
		case name == "aliases":
			v := map[string]string{}
			if !null {
				err = decode(raw, &v, name, "an object of strings")
			}
			u.Aliases = &v
		case name == "metadata":
			u.Metadata, err = metadata(raw, name)
		case name == "max_budget":
			u.MaxBudget, err = nullMoney(raw, name)
		case name == "soft_budget":
			u.SoftBudget, err = nullMoney(raw, name)
		case name == "spend":
			if !null {
				var v int64
				v, err = money(raw, name)
				u.Spend = &v
			}
		case name == "budget_duration":
			u.BudgetDuration, err = budgetDuration(raw, name)
		case name == "rpm_limit":
			u.RPMLimit, err = nullLimit(raw, name)
		case name == "tpm_limit":
			u.TPMLimit, err = nullLimit(raw, name)
		case name == "max_parallel_requests":
			u.MaxParallelRequests, err = nullLimit(raw, name)
		case name == "model_max_budget":
			u.ModelMaxBudget, err = modelBudgets(raw, name)
		case name == "model_rpm_limit":
			u.ModelRPMLimit, err = modelLimits(raw, name)
		case name == "model_tpm_limit":
			u.ModelTPMLimit, err = modelLimits(raw, name)
		case name == "duration":
			u.ExpiresAt, err = a.expiry(raw, name)
		case name == "blocked":
			u.Blocked, err = optBool(raw, name)
		default:
			err = badRequest(name, "unknown field %q", name)
		}
		if err != nil {
			return store.KeyUpdate{}, nil, err
		}
	}
	var err error
	if u.BudgetResetAt, err = a.budgetReset(u.BudgetDuration); err != nil {
		return store.KeyUpdate{}, nil, err
	}
	return u, warnings, nil
}

// optString decodes a string field; null is "".
func optString(raw json.RawMessage, name string) (*string, error) {
	var s string
	if !isNull(raw) {
		if err := decode(raw, &s, name, "a string"); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

func nullMoney(raw json.RawMessage, name string) (*store.Null[int64], error) {
	if isNull(raw) {
		return store.None[int64](), nil
	}
	v, err := money(raw, name)
	if err != nil {
		return nil, err
	}
	return store.Some(v), nil
}

func money(raw json.RawMessage, name string) (int64, error) {
	n, err := number(raw, name)
	if err != nil {
		return 0, err
	}
	v, err := usdToMicros(n)
	if err != nil {
		return 0, badRequest(name, "%s: %v", name, err)
	}
	return v, nil
}

// number decodes a JSON number literal. It refuses a number in a string,
// which decoding into json.Number would accept: "10" is a type error here
// like anywhere else.
func number(raw json.RawMessage, name string) (json.Number, error) {
	var n json.Number
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] == '"' {
		return "", badRequest(name, "%s must be a number (USD), not a string", name)
	}
	if err := decode(raw, &n, name, "a number (USD)"); err != nil {
		return "", err
	}
	return n, nil
}

// maxUSD keeps micro-dollars inside int64 (about 9.2e12 USD) with margin.
const maxUSD = 9e12

// usdToMicros converts a JSON number of US dollars to micro-dollars,
// rounding half up. It rounds the decimal literal itself, not its float64
// approximation, so every value with at most six decimals is exact and
// ties round the way a person reading the number expects.
func usdToMicros(n json.Number) (int64, error) {
	f, _ := strconv.ParseFloat(string(n), 64) // only a range error is possible on a JSON number
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0) || f > maxUSD:
		return 0, fmt.Errorf("%s is too large", n)
	case f < 0:
		return 0, fmt.Errorf("must not be negative, got %s", n)
	case f < 1e-7:
		// Rounds to zero. Answering here also keeps a literal like
		// 1e-999999999 away from big.Rat, which would expand the power.
		return 0, nil
	}
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		return 0, fmt.Errorf("%s is not a number", n)
	}
	r.Mul(r, big.NewRat(1_000_000, 1))
	q, rem := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if rem.Lsh(rem, 1).Cmp(r.Denom()) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return 0, fmt.Errorf("%s is too large", n)
	}
	return q.Int64(), nil
}

// microsToUSD is the API's view of a stored amount. Below 2^53
// micro-dollars (about 9e9 USD) the quotient is the float64 nearest the
// decimal amount, so JSON prints it exactly as written (300000 -> 0.3).
func microsToUSD(v int64) float64 { return float64(v) / 1e6 }

func nullLimit(raw json.RawMessage, name string) (*store.Null[int64], error) {
	if isNull(raw) {
		return store.None[int64](), nil
	}
	var v int64
	if err := decode(raw, &v, name, "a non-negative integer"); err != nil {
		return nil, err
	}
	if v < 0 {
		return nil, badRequest(name, "%s must be a non-negative integer, got %d", name, v)
	}
	return store.Some(v), nil
}

func modelLimits(raw json.RawMessage, name string) (*map[string]int64, error) {
	v := map[string]int64{}
	if !isNull(raw) {
		if err := decode(raw, &v, name, "an object of model name to integer"); err != nil {
			return nil, err
		}
	}
	for model, n := range v {
		if n < 0 {
			return nil, badRequest(name, "%s[%q] must be a non-negative integer, got %d", name, model, n)
		}
	}
	return &v, nil
}

func modelBudgets(raw json.RawMessage, name string) (*map[string]store.ModelBudget, error) {
	out := map[string]store.ModelBudget{}
	if isNull(raw) {
		return &out, nil
	}
	var in map[string]struct {
		MaxBudget      json.RawMessage `json:"max_budget"`
		BudgetDuration string          `json:"budget_duration"`
	}
	if err := decode(raw, &in, name, `an object of model name to {"max_budget", "budget_duration"}`); err != nil {
		return nil, err
	}
	for model, b := range in {
		if b.MaxBudget == nil || isNull(b.MaxBudget) {
			return nil, badRequest(name, "%s[%q].max_budget is required", name, model)
		}
		n, err := number(b.MaxBudget, name)
		if err != nil {
			return nil, err
		}
		v, err := usdToMicros(n)
		if err != nil {
			return nil, badRequest(name, "%s[%q].max_budget: %v", name, model, err)
		}
		if b.BudgetDuration != "" && !store.ValidDuration(b.BudgetDuration) {
			return nil, badRequest(name, "%s[%q].budget_duration %q is not a duration like 30s, 30m, 30h, 30d, 1mo", name, model, b.BudgetDuration)
		}
		out[model] = store.ModelBudget{MaxBudget: v, BudgetDuration: b.BudgetDuration}
	}
	return &out, nil
}

// expiry turns LiteLLM's "duration" ("30s", "30m", "30h", "30d", also
// "2w", "1mo") into an absolute expiry from now; null means never.
func (a *API) expiry(raw json.RawMessage, name string) (*store.Null[time.Time], error) {
	if isNull(raw) {
		return store.None[time.Time](), nil
	}
	var d string
	if err := decode(raw, &d, name, "a string like 30d, or null"); err != nil {
		return nil, err
	}
	s := strings.ToLower(strings.TrimSpace(d))
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, err := strconv.Atoi(s[:i])
	if err != nil || n <= 0 || n > 1_000_000 {
		return nil, badRequest(name, "duration %q is not a positive duration like 30s, 30m, 30h, 30d", d)
	}
	now := a.now().UTC()
	var t time.Time
	switch s[i:] {
	case "s":
		t = now.Add(time.Duration(n) * time.Second)
	case "m":
		t = now.Add(time.Duration(n) * time.Minute)
	case "h":
		t = now.Add(time.Duration(n) * time.Hour)
	case "d":
		t = now.AddDate(0, 0, n)
	case "w":
		t = now.AddDate(0, 0, 7*n)
	case "mo":
		t = now.AddDate(0, n, 0)
	default:
		return nil, badRequest(name, "duration %q has an unknown unit (want s, m, h, d, w, mo)", d)
	}
	return store.Some(t.Truncate(time.Microsecond)), nil
}

// keyID resolves a key as a request names it: a plaintext virtual key is
// hashed, anything else is taken as the hash itself.
func keyID(id string) string {
	id = strings.TrimSpace(id)
	if strings.HasPrefix(id, auth.KeyPrefix) {
		return auth.HashKey(id)
	}
	return strings.ToLower(id)
}

// requiredKey reads a required key identifier field and returns its hash.
func requiredKey(m object, name string) (string, error) {
	raw, ok := m[name]
	if !ok || isNull(raw) {
		return "", badRequest(name, "%s is required", name)
	}
	var s string
	if err := decode(raw, &s, name, "a string"); err != nil {
		return "", err
	}
	if strings.TrimSpace(s) == "" {
		return "", badRequest(name, "%s is required", name)
	}
	return keyID(s), nil
}

// customKey reads an admin-chosen plaintext key ("" if absent). It must
// look like a generated one: the sk- prefix the auth layer expects, enough
// characters to be unguessable, and nothing that cannot travel in an
// Authorization header.
func customKey(m object, name string) (string, error) {
	raw, ok := m[name]
	if !ok || isNull(raw) {
		return "", nil
	}
	var s string
	if err := decode(raw, &s, name, "a string"); err != nil {
		return "", err
	}
	rest, ok := strings.CutPrefix(s, auth.KeyPrefix)
	if !ok || len(rest) < 16 || len(s) > 256 {
		return "", badRequest(name, "%s must start with %q followed by 16 to 253 characters", name, auth.KeyPrefix)
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c <= ' ' || c >= 0x7f {
			return "", badRequest(name, "%s must be printable ASCII without spaces", name)
		}
	}
	return s, nil
}
