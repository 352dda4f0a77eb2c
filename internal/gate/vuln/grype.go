package vuln

import (
	"encoding/json"
)

// grypeReport is the part of `grype … -o json` belay reads.
type grypeReport struct {
	Matches []struct {
		Vulnerability struct {
			ID          string `json:"id"`
			Severity    string `json:"severity"`
			Description string `json:"description"`
			Fix         struct {
				Versions []string `json:"versions"`
				State    string   `json:"state"`
			} `json:"fix"`
		} `json:"vulnerability"`
		RelatedVulnerabilities []struct {
			ID          string `json:"id"`
			Description string `json:"description"`
		} `json:"relatedVulnerabilities"`
		Artifact struct {
			Name      string `json:"name"`
			Version   string `json:"version"`
			Type      string `json:"type"`
			Locations []struct {
				Path    string `json:"path"`
				LayerID string `json:"layerID"`
			} `json:"locations"`
		} `json:"artifact"`
	} `json:"matches"`
	Source struct {
		Type   string          `json:"type"`
		Target json.RawMessage `json:"target"`
	} `json:"source"`
}

func isGrype(top map[string]json.RawMessage) bool {
	_, ok := top["matches"]
	return ok
}

// parseGrype reads Grype's report: one finding per match, its aliases the
// match's related vulnerabilities (a GHSA's CVE, a distribution's advisory),
// its target the image or directory scanned, its layer the layer of the
// package's first location.
func parseGrype(data []byte) ([]Finding, error) {
	var r grypeReport
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	target := grypeTarget(r.Source.Target)
	out := make([]Finding, 0, len(r.Matches))
	for _, m := range r.Matches {
		v, a := m.Vulnerability, m.Artifact
		f := Finding{
			ID: v.ID, Package: a.Name, Installed: a.Version, Severity: namedSeverity(v.Severity),
			Title: firstSentence(v.Description), Tools: []Tool{Grype}, Target: target,
		}
		if v.Fix.State == "fixed" {
			f.Fixed = firstFixAbove(v.Fix.Versions, a.Version)
		}
		for _, rel := range m.RelatedVulnerabilities {
			if rel.ID != v.ID {
				f.Aliases = append(f.Aliases, rel.ID)
			}
			if f.Title == "" {
				f.Title = firstSentence(rel.Description)
			}
		}
		if len(a.Locations) > 0 {
			f.Layer = a.Locations[0].LayerID
			if target == "" {
				f.Target = a.Locations[0].Path
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// grypeTarget names what Grype scanned: a directory or file's path, or an
// image as the user named it.
func grypeTarget(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var img struct {
		UserInput string `json:"userInput"`
	}
	if json.Unmarshal(raw, &img) == nil {
		return img.UserInput
	}
	return ""
}
