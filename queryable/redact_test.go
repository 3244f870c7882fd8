package queryable

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/actorserve/actorserve/serving"
)

// A remote model's literal header values never leave the node in an
// answer (a record from an older build may hold one); references stay, so
// an operator sees which variable a node reads. Kept versions and the
// variant are redacted too, and large inline data is left out.
func TestRedactedDescriptor(t *testing.T) {
	data := json.RawMessage(`{"url":"http://h","model":"m","headers":{"Authorization":"Bearer s3cr3t","X-Key":"env:API_KEY"}}`)
	d := &serving.Descriptor{ID: "r", Format: "remote", Data: data,
		Variant: &serving.Descriptor{ID: "r", Format: "remote", Data: data},
		History: []*serving.Descriptor{{ID: "r", Format: "remote", Data: data}, {ID: "r", Format: "linear", Data: json.RawMessage(`"` + strings.Repeat("x", 5000) + `"`)}}}
	r := redacted(d)
	b, _ := json.Marshal(r)
	if strings.Contains(string(b), "s3cr3t") {
		t.Fatalf("the answer shows a secret: %s", b)
	}
	if strings.Count(string(b), `"[redacted]"`) != 3 || strings.Count(string(b), "env:API_KEY") != 3 {
		t.Errorf("redacted: %s", b)
	}
	if r.History[1].Data != nil {
		t.Errorf("large inline data kept")
	}
	if !strings.Contains(string(d.Data), "s3cr3t") {
		t.Errorf("the stored descriptor was changed")
	}
}
