package event

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Grafana posts deployment markers as Grafana annotations
// (POST {URL}/api/annotations), tagged belay, the service, the environment,
// the version and the event type, so that a dashboard's annotation query
// can pick them by tag.
type Grafana struct {
	Name    string
	URL     string // Grafana's base URL, e.g. http://grafana:3000
	Token   string // a service account token, sent as a bearer token
	Timeout time.Duration
	Client  *http.Client
}

var (
	_ Sink   = (*Grafana)(nil)
	_ Filter = (*Grafana)(nil)
)

// markers are the events that mark a dashboard.
var markers = []string{DeploymentStarted, DeploymentPromoted, DeploymentRolledBack, DeploymentFailed, FlagChanged}

// Wants reports whether e is a deployment marker.
func (g *Grafana) Wants(e Event) bool { return slices.Contains(markers, e.Event) }

// Annotation is the body of POST /api/annotations.
type Annotation struct {
	Time int64    `json:"time"` // Unix milliseconds
	Tags []string `json:"tags"`
	Text string   `json:"text"`
}

// ToAnnotation renders e as a marker.
func ToAnnotation(e Event) Annotation {
	tags := []string{"belay"}
	for _, t := range []string{e.Service, e.Environment, e.Version, e.Flag, e.Event} {
		if t != "" {
			tags = append(tags, t)
		}
	}
	what := strings.ReplaceAll(e.Event, "_", " ")
	subject := strings.TrimSpace(e.Service + " " + e.Version)
	if e.Event == FlagChanged {
		subject = "flag " + e.Flag
	}
	text := fmt.Sprintf("%s: %s", what, subject)
	if e.Environment != "" {
		text += " in " + e.Environment
	}
	if e.Reason != "" {
		text += " (" + e.Reason + ")"
	}
	return Annotation{Time: e.Time.UnixMilli(), Tags: tags, Text: text}
}

// Emit delivers e once; the caller retries. Grafana keeps no idempotency
// key: a delivery whose answer was lost makes a second marker.
func (g *Grafana) Emit(ctx context.Context, e Event) error {
	body, err := json.Marshal(ToAnnotation(e))
	if err != nil {
		return fmt.Errorf("%w: encode event %s: %w", ErrRejected, e.ID, err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "belay")
	h.Set("Authorization", "Bearer "+g.Token)
	h.Set("Idempotency-Key", IdempotencyKey(g.Name, e))
	return post(ctx, g.Client, g.Timeout, strings.TrimSuffix(g.URL, "/")+"/api/annotations", h, body)
}
