// Package s3 is the infrastructure provider for S3 buckets, over the S3
// API (aws-sdk-go-v2, path-style, so any S3-compatible server works): one
// bucket per service and environment, with its versioning state. Buckets
// hold data: Delete removes only an empty bucket, and the engine never
// deletes one without its audited override.
package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/belay-dev/belay/internal/infra/provider"
)

// KindBucket is an S3 bucket. Field: versioning — Enabled or Suspended
// (as S3 writes them), or Off for a bucket whose versioning was never
// enabled (observed only: S3 cannot turn it off again once enabled).
const KindBucket = "s3_bucket"

// Versioning states.
const (
	Enabled   = "Enabled"
	Suspended = "Suspended"
	Off       = "Off"
)

// Provider manages buckets on one server.
type Provider struct {
	c      *awss3.Client
	server string // host:port, for messages (never the credentials)
}

var _ provider.Provider = (*Provider)(nil)

// New returns a provider for the server at adminURL,
// http(s)://ACCESS_KEY:SECRET@host:port[?region=R] (region us-east-1 by
// default). It does not connect: the first call does.
func New(adminURL string) (*Provider, error) {
	u, err := url.Parse(adminURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, errors.New("s3: the administrator URL is not http(s)://ACCESS_KEY:SECRET@host:port (check the secret that holds it)")
	}
	secret, ok := u.User.Password()
	if u.User == nil || u.User.Username() == "" || !ok || secret == "" {
		return nil, fmt.Errorf("s3: the administrator URL of the S3 server at %s carries no access key and secret: write http(s)://ACCESS_KEY:SECRET@%s", u.Host, u.Host)
	}
	region := u.Query().Get("region")
	if region == "" {
		region = "us-east-1"
	}
	cfg := aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(u.User.Username(), secret, "")}
	c := awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		o.BaseEndpoint = aws.String(u.Scheme + "://" + u.Host)
		o.UsePathStyle = true // bucket.host needs DNS a loopback or private server does not have
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &Provider{c: c, server: u.Host}, nil
}

// Kinds is the bucket.
func (p *Provider) Kinds() []string { return []string{KindBucket} }

// Close has nothing to release (HTTP connections are pooled by the client).
func (p *Provider) Close() error { return nil }

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// wrap says which server failed doing what, and what to do where it knows.
func (p *Provider) wrap(op, bucket string, err error) error {
	var ne *net.OpError
	if errors.As(err, &ne) && code(err) == "" {
		return fmt.Errorf("s3: %s bucket %s: cannot reach the S3 server at %s (%v): check the host and port in the administrator URL secret", op, bucket, p.server, ne)
	}
	switch code(err) {
	// XAdminUserNotFound: versitygw's answer to an unknown access key
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidSecurity", "InvalidToken", "XAdminUserNotFound":
		return fmt.Errorf("s3: %s bucket %s: the S3 server at %s refused the access key or secret (%s): check the administrator URL secret", op, bucket, p.server, code(err))
	case "AccessDenied":
		return fmt.Errorf("s3: %s bucket %s: the S3 server at %s denied it (AccessDenied): the administrator URL's access key needs rights on buckets", op, bucket, p.server)
	}
	return fmt.Errorf("s3: %s bucket %s on the S3 server at %s: %w", op, bucket, p.server, err)
}

// Observe reads the bucket's versioning state (a missing bucket answers
// NoSuchBucket).
func (p *Provider) Observe(ctx context.Context, r provider.Resource) (provider.Observation, error) {
	if r.Kind != KindBucket {
		return provider.Observation{}, fmt.Errorf("s3: unknown kind %q", r.Kind)
	}
	out, err := p.c.GetBucketVersioning(ctx, &awss3.GetBucketVersioningInput{Bucket: aws.String(r.Name)})
	switch {
	case code(err) == "NoSuchBucket":
		return provider.Observation{}, nil
	case err != nil:
		return provider.Observation{}, p.wrap("observe", r.Name, err)
	}
	v := string(out.Status)
	if v == "" {
		v = Off
	}
	return provider.Observation{Exists: true, Fields: provider.Fields{"versioning": v}}, nil
}

func wantVersioning(r provider.Resource) (types.BucketVersioningStatus, error) {
	switch v := r.Spec["versioning"]; v {
	case Enabled, Suspended:
		return types.BucketVersioningStatus(v), nil
	default:
		return "", fmt.Errorf("s3: bucket %s: versioning %q is not Enabled or Suspended (S3 cannot turn versioning off once it was on)", r.Name, v)
	}
}

// Create makes the bucket (one the same account already owns is taken as
// made) and sets its versioning.
func (p *Provider) Create(ctx context.Context, r provider.Resource) error {
	if r.Kind != KindBucket {
		return fmt.Errorf("s3: unknown kind %q", r.Kind)
	}
	if err := CheckBucketName(r.Name); err != nil {
		return fmt.Errorf("s3: %w", err)
	}
	if _, err := wantVersioning(r); err != nil {
		return err
	}
	_, err := p.c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(r.Name)})
	switch code(err) {
	case "":
		if err != nil {
			return p.wrap("create", r.Name, err)
		}
	case "BucketAlreadyOwnedByYou":
	case "BucketAlreadyExists":
		return fmt.Errorf("s3: bucket %s already exists on the S3 server at %s and belongs to another account: bucket names are global to the server; rename the service or environment", r.Name, p.server)
	default:
		return p.wrap("create", r.Name, err)
	}
	return p.Update(ctx, r)
}

// Update sets the bucket's versioning.
func (p *Provider) Update(ctx context.Context, r provider.Resource) error {
	if r.Kind != KindBucket {
		return fmt.Errorf("s3: unknown kind %q", r.Kind)
	}
	v, err := wantVersioning(r)
	if err != nil {
		return err
	}
	if _, err := p.c.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: aws.String(r.Name),
		VersioningConfiguration: &types.VersioningConfiguration{Status: v}}); err != nil {
		return p.wrap("set versioning of", r.Name, err)
	}
	return nil
}

// Delete removes an empty bucket; a missing bucket is not an error, and a
// bucket still holding objects is left alone with an error (belay never
// deletes data to delete a bucket).
func (p *Provider) Delete(ctx context.Context, r provider.Resource) error {
	if r.Kind != KindBucket {
		return fmt.Errorf("s3: unknown kind %q", r.Kind)
	}
	_, err := p.c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String(r.Name)})
	switch code(err) {
	case "":
		if err != nil {
			return p.wrap("delete", r.Name, err)
		}
		return nil
	case "NoSuchBucket":
		return nil
	case "BucketNotEmpty":
		return fmt.Errorf("s3: bucket %s on the S3 server at %s still holds objects (or object versions), and belay deletes only empty buckets: "+
			"empty it yourself (every version), then apply again", r.Name, p.server)
	}
	return p.wrap("delete", r.Name, err)
}

var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)

// CheckBucketName reports why name is not a bucket name belay makes: S3's
// rules (3 to 63 lower-case letters, digits and hyphens, starting and
// ending with a letter or digit; belay uses no dots) and its reserved
// prefixes and suffixes.
func CheckBucketName(name string) error {
	if !bucketRE.MatchString(name) {
		return fmt.Errorf("bucket name %q must be 3 to 63 lower-case letters, digits and '-', starting and ending with a letter or digit (it is %d characters)", name, len(name))
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return fmt.Errorf("bucket name %q starts with %q, which S3 reserves", name, p)
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return fmt.Errorf("bucket name %q ends with %q, which S3 reserves", name, s)
		}
	}
	return nil
}
