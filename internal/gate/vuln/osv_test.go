package vuln

import "testing"

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1.2.6", "1.2.5", 1},
		{"v1.21.11", "1.21.8", 1}, // numbers, not text; a leading v is ignored
		{"1.21.0", "1.21", 1},
		{"7.5.2", "7.5.2", 0},
		{"2.36-9+deb12u3", "2.36-9+deb12u1", 1},
		{"3.0.13-1~deb12u1", "3.0.11-1~deb12u2", 1},
		{"0.0.0-20220906165146-f3363e06e74c", "0.0.0-20220101000000-aaaaaaaaaaaa", 1},
	} {
		if got := compareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := compareVersions(tc.b, tc.a); got != -tc.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

func TestSeverityWords(t *testing.T) {
	for in, want := range map[string]Severity{
		"CRITICAL": Critical, "Critical": Critical, "HIGH": High, "important": High, "MODERATE": Medium,
		"Medium": Medium, "LOW": Low, "Negligible": Low, "UNKNOWN": Unknown, "": Unknown, "severe": Unknown,
	} {
		if got := namedSeverity(in); got != want {
			t.Errorf("namedSeverity(%q) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string]Severity{
		"9.8": Critical, "9.0": Critical, "8.9": High, "7": High, "6.9": Medium, "4.0": Medium, "3.9": Low,
		"0.1": Low, "0": Unknown, "": Unknown, "CVSS:3.1/AV:N": Unknown,
	} {
		if got := scoreSeverity(in); got != want {
			t.Errorf("scoreSeverity(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestFirstFixAbove(t *testing.T) {
	for _, tc := range []struct {
		versions  []string
		installed string
		want      string
	}{
		{[]string{"1.21.11", " 1.22.4"}, "v1.21.0", "1.21.11"},
		{[]string{"1.22.4", "1.21.11"}, "v1.22.1", "1.22.4"},
		{[]string{"1.2.0"}, "1.3.0", "1.2.0"}, // none above: the report's own
		{[]string{""}, "1.0.0", ""},
		{nil, "1.0.0", ""},
	} {
		if got := firstFixAbove(tc.versions, tc.installed); got != tc.want {
			t.Errorf("firstFixAbove(%q, %q) = %q, want %q", tc.versions, tc.installed, got, tc.want)
		}
	}
}
