package vrf

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"vpnos/services/iface"
	"vpnos/services/label"
	"vpnos/services/rib"
	"vpnos/yang/datastore"
	"vpnos/yang/schema"
)

// lspRecorder is the RIB as the labels participant sees it.
type lspRecorder struct{ lsps []rib.LSP }

func (r *lspRecorder) SetLSPs(_ context.Context, owner string, lsps []rib.LSP) error {
	if owner != rib.OwnerVPNInstance {
		return fmt.Errorf("owner %q", owner)
	}
	r.lsps = lsps
	return rib.ValidateLSPs(owner, lsps)
}

func (r *lspRecorder) String() string {
	var s []string
	for _, l := range r.lsps {
		s = append(s, fmt.Sprintf("%s:%d", l.Instance, l.InLabel))
	}
	return strings.Join(s, " ")
}

type labelWorld struct {
	t     *testing.T
	store *datastore.Store
	lm    *label.Manager
	rib   *lspRecorder
	p     *Labels
}

// newLabelWorld is a datastore with the vrf service (on fakes) as the owner
// of the VPN instances, its labels taken from a label manager with ranges r.
func newLabelWorld(t *testing.T, r label.Ranges) *labelWorld {
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	lm, err := label.NewWithRanges(r)
	if err != nil {
		t.Fatal(err)
	}
	w := &labelWorld{t: t, store: datastore.New(s, nil), lm: lm, rib: &lspRecorder{}}
	w.p = NewLabels(lm, w.rib, nil)
	rec := &recorder{}
	svc := New(slog.New(slog.DiscardHandler), fakeHost{rec}, fakeSink{rec}, &fakePorts{ch: make(chan iface.Event)}, iface.SlotStyle)
	svc.SetLabels(w.p)
	w.store.Register(svc, Prefixes...)
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- svc.Run(ctx, nil, func() { close(ready) }) }()
	<-ready
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// commit applies edits to a candidate of running and commits it.
func (w *labelWorld) commit(edit func(t *datastore.Tree)) error {
	c := w.store.NewCandidate()
	edit(c.Tree())
	_, err := c.Commit(context.Background(), "test", "")
	return err
}

func vpnAF(name string) datastore.Path {
	return datastore.P("vpn-instances", "vpn-instance", datastore.K(name), "ipv4-family")
}

func addVPN(name string) func(t *datastore.Tree) {
	return func(t *datastore.Tree) {
		t.SetPresence(vpnAF(name))
		t.Set(vpnAF(name).Child("route-distinguisher"), fmt.Sprintf("65000:%d", name[0]))
	}
}

func (w *labelWorld) inUse() string {
	var s []string
	for _, a := range w.lm.InUse() {
		s = append(s, fmt.Sprintf("%d=%s", a.Label, a.Owner))
	}
	return strings.Join(s, " ")
}

func (w *labelWorld) instances() string {
	var s []string
	for _, it := range w.store.Running().Entries(datastore.P("vpn-instances"), "vpn-instance") {
		s = append(s, it.Path.Last().Keys[0])
	}
	return strings.Join(s, " ")
}

// Every per-instance VPN instance gets a label, programmed as an egress
// LSP popping into the instance; a pinned label replaces the dynamic one
// and back; per-route instances have none.
func TestInstanceLabels(t *testing.T) {
	w := newLabelWorld(t, label.Ranges{StaticMin: 16, StaticMax: 32783, DynamicMin: 48000, DynamicMax: 48009})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.commit(addVPN("red")))
	must(w.commit(addVPN("blue")))
	if got := w.inUse(); got != "48000=vpn-instance:red 48001=vpn-instance:blue" {
		t.Fatalf("labels: %s", got)
	}
	if got := w.rib.String(); got != "blue:48001 red:48000" {
		t.Fatalf("LSPs: %s", got)
	}
	if l, ok := w.p.InstanceLabel("red"); !ok || l != 48000 {
		t.Fatalf("InstanceLabel(red) = %d, %v", l, ok)
	}
	// Pin red's label.
	must(w.commit(func(t *datastore.Tree) { t.Set(vpnAF("red").Child("apply-label-static"), "500") }))
	if got := w.inUse(); got != "500=vpn-instance:red 48001=vpn-instance:blue" {
		t.Fatalf("pinned: %s", got)
	}
	if got := w.rib.String(); got != "blue:48001 red:500" {
		t.Fatalf("pinned LSPs: %s", got)
	}
	// A label held elsewhere cannot be pinned: refused in Prepare, nothing changes.
	must(w.lm.Reserve(600, label.Owner(label.KindBGP, "x")))
	err := w.commit(func(t *datastore.Tree) { t.Set(vpnAF("blue").Child("apply-label-static"), "600") })
	if err == nil || !strings.Contains(err.Error(), "VPN instance blue cannot use the static label 600: BGP (x) uses it") {
		t.Fatalf("pinning a held label: %v", err)
	}
	if v, ok := w.store.Running().Get(vpnAF("blue").Child("apply-label-static")); ok {
		t.Fatalf("running changed: %q", v)
	}
	if got := w.inUse(); got != "500=vpn-instance:red 600=bgp:x 48001=vpn-instance:blue" {
		t.Fatalf("labels after a refused commit: %s", got)
	}
	// Unpin: a new dynamic label.
	must(w.commit(func(t *datastore.Tree) { t.Delete(vpnAF("red").Child("apply-label-static")) }))
	if got := w.inUse(); got != "600=bgp:x 48001=vpn-instance:blue 48002=vpn-instance:red" {
		t.Fatalf("unpinned: %s", got)
	}
	// Per-route: no instance label.
	must(w.commit(func(t *datastore.Tree) { t.Set(vpnAF("blue").Child("apply-label"), "per-route") }))
	if got := w.rib.String(); got != "red:48002" {
		t.Fatalf("per-route LSPs: %s", got)
	}
	if _, ok := w.p.InstanceLabel("blue"); ok {
		t.Fatal("a per-route instance has an instance label")
	}
	// The instance goes: its label goes.
	must(w.commit(func(t *datastore.Tree) { t.Delete(datastore.P("vpn-instances", "vpn-instance", datastore.K("red"))) }))
	if got := w.inUse(); got != "600=bgp:x" || w.rib.String() != "" {
		t.Fatalf("after deletion: %s, LSPs %s", got, w.rib)
	}
}

// When the dynamic range runs out, Prepare refuses the commit: running,
// the labels held and the programmed LSPs stay as they were; once an
// instance gives its label back, the same commit goes through.
func TestInstanceLabelsExhausted(t *testing.T) {
	w := newLabelWorld(t, label.Ranges{StaticMin: 16, StaticMax: 32783, DynamicMin: 48000, DynamicMax: 48001})
	for _, n := range []string{"a", "b"} {
		if err := w.commit(addVPN(n)); err != nil {
			t.Fatal(err)
		}
	}
	labels, lsps, running := w.inUse(), w.rib.String(), w.instances()
	err := w.commit(addVPN("c"))
	if err == nil || !strings.Contains(err.Error(), "No label is left for VPN instance c") {
		t.Fatalf("commit with no label left: %v", err)
	}
	if w.inUse() != labels || w.rib.String() != lsps || w.instances() != running {
		t.Fatalf("a refused commit changed things: labels %s (was %s), LSPs %s (was %s), instances %s (was %s)",
			w.inUse(), labels, w.rib, lsps, w.instances(), running)
	}
	// Deleting a and adding c in one commit: a's label is still held until
	// the commit is decided, so c cannot have it yet.
	err = w.commit(func(t *datastore.Tree) {
		t.Delete(datastore.P("vpn-instances", "vpn-instance", datastore.K("a")))
		addVPN("c")(t)
	})
	if err == nil {
		t.Fatal("a dynamic label changed hands inside one commit")
	}
	if w.inUse() != labels || w.instances() != running {
		t.Fatalf("refused commit changed things: %s, %s", w.inUse(), w.instances())
	}
	if err := w.commit(func(t *datastore.Tree) { t.Delete(datastore.P("vpn-instances", "vpn-instance", datastore.K("a"))) }); err != nil {
		t.Fatal(err)
	}
	if err := w.commit(addVPN("c")); err != nil {
		t.Fatalf("after a label was freed: %v", err)
	}
	if got := w.inUse(); got != "48000=vpn-instance:c 48001=vpn-instance:b" {
		t.Fatalf("labels: %s", got)
	}
}
