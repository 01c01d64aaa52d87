// loadgen drives an admission webhook the way the kube-apiserver's webhook client does (Go net/http over TLS,
// HTTP/1.1 keep-alive, 25 idle connections kept per host, no cap on open connections, no session resumption),
// and measures the server while it does. It exists because a Node client on the second core of a two-core machine
// runs out of CPU before a fast server does: Go's client costs a fraction per request.
//
// Two modes, each after a warm-up that is not recorded:
//
//	sat   closed loop: -c connections, each sending its next request when the last is answered (throughput, CPU)
//	rate  open loop: -rate requests a second scheduled by the clock, each in its own goroutine, so a slow answer
//	      never delays the next send; latency from the actual send, the scheduling lag reported apart
//
// With -pid it reads the server's CPU (utime+stime from /proc/PID/stat) and every core's busy and steal time
// (/proc/stat) at the edges of the measured window, and its own CPU, so the caller can tell a clean window from a
// disturbed or client-bound one. It prints one JSON object on stdout.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// checkEvery: one answer in this many (and the first) is decoded and checked: uid echoed, allowed as expected.
const checkEvery = 64

// maxInFlight bounds the open loop: beyond it requests are skipped (and counted), so a collapse stays bounded.
const maxInFlight = 5000

type settings struct {
	url, mode, uid string
	body           []byte
	allowed        bool
	conns          int
	rate           float64
	warmup, dur    time.Duration
	timeout        time.Duration
	pid            int
}

type coreTime struct{ Busy, Steal, Total uint64 }

type snapshot struct {
	at     time.Time
	server uint64 // clock ticks
	self   time.Duration
	cores  map[string]coreTime
}

type result struct {
	Mode       string  `json:"mode"`
	Answered   int64   `json:"answered"`
	Errors     int64   `json:"errors"`
	Wrong      int64   `json:"wrong"`
	Skipped    int64   `json:"skipped"`
	Opened     int64   `json:"opened"`
	Seconds    float64 `json:"seconds"`
	RPS        float64 `json:"rps"`
	P50        float64 `json:"p50Ms"`
	P99        float64 `json:"p99Ms"`
	P999       float64 `json:"p999Ms"`
	LagP99     float64 `json:"lagP99Ms"`
	ServerCPU  float64 `json:"serverCpuUsPerRequest"`
	OtherLoad  float64 `json:"otherLoadOfServerCore"`
	Steal      float64 `json:"steal"`
	ClientLoad float64 `json:"clientLoad"`
}

func main() {
	s, err := parse()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	client, opened := newClient(s.timeout)
	var r result
	if s.mode == "sat" {
		r = saturate(s, client)
	} else {
		r = openLoop(s, client)
	}
	r.Mode = s.mode
	r.Opened = opened.Load()
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}

func parse() (settings, error) {
	var s settings
	var bodyFile string
	flag.StringVar(&s.url, "url", "", "the webhook's URL (https://127.0.0.1:PORT/validate)")
	flag.StringVar(&s.mode, "mode", "sat", "sat (closed loop) or rate (open loop)")
	flag.StringVar(&bodyFile, "body", "", "the AdmissionReview to send")
	flag.BoolVar(&s.allowed, "allowed", true, "the answer expected for this body")
	flag.IntVar(&s.conns, "c", 32, "connections in the closed loop")
	flag.Float64Var(&s.rate, "rate", 1000, "requests a second in the open loop")
	flag.DurationVar(&s.warmup, "warmup", time.Second, "warm-up, not recorded")
	flag.DurationVar(&s.dur, "d", 5*time.Second, "measured window")
	flag.DurationVar(&s.timeout, "timeout", 10*time.Second, "per-request timeout (the apiserver's webhook default)")
	flag.IntVar(&s.pid, "pid", 0, "the server's process, for its CPU")
	flag.Parse()
	if !strings.HasPrefix(s.url, "https://127.") && !strings.HasPrefix(s.url, "https://[::1]") {
		return s, fmt.Errorf("-url must be https on loopback (got %q)", s.url)
	}
	if s.mode != "sat" && s.mode != "rate" {
		return s, fmt.Errorf("-mode must be sat or rate (got %q)", s.mode)
	}
	if s.conns < 1 || s.conns > 256 || s.rate < 1 || s.rate > 20000 || s.dur <= 0 || s.dur > time.Minute {
		return s, fmt.Errorf("-c 1..256, -rate 1..20000, -d up to 1m")
	}
	body, err := os.ReadFile(bodyFile)
	if err != nil {
		return s, err
	}
	var review struct {
		Request struct {
			UID string `json:"uid"`
		} `json:"request"`
	}
	if err := json.Unmarshal(body, &review); err != nil || review.Request.UID == "" {
		return s, fmt.Errorf("-body %s: not an AdmissionReview with request.uid", bodyFile)
	}
	s.body, s.uid = body, review.Request.UID
	return s, nil
}

func newClient(timeout time.Duration) (*http.Client, *atomic.Int64) {
	opened := &atomic.Int64{}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			opened.Add(1)
			return dialer.DialContext(ctx, network, address)
		},
		// The benchmark's own throwaway certificate; what is measured is the server, not trust.
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true, ClientSessionCache: nil},
		MaxIdleConnsPerHost: 25,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: transport, Timeout: timeout}, opened
}

// tally counts answers; it is shared by goroutines.
type tally struct {
	answered, errors, wrong atomic.Int64
}

func (t *tally) add(s settings, status int, body []byte) {
	n := t.answered.Add(1)
	if status != 200 {
		t.errors.Add(1)
		return
	}
	if n%checkEvery != 1 {
		return
	}
	var review struct {
		Response struct {
			UID     string `json:"uid"`
			Allowed bool   `json:"allowed"`
		} `json:"response"`
	}
	if json.Unmarshal(body, &review) != nil || review.Response.UID != s.uid || review.Response.Allowed != s.allowed {
		t.wrong.Add(1)
	}
}

func send(s settings, client *http.Client) (int, []byte) {
	request, _ := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(s.body))
	request.Header.Set("Content-Type", "application/json")
	request.Header.Set("Accept", "application/json, */*")
	response, err := client.Do(request)
	if err != nil {
		return 0, nil
	}
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	if err != nil {
		return 0, nil
	}
	return response.StatusCode, body
}

func saturate(s settings, client *http.Client) result {
	var measuring, stop atomic.Bool
	var t tally
	var wg sync.WaitGroup
	for i := 0; i < s.conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				status, body := send(s, client)
				if measuring.Load() {
					t.add(s, status, body)
				}
			}
		}()
	}
	time.Sleep(s.warmup)
	before := take(s.pid)
	measuring.Store(true)
	time.Sleep(s.dur)
	measuring.Store(false)
	after := take(s.pid)
	stop.Store(true)
	wg.Wait()
	r := window(before, after, t.answered.Load())
	r.Answered, r.Errors, r.Wrong = t.answered.Load(), t.errors.Load(), t.wrong.Load()
	return r
}

func openLoop(s settings, client *http.Client) result {
	interval := time.Duration(float64(time.Second) / s.rate)
	total := int((s.warmup + s.dur).Seconds() * s.rate)
	first := int(s.warmup.Seconds() * s.rate)
	latency := make([]time.Duration, total-first)
	lag := make([]time.Duration, total-first)
	for i := range latency {
		latency[i] = -1
	}
	var t tally
	var inFlight, skipped atomic.Int64
	var wg sync.WaitGroup
	var before snapshot
	start := time.Now().Add(20 * time.Millisecond)
	for i := 0; i < total; i++ {
		intended := start.Add(time.Duration(i) * interval)
		if wait := time.Until(intended); wait > 0 {
			time.Sleep(wait)
		}
		if i == first {
			before = take(s.pid)
		}
		if inFlight.Load() >= maxInFlight {
			skipped.Add(1)
			continue
		}
		inFlight.Add(1)
		wg.Add(1)
		go func(slot int, intended time.Time) {
			defer wg.Done()
			defer inFlight.Add(-1)
			sent := time.Now()
			status, body := send(s, client)
			if slot >= 0 {
				lag[slot] = sent.Sub(intended)
				latency[slot] = time.Since(sent)
				t.add(s, status, body)
			}
		}(i-first, intended)
	}
	wg.Wait() // bounded: every request times out after -timeout
	after := take(s.pid)
	r := window(before, after, t.answered.Load())
	r.Answered, r.Errors, r.Wrong, r.Skipped = t.answered.Load(), t.errors.Load(), t.wrong.Load(), skipped.Load()
	answered := latency[:0:0]
	for _, l := range latency {
		if l >= 0 {
			answered = append(answered, l)
		}
	}
	r.P50, r.P99, r.P999 = percentile(answered, 0.50), percentile(answered, 0.99), percentile(answered, 0.999)
	r.LagP99 = percentile(lag, 0.99)
	return r
}

func percentile(values []time.Duration, p float64) float64 {
	if len(values) == 0 {
		return -1
	}
	sorted := append([]time.Duration(nil), values...)
	sort.Slice(sorted, func(a, b int) bool { return sorted[a] < sorted[b] })
	return float64(sorted[int(p*float64(len(sorted)-1))]) / 1e6
}

// --- measuring the machine ---------------------------------------------------------------------------------------

func take(pid int) snapshot {
	var usage syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	self := time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
	return snapshot{at: time.Now(), server: serverTicks(pid), self: self, cores: coreTimes()}
}

func serverTicks(pid int) uint64 {
	if pid == 0 {
		return 0
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	text := string(stat)
	fields := strings.Fields(text[strings.LastIndexByte(text, ')')+2:])
	utime, _ := strconv.ParseUint(fields[11], 10, 64)
	stime, _ := strconv.ParseUint(fields[12], 10, 64)
	return utime + stime
}

func coreTimes() map[string]coreTime {
	cores := map[string]coreTime{}
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cores
	}
	for _, line := range strings.Split(string(stat), "\n") {
		if !strings.HasPrefix(line, "cpu") || strings.HasPrefix(line, "cpu ") {
			continue
		}
		fields := strings.Fields(line)
		v := make([]uint64, 8)
		for i := range v {
			v[i], _ = strconv.ParseUint(fields[i+1], 10, 64)
		}
		// user nice system idle iowait irq softirq steal
		cores[strings.TrimPrefix(fields[0], "cpu")] = coreTime{Busy: v[0] + v[1] + v[2] + v[5] + v[6], Steal: v[7], Total: v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7]}
	}
	return cores
}

// clockTickUs: Linux reports /proc times in USER_HZ, 100 a second on every architecture Go runs this on.
const clockTickUs = 1e6 / 100

func window(before, after snapshot, answered int64) result {
	seconds := after.at.Sub(before.at).Seconds()
	serverUs := float64(after.server-before.server) * clockTickUs
	r := result{Seconds: seconds, RPS: float64(answered) / seconds}
	if answered > 0 {
		r.ServerCPU = serverUs / float64(answered)
	}
	var steal, total uint64
	for k, a := range after.cores {
		steal += a.Steal - before.cores[k].Steal
		total += a.Total - before.cores[k].Total
	}
	if total > 0 {
		r.Steal = float64(steal) / float64(total)
	}
	// The server runs on core 0 when pinned: what else kept core 0 busy.
	if c0, ok := after.cores["0"]; ok {
		busy := float64(c0.Busy-before.cores["0"].Busy) * clockTickUs
		all := float64(c0.Total-before.cores["0"].Total) * clockTickUs
		if all > 0 {
			r.OtherLoad = max(0, (busy-serverUs)/all)
		}
	}
	r.ClientLoad = float64(after.self-before.self) / float64(after.at.Sub(before.at))
	return r
}
