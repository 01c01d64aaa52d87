//go:build tools

// Helm, built from its Go module like the control plane: the chart tests use a real helm, never a download.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
