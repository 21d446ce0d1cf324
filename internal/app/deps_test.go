package app

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestImportRules keeps the layering of DESIGN.md true as the code grows:
// packages import downward only, and the HTTP stack stays behind its seams.
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "github.com/switchboard-gw/switchboard/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/switchboard-gw/switchboard/"
	rules := []struct {
		pkgPrefix string   // packages the rule applies to
		deny      []string // import path prefixes they must not use
		why       string
		allow     []string // exceptions to deny
	}{
		{mod + "internal/provider", []string{mod + "internal/server", mod + "internal/proxy", mod + "internal/app", mod + "internal/store", mod + "internal/counter", mod + "internal/policy", "github.com/valyala/fasthttp"},
			"providers know only the contract, the upstream client and the wire formats", nil},
		{mod + "internal/proxy", []string{mod + "internal/server", mod + "internal/app", "github.com/valyala/fasthttp", "net/http"},
			"the pipeline does not know which HTTP stack serves it", nil},
		{mod + "internal/openai", []string{mod + "internal/"}, "the wire types import nothing of ours but the raw JSON walker", []string{mod + "internal/rawjson"}},
		{mod + "internal/rawjson", []string{mod + "internal/"}, "the raw JSON walker imports nothing of ours", nil},
		{mod + "internal/sse", []string{mod + "internal/"}, "SSE framing imports nothing of ours", nil},
		{mod + "internal/config", []string{mod + "internal/"}, "the config schema imports nothing of ours", nil},
		{mod + "internal/upstream", []string{mod + "internal/"}, "the upstream client imports nothing of ours", nil},
		{mod + "internal/", []string{mod + "internal/app", mod + "cmd/", mod + "bench/"}, "nothing imports the wiring, the command or the bench", nil},
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		for _, r := range rules {
			if !strings.HasPrefix(pkg, r.pkgPrefix) || pkg == mod+"internal/app" && r.pkgPrefix == mod+"internal/" {
				continue
			}
			for _, imp := range imports {
				for _, d := range r.deny {
					if strings.HasPrefix(imp, d) && !strings.HasPrefix(imp, pkg) && !slices.Contains(r.allow, imp) {
						t.Errorf("%s imports %s: %s", strings.TrimPrefix(pkg, mod), imp, r.why)
					}
				}
			}
		}
	}
}
