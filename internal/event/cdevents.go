package event

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// CDEvents types belay sends (CDEvents v0.5, whose service and artifact
// events are version 0.3.0).
const (
	CDServiceDeployed   = "dev.cdevents.service.deployed.0.3.0"
	CDServiceUpgraded   = "dev.cdevents.service.upgraded.0.3.0"
	CDServiceRolledBack = "dev.cdevents.service.rolledback.0.3.0"
	CDArtifactPublished = "dev.cdevents.artifact.published.0.3.0"
	cdSpecVersion       = "0.5.1"
)

// CDEventType maps a belay event to its CDEvents type, "" when it has none:
// a promotion is a service deployed where nothing was stable before and an
// upgrade otherwise; a rollback is service rolledback; a published artifact
// is artifact published. Starts, steps and pauses have no CDEvents kin.
func CDEventType(e Event) string {
	switch e.Event {
	case DeploymentPromoted:
		if e.PreviousStable == "" {
			return CDServiceDeployed
		}
		return CDServiceUpgraded
	case DeploymentRolledBack:
		return CDServiceRolledBack
	case ArtifactPublished:
		return CDArtifactPublished
	}
	return ""
}

// CloudEvent is a CloudEvents 1.0 event in structured JSON mode whose data
// is a CDEvent.
type CloudEvent struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Subject         string    `json:"subject"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Data            CDEvent   `json:"data"`
}

// CDEvent is a CDEvent's context, subject and custom data (belay's own
// event, as it is).
type CDEvent struct {
	Context struct {
		SpecVersion string    `json:"specversion"`
		ID          string    `json:"id"`
		Source      string    `json:"source"`
		Type        string    `json:"type"`
		Timestamp   time.Time `json:"timestamp"`
	} `json:"context"`
	Subject struct {
		ID      string         `json:"id"`
		Source  string         `json:"source,omitempty"`
		Content map[string]any `json:"content"`
	} `json:"subject"`
	CustomData            Event  `json:"customData"`
	CustomDataContentType string `json:"customDataContentType"`
}

// ToCloudEvent renders e as a CloudEvent from source (a URI reference such
// as /belay/<project>); ok is false when e has no CDEvents type.
func ToCloudEvent(e Event, source string) (ce CloudEvent, ok bool) {
	typ := CDEventType(e)
	if typ == "" {
		return ce, false
	}
	d := &ce.Data
	d.Context.SpecVersion, d.Context.ID, d.Context.Source, d.Context.Type = cdSpecVersion, e.ID, source, typ
	d.Context.Timestamp = e.Time.UTC()
	d.CustomData, d.CustomDataContentType = e, "application/json"
	switch typ {
	case CDArtifactPublished:
		d.Subject.ID = purl(e.Service, e.Version, e.Digest)
		d.Subject.Content = map[string]any{}
	default:
		running := e.Version // what runs in the environment afterwards
		if typ == CDServiceRolledBack && e.PreviousStable != "" {
			running = e.PreviousStable
		}
		digest := e.Digest
		if running != e.Version {
			digest = "" // the digest is the new version's
		}
		d.Subject.ID = e.Service
		d.Subject.Content = map[string]any{
			"environment": map[string]any{"id": e.Environment},
			"artifactId":  purl(e.Service, running, digest),
		}
	}
	ce = CloudEvent{SpecVersion: "1.0", ID: e.ID, Source: source, Type: typ, Subject: d.Subject.ID,
		Time: d.Context.Timestamp, DataContentType: "application/json", Data: ce.Data}
	return ce, true
}

// purl names an artifact as a package URL: pkg:oci/<service>@<digest> with
// the version as its tag, or pkg:generic/<service>@<version> without a digest.
func purl(service, version, digest string) string {
	name := strings.ToLower(url.PathEscape(service))
	if digest != "" {
		// purl percent-encodes the digest's ':' (PathEscape keeps it).
		return "pkg:oci/" + name + "@" + strings.ReplaceAll(url.PathEscape(digest), ":", "%3A") + "?tag=" + url.QueryEscape(version)
	}
	return "pkg:generic/" + name + "@" + url.PathEscape(version)
}

// CDEvents POSTs CloudEvents (structured mode, application/cloudevents+json)
// carrying CDEvents to a receiver such as an event broker or CDviz.
type CDEvents struct {
	Name    string
	URL     string
	Source  string // CDEvents source; default /belay
	Token   string // sent as a bearer token when set
	Timeout time.Duration
	Client  *http.Client
}

var (
	_ Sink   = (*CDEvents)(nil)
	_ Filter = (*CDEvents)(nil)
)

// Wants reports whether e has a CDEvents type.
func (c *CDEvents) Wants(e Event) bool { return CDEventType(e) != "" }

// Emit delivers e once; the caller retries.
func (c *CDEvents) Emit(ctx context.Context, e Event) error {
	src := c.Source
	if src == "" {
		src = "/belay"
	}
	ce, ok := ToCloudEvent(e, src)
	if !ok {
		return nil
	}
	body, err := json.Marshal(ce)
	if err != nil {
		return fmt.Errorf("%w: encode event %s: %w", ErrRejected, e.ID, err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/cloudevents+json; charset=utf-8")
	h.Set("User-Agent", "belay")
	h.Set("Idempotency-Key", IdempotencyKey(c.Name, e))
	if c.Token != "" {
		h.Set("Authorization", "Bearer "+c.Token)
	}
	return post(ctx, c.Client, c.Timeout, c.URL, h, body)
}
