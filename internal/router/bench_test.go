package router

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/provider"
)

// BenchmarkPick is the router's decision overhead per attempt for a group
// of 10 deployments: Pick, then Begin and End, as the attempt loop calls
// them. "limited" gives every deployment an rpm and a tpm (counted in
// memory), so each pick also admits through the counters; "health" adds a
// Health that is asked about every deployment.
func BenchmarkPick(b *testing.B) {
	for _, strategy := range []string{"simple-shuffle", "least-busy", "latency-based-routing", "usage-based-routing-v2", "cost-based-routing"} {
		for _, variant := range []string{"plain", "limited", "health"} {
			b.Run(strategy+"/"+variant, func(b *testing.B) {
				ws := make([]Weighted, 10)
				for i := range ws {
					ws[i] = Weighted{Deployment: &provider.Deployment{ID: fmt.Sprintf("d%d", i), ModelName: "g"},
						Weight: float64(i + 1), Price: int64(1000 * (i%3 + 1)), Priced: true}
					if variant == "limited" {
						ws[i].RPM, ws[i].TPM = 1<<40, 1<<50
					}
				}
				r, err := NewWith(ws, Options{RoutingStrategy: strategy})
				if err != nil {
					b.Fatal(err)
				}
				if variant == "health" {
					r.SetHealth(allUsable{})
				}
				g, _ := r.Resolve("g")
				s := &Selection{PromptTokens: 500}
				for i, d := range g.Deployments {
					r.End(g, d, Attempt{Latency: time.Duration(100+i) * time.Millisecond})
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					d, err := r.Pick(g, s)
					if err != nil {
						b.Fatal(err)
					}
					r.Begin(d)
					r.End(g, d, Attempt{Latency: 120 * time.Millisecond, Tokens: 800, Reserved: 500})
				}
			})
		}
	}
}

type allUsable struct{}

func (allUsable) Usable(*provider.Deployment, time.Time) (bool, time.Time) { return true, time.Time{} }
func (allUsable) Observe(*Group, *provider.Deployment, Attempt, time.Time) {}
