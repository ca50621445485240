package s3

import (
	"net/url"
	"testing"
)

func TestCanonicalEncoding(t *testing.T) {
	for in, want := range map[string]string{"": "", "abc-._~": "abc-._~", "a b": "a%20b", "a/b": "a%2Fb", "ü": "%C3%BC", "+=&": "%2B%3D%26"} {
		if got := uriEncode(in); got != want {
			t.Errorf("uriEncode(%q) = %q, want %q", in, got, want)
		}
	}
	if got := encodePath("/bucket/pg wal/0000000100000001"); got != "/bucket/pg%20wal/0000000100000001" {
		t.Errorf("encodePath: %q", got)
	}
	q := url.Values{"prefix": {"a/b c"}, "list-type": {"2"}, "continuation-token": {"x+y"}}
	if got := canonicalQuery(q); got != "continuation-token=x%2By&list-type=2&prefix=a%2Fb%20c" {
		t.Errorf("canonicalQuery: %q", got)
	}
}

func TestErrorsNameTheFixNotTheSecret(t *testing.T) {
	e := &Error{Status: 403, Code: "SignatureDoesNotMatch", Op: "list", Resource: "s3://b/p"}
	if got := e.Error(); got != "S3 list s3://b/p: SignatureDoesNotMatch (HTTP 403): the store refused these credentials; check AWS_SECRET_ACCESS_KEY (and that the key may read the bucket)" {
		t.Errorf("%s", got)
	}
	if !IsNotFound(&Error{Status: 404, Code: "NoSuchKey"}) || IsNotFound(e) {
		t.Error("IsNotFound")
	}
}
