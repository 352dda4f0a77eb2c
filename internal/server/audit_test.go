package server

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/audit"
)

func testAuditKey(t testing.TB) *audit.Key {
	t.Helper()
	k, err := audit.LoadKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestAuditAPI: (the first admin token is the first entry) a viewer lists the log, asks for a checkpoint, verifies
// against it and exports; a checkpoint signed by another key is refused.
func TestAuditAPI(t *testing.T) {
	r := newAuthRig(t)
	viewer := r.token("auditor", "viewer")
	r.token("ci", "deployer")

	code, body := r.call(viewer, "GET", "/api/v1/audit?limit=10", nil)
	var es []api.AuditEntry
	if code != 200 || json.Unmarshal([]byte(body), &es) != nil || len(es) != 3 || es[2].Action != "token.create" || len(es[2].Leaf) != 32 {
		t.Fatalf("GET audit: %d %s", code, body)
	}
	if code, body := r.call(viewer, "GET", "/api/v1/audit?limit=0", nil); code != 422 || !strings.Contains(body, "limit") {
		t.Errorf("limit=0: %d %s", code, body)
	}

	code, body = r.call(viewer, "GET", "/api/v1/audit/checkpoint", nil)
	var cp api.AuditCheckpoint
	if code != 200 || json.Unmarshal([]byte(body), &cp) != nil || cp.Size != 3 || !strings.HasPrefix(cp.Note, "belay audit log\n3\n") {
		t.Fatalf("GET checkpoint: %d %s", code, body)
	}
	r.token("later", "viewer") // the log grows after the checkpoint

	code, body = r.call(viewer, "POST", "/api/v1/audit/verify", api.AuditVerifyRequest{Checkpoint: cp.Note})
	var v api.AuditVerify
	if code != 200 || json.Unmarshal([]byte(body), &v) != nil || !v.OK || v.Size != 4 || len(v.Problems) != 0 {
		t.Fatalf("verify: %d %s", code, body)
	}
	other, _ := audit.Sign(audit.Checkpoint{Size: 1}, testAuditKey(t).Signer)
	if code, body := r.call(viewer, "POST", "/api/v1/audit/verify", api.AuditVerifyRequest{Checkpoint: other}); code != 422 || !strings.Contains(body, "not signed by this server's audit key") {
		t.Errorf("verify with another server's checkpoint: %d %s", code, body)
	}
	if code, _ := r.call("", "GET", "/api/v1/audit", nil); code != 401 {
		t.Errorf("anonymous GET audit: %d", code)
	}

	code, body = r.call(viewer, "GET", "/api/v1/audit/export", nil)
	var lines []api.AuditExportLine
	for sc := bufio.NewScanner(strings.NewReader(body)); sc.Scan(); {
		var l api.AuditExportLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	if code != 200 || len(lines) != 6 || lines[4].Entry == nil || lines[4].Entry.Action != "denied.authenticate" || lines[5].Checkpoint == nil || lines[5].Checkpoint.Note != cp.Note {
		t.Errorf("export: %d %s", code, body)
	}
}
