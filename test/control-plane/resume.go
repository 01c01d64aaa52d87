package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
)

// A resumed run (`cplane run --resume`) is the same cluster started again: the previous run's etcd data, PKI,
// tokens and apiserver port, so clients holding its kubeconfigs, tokens and CA see an apiserver restart, not a
// new cluster. Tests use it to restart the apiserver under a running webhook.

// loadPKI returns the files a previous run wrote under dir.
func loadPKI(dir string) (*pkiFiles, error) {
	p := pkiPaths(dir)
	for _, f := range []string{p.CAKey, p.ServingCert, p.ServingKey, p.SAKey, p.SAPub} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
	}
	caPEM, err := os.ReadFile(p.CACert)
	if err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	p.CAPEM = caPEM
	return p, nil
}

// loadTokens reads the token CSV a previous run wrote (token,user,uid[,groups]) back into user name -> token.
func loadTokens(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("resume: %s: %w", path, err)
	}
	tokens := map[string]string{}
	for _, row := range rows {
		if len(row) >= 2 {
			tokens[row[1]] = row[0]
		}
	}
	return tokens, nil
}

// previousPort is the apiserver port recorded in the previous run's control-plane.json.
func previousPort(dir string) (int, error) {
	data, err := os.ReadFile(filepath.Join(dir, "control-plane.json"))
	if err != nil {
		return 0, fmt.Errorf("resume: %w", err)
	}
	var info ControlPlaneInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return 0, fmt.Errorf("resume: control-plane.json: %w", err)
	}
	u, err := url.Parse(info.Server)
	if err != nil {
		return 0, fmt.Errorf("resume: server %q: %w", info.Server, err)
	}
	return strconv.Atoi(u.Port())
}
