package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"time"

	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
)

// recordProject saves p as the last validated project in the state store,
// so the server and later verbs know the services and environments.
func (g *Globals) recordProject(ctx context.Context, file string, p *spec.Project) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	st, err := g.OpenStore(ctx, file, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", err
	}
	defer st.Close()
	rec := store.Project{
		Name:         p.Name,
		SpecDigest:   "sha256:" + hex.EncodeToString(sum[:]),
		Environments: p.EnvironmentNames(),
		ValidatedAt:  time.Now().UTC(),
	}
	for _, s := range p.ServiceNames() {
		rec.Services = append(rec.Services, store.Service{Name: s})
	}
	return rec.SpecDigest, st.SaveProject(ctx, rec)
}
