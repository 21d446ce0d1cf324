// Package app wires the gateway together: configuration → providers →
// router → pipeline → server, and runs it until the context ends. It is the
// only package that knows every concrete implementation.
package app

import (
	"context"

	"errors"
	"fmt"
	"github.com/redis/go-redis/v9"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/switchboard-gw/switchboard/internal/admin"
	"github.com/switchboard-gw/switchboard/internal/auth"
	"github.com/switchboard-gw/switchboard/internal/broadcast"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/counter"
	"github.com/switchboard-gw/switchboard/internal/policy"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/provider/anthropic"
	"github.com/switchboard-gw/switchboard/internal/provider/bedrock"
	"github.com/switchboard-gw/switchboard/internal/provider/cohere"
	"github.com/switchboard-gw/switchboard/internal/provider/gemini"
	"github.com/switchboard-gw/switchboard/internal/provider/mock"
	"github.com/switchboard-gw/switchboard/internal/provider/ollama"
	"github.com/switchboard-gw/switchboard/internal/provider/openaicompat"
	"github.com/switchboard-gw/switchboard/internal/proxy"
	"github.com/switchboard-gw/switchboard/internal/router"
	"github.com/switchboard-gw/switchboard/internal/server"
	"github.com/switchboard-gw/switchboard/internal/spend"
	"github.com/switchboard-gw/switchboard/internal/store"
	"github.com/switchboard-gw/switchboard/internal/store/sqlstore"
	"github.com/switchboard-gw/switchboard/internal/telemetry"
	"github.com/switchboard-gw/switchboard/internal/upstream"
	"github.com/switchboard-gw/switchboard/internal/version"
)

// Options are the command line's choices.
type Options struct {
	ConfigPath    string
	Model         string // quick mode: serve this one model
	Host          string
	Port          int // -1: unset (then $PORT, then 4000); 0: any free port
	DetailedDebug bool
	JSONLogs      bool
	DrainTimeout  time.Duration
	LookupEnv     func(string) (string, bool)
	Log           io.Writer
	// Ready is called with the listening address once the gateway accepts
	// connections (tests listen on port 0).
	Ready func(net.Addr)
}

// Defaults that LiteLLM does not define.
const (
	DefaultPort         = 4000
	DefaultMaxBodySize  = 32 << 20
	DefaultDrainTimeout = 30 * time.Second
)

// Load reads the configuration the options name and reports its warnings.
func Load(o Options) (*config.Config, []config.Warning, error) {
	if o.Model != "" && o.ConfigPath == "" {
		c, err := config.ForModel(o.Model)
		if err == nil && o.LookupEnv != nil {
			// A config file gets DATABASE_URL from the loader; quick mode has none.
			c.GeneralSettings.DatabaseURL, _ = o.LookupEnv("DATABASE_URL")
		}
		return c, nil, err
	}
	if o.ConfigPath == "" {
		return nil, nil, errors.New("no configuration: pass --config FILE (or --model PROVIDER/MODEL for a single model)")
	}
	return config.Load(o.ConfigPath, o.LookupEnv)
}

// Gateway is a built, not yet serving, gateway.
type Gateway struct {
	cfg        *config.Config
	log        *slog.Logger
	server     *server.Server
	client     *upstream.Client
	clientSide *clientSide // nil: requests may not name their own api_base/api_key
	db         *database
	redis      *redis.Client // nil: counters in memory
	ledger     *ledger
	metrics    *telemetry.Metrics
	spillDir   string
	resetEvery time.Duration
	auth       *auth.Authenticator
	limiter    *policy.Limiter
	bus        broadcast.Bus   // carries cache invalidations to every replica
	monitor    *router.Monitor // cooldowns and health checks
	addr       string
	open       bool
}

// Build turns a validated configuration into a gateway.
func Build(cfg *config.Config, o Options, log *slog.Logger) (*Gateway, error) {
	env := envLookup(cfg, o.LookupEnv)
	masterKey := cfg.GeneralSettings.MasterKey
	for _, name := range []string{"SWITCHBOARD_MASTER_KEY", "LITELLM_MASTER_KEY"} {
		if masterKey == "" {
			masterKey, _ = env(name)
		}
	}
	if masterKey != "" {
		if err := auth.CheckMasterKey(masterKey); err != nil {
			if v, _ := env("SWITCHBOARD_ALLOW_WEAK_MASTER_KEY"); v != "1" && v != "true" {
				return nil, fmt.Errorf("refusing to start: %w; use a long random key (e.g. sk- followed by 32 random hex characters), or set SWITCHBOARD_ALLOW_WEAK_MASTER_KEY=1 for local experiments", err)
			}
			log.Warn("starting with a weak master key because SWITCHBOARD_ALLOW_WEAK_MASTER_KEY is set", "reason", err.Error())
		}
	}

	// Keep as many idle upstream connections per host as a busy gateway has
	// requests in flight; a smaller pool closes and redials under load.
	if _, _, _, err := sqlstore.DriverFor(databaseURL(cfg)); err != nil {
		return nil, fmt.Errorf("general_settings.database_url: %w", err)
	}
	client := upstream.New(upstream.Options{MaxIdleConnsPerHost: 1024})
	deps, wildcard, err := deployments(cfg, client, env, log)
	if err != nil {
		return nil, err
	}
	// Counters live in Redis when one is configured, so every replica
	// enforces one global limit; otherwise in this process.
	var counters counter.Store = counter.NewMemory(nil)
	ropts, err := redisOptions(cfg, env)
	if err != nil {
		return nil, err
	}
	var redisClient *redis.Client
	if ropts != nil {
		redisClient = redis.NewClient(ropts)
		counters = counter.NewRedis(redisClient, "sb:")
		log.Info("rate limits are shared through Redis", "addr", ropts.Addr)
	}
	priced, err := prices(cfg, deps, env)
	if err != nil {
		return nil, err
	}
	// The database is opened by Run (validate builds without touching it);
	// readiness and key lookups go through g, which Run fills before serving.
	g := &Gateway{}
	// The ledger's writer needs the store, which Run opens.
	ldg := &ledger{log: log}
	limiter := policy.New(counters, directory{g}, log)
	rt, err := router.NewWith(priceDeployments(deps, priced), routerOptions(cfg, counters, limiter.Replicas, wildcard, log))
	if err != nil {
		return nil, err
	}
	metrics := telemetry.NewMetrics(rt.Names(), log)
	metrics.WatchCounters(limiter.Degraded)
	g.monitor = router.NewMonitor(routed(deps), healthConfig(cfg, wildcard, log))
	rt.SetHealth(g.monitor)
	metrics.WatchDeployments(g.monitor)
	g.auth = auth.New(masterKey, directory{g})
	pipeline := &proxy.Pipeline{Router: rt, Observer: observers{metrics, ldg}, Limiter: limiter, Prices: priced, EndUsers: g.auth}
	pipeline.Retries, pipeline.Fallbacks = attemptSettings(cfg)
	pipeline.Attempts = metrics
	if g.clientSide, err = newClientSide(cfg); err != nil {
		return nil, err
	}
	if g.clientSide != nil {
		pipeline.Override = g.clientSide.Override
	}

	scfg := server.Config{
		MaxBodySize:    DefaultMaxBodySize,
		RequestTimeout: time.Duration(cfg.LiteLLMSettings.RequestTimeout),
		ReadTimeout:    60 * time.Second,
		IdleTimeout:    120 * time.Second,
		MetricsAuth:    cfg.LiteLLMSettings.RequireAuthForMetricsEndpoint != nil && *cfg.LiteLLMSettings.RequireAuthForMetricsEndpoint,
		Version:        version.Version,
	}
	if mb := cfg.GeneralSettings.MaxRequestSizeMB; mb > 0 {
		scfg.MaxBodySize = mb << 20
	}
	if scfg.RequestTimeout <= 0 {
		scfg.RequestTimeout = 6000 * time.Second
	}
	srv := server.New(scfg, server.Deps{Pipeline: pipeline, Auth: g.auth, Metrics: metrics.Handler(), Log: log, Started: metrics.Started, Database: g.databaseStatus,
		Health: g.monitor, Redis: g.redisStatus}, rt.Models())

	host := o.Host
	if host == "" {
		host, _ = env("HOST")
	}
	if host == "" {
		host = "0.0.0.0"
	}
	port := o.Port
	if port < 0 {
		port = DefaultPort
		if p, ok := env("PORT"); ok {
			if port, err = strconv.Atoi(p); err != nil || port < 0 {
				return nil, fmt.Errorf("PORT=%q is not a port number", p)
			}
		}
	}
	g.cfg, g.log, g.server, g.client, g.open, g.redis, g.ledger, g.limiter = cfg, log, srv, client, masterKey == "", redisClient, ldg, limiter
	g.spillDir = spillDir(env, databaseURL(cfg))
	g.metrics = metrics
	g.resetEvery = budgetResetInterval(env)
	if g.open {
		// Without a master key anyone who can connect can spend the
		// operator's provider credits: only this machine may connect.
		host = "127.0.0.1"
	}
	g.addr = net.JoinHostPort(host, strconv.Itoa(port))
	return g, nil
}

// envLookup resolves environment variables with the config's
// environment_variables first, as LiteLLM exports them at start.
func envLookup(cfg *config.Config, lookup func(string) (string, bool)) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if v, ok := cfg.EnvironmentVariables[name]; ok {
			return v, true
		}
		if lookup == nil {
			return "", false
		}
		return lookup(name)
	}
}

// deployments builds one provider.Deployment per model_list entry, with
// its routing settings, and the function that makes a wildcard entry's
// deployment for one requested model (router.Options.Prepare).
func deployments(cfg *config.Config, client *upstream.Client, env func(string) (string, bool), log *slog.Logger) ([]router.Weighted, func(*provider.Deployment, string) (*provider.Deployment, error), error) {
	pp := &preparer{client: client, env: env, mock: mock.New(), http: map[string]provider.Provider{}}
	var out []router.Weighted
	var problems []error
	for i := range cfg.ModelList {
		m := &cfg.ModelList[i]
		p := &m.Params
		d := &provider.Deployment{
			ID:            m.ID,
			ModelName:     m.ModelName,
			Provider:      m.Provider,
			Model:         m.UpstreamModel,
			APIBase:       p.APIBase,
			APIVersion:    p.APIVersion,
			Organization:  p.Organization,
			APIKey:        provider.Secret(p.APIKey),
			Timeout:       time.Duration(p.Timeout),
			StreamTimeout: time.Duration(p.StreamTimeout),
			Extra:         p.Extra,
			DropParams:    dropParams(p.DropParams, cfg.LiteLLMSettings.DropParams),
		}
		if d.Timeout == 0 {
			d.Timeout = time.Duration(cfg.RouterSettings.Timeout)
		}
		if d.StreamTimeout == 0 {
			d.StreamTimeout = time.Duration(cfg.RouterSettings.StreamTimeout)
		}
		for k, v := range p.ExtraHeaders {
			d.Headers = append(d.Headers, [2]string{k, v})
		}
		resp := ""
		if p.MockResponse != nil {
			resp = *p.MockResponse
		}
		if err := pp.prepare(d, resp); err != nil {
			problems = append(problems, fmt.Errorf("model_list[%d] (%s): %w", i, m.ModelName, err))
			continue
		}
		if u, ok := d.Impl.(unavailable); ok && u.name != "*" {
			log.Warn("provider is not implemented yet: requests to this model will fail with 501", "model_name", m.ModelName, "provider", m.Provider)
		}
		out = append(out, weighted(d, m))
	}
	return out, pp.wildcard, errors.Join(problems...)
}

// preparer readies deployments for their provider, with one client per
// provider. After Build only the router's wildcard groups use it, one at a
// time (the router makes them under a lock).
type preparer struct {
	client *upstream.Client
	env    func(string) (string, bool)
	mock   provider.Provider
	http   map[string]provider.Provider
}

// shared is the provider serving name's deployments, made on first use.
func (pp *preparer) shared(name string, build func() provider.Provider) provider.Provider {
	if pp.http[name] == nil {
		pp.http[name] = build()
	}
	return pp.http[name]
}

func (pp *preparer) prepare(d *provider.Deployment, mockResponse string) error {
	var err error
	name, client, env := d.Provider, pp.client, pp.env
	switch {
	case name == "mock":
		err = mock.Prepare(d, mockResponse)
		d.Impl = pp.mock
	case openaicompat.Handles(name):
		err = openaicompat.Prepare(d, env)
		d.Impl = pp.shared(name, func() provider.Provider {
			return provider.NewHTTP(name, client, openaicompat.Codec{}, openaicompat.Ops...)
		})
	// Translating providers: one case each.
	case name == "anthropic":
		err = anthropic.Prepare(d, env)
		d.Impl = pp.shared(name, func() provider.Provider { return provider.NewHTTP(name, client, anthropic.Codec{}, provider.OpChat) })
	case gemini.Handles(name, d.Model):
		err = gemini.Prepare(d, env)
		d.Impl = pp.shared(name, func() provider.Provider { return provider.NewHTTP(name, client, gemini.Codec{}, gemini.Ops...) })
	case name == "bedrock":
		err = bedrock.Prepare(d, env)
		d.Impl = pp.shared(name, func() provider.Provider { return bedrock.New(client) })
	case cohere.Handles(name):
		err = cohere.Prepare(d, env)
		d.Impl = pp.shared(name, func() provider.Provider { return provider.NewHTTP(name, client, cohere.Codec{}, cohere.Ops...) })
	case name == "ollama" || name == "ollama_chat":
		err = ollama.Prepare(d, env)
		d.Impl = pp.shared(name, func() provider.Provider { return provider.NewHTTP(name, client, ollama.Codec{}, ollama.Ops...) })
	default:
		// Also model: "*", whose requests each get a deployment of the
		// provider their model names (wildcard), never this one.
		d.Impl = unavailable{name: name}
	}
	return err
}

// wildcard makes the deployment serving model for a wildcard entry t
// ("openai/*", "*"): t's settings with the upstream model, prepared like a
// configured deployment. For "*" the provider comes from model itself,
// with the environment's credentials, as in LiteLLM.
func (pp *preparer) wildcard(t *provider.Deployment, model string) (*provider.Deployment, error) {
	d := &provider.Deployment{
		ID: t.ID, ModelName: t.ModelName, Provider: t.Provider, Model: model,
		APIBase: t.APIBase, APIVersion: t.APIVersion, Organization: t.Organization, APIKey: t.APIKey,
		Headers: t.Headers, Timeout: t.Timeout, StreamTimeout: t.StreamTimeout, Extra: t.Extra, DropParams: t.DropParams,
	}
	if d.Provider == "*" {
		p, upstreamModel, ok := config.ResolveModel(model)
		if !ok {
			return nil, fmt.Errorf("cannot tell the provider of %q: name it as \"<provider>/<model>\"", model)
		}
		d.Provider, d.Model = p, upstreamModel
	}
	if d.Provider == "mock" {
		// The mock's settings are the entry's, whatever the model.
		d.Private, d.Impl = t.Private, t.Impl
		return d, nil
	}
	if err := pp.prepare(d, ""); err != nil {
		return nil, err
	}
	if _, ok := d.Impl.(unavailable); ok {
		return nil, fmt.Errorf("provider %q is not implemented yet in this Switchboard build", d.Provider)
	}
	return d, nil
}

// dropParams is the deployment's drop_params, else the global one.
func dropParams(deployment, global *bool) bool {
	if deployment != nil {
		return *deployment
	}
	return global != nil && *global
}

// unavailable serves deployments of providers this build does not speak yet,
// so that a LiteLLM config naming them still starts and says so per request.
type unavailable struct{ name string }

func (u unavailable) Name() string              { return u.name }
func (u unavailable) Supports(provider.Op) bool { return true }
func (u unavailable) Send(context.Context, *provider.Call, *provider.Result) error {
	return &provider.Error{Status: 501, Type: "not_implemented", Code: "provider_not_implemented",
		Message: "provider '" + u.name + "' is not implemented yet in this Switchboard build"}
}

func (g *Gateway) databaseStatus() (string, bool) { return g.db.status() }

// changed drops a record an admin changed from every replica's caches:
// at once on this one, and through Redis on the others.
func (g *Gateway) changed(kind, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := g.bus.Publish(ctx, kind, id); err != nil {
		g.log.Warn("could not tell other replicas about a change; they see it when their cache entry expires (10 s)", "kind", kind, "error", err.Error())
	}
}

// caches receives invalidations from the bus.
type caches struct{ a *auth.Authenticator }

func (c caches) Message(kind, id string) { c.a.Invalidate(kind, id) }
func (c caches) Reset()                  { c.a.Reset() }

// spendSet restarts a budget counter from the spend an admin set.
func (g *Gateway) spendSet(kind, id, duration string, resetAt *time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.limiter.ForgetBudget(ctx, kind, id, duration, resetAt); err != nil {
		g.log.Warn("could not restart a budget counter after its spend was set; it is re-seeded when it expires", "kind", kind, "error", err.Error())
	}
}

// directory gives auth and policy the store once Run has opened and
// migrated it.
type directory struct{ g *Gateway }

func (d directory) store() (store.Store, error) {
	db := d.g.db
	if db == nil || !db.ready.Load() {
		return nil, errors.New("the database is not ready")
	}
	return db.store, nil
}

func (d directory) GetKey(ctx context.Context, tokenHash string) (*store.Key, error) {
	return lookup(d, func(s store.Store) (*store.Key, error) { return s.GetKey(ctx, tokenHash) })
}

func (d directory) GetTeam(ctx context.Context, id string) (*store.Team, error) {
	return lookup(d, func(s store.Store) (*store.Team, error) { return s.GetTeam(ctx, id) })
}

func (d directory) GetUser(ctx context.Context, id string) (*store.User, error) {
	return lookup(d, func(s store.Store) (*store.User, error) { return s.GetUser(ctx, id) })
}

func (d directory) GetCustomer(ctx context.Context, id string) (*store.Customer, error) {
	return lookup(d, func(s store.Store) (*store.Customer, error) { return s.GetCustomer(ctx, id) })
}

// KeyModelSpend implements policy.Ledger.
func (d directory) KeyModelSpend(ctx context.Context, keyHash, model string, since time.Time) (int64, error) {
	s, err := d.store()
	if err != nil {
		return 0, err
	}
	return s.SumSpend(ctx, store.SpendFilter{KeyHash: keyHash, Model: model, From: since})
}

func lookup[T any](d directory, get func(store.Store) (*T, error)) (*T, error) {
	s, err := d.store()
	if err != nil {
		return nil, err
	}
	return get(s)
}

// Run opens the database, serves until ctx ends, then drains.
func (g *Gateway) Run(ctx context.Context, o Options) error {
	db, err := openDatabase(databaseURL(g.cfg))
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	g.db = db
	w, err := spend.NewWriter(db.store, spend.Options{SpillDir: g.spillDir}, g.log)
	if err != nil {
		db.close()
		return fmt.Errorf("spend ledger: %w", err)
	}
	g.ledger.w = w
	g.metrics.WatchSpend(w.Stats)
	g.bus = broadcast.NewLocal(caches{g.auth})
	if g.redis != nil {
		if g.bus, err = broadcast.NewRedis(g.redis, "sb:invalidate", caches{g.auth}, g.log); err != nil {
			_ = w.Close(context.Background())
			db.close()
			return fmt.Errorf("cache invalidation: %w", err)
		}
	}
	defer g.bus.Close()
	g.server.SetManagement(admin.New(admin.Stores{Keys: db.store, Teams: db.store, Users: db.store, Customers: db.store, Spend: db.store}, time.Now,
		admin.Hooks{Changed: g.changed, SpendSet: g.spendSet}))
	ln, err := net.Listen("tcp", g.addr)
	if err != nil {
		_ = w.Close(context.Background())
		g.db.close()
		return fmt.Errorf("listen on %s: %w", g.addr, err)
	}
	if g.open {
		g.log.Warn("no master key is set (general_settings.master_key or SWITCHBOARD_MASTER_KEY): listening on loopback only, without authentication", "addr", ln.Addr().String())
	}
	g.db.start(g.log)
	resetCtx, cancelResets := context.WithCancel(context.Background())
	resetsDone, heartbeatDone := make(chan struct{}), make(chan struct{})
	go func() { g.db.budgetResets(resetCtx, g.resetEvery, g.log); close(resetsDone) }()
	if g.redis != nil {
		go func() { replicaHeartbeat(resetCtx, g.redis, g.limiter, g.log); close(heartbeatDone) }()
	} else {
		close(heartbeatDone)
	}
	// The background jobs must be gone before the database and Redis close.
	stopResets := func() { cancelResets(); <-resetsDone; <-heartbeatDone }
	// Health checks use the upstream client, and sharing cooldowns Redis:
	// both stop before those close.
	stopHealth := g.startHealth()
	g.log.Info("switchboard is serving", "addr", ln.Addr().String(), "version", version.Version, "models", len(g.cfg.ModelList), "database", g.db.kind)
	if o.Ready != nil {
		o.Ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- g.server.Serve(ln) }()
	select {
	case err := <-errc:
		stopHealth()
		g.client.Close()
		g.clientSide.close()
		_ = w.Close(context.Background())
		stopResets()
		g.db.close()
		return err
	case <-ctx.Done():
	}
	drain := o.DrainTimeout
	if drain <= 0 {
		drain = DefaultDrainTimeout
	}
	g.log.Info("shutting down: draining in-flight requests", "deadline", drain.String())
	err = g.server.Shutdown(drain)
	stopHealth()
	g.client.Close()
	g.clientSide.close()
	// Every response already sent has its spend row: flush them to the
	// database (or to the spill directory) before the database closes.
	fctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	if ferr := w.Close(fctx); ferr != nil {
		g.log.Warn("spend ledger", "error", ferr.Error())
	}
	cancel()
	stopResets()
	g.db.close()
	_ = g.bus.Close() // before its Redis client
	if g.redis != nil {
		g.redis.Close()
	}
	if err != nil {
		g.log.Warn("shutdown", "error", err.Error())
	}
	g.log.Info("stopped")
	return nil
}
