package policy

import (
	"context"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/auth"
	"github.com/switchboard-gw/switchboard/internal/counter"
	"github.com/switchboard-gw/switchboard/internal/store"
)

// oneKey is a directory of one key (and no teams, users or end users).
type oneKey struct{ k *store.Key }

func (o oneKey) GetKey(context.Context, string) (*store.Key, error) { return o.k, nil }
func (oneKey) GetTeam(context.Context, string) (*store.Team, error) { return nil, store.ErrNotFound }
func (oneKey) GetUser(context.Context, string) (*store.User, error) { return nil, store.ErrNotFound }
func (oneKey) GetCustomer(context.Context, string) (*store.Customer, error) {
	return nil, store.ErrNotFound
}

// BenchmarkAuthAndAdmit is the per-request cost of authenticating a cached
// virtual key and admitting and settling it against its limits (rpm, tpm,
// parallel, per-model rpm) and its budget with in-process counters.
func BenchmarkAuthAndAdmit(b *testing.B) {
	plain, hash, _ := auth.NewVirtualKey()
	key := &store.Key{TokenHash: hash, RPMLimit: ptr(1 << 40), TPMLimit: ptr(1 << 40), MaxParallelRequests: ptr(1 << 20),
		ModelRPMLimit: map[string]int64{"gpt": 1 << 40}, MaxBudget: ptr(1 << 50), BudgetDuration: "30d"}
	a := auth.New("sk-master-0123456789abcdef", oneKey{key})
	l := New(counter.NewMemory(nil), nil, nil)
	ctx := context.Background()
	token := []byte(plain)
	var adm Admission
	b.ReportAllocs()
	for b.Loop() {
		p, err := a.Authenticate(ctx, token)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Admit(ctx, &Request{Principal: p, Model: "gpt", Tokens: 100, Reserve: 2000}, &adm); err != nil {
			b.Fatal(err)
		}
		l.Settle(ctx, &adm, 90, 1500)
	}
}
