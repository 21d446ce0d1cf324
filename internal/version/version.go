// Package version is the build's version, set at link time:
// -ldflags "-X github.com/switchboard-gw/switchboard/internal/version.Version=v1.2.3".
package version

// Version is "dev" for builds that did not set it.
var Version = "dev"
