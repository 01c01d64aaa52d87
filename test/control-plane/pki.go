package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type pkiFiles struct {
	CACert, CAKey           string
	ServingCert, ServingKey string
	SAKey, SAPub            string
	CAPEM                   []byte
}

// writePKI creates a self-signed CA, an apiserver serving certificate for 127.0.0.1/localhost signed by it, and
// an EC service-account signing key, all under dir.
func writePKI(dir, nodeIP string) (*pkiFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := pkiPaths(dir)
	now := time.Now()

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "countersign-test-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}

	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  servingIPs(nodeIP),
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}

	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}

	p.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	if err := os.WriteFile(p.CACert, p.CAPEM, 0o644); err != nil {
		return nil, err
	}
	if err := writeECKey(p.CAKey, caKey); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p.ServingCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}), 0o644); err != nil {
		return nil, err
	}
	if err := writeECKey(p.ServingKey, srvKey); err != nil {
		return nil, err
	}
	if err := writeECKey(p.SAKey, saKey); err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(p.SAPub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		return nil, err
	}
	return p, nil
}

func writeECKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}

func randomToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

type tokenUser struct {
	Name   string
	UID    string
	Groups []string
}

// staticUsers are the identities in tokens.csv. system:kube-controller-manager is the controller manager's root
// identity: the default RBAC policy binds that user name to the system:kube-controller-manager ClusterRole.
var staticUsers = []tokenUser{
	{Name: "admin", UID: "admin", Groups: []string{"system:masters"}},
	{Name: "sre-a", UID: "sre-a", Groups: []string{"sre"}},
	{Name: "sre-b", UID: "sre-b", Groups: []string{"sre"}},
	{Name: "dev-a", UID: "dev-a", Groups: []string{"developers"}},
	{Name: "system:kube-controller-manager", UID: "system:kube-controller-manager"},
}

// nodeUsers are a node's components, in tokens.csv only when the plane serves a node: the default RBAC policy
// binds system:kube-scheduler and system:kube-proxy by user name; the kubelet is authorized by the Node authorizer
// as system:node:NAME.
func nodeUsers(node string) []tokenUser {
	return []tokenUser{
		{Name: "system:kube-scheduler", UID: "system:kube-scheduler"},
		{Name: "system:kube-proxy", UID: "system:kube-proxy"},
		kubeletUser(node),
	}
}

// kubeletUser is the identity a node's kubelet authenticates as.
func kubeletUser(node string) tokenUser {
	return tokenUser{Name: "system:node:" + node, UID: "system:node:" + node, Groups: []string{"system:nodes"}}
}

// servingIPs are the apiserver certificate's addresses: loopback, the kubernetes Service's ClusterIP (what pods'
// in-cluster configuration dials) and, with a node, the address the Service's endpoints advertise.
func servingIPs(nodeIP string) []net.IP {
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.0.0.1")}
	if nodeIP != "" {
		ips = append(ips, net.ParseIP(nodeIP))
	}
	return ips
}

// writeTokens writes a --token-auth-file CSV (token,user,uid,"group1,group2") with a fresh random token per user
// and returns user name -> token.
func writeTokens(path, node string) (map[string]string, error) {
	tokens := map[string]string{}
	var b strings.Builder
	users := append([]tokenUser{}, staticUsers...)
	if node != "" {
		users = append(users, nodeUsers(node)...)
	}
	for _, u := range users {
		t := randomToken()
		tokens[u.Name] = t
		fmt.Fprintf(&b, "%s,%s,%s", t, u.Name, u.UID)
		if len(u.Groups) > 0 {
			fmt.Fprintf(&b, ",\"%s\"", strings.Join(u.Groups, ","))
		}
		b.WriteString("\n")
	}
	return tokens, os.WriteFile(path, []byte(b.String()), 0o600)
}

// pkiPaths names the files of a PKI directory: written by a fresh run, read back by a resumed one.
func pkiPaths(dir string) *pkiFiles {
	return &pkiFiles{
		CACert:      filepath.Join(dir, "ca.crt"),
		CAKey:       filepath.Join(dir, "ca.key"),
		ServingCert: filepath.Join(dir, "apiserver.crt"),
		ServingKey:  filepath.Join(dir, "apiserver.key"),
		SAKey:       filepath.Join(dir, "sa.key"),
		SAPub:       filepath.Join(dir, "sa.pub"),
	}
}
