package artifact

import (
	"bufio"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// SPDX 2.3 JSON, the subset belay writes.
type spdxDocument struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreationInfo   `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name             string         `json:"name"`
	SPDXID           string         `json:"SPDXID"`
	VersionInfo      string         `json:"versionInfo,omitempty"`
	DownloadLocation string         `json:"downloadLocation"`
	FilesAnalyzed    bool           `json:"filesAnalyzed"`
	Comment          string         `json:"comment,omitempty"`
	ExternalRefs     []spdxExtRef   `json:"externalRefs,omitempty"`
	Checksums        []spdxChecksum `json:"checksums,omitempty"`
}

type spdxExtRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type spdxChecksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

type spdxRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

// Dependency is one entry of an SBOM.
type Dependency struct {
	Name    string
	Version string
	PURL    string
	From    string // where it was found: a binary's build info or a lock file
}

// MakeSBOM lists the artifact's dependencies as SPDX 2.3 JSON: from the Go
// build info of output binaries, or else from go.sum / package-lock.json in
// the service directory. It is deterministic for a commit.
func MakeSBOM(meta Metadata, files []File, serviceDir string) ([]byte, error) {
	var deps []Dependency
	for _, f := range files {
		deps = append(deps, goBinaryDeps(f)...)
	}
	if len(deps) == 0 {
		gs, err := goSumDeps(filepath.Join(serviceDir, "go.sum"))
		if err != nil {
			return nil, err
		}
		nl, err := npmLockDeps(filepath.Join(serviceDir, "package-lock.json"))
		if err != nil {
			return nil, err
		}
		deps = append(gs, nl...)
	}
	slices.SortFunc(deps, func(a, b Dependency) int { return strings.Compare(a.PURL+a.From, b.PURL+b.From) })
	deps = slices.CompactFunc(deps, func(a, b Dependency) bool { return a.PURL == b.PURL })
	return spdxJSON(meta, deps)
}

func spdxJSON(meta Metadata, deps []Dependency) ([]byte, error) {
	root := spdxPackage{Name: meta.Service, SPDXID: "SPDXRef-Artifact", VersionInfo: meta.Version, DownloadLocation: "NOASSERTION"}
	if meta.Source != "" {
		root.DownloadLocation = "git+" + meta.Source + "@" + meta.Commit
	}
	doc := spdxDocument{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT", Name: meta.Version,
		CreationInfo:  spdxCreationInfo{Created: meta.Created.UTC().Format(time.RFC3339), Creators: []string{"Tool: belay"}},
		Packages:      []spdxPackage{root},
		Relationships: []spdxRelationship{{Element: "SPDXRef-DOCUMENT", Type: "DESCRIBES", Related: root.SPDXID}},
	}
	for i, d := range deps {
		id := fmt.Sprintf("SPDXRef-Package-%d", i+1)
		doc.Packages = append(doc.Packages, spdxPackage{
			Name: d.Name, SPDXID: id, VersionInfo: d.Version, DownloadLocation: "NOASSERTION", Comment: "from " + d.From,
			ExternalRefs: []spdxExtRef{{Category: "PACKAGE-MANAGER", Type: "purl", Locator: d.PURL}},
		})
		doc.Relationships = append(doc.Relationships, spdxRelationship{Element: root.SPDXID, Type: "DEPENDS_ON", Related: id})
	}
	// The namespace must be unique per document: derive it from the content.
	body, _ := json.Marshal(doc.Packages)
	sum := sha256.Sum256(body)
	doc.DocumentNamespace = fmt.Sprintf("https://belay.dev/spdx/%s-%x", meta.Version, sum[:8])
	return json.MarshalIndent(doc, "", "  ")
}

func goBinaryDeps(f File) []Dependency {
	bi, err := buildinfo.ReadFile(f.Source)
	if err != nil {
		return nil // not a Go binary
	}
	from := "Go build info of " + f.Name
	deps := []Dependency{{Name: "stdlib", Version: bi.GoVersion, PURL: "pkg:golang/stdlib@" + bi.GoVersion, From: from}}
	if bi.Main.Path != "" {
		deps = append(deps, Dependency{Name: bi.Main.Path, Version: bi.Main.Version, PURL: goPURL(bi.Main.Path, bi.Main.Version), From: from})
	}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		deps = append(deps, Dependency{Name: d.Path, Version: d.Version, PURL: goPURL(d.Path, d.Version), From: from})
	}
	return deps
}

func goPURL(path, version string) string {
	if version == "" || version == "(devel)" {
		return "pkg:golang/" + path
	}
	return "pkg:golang/" + path + "@" + version
}

// goSumDeps lists the modules of a go.sum (each once, without /go.mod lines).
func goSumDeps(path string) ([]Dependency, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var deps []Dependency
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 || strings.HasSuffix(fields[1], "/go.mod") {
			continue
		}
		deps = append(deps, Dependency{Name: fields[0], Version: fields[1], PURL: goPURL(fields[0], fields[1]), From: "go.sum"})
	}
	return deps, sc.Err()
}

// npmLockDeps lists the packages of a package-lock.json (lockfile v2/v3).
func npmLockDeps(path string) ([]Dependency, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		return nil, fmt.Errorf("SBOM: %s: %w", path, err)
	}
	var deps []Dependency
	for key, p := range lock.Packages {
		i := strings.LastIndex(key, "node_modules/")
		if i < 0 || p.Version == "" {
			continue // the root package
		}
		name := key[i+len("node_modules/"):]
		purlName := name
		if strings.HasPrefix(name, "@") {
			purlName = "%40" + name[1:]
		}
		deps = append(deps, Dependency{Name: name, Version: p.Version, PURL: "pkg:npm/" + purlName + "@" + p.Version, From: "package-lock.json"})
	}
	return deps, nil
}
