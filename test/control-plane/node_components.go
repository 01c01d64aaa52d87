package main

// Node components: the real kube-scheduler, kubelet and kube-proxy, each mirroring its upstream main package in
// k8s.io/kubernetes/cmd/<name>. The shared side-effect imports upstream's mains have (JSON log format, client-go and
// version metrics) are in components.go. args[0] is the subcommand name in each function.

import (
	"context"

	"k8s.io/component-base/cli"
	proxyapp "k8s.io/kubernetes/cmd/kube-proxy/app"
	schedulerapp "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubeletapp "k8s.io/kubernetes/cmd/kubelet/app"
)

// runScheduler mirrors k8s.io/kubernetes/cmd/kube-scheduler/scheduler.go.
func runScheduler(args []string) int {
	command := schedulerapp.NewSchedulerCommand()
	command.SetArgs(args[1:])
	return cli.Run(command)
}

// runKubelet mirrors k8s.io/kubernetes/cmd/kubelet/kubelet.go.
func runKubelet(args []string) int {
	command := kubeletapp.NewKubeletCommand(context.Background())
	command.SetArgs(args[1:])
	return cli.Run(command)
}

// runProxy mirrors k8s.io/kubernetes/cmd/kube-proxy/proxy.go.
func runProxy(args []string) int {
	command := proxyapp.NewProxyCommand()
	command.SetArgs(args[1:])
	return cli.Run(command)
}
