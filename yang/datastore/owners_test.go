package datastore

import (
	"context"
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"vpnos/yang/modules"
	"vpnos/yang/schema"
)

// schemaWith loads the embedded modules plus extra ones (name → text).
func schemaWith(t *testing.T, extra map[string]string) *schema.Schema {
	t.Helper()
	files, _ := fs.Glob(modules.FS, "*.yang")
	mfs := fstest.MapFS{}
	for _, f := range files {
		b, _ := fs.ReadFile(modules.FS, f)
		mfs[f] = &fstest.MapFile{Data: b}
	}
	for name, text := range extra {
		mfs[name] = &fstest.MapFile{Data: []byte(text)}
	}
	sc, err := schema.LoadFS(mfs)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

var nop = ValidateFunc(func(*Change) []*RuleError { return nil })

func TestOwnershipRefusesWhatNobodyOwns(t *testing.T) {
	ctx := context.Background()
	s := New(schemaWith(t, nil), nil)
	s.Register(nop, "/interfaces", "/vpn-instances")
	s.Unsupported("MPLS LDP", "/mpls/ldp", "/interfaces/interface/mpls-ldp")

	tests := []struct {
		name string
		edit func(*Tree)
		want []string // refusals, with their paths
	}{
		{"owned", func(t *Tree) { t.Set(lo0.Child("description"), "x") }, nil},
		{"unsupported global", func(t *Tree) {
			t.SetPresence(P("mpls", "ldp"))
			t.Set(P("mpls", "ldp", "lsr-id"), "10.255.0.1")
		}, []string{"/mpls/ldp: MPLS LDP is not supported yet"}},
		{"unsupported under an owned list", func(t *Tree) { t.Set(ge1.Child("mpls-ldp"), "") },
			[]string{ge1.Child("mpls-ldp").String() + ": MPLS LDP is not supported yet"}},
		{"nobody", func(t *Tree) { t.Set(P("system", "sysname"), "PE1") },
			[]string{"/system/sysname: The configuration /system/sysname is not supported"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := s.NewCandidate()
			tc.edit(c.Tree())
			_, err := c.Commit(ctx, "a", "")
			var got []string
			var ve *ValidationError
			if errors.As(err, &ve) {
				for _, e := range ve.Errs {
					var re *RuleError
					if !errors.As(e, &re) {
						t.Fatalf("not a RuleError: %v", e)
					}
					got = append(got, re.Path.String()+": "+re.Msg)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			// The candidate's own validation says the same.
			if n := len(s.Validate(s.Running(), c.Tree())); n != len(tc.want) && err != nil {
				t.Fatalf("Validate found %d problems", n)
			}
		})
	}

	// Removing a node that is not supported is accepted (a running tree
	// loaded without checks may hold one).
	old := NewTree()
	old.SetPresence(P("mpls", "ldp"))
	s.LoadRunning(old)
	c := s.NewCandidate()
	c.Tree().Delete(P("mpls", "ldp"))
	if _, err := c.Commit(ctx, "a", ""); err != nil {
		t.Fatalf("removing an unsupported node: %v", err)
	}
}

func TestCheckOwners(t *testing.T) {
	const extra = `module vc-extra {
  yang-version 1.1;
  namespace "urn:vc:extra";
  prefix vcx;
  container vc-extra {
    leaf knob { type string; }
    list item { key "name"; leaf name { type string; } leaf size { type uint8; } }
  }
}`
	everything := func(s *Store) {
		s.Register(nop, "/system", "/user-interface", "/vpn-instances", "/interfaces", "/static-routes", "/static-lsps")
		s.Register(nop, "/mpls", "/interfaces/interface/mpls")
		s.Register(nop, "/ospf", "/interfaces/interface/ospf")
		s.Register(nop, "/bgp")
		s.Register(nop, "/ip-prefixes", "/community-filters", "/extcommunity-filters", "/as-path-filters", "/route-policies")
		s.Unsupported("MPLS LDP", "/mpls/ldp", "/interfaces/interface/mpls-ldp")
	}
	s := New(schemaWith(t, nil), nil)
	everything(s)
	if err := s.CheckOwners(); err != nil {
		t.Fatalf("today's modules: %v", err)
	}

	s = New(schemaWith(t, map[string]string{"vc-extra.yang": extra}), nil)
	everything(s)
	err := s.CheckOwners()
	var oe *OwnersError
	if !errors.As(err, &oe) || !reflect.DeepEqual(oe.Unowned, []string{"/vc-extra"}) {
		t.Fatalf("a module nobody owns: %v", err)
	}
	// Owning part of it names exactly what is left.
	s.Register(nop, "/vc-extra/item")
	err = s.CheckOwners()
	if !errors.As(err, &oe) || !reflect.DeepEqual(oe.Unowned, []string{"/vc-extra/knob"}) {
		t.Fatalf("a leaf nobody owns: %v", err)
	}
	s.Register(nop, "/vc-extra/knob", "/vc-extra/nonsense", "/system")
	err = s.CheckOwners()
	if !errors.As(err, &oe) || len(oe.Unowned) != 0 || !reflect.DeepEqual(oe.Unknown, []string{"/vc-extra/nonsense"}) ||
		!reflect.DeepEqual(oe.Twice, []string{"/system"}) {
		t.Fatalf("unknown and twice: %v", err)
	}
	if !strings.Contains(err.Error(), "/vc-extra/nonsense") {
		t.Fatalf("message: %v", err)
	}
}

// TestParticipantSeesEditsAndRollbacks: Validate gets the candidate before
// an edit (Prev) and the Rollback mark.
func TestParticipantSeesEditsAndRollbacks(t *testing.T) {
	ctx := context.Background()
	s := New(schemaWith(t, nil), nil)
	r := &recorder{}
	s.Register(r, "/interfaces")
	c := s.NewCandidate()
	prev := c.Tree().Clone()
	c.Tree().Set(lo0.Child("description"), "x")
	if errs := s.ValidateEdit(s.Running(), prev, c.Tree()); len(errs) != 0 {
		t.Fatal(errs)
	}
	if got := r.validated[len(r.validated)-1]; got.Prev != prev || got.Old != s.Running() || len(got.Paths) != 2 {
		t.Fatalf("edit validation: %+v", got)
	}
	id, err := c.Commit(ctx, "a", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.validated[len(r.validated)-1]; got.Prev != nil || got.Rollback {
		t.Fatalf("commit validation: %+v", got)
	}
	if _, err := s.RollbackLast(ctx, 1, "a"); err != nil || id == 0 {
		t.Fatal(err)
	}
	if got := r.validated[len(r.validated)-1]; !got.Rollback {
		t.Fatalf("rollback validation: %+v", got)
	}
	// A refusal stops the commit and keeps its path.
	r.refuse = Refuse(lo0, "The interface %s is refused", "LoopBack0")
	c.Sync() // as front ends do before an edit
	c.Tree().Set(lo0.Child("description"), "y")
	_, err = c.Commit(ctx, "a", "")
	var re *RuleError
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.As(ve.Errs[0], &re) || !re.Path.Equal(lo0) {
		t.Fatalf("refusal path: %v", err)
	}
}
