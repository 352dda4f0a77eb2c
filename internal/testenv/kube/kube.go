// Package kube starts a real Kubernetes control plane on loopback for tests:
// etcd, kube-apiserver (token authentication and RBAC), kube-controller-manager,
// kube-scheduler, and kwok playing the kubelet of two fake nodes. The
// binaries come from scripts/kube.sh build (cached between runs). One control
// plane serves a whole test binary: call Main from TestMain so it is stopped
// at the end.
package kube

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

//go:embed stages.yaml
var podStages []byte

// Users are the token users the API server knows besides admin (a member of
// system:masters); they start with no permissions, and a test grants them
// what it needs with RBAC.
var Users = []string{"limited"}

// Cluster is a running control plane.
type Cluster struct {
	Server string       // https://127.0.0.1:port
	Admin  *rest.Config // system:masters
	// AdminKubeconfig is the path of a kubeconfig for Admin.
	AdminKubeconfig string
	dir             string
	caPEM           []byte
	procs           []proc
	logs            []string
}

var (
	once    sync.Once
	shared  *Cluster
	errOnce error
)

// Main runs the tests and stops the control plane if one was started.
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.stop()
	}
	return code
}

// Get returns the test binary's control plane, starting it the first time.
// Without the binaries or when it cannot start, the test is skipped with
// the reason, or fails under CI=true.
func Get(t testing.TB) *Cluster {
	t.Helper()
	once.Do(func() { shared, errOnce = start() })
	if errOnce != nil {
		msg := "Kubernetes control plane not available: " + errOnce.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if t.Failed() {
			shared.dumpLogs(t)
		}
	})
	return shared
}

// Client returns a clientset for the admin user.
func (c *Cluster) Client(t testing.TB) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(c.Admin)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// Kubeconfig writes a kubeconfig for one of Users (or "admin") and returns its path.
func (c *Cluster) Kubeconfig(t testing.TB, user string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), user+".kubeconfig")
	if err := os.WriteFile(p, kubeconfig(c.Server, c.caPEM, user, token(user)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Namespace creates a namespace for one test and deletes it at the end.
func (c *Cluster) Namespace(t testing.TB, name string) string {
	t.Helper()
	cs := c.Client(t)
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return name
}

type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once it has exited
}

func token(user string) string { return "belay-test-token-" + user }

// binDir runs scripts/kube.sh build (which waits for a build already
// running) and returns where the binaries are.
func binDir() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", "kube.sh")
	var out bytes.Buffer
	cmd := exec.Command("bash", script, "build")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("scripts/kube.sh build: %v\n%s", err, out.String())
	}
	dir, err := exec.Command("bash", script, "dir").Output()
	if err != nil {
		return "", fmt.Errorf("scripts/kube.sh dir: %v", err)
	}
	return strings.TrimSpace(string(dir)), nil
}

func start() (*Cluster, error) {
	cache, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "belay-kube-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	if err := c.boot(cache); err != nil {
		// Tail the logs first: stop deletes them.
		var logs strings.Builder
		for _, l := range c.logs {
			logs.WriteString(tail(l, 20))
		}
		c.stop()
		return nil, fmt.Errorf("%w\n%s", err, logs.String())
	}
	return c, nil
}

func (c *Cluster) boot(cache string) error {
	bin := func(n string) string { return filepath.Join(cache, "bin", n) }
	if err := c.writeCredentials(); err != nil {
		return err
	}
	etcdPort, peerPort, apiPort, cmPort, schedPort, kwokPort := freePort(), freePort(), freePort(), freePort(), freePort(), freePort()
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	if err := c.run("etcd", bin("etcd"), "--data-dir", c.path("etcd"), "--listen-client-urls", etcdURL,
		"--advertise-client-urls", etcdURL, "--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "default="+peerURL, "--unsafe-no-fsync", "--log-level", "warn"); err != nil {
		return err
	}
	c.Server = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	if err := c.run("kube-apiserver", bin("kube-apiserver"), "--etcd-servers", etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
		fmt.Sprintf("--secure-port=%d", apiPort), "--cert-dir", c.path("certs"),
		"--tls-cert-file", c.path("serving.crt"), "--tls-private-key-file", c.path("serving.key"),
		"--client-ca-file", c.path("ca.crt"),
		"--token-auth-file", c.path("tokens.csv"), "--authorization-mode=RBAC",
		"--service-account-key-file", c.path("sa.pub"), "--service-account-signing-key-file", c.path("sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc", "--service-cluster-ip-range=10.96.0.0/16",
		"--disable-admission-plugins=ServiceAccount"); err != nil {
		return err
	}
	if err := os.WriteFile(c.path("admin.kubeconfig"), kubeconfig(c.Server, c.caPEM, "admin", token("admin")), 0o600); err != nil {
		return err
	}
	c.Admin = &rest.Config{Host: c.Server, BearerToken: token("admin"), TLSClientConfig: rest.TLSClientConfig{CAData: c.caPEM}, QPS: 200, Burst: 400}
	if err := c.waitHealthy(90 * time.Second); err != nil {
		return err
	}
	kc := c.path("admin.kubeconfig")
	c.AdminKubeconfig = kc
	if err := c.run("kube-controller-manager", bin("kube-controller-manager"), "--kubeconfig", kc,
		"--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
		"--leader-elect=false", "--controllers=*", "--use-service-account-credentials=false",
		"--service-account-private-key-file", c.path("sa.key"), "--root-ca-file", c.path("ca.crt"),
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", cmPort), "--cert-dir", c.path("cm-certs")); err != nil {
		return err
	}
	if err := c.run("kube-scheduler", bin("kube-scheduler"), "--kubeconfig", kc,
		"--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc, "--leader-elect=false",
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", schedPort), "--cert-dir", c.path("sched-certs")); err != nil {
		return err
	}
	stages, err := c.kwokStages(cache)
	if err != nil {
		return err
	}
	if err := c.run("kwok", bin("kwok"), "--kubeconfig", kc, "--config", stages,
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--cidr=10.0.0.1/16", "--node-ip=10.1.0.1", fmt.Sprintf("--server-address=127.0.0.1:%d", kwokPort)); err != nil {
		return err
	}
	return c.addNodes(2)
}

func (c *Cluster) path(n string) string { return filepath.Join(c.dir, n) }

// kwokStages concatenates the node stages kwok's module ships with ours for pods.
func (c *Cluster) kwokStages(cache string) (string, error) {
	var all bytes.Buffer
	for _, f := range []string{"node/fast/node-initialize.yaml", "node/heartbeat/node-heartbeat.yaml"} {
		b, err := os.ReadFile(filepath.Join(cache, "kwok-stage", f))
		if err != nil {
			return "", fmt.Errorf("kwok's stages: %w (rebuild with scripts/kube.sh build)", err)
		}
		all.Write(b)
		all.WriteString("\n---\n")
	}
	all.Write(podStages)
	p := c.path("kwok-stages.yaml")
	return p, os.WriteFile(p, all.Bytes(), 0o600)
}

func (c *Cluster) addNodes(n int) error {
	cs, err := kubernetes.NewForConfig(c.Admin)
	if err != nil {
		return err
	}
	ctx := context.Background()
	for i := range n {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name:        fmt.Sprintf("kwok-node-%d", i),
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels:      map[string]string{"type": "kwok", "kubernetes.io/hostname": fmt.Sprintf("kwok-node-%d", i)},
		}}
		if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating node: %w", err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		ready := 0
		if err == nil {
			for _, nd := range nodes.Items {
				for _, cond := range nd.Status.Conditions {
					if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
						ready++
					}
				}
			}
		}
		if ready >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kwok's nodes not ready after 60s (%d of %d; %v)", ready, n, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *Cluster) waitHealthy(d time.Duration) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.caPEM)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig(pool)}}
	deadline := time.Now().Add(d)
	for {
		req, _ := http.NewRequest("GET", c.Server+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token("admin"))
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			err = fmt.Errorf("/readyz: %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kube-apiserver not ready after %s: %v", d, err)
		}
		for _, p := range c.procs {
			select {
			case <-p.done:
				return fmt.Errorf("%s exited", p.name)
			default:
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// run starts one component with its output in a log file.
func (c *Cluster) run(name, bin string, args ...string) error {
	logPath := c.path(name + ".log")
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	p := proc{name: name, cmd: cmd, done: make(chan struct{})}
	c.procs = append(c.procs, p)
	c.logs = append(c.logs, logPath)
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	return nil
}

func (c *Cluster) stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
}

func (c *Cluster) dumpLogs(t testing.TB) {
	for _, l := range c.logs {
		t.Logf("%s", tail(l, 30))
	}
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return fmt.Sprintf("== last lines of %s\n%s\n", filepath.Base(path), strings.Join(lines, "\n"))
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeCredentials makes a CA, the API server's serving certificate, the
// service-account key pair, the static token file and the admin kubeconfig.
func (c *Cluster) writeCredentials() error {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "belay-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	saPub, _ := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	c.caPEM = pemBlock("CERTIFICATE", caDER)
	srvKeyDER, _ := x509.MarshalECPrivateKey(srvKey)
	tokens := fmt.Sprintf("%s,admin,admin,system:masters\n", token("admin"))
	for _, u := range Users {
		tokens += fmt.Sprintf("%s,%s,%s\n", token(u), u, u)
	}
	files := map[string][]byte{
		"ca.crt":      c.caPEM,
		"serving.crt": pemBlock("CERTIFICATE", srvDER),
		"serving.key": pemBlock("EC PRIVATE KEY", srvKeyDER),
		"sa.key":      pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey)),
		"sa.pub":      pemBlock("PUBLIC KEY", saPub),
		"tokens.csv":  []byte(tokens),
	}
	for name, b := range files {
		if err := os.WriteFile(c.path(name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func kubeconfig(server string, ca []byte, user, tok string) []byte {
	return []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %s
  user:
    token: %s
contexts:
- name: test
  context: {cluster: test, user: %s}
current-context: test
`, server, base64.StdEncoding.EncodeToString(ca), user, tok, user))
}

func tlsConfig(pool *x509.CertPool) *tls.Config { return &tls.Config{RootCAs: pool} }
