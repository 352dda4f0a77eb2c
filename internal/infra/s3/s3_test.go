package s3_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/belay-dev/belay/internal/infra/provider"
	"github.com/belay-dev/belay/internal/infra/providertest"
	"github.com/belay-dev/belay/internal/infra/s3"
	"github.com/belay-dev/belay/internal/testenv"
)

func open(t *testing.T) (*s3.Provider, *awss3.Client) {
	t.Helper()
	raw := testenv.S3(t)
	p, err := s3.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	u, _ := url.Parse(raw)
	pw, _ := u.User.Password()
	c := awss3.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(u.User.Username(), pw, "")},
		func(o *awss3.Options) {
			o.BaseEndpoint, o.UsePathStyle = aws.String("http://"+u.Host), true
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		})
	return p, c
}

func bucket(prefix string) string { return fmt.Sprintf("%s%d-staging", prefix, time.Now().UnixNano()) }

// TestProvider runs the shared provider suite against a real S3 server
// (versitygw's POSIX backend with versioning).
func TestProvider(t *testing.T) {
	p, c := open(t)
	name := bucket("pt")
	providertest.Run(t, p, providertest.Case{
		Resources: []provider.Resource{{Kind: s3.KindBucket, Name: name, Spec: provider.Fields{"versioning": s3.Enabled}}},
		Changed:   []provider.Resource{{Kind: s3.KindBucket, Name: name, Spec: provider.Fields{"versioning": s3.Suspended}}},
		Tamper: func(ctx context.Context, t *testing.T) (int, string) {
			if _, err := c.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: aws.String(name),
				VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
				t.Fatal(err)
			}
			return 0, "versioning"
		},
	})
}

// TestVersioningKeepsVersions: versioning as observed is what the server
// does — two writes of one key in a bucket made with versioning Enabled
// leave two versions. A bucket made by hand and never versioned is
// observed as Off, and an update enables it.
func TestVersioningKeepsVersions(t *testing.T) {
	p, c := open(t)
	ctx := t.Context()
	r := provider.Resource{Kind: s3.KindBucket, Name: bucket("vk"), Spec: provider.Fields{"versioning": s3.Enabled}}
	if err := p.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"one", "two"} {
		if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(r.Name), Key: aws.String("k"), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	vs, err := c.ListObjectVersions(ctx, &awss3.ListObjectVersionsInput{Bucket: aws.String(r.Name)})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs.Versions) != 2 {
		t.Fatalf("versions of k = %d, want 2", len(vs.Versions))
	}
	// A bucket with objects is not deleted: belay never deletes data.
	err = p.Delete(ctx, r)
	if err == nil || !strings.Contains(err.Error(), "still holds objects") {
		t.Fatalf("delete of a non-empty bucket: %v", err)
	}
	if o, _ := p.Observe(ctx, r); !o.Exists {
		t.Fatal("the non-empty bucket is gone")
	}
	for _, v := range vs.Versions {
		if _, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(r.Name), Key: v.Key, VersionId: v.VersionId}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Delete(ctx, r); err != nil {
		t.Fatalf("delete of the emptied bucket: %v", err)
	}

	plain := provider.Resource{Kind: s3.KindBucket, Name: bucket("hand"), Spec: provider.Fields{"versioning": s3.Enabled}}
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(plain.Name)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Delete(context.Background(), plain) })
	o, err := p.Observe(ctx, plain)
	if err != nil || !o.Exists || o.Fields["versioning"] != s3.Off {
		t.Fatalf("bucket never versioned: %+v, %v; want versioning Off", o, err)
	}
	if err := p.Update(ctx, plain); err != nil {
		t.Fatal(err)
	}
	if o, _ := p.Observe(ctx, plain); o.Fields["versioning"] != s3.Enabled {
		t.Fatalf("after update: %v", o.Fields)
	}
}

// TestBadAdminURL: a URL that does not parse or lacks keys, a wrong secret
// and a port nobody listens on are errors naming the server and what to
// check, never showing the secret.
func TestBadAdminURL(t *testing.T) {
	good, err := url.Parse(testenv.S3(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"s3://a:b@127.0.0.1:1", "::nope"} {
		if _, err := s3.New(in); err == nil || !strings.Contains(err.Error(), "is not http(s)://ACCESS_KEY:SECRET@host:port") {
			t.Errorf("%s: %v", in, err)
		}
	}
	if _, err := s3.New("http://" + good.Host); err == nil || !strings.Contains(err.Error(), "carries no access key and secret") {
		t.Errorf("no keys: %v", err)
	}
	wrong := *good
	wrong.User = url.UserPassword(good.User.Username(), "not-the-secret")
	unknown := *good
	unknown.User = url.UserPassword("nobody", "not-the-secret")
	r := provider.Resource{Kind: s3.KindBucket, Name: "any-bucket", Spec: provider.Fields{"versioning": s3.Enabled}}
	for in, want := range map[string]string{
		wrong.String():           "the S3 server at " + good.Host + " refused the access key or secret",
		unknown.String():         "the S3 server at " + good.Host + " refused the access key or secret",
		"http://a:b@127.0.0.1:1": "cannot reach the S3 server at 127.0.0.1:1",
	} {
		p, err := s3.New(in)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Observe(t.Context(), r)
		t.Logf("%s: %v", in, err)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "not-the-secret") {
			t.Errorf("%s: %v; want %q", in, err, want)
		}
	}
}

func TestCheckBucketName(t *testing.T) {
	for _, ok := range []string{"api-staging", "a1b", strings.Repeat("a", 63)} {
		if err := s3.CheckBucketName(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"ab", strings.Repeat("a", 64), "Api-staging", "api_staging", "-api", "api-", "a.b.c", "xn--api", "api-s3alias"} {
		if err := s3.CheckBucketName(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
