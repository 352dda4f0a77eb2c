package spec

import (
	"regexp"
)

// belay.yaml is committed: a secret written in it is a leak. Values of
// run.env that look like secrets are refused, pointing at belay secrets.

// secretName matches variable names that say they hold a secret.
var secretName = regexp.MustCompile(`(^|_)(PASSWORD|PASSWD|PASS|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|SECRET_KEY|ACCESS_KEY|CREDENTIALS?)$`)

// secretValues are well-known shapes of credentials, whatever the name.
var secretValues = []struct {
	what string
	re   *regexp.Regexp
}{
	{"a private key", regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`)},
	{"an age identity", regexp.MustCompile(`AGE-SECRET-KEY-1[0-9A-Z]{20,}`)},
	{"an AWS access key", regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`)},
	{"a GitHub token", regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})`)},
	{"a GitLab token", regexp.MustCompile(`\bglpat-[0-9A-Za-z_-]{20,}`)},
	{"a Slack token", regexp.MustCompile(`\bxox[baprs]-[0-9A-Za-z-]{10,}`)},
	{"a Stripe key", regexp.MustCompile(`\b[sr]k_live_[0-9A-Za-z]{16,}`)},
	{"a belay token", regexp.MustCompile(`\bbelay_[a-z2-7]{52}\b`)},
	{"a password in a URL", regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@`)},
}

// plaintextSecret says why name=value looks like a secret; "" when it does not.
func plaintextSecret(name, value string) string {
	if value == "" {
		return ""
	}
	for _, s := range secretValues {
		if s.re.MatchString(value) {
			return "its value is " + s.what
		}
	}
	if secretName.MatchString(name) {
		return "its name says it holds a secret"
	}
	return ""
}

// checkEnv refuses secrets written in plaintext in an env map at path.
func (d *decoder) checkEnv(path string, env map[string]string) {
	for _, name := range sortedKeys(env) {
		if why := plaintextSecret(name, env[name]); why != "" {
			d.errAt(path+"."+name, "%s looks like a secret written in plaintext (%s); belay.yaml is committed: keep it with `belay secrets set %s --env <environment>` and list it under run.secrets", name, why, name)
		}
	}
}
