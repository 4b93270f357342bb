package netconf_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"vpnos/cli"
	"vpnos/cli/proto"
	"vpnos/os/netconf"
	"vpnos/services/iface"
	"vpnos/yang/datastore"
	"vpnos/yang/schema"
)

// repoRoot is the repository's top directory.
const repoRoot = "../.."

// testPorts are the data ports the CLI engines of these tests know.
func testPorts() []iface.Port {
	var ps []iface.Port
	for i := 1; i <= 8; i++ {
		ps = append(ps, iface.Port{Kernel: fmt.Sprintf("eth%d", i), Name: fmt.Sprintf("GigabitEthernet0/%d/0", i), AdminUp: true, OperUp: true})
	}
	return ps
}

func newEngine(t testing.TB, mode string) *cli.Engine {
	t.Helper()
	e, err := cli.New(cli.Deps{Sysname: "HUAWEI", CommitMode: mode, Ports: testPorts, Store: ownedStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// corpusTree is one configuration of the CLI test corpus.
type corpusTree struct {
	name string
	tree *datastore.Tree
}

// corpus collects every configuration the CLI tests make: the running
// tree after each commit of each transcript (cli/testdata), and each lab
// node's startup configuration (lab/*/*/startup.cfg).
func corpus(t *testing.T) []corpusTree {
	t.Helper()
	ctx := context.Background()
	var out []corpusTree
	files, _ := filepath.Glob(filepath.Join(repoRoot, "lab/*/*/startup.cfg"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		e := newEngine(t, "two-stage")
		if errs, err := e.Replay(ctx, string(b)); err != nil || len(errs) > 0 {
			t.Fatalf("%s: %v %v", f, err, errs)
		}
		out = append(out, corpusTree{f, e.Store().Running()})
	}
	if len(files) < 5 {
		t.Fatalf("only %d lab startup files", len(files))
	}
	scripts, _ := filepath.Glob(filepath.Join(repoRoot, "cli/testdata/transcripts/*.txt"))
	for _, f := range scripts {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		mode := "two-stage"
		if strings.Contains(f, "vrp5") {
			mode = "immediate"
		}
		e := newEngine(t, mode)
		sessions := map[string]interface {
			Handle(context.Context, proto.Request) proto.Response
		}{}
		cur := "1"
		open := func(n string) {
			if _, ok := sessions[n]; !ok {
				s, _ := e.Open(ctx, proto.Request{Op: proto.OpOpen, User: "user" + n, Interactive: true})
				sessions[n] = s
			}
		}
		open(cur)
		for _, line := range strings.Split(string(b), "\n") {
			switch {
			case strings.HasPrefix(line, "@session "):
				cur = strings.TrimPrefix(line, "@session ")
				open(cur)
				continue
			case strings.HasPrefix(line, "@"), strings.HasSuffix(line, "?"), strings.HasSuffix(line, "<TAB>"):
				continue
			}
			sessions[cur].Handle(ctx, proto.Request{Op: proto.OpExec, Line: line})
		}
		recs := e.Store().Commits()
		for i := len(recs) - 1; i >= 0; i-- {
			t, err := e.Store().TreeAt(recs[i].ID)
			if err != nil {
				panic(err)
			}
			out = append(out, corpusTree{fmt.Sprintf("%s commit %d", filepath.Base(f), recs[i].ID), t})
		}
	}
	if len(out) < 30 {
		t.Fatalf("a corpus of %d configurations", len(out))
	}
	return out
}

// userOrder lists the entries of every user-ordered list, in order.
func userOrder(s *schema.Schema, t *datastore.Tree) string {
	lists := map[string][]*datastore.Item{}
	for _, it := range t.Items() {
		if e := s.Find(it.Path.Names()...); e != nil && schema.OrderedByUser(e) {
			lk := it.Path.Parent().String() + "/" + it.Path.Last().Name
			lists[lk] = append(lists[lk], it)
		}
	}
	keys := make([]string, 0, len(lists))
	for k := range lists {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		items := lists[k]
		sort.Slice(items, func(i, j int) bool { return items[i].Seq < items[j].Seq })
		for _, it := range items {
			b.WriteString(it.Path.String() + "\n")
		}
	}
	return b.String()
}

// TestCorpusRoundTrip converts every configuration of the CLI test corpus
// to XML and back and gets the same tree (user-ordered lists in the same
// order); the XML of each is valid for yanglint against the modules.
func TestCorpusRoundTrip(t *testing.T) {
	sc, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	m, err := netconf.NewModel(sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var dataFiles []string
	for i, c := range corpus(t) {
		var b bytes.Buffer
		b.WriteString(`<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">`)
		var frag bytes.Buffer
		for _, n := range m.Encode(c.tree) {
			n.Write(&frag, "")
		}
		b.Write(frag.Bytes())
		b.WriteString(`</config>`)
		x, err := netconf.Parse(b.Bytes())
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, b.String())
		}
		back, errs := m.Decode(x)
		if len(errs) > 0 {
			t.Fatalf("%s: %v\n%s", c.name, errs, b.String())
		}
		if !back.Equal(c.tree) {
			t.Fatalf("%s: the tree changed through XML:\n%s", c.name, b.String())
		}
		if got, want := userOrder(sc, back), userOrder(sc, c.tree); got != want {
			t.Fatalf("%s: user order\n%s\nwant\n%s", c.name, got, want)
		}
		if frag.Len() == 0 {
			continue
		}
		f := filepath.Join(dir, fmt.Sprintf("c%03d.xml", i))
		if err := os.WriteFile(f, frag.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		dataFiles = append(dataFiles, f)
	}
	t.Logf("%d configurations through XML and back, and checked by yanglint", len(dataFiles))
	yanglint(t, filepath.Join(repoRoot, "yang/modules"), "config", dataFiles...)
}

// yanglint validates data files (each a set of top-level elements) against
// the modules in dir.
func yanglint(t *testing.T, dir, dataType string, files ...string) {
	t.Helper()
	if _, err := exec.LookPath("yanglint"); err != nil {
		t.Fatal("yanglint (libyang2-tools) is not installed")
	}
	mods, _ := filepath.Glob(filepath.Join(dir, "*.yang"))
	for _, f := range files {
		args := append([]string{"-p", dir, "-t", dataType}, mods...)
		args = append(args, f)
		out, err := exec.Command("yanglint", args...).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			data, _ := os.ReadFile(f)
			t.Fatalf("yanglint %s: %v\n%s\n%s", f, err, out, data)
		}
	}
}
