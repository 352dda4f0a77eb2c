package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ErrVersion marks a release version that is not <service>-<YYYY.MM.DD>-<shortsha>.
var ErrVersion = errors.New("invalid release version")

// Version is a release version, the seed's api-2026.05.12-8f3a91c:
// service, build date and short commit SHA.
type Version struct {
	Service string    `json:"service"`
	Date    time.Time `json:"date"`
	SHA     string    `json:"sha"`
}

// DateLayout is how a version writes its date.
const DateLayout = "2006.01.02"

var shaRE = regexp.MustCompile(`^[0-9a-f]{7,12}$`)

// ParseVersion parses <service>-<YYYY.MM.DD>-<shortsha>; the service may
// itself contain '-', the date must exist and the SHA is 7–12 lower-case hex
// digits.
func ParseVersion(s string) (Version, error) {
	const want = "expected <service>-<YYYY.MM.DD>-<shortsha>, e.g. api-2026.05.12-8f3a91c"
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return Version{}, fmt.Errorf("%w %q: %s", ErrVersion, s, want)
	}
	rest, sha := s[:i], s[i+1:]
	j := strings.LastIndexByte(rest, '-')
	if j < 0 {
		return Version{}, fmt.Errorf("%w %q: %s", ErrVersion, s, want)
	}
	svc, date := rest[:j], rest[j+1:]
	if err := checkName("service", svc); err != nil {
		return Version{}, fmt.Errorf("%w %q: %v", ErrVersion, s, err)
	}
	t, err := time.Parse(DateLayout, date)
	if err != nil || len(date) != len(DateLayout) {
		return Version{}, fmt.Errorf("%w %q: %q is not a real date written YYYY.MM.DD", ErrVersion, s, date)
	}
	if !shaRE.MatchString(sha) {
		return Version{}, fmt.Errorf("%w %q: %q is not a short commit SHA (7 to 12 lower-case hex digits)", ErrVersion, s, sha)
	}
	return Version{Service: svc, Date: t, SHA: sha}, nil
}

func (v Version) String() string {
	if v.Service == "" {
		return ""
	}
	return v.Service + "-" + v.Date.Format(DateLayout) + "-" + v.SHA
}

// IsZero reports whether v was never set.
func (v Version) IsZero() bool { return v.Service == "" }

// MarshalJSON writes the version as its string.
func (v Version) MarshalJSON() ([]byte, error) { return json.Marshal(v.String()) }

func (v *Version) decodeNode(d *decoder, n *yaml.Node, path string) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, path, "expected a version such as api-2026.05.12-8f3a91c, got %s", describe(n))
		return
	}
	pv, err := ParseVersion(n.Value)
	if err != nil {
		d.addErr(posOf(n), path, ErrVersion, err.Error())
		return
	}
	*v = pv
}
