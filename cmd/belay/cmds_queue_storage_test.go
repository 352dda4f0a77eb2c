package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/belay-dev/belay/internal/infra/nats"
	"github.com/belay-dev/belay/internal/infra/provider"
	"github.com/belay-dev/belay/internal/infra/s3"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["queuestorageservers"] = cmdQueueStorageServers
	scriptCmds["natsmaxage"] = cmdNATSMaxAge
	scriptCmds["s3versioning"] = cmdS3Versioning
}

// queuestorageservers: the real NATS and S3 servers scripts/test starts
// (BELAY_TEST_NATS, BELAY_TEST_S3) as $NATS_ADMIN_URL and $S3_ADMIN_URL,
// and $SVC, a service name unique to this script, whose streams and
// buckets are removed when the script ends. Missing servers fail the
// script.
func cmdQueueStorageServers(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: queuestorageservers")
	}
	nu, su := os.Getenv("BELAY_TEST_NATS"), os.Getenv("BELAY_TEST_S3")
	if nu == "" || su == "" {
		ts.Fatalf("NATS or S3 not available: BELAY_TEST_NATS / BELAY_TEST_S3 not set; run ./scripts/test, which starts them")
	}
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	svc := "q" + hex.EncodeToString(b)
	ts.Setenv("NATS_ADMIN_URL", nu)
	ts.Setenv("S3_ADMIN_URL", su)
	ts.Setenv("SVC", svc)
	ts.Defer(func() {
		ctx := context.Background()
		for _, env := range []string{"staging", "production"} {
			if p, err := nats.New(nu); err == nil {
				_ = p.Delete(ctx, provider.Resource{Kind: nats.KindStream, Name: svc + "_" + env})
				_ = p.Close()
			}
			if p, err := s3.New(su); err == nil {
				_ = p.Delete(ctx, provider.Resource{Kind: s3.KindBucket, Name: svc + "-" + env})
			}
		}
	})
}

// natsmaxage STREAM DURATION: change a stream's max_age on $NATS_ADMIN_URL,
// as an operator would by hand.
func cmdNATSMaxAge(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: natsmaxage STREAM DURATION")
	}
	d, err := time.ParseDuration(args[1])
	ts.Check(err)
	nc, err := natsgo.Connect(ts.Getenv("NATS_ADMIN_URL"))
	ts.Check(err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	ts.Check(err)
	ctx := context.Background()
	s, err := js.Stream(ctx, args[0])
	ts.Check(err)
	c := s.CachedInfo().Config
	c.MaxAge = d
	_, err = js.UpdateStream(ctx, c)
	ts.Check(err)
}

// s3versioning BUCKET Enabled|Suspended: set a bucket's versioning on
// $S3_ADMIN_URL by hand.
func cmdS3Versioning(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: s3versioning BUCKET Enabled|Suspended")
	}
	u, err := url.Parse(ts.Getenv("S3_ADMIN_URL"))
	ts.Check(err)
	pw, _ := u.User.Password()
	c := awss3.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(u.User.Username(), pw, "")},
		func(o *awss3.Options) { o.BaseEndpoint, o.UsePathStyle = aws.String(u.Scheme+"://"+u.Host), true })
	_, err = c.PutBucketVersioning(context.Background(), &awss3.PutBucketVersioningInput{Bucket: aws.String(args[0]),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatus(args[1])}})
	ts.Check(err)
}
