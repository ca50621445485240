package pgtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/bookedbarber/pgtune/internal/s3"
)

// S3 is a real S3 server of one test's own: SeaweedFS's weed, on loopback, over TLS with a
// certificate the test made (for "localhost"), with credentials of the test's own. It is
// stopped when the test ends.
type S3 struct {
	// Endpoint is https://localhost:PORT; Host and Port are its parts.
	Endpoint string
	Host     string
	Port     int
	Region   string
	// AccessKey and SecretKey are the one identity the server knows.
	AccessKey, SecretKey string
	// CAFile is the server's certificate (self-signed), for the clients to trust.
	CAFile string
	// Client is a client of the server with those credentials.
	Client *s3.Client
	// Dir holds the server's data and log.
	Dir string

	cmd *exec.Cmd
}

// Stop kills the server (a store gone mid-drill); the test's end stops it anyway.
func (s *S3) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
}

// WeedVar names the weed binary (testdata/s3/build-weed.sh prints its path).
const WeedVar = "PGTUNE_TEST_WEED"

// weedBinary finds weed: $PGTUNE_TEST_WEED, else the newest build-weed.sh cached.
func weedBinary() string {
	if p := os.Getenv(WeedVar); p != "" {
		return p
	}
	cache := os.Getenv("PGTUNE_CACHE")
	if cache == "" {
		if d, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(d, "pgtune")
		}
	}
	found, _ := filepath.Glob(filepath.Join(cache, "weed-*", "weed"))
	sort.Strings(found)
	if len(found) == 0 {
		return ""
	}
	return found[len(found)-1]
}

// NewS3 starts an S3 server with the buckets created. Without weed it skips (fails under
// CI=true), saying how to build it.
func NewS3(t testing.TB, buckets ...string) *S3 {
	t.Helper()
	bin := weedBinary()
	if bin == "" {
		skipOrFail(t, "no S3 server: build SeaweedFS's weed with 'bash testdata/s3/build-weed.sh' (or set "+WeedVar+")")
		return nil
	}
	dir, err := os.MkdirTemp("", "pgtune-s3-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	_ = os.Chmod(dir, 0o755) // the servers' unprivileged users read the certificate
	s := &S3{Host: "localhost", Region: "us-east-1", Dir: dir, AccessKey: "PGTUNETEST" + randomHex(5), SecretKey: randomHex(20)}
	s.CAFile = filepath.Join(dir, "cert.pem")
	keyFile := filepath.Join(dir, "key.pem")
	if err := selfSigned(s.CAFile, keyFile, "localhost"); err != nil {
		t.Fatal(err)
	}
	identities, _ := json.Marshal(map[string]any{"identities": []map[string]any{{
		"name":        "pgtune-test",
		"credentials": []map[string]string{{"accessKey": s.AccessKey, "secretKey": s.SecretKey}},
		"actions":     []string{"Admin", "Read", "List", "Tagging", "Write"},
	}}})
	config := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(config, identities, 0o600); err != nil {
		t.Fatal(err)
	}
	ports, err := freePorts(8)
	if err != nil {
		t.Fatal(err)
	}
	s.Port = ports[0]
	s.Endpoint = "https://localhost:" + strconv.Itoa(s.Port)
	data := filepath.Join(dir, "data")
	os.Mkdir(data, 0o700)
	logf, err := os.Create(filepath.Join(dir, "weed.log"))
	if err != nil {
		t.Fatal(err)
	}
	p := func(i int) string { return strconv.Itoa(ports[i]) }
	cmd := exec.Command(bin, "server", "-dir="+data, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port="+p(1), "-master.port.grpc="+p(2), "-volume.port="+p(3), "-volume.port.grpc="+p(4),
		"-filer", "-filer.port="+p(5), "-filer.port.grpc="+p(6), "-volume.max=10",
		"-s3", "-s3.port="+p(0), "-s3.port.grpc="+p(7), "-s3.config="+config, "-s3.cert.file="+s.CAFile, "-s3.key.file="+keyFile)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("pgtest: start weed: %v", err)
	}
	s.cmd = cmd
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	hc, err := s3.HTTPClientTrusting(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	s.Client = &s3.Client{Endpoint: s.Endpoint, Region: s.Region, AccessKey: s.AccessKey, SecretKey: s.SecretKey, HTTP: hc}
	// The S3 gateway answers once the master, a volume server and the filer are up.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, b := range append([]string{"pgtune-probe"}, buckets...) {
		for {
			err := s.Client.CreateBucket(ctx, b)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				log, _ := os.ReadFile(filepath.Join(dir, "weed.log"))
				t.Fatalf("pgtest: the S3 server did not come up in 90 s (%v); its log:\n%s", err, tailBytes(log, 3000))
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	// A write the store keeps: the volume servers take it, not just the filer.
	for {
		err := s.Client.Put(ctx, "pgtune-probe", "probe", []byte("ok"))
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("pgtest: the S3 server takes no write: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	return s
}

func tailBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// freePorts reserves n loopback ports and releases them for the server to take.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// selfSigned writes a certificate for host (and 127.0.0.1) and its key.
func selfSigned(certFile, keyFile, host string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, DNSNames: []string{host}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
}

// String names the server without its secret.
func (s *S3) String() string { return fmt.Sprintf("S3 at %s (key %s)", s.Endpoint, s.AccessKey) }
