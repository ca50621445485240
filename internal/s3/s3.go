// Package s3 is the small S3 client the restore drill reads an object store with: list a prefix,
// read, write and delete an object, create a bucket, over path-style requests signed with AWS
// Signature Version 4. It is the standard library only: the drill needs these six calls, not an
// SDK's dependency tree. Errors name the fix and never carry the secret key.
package s3

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Client talks to one S3 endpoint with one key pair.
type Client struct {
	// Endpoint is the service's base URL, e.g. https://s3.eu-west-1.amazonaws.com or
	// https://127.0.0.1:8333; buckets are addressed path-style under it.
	Endpoint string
	Region   string
	// AccessKey and SecretKey sign every request; SessionToken is set for temporary credentials.
	AccessKey, SecretKey, SessionToken string
	HTTP                               *http.Client
	// PageSize is List's max-keys per request (0: the service's, 1,000 on AWS).
	PageSize int
	// now is the signing clock (tests).
	now func() time.Time
}

// FromEnv builds a client from the variables every S3 tool reads: AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION (or AWS_DEFAULT_REGION, else us-east-1),
// AWS_ENDPOINT_URL (else AWS's regional endpoint) and AWS_CA_BUNDLE (a PEM file of CAs to trust
// besides the system's).
func FromEnv() (*Client, error) {
	c := &Client{AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"), SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY"), SessionToken: os.Getenv("AWS_SESSION_TOKEN"),
		Region: os.Getenv("AWS_REGION"), Endpoint: os.Getenv("AWS_ENDPOINT_URL")}
	if c.Region == "" {
		c.Region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.Endpoint == "" {
		c.Endpoint = "https://s3." + c.Region + ".amazonaws.com"
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		return nil, errors.New("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment (not on the command line)")
	}
	if ca := os.Getenv("AWS_CA_BUNDLE"); ca != "" {
		hc, err := HTTPClientTrusting(ca)
		if err != nil {
			return nil, err
		}
		c.HTTP = hc
	}
	return c, nil
}

// HTTPClientTrusting is an HTTP client that trusts the CAs in the PEM file too.
func HTTPClientTrusting(caFile string) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("AWS_CA_BUNDLE: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("AWS_CA_BUNDLE %s: no PEM certificate in it", caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}, nil
}

// Object is one entry of a listing.
type Object struct {
	Key          string
	Size         int64
	LastModified time.Time
	ETag         string
}

// Error is the service's answer to a failed request.
type Error struct {
	Status  int
	Code    string
	Message string
	// Op and Resource say what was asked ("list", "s3://bucket/prefix").
	Op, Resource string
}

func (e *Error) Error() string {
	fix := ""
	switch e.Code {
	case "InvalidAccessKeyId":
		fix = ": the access key is not known to the store; check AWS_ACCESS_KEY_ID"
	case "SignatureDoesNotMatch", "AccessDenied":
		fix = ": the store refused these credentials; check AWS_SECRET_ACCESS_KEY (and that the key may read the bucket)"
	case "NoSuchBucket":
		fix = ": no such bucket; check the bucket's name in the URL and the endpoint (AWS_ENDPOINT_URL)"
	case "NoSuchKey":
		fix = ": no such object"
	}
	msg := e.Code
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("S3 %s %s: %s (HTTP %d)%s", e.Op, e.Resource, msg, e.Status, fix)
}

// IsNotFound reports whether err says the object or bucket does not exist.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Status == http.StatusNotFound || e.Code == "NoSuchKey" || e.Code == "NoSuchBucket")
}

// List returns every object under prefix in bucket, in key order.
func (c *Client) List(ctx context.Context, bucket, prefix string) ([]Object, error) {
	var out []Object
	token := ""
	for {
		q := url.Values{"list-type": {"2"}, "prefix": {prefix}}
		if c.PageSize > 0 {
			q.Set("max-keys", strconv.Itoa(c.PageSize))
		}
		if token != "" {
			q.Set("continuation-token", token)
		}
		body, err := c.do(ctx, http.MethodGet, bucket, "", q, nil, "list", "s3://"+bucket+"/"+prefix)
		if err != nil {
			return nil, err
		}
		var page struct {
			Contents []struct {
				Key          string
				Size         int64
				LastModified time.Time
				ETag         string
			}
			IsTruncated           bool
			NextContinuationToken string
		}
		if err := xml.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("S3 list s3://%s/%s: the answer is no listing: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, Object{Key: o.Key, Size: o.Size, LastModified: o.LastModified, ETag: strings.Trim(o.ETag, `"`)})
		}
		if !page.IsTruncated || page.NextContinuationToken == "" {
			break
		}
		token = page.NextContinuationToken
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Get reads an object whole.
func (c *Client) Get(ctx context.Context, bucket, key string) ([]byte, error) {
	return c.do(ctx, http.MethodGet, bucket, key, nil, nil, "get", "s3://"+bucket+"/"+key)
}

// GetHead reads an object's first n bytes (a ranged GET): a WAL segment's header without its
// 16 MB.
func (c *Client) GetHead(ctx context.Context, bucket, key string, n int) ([]byte, error) {
	return c.doWith(ctx, http.MethodGet, bucket, key, nil, nil, "get", "s3://"+bucket+"/"+key, fmt.Sprintf("bytes=0-%d", n-1))
}

// Put writes an object.
func (c *Client) Put(ctx context.Context, bucket, key string, data []byte) error {
	_, err := c.do(ctx, http.MethodPut, bucket, key, nil, data, "put", "s3://"+bucket+"/"+key)
	return err
}

// Delete removes an object.
func (c *Client) Delete(ctx context.Context, bucket, key string) error {
	_, err := c.do(ctx, http.MethodDelete, bucket, key, nil, nil, "delete", "s3://"+bucket+"/"+key)
	return err
}

// CreateBucket creates a bucket (in the client's region).
func (c *Client) CreateBucket(ctx context.Context, bucket string) error {
	_, err := c.do(ctx, http.MethodPut, bucket, "", nil, nil, "create bucket", "s3://"+bucket)
	return err
}

// maxObject bounds what Get reads (a WAL segment is 16 MB by default, 1 GB at most).
const maxObject = 1 << 30

func (c *Client) do(ctx context.Context, method, bucket, key string, q url.Values, body []byte, op, resource string) ([]byte, error) {
	return c.doWith(ctx, method, bucket, key, q, body, op, resource, "")
}

// doWith sends one signed request; byteRange, when set, is its Range header (not signed: S3
// does not require it to be).
func (c *Client) doWith(ctx context.Context, method, bucket, key string, q url.Values, body []byte, op, resource, byteRange string) ([]byte, error) {
	base, err := url.Parse(c.Endpoint)
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("S3 endpoint %q is no URL (want https://host[:port])", c.Endpoint)
	}
	path := strings.TrimSuffix(base.Path, "/") + "/" + bucket
	if key != "" {
		path += "/" + key
	}
	u := *base
	u.Path = path
	u.RawPath = encodePath(path)
	u.RawQuery = canonicalQuery(q)
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	c.sign(req, body)
	if byteRange != "" {
		req.Header.Set("Range", byteRange)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	resp, err := hc.Do(req)
	if err != nil {
		// The URL holds no secret; the error names the endpoint so the fix is plain.
		return nil, fmt.Errorf("S3 %s %s: %w (is the store at %s reachable?)", op, resource, unwrapURL(err), base.Host)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxObject+1))
	if err != nil {
		return nil, fmt.Errorf("S3 %s %s: reading the answer: %w", op, resource, err)
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Status: resp.StatusCode, Op: op, Resource: resource}
		var x struct{ Code, Message string }
		if xml.Unmarshal(data, &x) == nil {
			e.Code, e.Message = x.Code, x.Message
		}
		return nil, e
	}
	if len(data) > maxObject {
		return nil, fmt.Errorf("S3 %s %s: larger than %d bytes", op, resource, maxObject)
	}
	return data, nil
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// sign adds Signature Version 4 headers to req.
func (c *Client) sign(req *http.Request, body []byte) {
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	t := now().UTC()
	amzDate := t.Format("20060102T150405Z")
	day := t.Format("20060102")
	payload := sha256Hex(body)
	req.Header.Set("x-amz-date", amzDate)
	req.Header.Set("x-amz-content-sha256", payload)
	if c.SessionToken != "" {
		req.Header.Set("x-amz-security-token", c.SessionToken)
	}
	names := []string{"host", "x-amz-content-sha256", "x-amz-date"}
	if c.SessionToken != "" {
		names = append(names, "x-amz-security-token")
	}
	var canonHeaders strings.Builder
	for _, n := range names {
		v := req.Header.Get(n)
		if n == "host" {
			v = req.URL.Host
		}
		canonHeaders.WriteString(n + ":" + strings.TrimSpace(v) + "\n")
	}
	signed := strings.Join(names, ";")
	canonical := strings.Join([]string{req.Method, req.URL.EscapedPath(), req.URL.RawQuery, canonHeaders.String(), signed, payload}, "\n")
	scope := day + "/" + c.Region + "/s3/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + sha256Hex([]byte(canonical))
	key := hmacSHA256([]byte("AWS4"+c.SecretKey), day)
	key = hmacSHA256(key, c.Region)
	key = hmacSHA256(key, "s3")
	key = hmacSHA256(key, "aws4_request")
	sig := hex.EncodeToString(hmacSHA256(key, toSign))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+c.AccessKey+"/"+scope+", SignedHeaders="+signed+", Signature="+sig)
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// encodePath escapes a path as SigV4 wants: every byte but the unreserved ones, segment by
// segment (the slashes stay).
func encodePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = uriEncode(s)
	}
	return strings.Join(segs, "/")
}

// canonicalQuery is the query with keys sorted and every key and value escaped.
func canonicalQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, uriEncode(k)+"="+uriEncode(v))
		}
	}
	return strings.Join(parts, "&")
}

func uriEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
