package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	kasapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
	"k8s.io/kubernetes/cmd/kube-controller-manager/names"
)

// defaultControllers are the kube-controller-manager controllers started by `cplane run`: enough for namespace
// deletion, garbage collection, ServiceAccounts and their tokens, Deployments -> ReplicaSets, the
// kube-root-ca.crt ConfigMap, aggregated ClusterRoles (admin/edit/view) and ValidatingAdmissionPolicy status.
// The PVC and PV protection controllers remove the kubernetes.io/pvc-protection and pv-protection finalizers
// that admission adds: without them a namespace holding a PVC stays Terminating for ever. The binder binds PVCs to
// PVs, so "bound volume" is a real state in the tests.
var defaultControllers = []string{
	names.NamespaceController,
	names.GarbageCollectorController,
	names.ServiceAccountController,
	names.ServiceAccountTokenController,
	names.DeploymentController,
	names.ReplicaSetController,
	names.RootCACertificatePublisherController,
	names.ClusterRoleAggregationController,
	names.ValidatingAdmissionPolicyStatusController,
	names.StatefulSetController,
	names.PersistentVolumeBinderController,
	names.PersistentVolumeClaimProtectionController,
	names.PersistentVolumeProtectionController,
}

// nodeControllers are added when the plane has a node (`--node-ip`): Services get EndpointSlices (kube-proxy and
// the apiserver's endpoint routing read them), Jobs run (the chart's pre-delete hook), PodDisruptionBudgets get a
// status (so an eviction can be refused), finished pods are collected, and node health is tracked as in a real
// cluster.
var nodeControllers = []string{
	names.EndpointsController,
	names.EndpointSliceController,
	names.EndpointSliceMirroringController,
	names.JobController,
	names.DisruptionController,
	names.PodGarbageCollectorController,
	names.NodeLifecycleController,
	names.TaintEvictionController,
	names.TTLAfterFinishedController,
}

// nodeOptions describe the node a plane serves (`cplane run --node-ip`); zero for the host-process mode.
type nodeOptions struct {
	IP   string // the address pods reach the apiserver on (advertised in the kubernetes Service's endpoints)
	Name string // the node's name; its kubelet authenticates as system:node:NAME
}

// ControlPlaneInfo is the contract written to DIR/control-plane.json.
type ControlPlaneInfo struct {
	Server      string            `json:"server"`
	CAFile      string            `json:"caFile"`
	Kubeconfigs map[string]string `json:"kubeconfigs"`
	Tokens      map[string]string `json:"tokens"`
	PIDs        map[string]int    `json:"pids"`
	Etcd        string            `json:"etcd"`
	Version     string            `json:"version"`
	Node        string            `json:"node,omitempty"` // the node's name, when the plane serves one
}

// logf writes cplane's own progress messages; it stays on the original stderr even after fd 2 is redirected to
// DIR/apiserver.log.
var logOut io.Writer = os.Stderr

func logf(format string, args ...any) {
	fmt.Fprintf(logOut, "cplane: "+format+"\n", args...)
}

func runControlPlane(args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	dir := fs.String("dir", "", "state directory (created; must not hold a previous etcd data dir)")
	controllers := fs.String("controllers", strings.Join(defaultControllers, ","), "kube-controller-manager --controllers value")
	verbosity := fs.Int("v", 0, "kube-apiserver log verbosity")
	admissionConfig := fs.String("admission-control-config-file", "", "kube-apiserver --admission-control-config-file (static admission manifests)")
	resume := fs.Bool("resume", false, "start the cluster a previous run left in --dir again (its etcd data, PKI, tokens and apiserver port)")
	nodeIP := fs.String("node-ip", "", "serve a node: bind all addresses, advertise this one, start kube-scheduler and the node controllers, authorize kubelets (Node,RBAC) and route webhook calls to endpoints")
	nodeName := fs.String("node-name", "node-1", "with --node-ip: the node's name (its kubelet's identity is system:node:NAME)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "cplane run: --dir is required")
		return 2
	}
	node := nodeOptions{}
	if *nodeIP != "" {
		if net.ParseIP(*nodeIP) == nil {
			fmt.Fprintf(os.Stderr, "cplane run: --node-ip %q is not an IP address\n", *nodeIP)
			return 2
		}
		node = nodeOptions{IP: *nodeIP, Name: *nodeName}
		*controllers = strings.Trim(*controllers+","+strings.Join(nodeControllers, ","), ",")
	}
	if err := run(*dir, *controllers, *verbosity, *admissionConfig, *resume, node); err != nil {
		logf("error: %v", err)
		return 1
	}
	return 0
}

func run(dir, controllers string, verbosity int, admissionConfig string, resume bool, node nodeOptions) error {
	start := time.Now()
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	etcdDir := filepath.Join(dir, "etcd")
	if entries, err := os.ReadDir(etcdDir); err == nil && len(entries) > 0 && !resume {
		return fmt.Errorf("%s holds a previous etcd data dir; use a fresh --dir (or --resume)", etcdDir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tokenFile := filepath.Join(dir, "tokens.csv")
	var pki *pkiFiles
	var tokens map[string]string
	port := 0
	if resume {
		if pki, err = loadPKI(filepath.Join(dir, "pki")); err != nil {
			return err
		}
		if tokens, err = loadTokens(tokenFile); err != nil {
			return err
		}
		if port, err = previousPort(dir); err != nil {
			return err
		}
	} else {
		if pki, err = writePKI(filepath.Join(dir, "pki"), node.IP); err != nil {
			return fmt.Errorf("pki: %w", err)
		}
		if tokens, err = writeTokens(tokenFile, node.Name); err != nil {
			return fmt.Errorf("tokens: %w", err)
		}
	}
	// Stale outputs from an earlier run must not be mistaken for this one.
	_ = os.Remove(filepath.Join(dir, "control-plane.json"))

	// All component logs go to files: klog writes to fd 2, so point fd 2 at DIR/apiserver.log and keep a
	// duplicate of the original stderr for cplane's own messages.
	if err := redirectStderr(filepath.Join(dir, "apiserver.log"), resume); err != nil {
		return err
	}

	// Our own signal handling. kube-apiserver's command installs its own handler too (first signal cancels its
	// context, a second one calls os.Exit); both receive the signal.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	// --- etcd ---------------------------------------------------------------------------------------------
	etcd, etcdURL, err := startEtcd(etcdDir, filepath.Join(dir, "etcd.log"))
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	defer etcd.Close()
	logf("etcd ready at %s (%.1fs)", etcdURL, time.Since(start).Seconds())

	// --- kube-apiserver -----------------------------------------------------------------------------------
	if port == 0 {
		if port, err = freePort(); err != nil {
			return err
		}
	}
	server := "https://127.0.0.1:" + strconv.Itoa(port)
	apiArgs := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--tls-cert-file=" + pki.ServingCert,
		"--tls-private-key-file=" + pki.ServingKey,
		"--client-ca-file=" + pki.CACert,
		"--token-auth-file=" + tokenFile,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + pki.SAPub,
		"--service-account-signing-key-file=" + pki.SAKey,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--endpoint-reconciler-type=none",
		"--profiling=false",
		"--v=" + strconv.Itoa(verbosity),
	}
	if node.IP != "" {
		apiArgs = withNodeArgs(apiArgs, node.IP)
	}
	if admissionConfig != "" {
		// Manifest-based admission (static policies loaded from files, beyond the reach of any API call). Beta and on
		// by default in 1.37; named anyway so the run says what it relies on.
		apiArgs = append(apiArgs, "--admission-control-config-file="+admissionConfig, "--feature-gates=ManifestBasedAdmissionControlConfig=true")
	}
	apiserver := kasapp.NewAPIServerCommand() // once per process: it installs a signal handler
	apiserver.SetArgs(apiArgs)
	apiserver.SetOut(os.Stderr)
	apiserver.SetErr(os.Stderr)
	apiDone := make(chan error, 1)
	go func() { apiDone <- apiserver.Execute() }()

	caPool := x509.NewCertPool()
	caPool.AppendCertsFromPEM(pki.CAPEM)
	if err := waitReady(server, tokens["admin"], caPool, apiDone, sigs, 3*time.Minute); err != nil {
		return fmt.Errorf("kube-apiserver: %w (see %s)", err, filepath.Join(dir, "apiserver.log"))
	}
	logf("kube-apiserver ready at %s (%.1fs)", server, time.Since(start).Seconds())

	adminKC := filepath.Join(dir, "admin.kubeconfig")
	kcmKC := filepath.Join(dir, "kcm.kubeconfig")
	if err := writeKubeconfig(adminKC, server, pki.CAPEM, "admin", tokens["admin"]); err != nil {
		return err
	}
	if err := writeKubeconfig(kcmKC, server, pki.CAPEM, "system:kube-controller-manager", tokens["system:kube-controller-manager"]); err != nil {
		return err
	}

	// --- kube-controller-manager (child process of this binary) -------------------------------------------
	kcmLog, err := os.OpenFile(filepath.Join(dir, "controller-manager.log"), logFlags(resume), 0o644)
	if err != nil {
		return err
	}
	defer kcmLog.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	kcmArgs := []string{
		"controller-manager",
		"--kubeconfig=" + kcmKC,
		"--authentication-kubeconfig=" + kcmKC,
		"--authorization-kubeconfig=" + kcmKC,
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--leader-elect=false",
		"--use-service-account-credentials=true",
		"--service-account-private-key-file=" + pki.SAKey,
		"--root-ca-file=" + pki.CACert,
		"--controllers=" + controllers,
		"--v=0",
	}
	kcm, err := startChild(self, kcmArgs, kcmLog)
	if err != nil {
		return fmt.Errorf("kube-controller-manager: %w", err)
	}
	defer kcm.stop(5 * time.Second)

	kubeconfigs := map[string]string{"admin": adminKC, "kcm": kcmKC}
	var scheduler *child
	if node.IP != "" {
		if scheduler, err = startNodeSide(dir, self, server, pki.CAPEM, tokens, node, resume, kubeconfigs); err != nil {
			return err
		}
		defer scheduler.stop(5 * time.Second)
	}

	restCfg, err := clientcmd.BuildConfigFromFlags("", adminKC)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	if err := waitControllers(client, kcm.done, apiDone, sigs, 3*time.Minute); err != nil {
		return fmt.Errorf("kube-controller-manager: %w (see %s)", err, filepath.Join(dir, "controller-manager.log"))
	}
	logf("kube-controller-manager working, pid %d (%.1fs)", kcm.cmd.Process.Pid, time.Since(start).Seconds())

	info := ControlPlaneInfo{
		Server:      server,
		CAFile:      pki.CACert,
		Kubeconfigs: kubeconfigs,
		Tokens: map[string]string{
			"admin": tokens["admin"], "sre-a": tokens["sre-a"], "sre-b": tokens["sre-b"], "dev-a": tokens["dev-a"],
		},
		PIDs:    map[string]int{"cplane": os.Getpid(), "controllerManager": kcm.cmd.Process.Pid},
		Node:    node.Name,
		Etcd:    etcdURL,
		Version: kubeVersion(),
	}
	infoPath := filepath.Join(dir, "control-plane.json")
	data, _ := json.MarshalIndent(info, "", "  ")
	if err := writeFileAtomic(infoPath, append(data, '\n'), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "READY %s\n", infoPath)
	logf("ready in %.1fs", time.Since(start).Seconds())

	// --- run until told to stop ---------------------------------------------------------------------------
	select {
	case sig := <-sigs:
		logf("received %v, shutting down", sig)
		kcm.stop(5 * time.Second)
		scheduler.stopIfStarted(5 * time.Second)
		// kube-apiserver saw the same signal and is shutting down gracefully; give it a moment.
		select {
		case <-apiDone:
		case <-time.After(15 * time.Second):
			logf("kube-apiserver did not stop within 15s; exiting anyway")
		}
		return nil
	case <-kcm.done:
		return fmt.Errorf("kube-controller-manager exited unexpectedly: %v", kcm.err)
	case <-scheduler.exited():
		return fmt.Errorf("kube-scheduler exited unexpectedly: %v", scheduler.err)
	case err := <-apiDone:
		return fmt.Errorf("kube-apiserver exited unexpectedly: %v", err)
	}
}

// redirectStderr points file descriptor 2 at path (so klog output of the in-process kube-apiserver lands there)
// and keeps the original stderr for logf. A resumed run appends, so the log before the restart stays readable.
func redirectStderr(path string, resume bool) error {
	f, err := os.OpenFile(path, logFlags(resume), 0o644)
	if err != nil {
		return err
	}
	orig, err := syscall.Dup(2)
	if err != nil {
		return err
	}
	syscall.CloseOnExec(orig)
	logOut = os.NewFile(uintptr(orig), "stderr")
	if err := syscall.Dup3(int(f.Fd()), 2, 0); err != nil {
		return err
	}
	return f.Close()
}

func logFlags(resume bool) int {
	if resume {
		return os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	return os.O_CREATE | os.O_WRONLY | os.O_TRUNC
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startEtcd(dataDir, logFile string) (*embed.Etcd, string, error) {
	clientPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	peerPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	clientURL := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(clientPort)}
	peerURL := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(peerPort)}

	cfg := embed.NewConfig()
	cfg.Name = "cplane"
	cfg.Dir = dataDir
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = true
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{logFile}

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", err
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, clientURL.String(), nil
	case err := <-e.Err():
		e.Close()
		return nil, "", err
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, "", errors.New("not ready after 60s")
	}
}

// waitReady polls /readyz with the admin token.
func waitReady(server, token string, ca *x509.CertPool, apiDone <-chan error, sigs <-chan os.Signal, timeout time.Duration) error {
	hc := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca, MinVersion: tls.VersionTLS12}},
	}
	deadline := time.Now().Add(timeout)
	last := "no response"
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(http.MethodGet, server+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		select {
		case err := <-apiDone:
			return fmt.Errorf("exited before ready: %v", err)
		case sig := <-sigs:
			return fmt.Errorf("interrupted by %v", sig)
		case <-time.After(250 * time.Millisecond):
		}
	}
	return fmt.Errorf("/readyz not OK after %v: %s", timeout, last)
}

func writeKubeconfig(path, server string, caPEM []byte, user, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["cplane"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["cplane"] = &clientcmdapi.Context{Cluster: "cplane", AuthInfo: user, Namespace: "default"}
	cfg.CurrentContext = "cplane"
	return clientcmd.WriteToFile(*cfg, path)
}

// startChild starts a child process that receives SIGKILL when cplane dies (Pdeathsig). Pdeathsig fires when
// the *thread* that forked the child exits, so the fork happens on a goroutine locked to its OS thread that
// never returns; it also reaps the child and reports its exit on the returned channel.
type child struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the child has exited and been reaped
	err  error         // its exit status, valid after done is closed
}

// stop sends SIGTERM, then SIGKILL after grace, and waits for the child to exit.
func (c *child) stop(grace time.Duration) {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

func startChild(path string, args []string, out *os.File) (*child, error) {
	cmd := exec.Command(path, args...)
	cmd.Stdin = nil
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	c := &child{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // deliberately never unlocked: the thread must outlive the child
		if err := cmd.Start(); err != nil {
			started <- err
			select {} // keep the thread parked; harmless
		}
		started <- nil
		c.err = cmd.Wait()
		close(c.done)
		select {}
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return c, nil
}

// waitControllers proves kube-controller-manager works: a probe namespace must get its "default"
// ServiceAccount (serviceaccount controller) and, once deleted, disappear (namespace controller).
func waitControllers(client kubernetes.Interface, kcmDone <-chan struct{}, apiDone <-chan error, sigs <-chan os.Signal, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ns := "cplane-probe-" + randomToken()[:8]
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create probe namespace: %w", err)
	}
	poll := func(what string, done func() (bool, error)) error {
		for {
			ok, err := done()
			if err != nil {
				return err
			}
			if ok {
				return nil
			}
			select {
			case <-kcmDone:
				return errors.New("exited before it was working")
			case err := <-apiDone:
				return fmt.Errorf("kube-apiserver exited: %v", err)
			case sig := <-sigs:
				return fmt.Errorf("interrupted by %v", sig)
			case <-ctx.Done():
				return fmt.Errorf("timed out waiting for %s", what)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	if err := poll("the default ServiceAccount in "+ns, func() (bool, error) {
		_, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	}); err != nil {
		return err
	}
	if err := client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete probe namespace: %w", err)
	}
	return poll("namespace "+ns+" to be deleted", func() (bool, error) {
		_, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
