package policy

import (
	"context"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/auth"
	"github.com/switchboard-gw/switchboard/internal/counter"
	"github.com/switchboard-gw/switchboard/internal/store"
)

type oneKey struct{ k *store.Key }

func (o oneKey) GetKey(context.Context, string) (*store.Key, error) { return o.k, nil }

// BenchmarkAuthAndAdmit is the per-request cost of authenticating a cached
// virtual key and admitting and settling it against its limits (rpm, tpm,
// parallel, per-model rpm) with in-process counters.
func BenchmarkAuthAndAdmit(b *testing.B) {
	plain, hash, _ := auth.NewVirtualKey()
	key := &store.Key{TokenHash: hash, RPMLimit: ptr(1 << 40), TPMLimit: ptr(1 << 40), MaxParallelRequests: ptr(1 << 20),
		ModelRPMLimit: map[string]int64{"gpt": 1 << 40}}
	a := auth.New("sk-master-0123456789abcdef", oneKey{key})
	l := New(counter.NewMemory(nil), nil)
	ctx := context.Background()
	token := []byte(plain)
	var adm Admission
	b.ReportAllocs()
	for b.Loop() {
		p, err := a.Authenticate(ctx, token)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Admit(ctx, p, "gpt", 100, &adm); err != nil {
			b.Fatal(err)
		}
		l.Settle(ctx, &adm, 90)
	}
}
