package cli

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"testing"
)

func TestValidateRecordsTheProject(t *testing.T) {
	home := t.TempDir()
	var out, errb bytes.Buffer
	if code := Main([]string{"validate", "--home", home, "-f", "../../examples/hello/belay.yaml"}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	g := &Globals{Home: home}
	st, err := g.OpenStore(context.Background(), "", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := st.LastProject(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "hello" || len(p.Services) != 1 || p.Services[0].Name != "hello" || len(p.Environments) != 2 || p.Environments[1] != "production" {
		t.Fatalf("recorded %+v", p)
	}
	if _, err := filepath.Abs(home); err != nil || len(p.SpecDigest) != len("sha256:")+64 {
		t.Fatalf("digest %q", p.SpecDigest)
	}
}
