// Package secretstest makes fake secrets that gitleaks' default rules flag,
// at run time, so that belay's own sources and history hold none.
package secretstest

import (
	"math/rand/v2"
	"strings"
)

const (
	alnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	base32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b64    = alnum + "+/"
)

func random(seed uint64, alphabet string, n int) string {
	r := rand.New(rand.NewPCG(seed, 0x5eC2e75))
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// GitHubToken is a GitHub personal access token (rule github-pat).
func GitHubToken(seed uint64) string { return "gh" + "p_" + random(seed, alnum, 36) }

// AWSKey is an AWS access key id (rule aws-access-token); gitleaks allows
// AWS's documented example key, so this one is random.
func AWSKey(seed uint64) string { return "AK" + "IA" + random(seed, base32, 16) }

// PrivateKey is a PEM private key block (rule private-key), with lines ending
// in "\n".
func PrivateKey(seed uint64) string {
	body := random(seed, b64, 256)
	var b strings.Builder
	b.WriteString("-----BEGIN RSA " + "PRIVATE KEY-----\n")
	for len(body) > 0 {
		n := min(64, len(body))
		b.WriteString(body[:n] + "\n")
		body = body[n:]
	}
	b.WriteString("-----END RSA " + "PRIVATE KEY-----\n")
	return b.String()
}
