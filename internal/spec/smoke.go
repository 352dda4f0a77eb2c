package spec

// SmokeTest confirms a deployed version starts and responds: exactly one of
// HTTP or Command.
type SmokeTest struct {
	Name    string     `yaml:"name" json:"name" belay:"required"`
	HTTP    *SmokeHTTP `yaml:"http" json:"http,omitempty"`
	Command string     `yaml:"command" json:"command,omitempty"`
	// Timeout of the test; default 10s.
	Timeout Duration `yaml:"timeout" json:"timeout"`
}

// SmokeHTTP is one request to the new version and what its answer must hold.
type SmokeHTTP struct {
	// Method defaults to GET.
	Method Method `yaml:"method" json:"method"`
	Path   string `yaml:"path" json:"path" belay:"required"`
	// ExpectStatus defaults to 200.
	ExpectStatus int        `yaml:"expect_status" json:"expect_status"`
	BodyContains string     `yaml:"body_contains" json:"body_contains,omitempty"`
	JSONField    *JSONField `yaml:"json_field" json:"json_field,omitempty"`
}

// JSONField checks one field of a JSON answer; Path is dotted (a.b.c).
type JSONField struct {
	Path   string `yaml:"path" json:"path" belay:"required"`
	Equals string `yaml:"equals" json:"equals" belay:"required" schema:"scalar"`
}

// DefaultSmokeTimeout bounds one smoke test.
const DefaultSmokeTimeout = Duration(10e9)

func (d *decoder) checkSmoke(path string, ts []*SmokeTest) {
	names := map[string]bool{}
	for i, t := range ts {
		p := index(path, i)
		if t == nil {
			d.errAt(p, "empty smoke test: give a name and http: or command:")
			continue
		}
		if names[t.Name] && t.Name != "" {
			d.errAt(p+".name", "duplicate smoke test name %q", t.Name)
		}
		names[t.Name] = true
		if (t.HTTP != nil) == (t.Command != "") {
			d.errAt(p, "a smoke test needs exactly one of http: or command:")
		}
		if t.HTTP != nil {
			d.checkPath(p+".http.path", t.HTTP.Path)
			d.checkStatus(p+".http.expect_status", t.HTTP.ExpectStatus)
		}
	}
}

func (t *SmokeTest) applyDefaults() {
	if t.Timeout == 0 {
		t.Timeout = DefaultSmokeTimeout
	}
	if h := t.HTTP; h != nil {
		if h.Method == "" {
			h.Method = "GET"
		}
		if h.ExpectStatus == 0 {
			h.ExpectStatus = 200
		}
	}
}
