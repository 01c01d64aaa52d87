// Command cplane is a multi-call binary that runs a real Kubernetes control plane for tests, fully offline:
//
//	cplane run --dir DIR                 embedded etcd + in-process kube-apiserver + kube-controller-manager child
//	cplane controller-manager FLAGS...   the real kube-controller-manager (used as the child process of `run`)
//	cplane kube-scheduler FLAGS...       the real kube-scheduler
//	cplane kubelet FLAGS...              the real kubelet
//	cplane kube-proxy FLAGS...           the real kube-proxy
//	cplane kubectl ARGS...               the real kubectl (also when invoked through a symlink named kubectl)
//	cplane version                       print the stamped Kubernetes version
//
// Everything is built from the k8s.io/kubernetes Go module, so client and server versions always match.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	base := strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe")
	if base == "kubectl" {
		os.Exit(runKubectl(os.Args))
	}
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	sub := os.Args[1]
	switch sub {
	case "kubectl":
		os.Exit(runKubectl(os.Args[1:]))
	case "controller-manager", "kube-controller-manager":
		os.Exit(runControllerManager(os.Args[1:]))
	case "kube-scheduler":
		os.Exit(runScheduler(os.Args[1:]))
	case "kubelet":
		os.Exit(runKubelet(os.Args[1:]))
	case "kube-proxy":
		os.Exit(runProxy(os.Args[1:]))
	case "run":
		os.Exit(runControlPlane(os.Args[2:]))
	case "version", "--version":
		fmt.Println(kubeVersion())
		os.Exit(0)
	case "help", "-h", "--help":
		usage()
		os.Exit(0)
	default:
		fmt.Fprintf(os.Stderr, "cplane: unknown subcommand %q\n", sub)
		usage()
		os.Exit(2)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  cplane run --dir DIR [--controllers LIST]   start etcd, kube-apiserver and kube-controller-manager;
                                              prints "READY DIR/control-plane.json" when usable
  cplane controller-manager FLAGS...          run kube-controller-manager with the given flags
  cplane kube-scheduler FLAGS...              run kube-scheduler with the given flags
  cplane kubelet FLAGS...                     run the kubelet with the given flags
  cplane kube-proxy FLAGS...                  run kube-proxy with the given flags
  cplane kubectl ARGS...                      run kubectl (also as a symlink named kubectl)
  cplane version                              print the Kubernetes version this binary was built from
`)
}
