package server

import (
	"context"
	"encoding/json"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/internal/auth"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/router"
)

// Health is the deployments' health for GET /health; router.Monitor
// implements it.
type Health interface {
	Statuses(now time.Time) []router.DeploymentStatus
	CheckNow(ctx context.Context, keep func(*provider.Deployment) bool)
	Checks() router.CheckConfig
}

// healthRequestTimeout bounds a GET /health that checks deployments on
// demand; each check also has its own (health_check_timeout, 60 s).
const healthRequestTimeout = 2 * time.Minute

// healthEndpoint is one deployment in GET /health: LiteLLM's fields (model,
// model_id, api_base, error) and Switchboard's state. Nothing here is a
// credential: api_base loses userinfo and query, errors are redacted.
type healthEndpoint struct {
	Model          string           `json:"model"`
	ModelName      string           `json:"model_name"`
	ModelID        string           `json:"model_id,omitempty"`
	APIBase        string           `json:"api_base,omitempty"`
	State          string           `json:"state"`
	HalfOpen       bool             `json:"half_open,omitempty"`
	CooldownUntil  *time.Time       `json:"cooldown_until,omitempty"`
	CooldownReason string           `json:"cooldown_reason,omitempty"`
	FailedProbes   int              `json:"failed_probes,omitempty"`
	Error          string           `json:"error,omitempty"`
	LastError      string           `json:"last_error,omitempty"`
	LastErrorAt    *time.Time       `json:"last_error_at,omitempty"`
	LastLatencyMS  *float64         `json:"last_latency_ms,omitempty"`
	LastCheck      *healthCheckJSON `json:"last_check,omitempty"`
	NotChecked     string           `json:"health_check_skipped,omitempty"`
}

type healthCheckJSON struct {
	At        time.Time `json:"at"`
	Healthy   bool      `json:"healthy"`
	Error     string    `json:"error,omitempty"`
	LatencyMS float64   `json:"latency_ms"`
}

type healthResponse struct {
	Healthy        []healthEndpoint `json:"healthy_endpoints"`
	Unhealthy      []healthEndpoint `json:"unhealthy_endpoints"`
	HealthyCount   int              `json:"healthy_count"`
	UnhealthyCount int              `json:"unhealthy_count"`
}

// serveHealth answers GET /health as LiteLLM does — every deployment, as
// healthy or unhealthy endpoints — with each one's routing state. Only the
// master key may ask: the answer maps the operator's providers. Without
// background health checks the deployments are checked now (LiteLLM's
// behaviour); with them, the last results are shown at once.
// ?model= (a model group or provider/model) and ?model_id= narrow it.
func (s *Server) serveHealth(ctx *fasthttp.RequestCtx, p *auth.Principal) {
	if !p.Admin {
		s.writeError(ctx, &provider.Error{Status: 403, Type: "auth_error", Code: "403",
			Message: "only the master key may call /health: it lists every deployment"})
		return
	}
	args := ctx.QueryArgs()
	model, id := string(args.Peek("model")), string(args.Peek("model_id"))
	keep := func(modelName, providerModel, deploymentID string) bool {
		return (model == "" || model == modelName || model == providerModel) && (id == "" || id == deploymentID)
	}
	checks := s.health.Checks()
	if !checks.Background {
		cctx, cancel := context.WithTimeout(s.base, healthRequestTimeout)
		s.health.CheckNow(cctx, func(d *provider.Deployment) bool { return keep(d.ModelName, d.Provider+"/"+d.Model, d.ID) })
		cancel()
	}
	resp := healthResponse{Healthy: []healthEndpoint{}, Unhealthy: []healthEndpoint{}}
	for _, st := range s.health.Statuses(time.Now()) {
		if !keep(st.ModelName, st.Model, st.ID) {
			continue
		}
		e := endpointJSON(&st, !checks.HideDetails)
		if st.State == router.StateHealthy {
			resp.Healthy = append(resp.Healthy, e)
		} else {
			resp.Unhealthy = append(resp.Unhealthy, e)
		}
	}
	resp.HealthyCount, resp.UnhealthyCount = len(resp.Healthy), len(resp.Unhealthy)
	body, err := json.Marshal(resp)
	if err != nil {
		s.writeError(ctx, err)
		return
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

// endpointJSON shows st; without details (health_check_details: false)
// only which deployment and its state.
func endpointJSON(st *router.DeploymentStatus, details bool) healthEndpoint {
	e := healthEndpoint{Model: st.Model, ModelName: st.ModelName, State: string(st.State)}
	if !details {
		return e
	}
	e.ModelID, e.APIBase, e.HalfOpen, e.NotChecked = st.ID, st.APIBase, st.HalfOpen, st.NotChecked
	if !st.CooldownUntil.IsZero() {
		t := st.CooldownUntil.UTC()
		e.CooldownUntil, e.CooldownReason, e.FailedProbes = &t, st.CooldownReason, st.FailedProbes
	}
	if st.LastError != "" {
		t := st.LastErrorAt.UTC()
		e.LastError, e.LastErrorAt = st.LastError, &t
	}
	if st.LastLatency > 0 {
		ms := millis(st.LastLatency)
		e.LastLatencyMS = &ms
	}
	if c := st.Check; c != nil {
		e.LastCheck = &healthCheckJSON{At: c.At.UTC(), Healthy: c.Healthy, Error: c.Error, LatencyMS: millis(c.Latency)}
	}
	switch {
	case st.State == router.StateHealthy:
	case st.Check != nil && !st.Check.Healthy:
		e.Error = st.Check.Error
	default:
		e.Error = st.LastError
	}
	return e
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
