package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// withNodeArgs turns the host-process apiserver into one a node can use: it listens on every address of its
// network namespace (the harness runs the whole cluster inside one), advertises the node's address in the
// kubernetes Service's endpoints (lease reconciler), authorizes kubelets with the Node authorizer, and calls
// webhooks and aggregated APIs on their Services' endpoints (no kube-proxy rules needed on the apiserver's side).
// The node's address may be on loopback (see test/harness/netns.ts); binding all addresses covers it.
func withNodeArgs(apiArgs []string, nodeIP string) []string {
	replaced := map[string]string{
		"--bind-address":             "0.0.0.0",
		"--advertise-address":        nodeIP,
		"--endpoint-reconciler-type": "lease",
		"--authorization-mode":       "Node,RBAC",
	}
	out := make([]string, 0, len(apiArgs)+1)
	for _, arg := range apiArgs {
		name, _, _ := strings.Cut(arg, "=")
		if value, ok := replaced[name]; ok {
			arg = name + "=" + value
		}
		out = append(out, arg)
	}
	// The kubelet is reached on the node's InternalIP: the namespace has no DNS for node names (and no way out).
	return append(out, "--enable-aggregator-routing=true", "--kubelet-preferred-address-types=InternalIP")
}

// startNodeSide writes the node components' kubeconfigs (scheduler, kubelet, kube-proxy; the harness starts the
// kubelet and kube-proxy itself, after the container runtime) and starts kube-scheduler as a child.
func startNodeSide(dir, self, server string, caPEM []byte, tokens map[string]string, node nodeOptions, resume bool, kubeconfigs map[string]string) (*child, error) {
	for name, user := range map[string]string{
		"scheduler": "system:kube-scheduler",
		"kubelet":   kubeletUser(node.Name).Name,
		"kubeProxy": "system:kube-proxy",
	} {
		path := filepath.Join(dir, name+".kubeconfig")
		if err := writeKubeconfig(path, server, caPEM, user, tokens[user]); err != nil {
			return nil, err
		}
		kubeconfigs[name] = path
	}
	out, err := os.OpenFile(filepath.Join(dir, "scheduler.log"), logFlags(resume), 0o644)
	if err != nil {
		return nil, err
	}
	kc := kubeconfigs["scheduler"]
	scheduler, err := startChild(self, []string{
		"kube-scheduler",
		"--kubeconfig=" + kc,
		"--authentication-kubeconfig=" + kc,
		"--authorization-kubeconfig=" + kc,
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--leader-elect=false",
		"--v=0",
	}, out)
	if err != nil {
		return nil, fmt.Errorf("kube-scheduler: %w", err)
	}
	logf("kube-scheduler started, pid %d", scheduler.cmd.Process.Pid)
	return scheduler, nil
}

// exited is the child's done channel, or nil (never ready in a select) when there is no child.
func (c *child) exited() <-chan struct{} {
	if c == nil {
		return nil
	}
	return c.done
}

func (c *child) stopIfStarted(grace time.Duration) {
	if c != nil {
		c.stop(grace)
	}
}
