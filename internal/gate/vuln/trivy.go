package vuln

import (
	"encoding/json"
	"strings"
)

// trivyReport is the part of `trivy image|fs|rootfs … --format json`
// (report SchemaVersion 2) belay reads.
type trivyReport struct {
	SchemaVersion int    `json:"SchemaVersion"`
	ArtifactName  string `json:"ArtifactName"`
	Results       []struct {
		Target          string `json:"Target"`
		Vulnerabilities []struct {
			VulnerabilityID  string   `json:"VulnerabilityID"`
			VendorIDs        []string `json:"VendorIDs"`
			PkgName          string   `json:"PkgName"`
			InstalledVersion string   `json:"InstalledVersion"`
			FixedVersion     string   `json:"FixedVersion"`
			Title            string   `json:"Title"`
			Description      string   `json:"Description"`
			Severity         string   `json:"Severity"`
			Layer            struct {
				Digest string `json:"Digest"`
				DiffID string `json:"DiffID"`
			} `json:"Layer"`
		} `json:"Vulnerabilities"`
	} `json:"Results"`
}

func isTrivy(top map[string]json.RawMessage) bool {
	_, schema := top["SchemaVersion"]
	_, artifact := top["ArtifactName"]
	return schema && artifact
}

// parseTrivy reads Trivy's report: one finding per Results[].Vulnerabilities
// entry, its severity Trivy's (from the vendor Trivy prefers for the
// package's ecosystem). Trivy lists several fixed versions, comma-separated,
// when several release lines have a fix; the first above the installed
// version is the fix.
func parseTrivy(data []byte) ([]Finding, error) {
	var r trivyReport
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	var out []Finding
	for _, res := range r.Results {
		for _, v := range res.Vulnerabilities {
			title := v.Title
			if title == "" {
				title = firstSentence(v.Description)
			}
			layer := v.Layer.Digest
			if layer == "" {
				layer = v.Layer.DiffID
			}
			out = append(out, Finding{
				ID: v.VulnerabilityID, Aliases: v.VendorIDs, Package: v.PkgName, Installed: v.InstalledVersion,
				Fixed: firstFixAbove(strings.Split(v.FixedVersion, ","), v.InstalledVersion), Severity: namedSeverity(v.Severity),
				Title: title, Tools: []Tool{Trivy}, Target: res.Target, Layer: layer,
			})
		}
	}
	return out, nil
}

// firstFixAbove is the smallest of versions above installed, else the
// first of them; empty when there is none.
func firstFixAbove(versions []string, installed string) string {
	var best, first string
	for _, v := range versions {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if first == "" {
			first = v
		}
		if compareVersions(v, installed) > 0 && (best == "" || compareVersions(v, best) < 0) {
			best = v
		}
	}
	if best != "" {
		return best
	}
	return first
}

// firstSentence is s up to its first full stop or line break.
func firstSentence(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\n"); i >= 0 {
		s = s[:i]
	}
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return s
}
