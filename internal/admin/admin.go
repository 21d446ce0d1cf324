// Package admin implements the LiteLLM-compatible management API (the
// /key/*, /team/*, /user/*, /customer/* (alias /end_user/*), /spend/logs
// and /global/spend/report endpoints) on top of the store interfaces.
//
// It is transport-free on purpose: the server (fasthttp) authenticates the
// caller, copies the method, path, query and body into a Request and writes
// the Response back. That keeps fasthttp's reused buffers out of this
// package and lets the tests drive the API without a listener.
//
// Management calls are rare and off the hot path, so bodies are decoded with
// encoding/json and validated strictly: an unknown field is a 400 naming it,
// except for LiteLLM fields we accept but do not implement yet, which are
// ignored and reported back in a "warnings" array so a client migrating
// from LiteLLM learns what did not take effect.
//
// Money crosses the API as float USD (LiteLLM's unit) and is stored as
// integer micro-dollars; the conversion rounds the decimal literal exactly,
// so 0.3 is 300000 micro-dollars, never 299999.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/store"
)

// Request is one management call as the server received it.
type Request struct {
	Method string                   // "GET", "POST"
	Path   string                   // e.g. "/key/generate", without the query
	Query  func(name string) string // query parameter lookup; nil = none
	Body   []byte
	Caller Caller
}

// Caller is who makes the request, as the server authenticated it.
type Caller struct {
	Admin   bool   // master key (proxy_admin)
	KeyHash string // the caller's own virtual key hash when not admin ("" for admin)
}

// Response is the status and JSON body to send.
type Response struct {
	Status int
	Body   []byte // JSON
}

// API serves the management endpoints. It holds no mutable state of its
// own, so one API is safe for concurrent use.
type API struct {
	keys      store.KeyStore
	teams     store.TeamStore
	users     store.UserStore
	customers store.CustomerStore
	spend     store.SpendStore
	now       func() time.Time
	hooks     Hooks
}

// Hooks tell the gateway what an admin changed. Either may be nil.
type Hooks struct {
	// Changed is called with the kind (store.EntityKey with the key's
	// hash, EntityTeam, EntityUser or EntityEndUser with the id) of every
	// record that changed or disappeared, so caches drop it at once instead
	// of serving a blocked or deleted key until their TTL ends.
	Changed func(kind, id string)
	// SpendSet is called after an admin set a record's spend explicitly;
	// its budget counter must restart from the new value.
	SpendSet func(kind, id, budgetDuration string, budgetResetAt *time.Time)
}

// Stores are the aggregates the API manages; a *sqlstore.Store is all of
// them.
type Stores struct {
	Keys      store.KeyStore
	Teams     store.TeamStore
	Users     store.UserStore
	Customers store.CustomerStore
	Spend     store.SpendStore
}

// New returns the API over s. now is the clock (expiry and budget windows
// are computed from it; nil: time.Now).
func New(s Stores, now func() time.Time, h Hooks) *API {
	if now == nil {
		now = time.Now
	}
	if h.Changed == nil {
		h.Changed = func(string, string) {}
	}
	if h.SpendSet == nil {
		h.SpendSet = func(string, string, string, *time.Time) {}
	}
	return &API{keys: s.Keys, teams: s.Teams, users: s.Users, customers: s.Customers, spend: s.Spend, now: now, hooks: h}
}

// invalidate tells the gateway a key changed or disappeared.
func (a *API) invalidate(keyHash string) { a.hooks.Changed(store.EntityKey, keyHash) }

// handler serves one route; it returns the value to encode as the body
// (status 200) or an *openai.Error.
type handler func(ctx context.Context, r *Request) (any, error)

type route struct {
	method string
	admin  bool // proxy_admin only
	h      handler
}

// routes is built per call rather than held in a package variable: the
// table is tiny and this keeps the package free of mutable globals.
func (a *API) routes() map[string]route {
	rs := map[string]route{
		"/key/generate":   {"POST", true, a.generate},
		"/key/update":     {"POST", true, a.update},
		"/key/delete":     {"POST", true, a.delete},
		"/key/info":       {"GET", false, a.info},
		"/key/list":       {"GET", true, a.list},
		"/key/regenerate": {"POST", true, a.regenerate},
		"/key/block":      {"POST", true, a.block},
		"/key/unblock":    {"POST", true, a.unblock},

		"/team/new":           {"POST", true, a.teamNew},
		"/team/update":        {"POST", true, a.teamUpdate},
		"/team/delete":        {"POST", true, a.teamDelete},
		"/team/info":          {"GET", false, a.teamInfo},
		"/team/list":          {"GET", true, a.teamList},
		"/team/member_add":    {"POST", true, a.teamMemberAdd},
		"/team/member_delete": {"POST", true, a.teamMemberDelete},

		"/user/new":    {"POST", true, a.userNew},
		"/user/update": {"POST", true, a.userUpdate},
		"/user/delete": {"POST", true, a.userDelete},
		"/user/info":   {"GET", false, a.userInfo},
		"/user/list":   {"GET", true, a.userList},

		"/spend/logs":          {"GET", false, a.spendLogs},
		"/global/spend/report": {"GET", true, a.spendReport},
	}
	// Customers answer under both of LiteLLM's names.
	for _, prefix := range []string{"/customer/", "/end_user/"} {
		rs[prefix+"new"] = route{"POST", true, a.customerNew}
		rs[prefix+"update"] = route{"POST", true, a.customerUpdate}
		rs[prefix+"delete"] = route{"POST", true, a.customerDelete}
		rs[prefix+"info"] = route{"GET", true, a.customerInfo}
		rs[prefix+"list"] = route{"GET", true, a.customerList}
		rs[prefix+"block"] = route{"POST", true, a.customerBlock}
		rs[prefix+"unblock"] = route{"POST", true, a.customerUnblock}
	}
	return rs
}

// Handle serves the route if it is one of this API's (ok=false otherwise,
// so the server can 404).
func (a *API) Handle(ctx context.Context, r *Request) (resp Response, ok bool) {
	rt, found := a.routes()[r.Path]
	if !found {
		// LiteLLM also accepts the key in the path: /key/{key}/regenerate.
		k, isRegen := strings.CutPrefix(r.Path, "/key/")
		k, isRegen2 := strings.CutSuffix(k, "/regenerate")
		if !isRegen || !isRegen2 || k == "" || strings.Contains(k, "/") {
			return Response{}, false
		}
		rt = route{"POST", true, func(ctx context.Context, r *Request) (any, error) {
			return a.regenerateKey(ctx, r, k)
		}}
	}
	if r.Method != rt.method {
		return errorResponse(&openai.Error{
			Status: 405, Type: "method_not_allowed",
			Message: fmt.Sprintf("%s %s: method not allowed, use %s", r.Method, r.Path, rt.method),
		}), true
	}
	if rt.admin && !r.Caller.Admin {
		return errorResponse(forbidden("only the proxy admin (master key) may call " + r.Path)), true
	}
	v, err := rt.h(ctx, r)
	if err != nil {
		var oe *openai.Error
		if !errors.As(err, &oe) {
			oe = storeError(err)
		}
		return errorResponse(oe), true
	}
	body, err := json.Marshal(v)
	if err != nil {
		// Only reachable through a value json cannot encode (e.g. a NaN in
		// stored metadata); report it rather than send a broken body.
		return errorResponse(internal(err)), true
	}
	return Response{Status: 200, Body: body}, true
}

func errorResponse(e *openai.Error) Response {
	if e.Code == "" {
		// LiteLLM puts the HTTP status, as a string, in code.
		e.Code = fmt.Sprint(e.Status)
	}
	return Response{Status: e.Status, Body: e.AppendJSON(nil)}
}

func badRequest(param, format string, args ...any) *openai.Error {
	return &openai.Error{Status: 400, Type: "bad_request_error", Param: param, Message: fmt.Sprintf(format, args...)}
}

func forbidden(msg string) *openai.Error {
	return &openai.Error{Status: 403, Type: "auth_error", Message: msg}
}

func notFound(msg string) *openai.Error {
	return &openai.Error{Status: 404, Type: "not_found_error", Message: msg}
}

func internal(err error) *openai.Error {
	return &openai.Error{Status: 500, Type: "internal_server_error", Message: "internal error: " + err.Error()}
}

// storeError maps a store error nobody handled more specifically.
func storeError(err error) *openai.Error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("key not found")
	case errors.Is(err, store.ErrConflict):
		// LiteLLM answers a duplicate with 400, not 409; clients key on that.
		return badRequest("", "conflict: %v", err)
	case errors.Is(err, store.ErrInvalid):
		return badRequest("", "%v", err)
	}
	return internal(err)
}
