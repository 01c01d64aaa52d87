package main

import (
	"os"

	_ "time/tzdata" // CronJob time zones, as in cmd/kube-apiserver

	_ "k8s.io/client-go/plugin/pkg/client/auth" // client auth plugins, as in cmd/kubectl
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics, as in the real commands
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	"k8s.io/component-base/version"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	kcmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

// kubeVersion is the version stamped at build time with -ldflags (see build.sh).
func kubeVersion() string {
	return version.Get().GitVersion
}

// runKubectl mirrors k8s.io/kubernetes/cmd/kubectl/kubectl.go. args[0] is the program name ("kubectl").
func runKubectl(args []string) int {
	// kubectl reads os.Args itself (plugin handling, verbosity), so make it look like a plain kubectl call.
	os.Args = append([]string{"kubectl"}, args[1:]...)
	_, _ = logs.GlogSetter(kubectlcmd.GetLogVerbosity(os.Args))
	command := kubectlcmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		kubectlutil.CheckErr(err) // prints and exits non-zero
		return 1
	}
	return 0
}

// runControllerManager mirrors k8s.io/kubernetes/cmd/kube-controller-manager/controller-manager.go.
// args[0] is the subcommand name.
func runControllerManager(args []string) int {
	command := kcmapp.NewControllerManagerCommand()
	command.SetArgs(args[1:])
	return cli.Run(command)
}
