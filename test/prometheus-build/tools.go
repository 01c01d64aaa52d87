//go:build tools

// Prometheus and promtool, built from their Go module like the control plane and helm: the observability tests use
// a pinned current release built here, never a system package found on PATH.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
