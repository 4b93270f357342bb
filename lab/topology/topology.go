// Package topology reads containerlab topology files (.clab.yml): the subset
// vpnos runs itself. Everything it does not support is refused with an error
// naming the key (with its YAML path and line); nothing is silently ignored.
//
// Supported:
//
//	name: LAB
//	mgmt:       {network: NAME, ipv4-subnet: CIDR}   (docker runtime only)
//	topology:
//	  defaults: {kind, image, binds, env, exec, labels, cap-add, privileged}
//	  kinds:    {linux: {image, binds, env, exec, labels, cap-add, privileged}}
//	  nodes:    {NODE: {kind, image, binds, env, exec, labels, cap-add, privileged}}
//	  links:    [{endpoints: ["a:eth1", "b:eth1"]}]
//
// Values merge as in containerlab: a node setting overrides its kind's, which
// overrides the defaults; env and labels merge key by key, binds merge by
// container path, cap-add is the union, exec lists are concatenated.
package topology

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// DefaultImage is used when neither node, kind nor defaults give an image.
const DefaultImage = "vpnos:latest"

// Management network defaults, as in containerlab.
const (
	DefaultMgmtNetwork = "clab"
	DefaultMgmtSubnet  = "172.20.20.0/24"
)

// Topology is a parsed, merged and validated topology file.
type Topology struct {
	Name string
	File string // absolute path of the file
	Dir  string // directory of the file; relative bind paths resolve against it
	// Mgmt is the file's mgmt section, nil when the file has none.
	Mgmt  *Mgmt
	Nodes []*Node
	Links []Link
}

// Mgmt is the top-level mgmt section: the management network every node's
// eth0 is attached to.
type Mgmt struct {
	// Network is the network name; "" when the file does not set it (the
	// runtime then uses DefaultMgmtNetwork).
	Network string
	// IPv4Subnet is the subnet to create the network with; invalid (zero)
	// when the file does not set it.
	IPv4Subnet netip.Prefix
	// Line is the line of the mgmt key, for messages.
	Line int
}

// NetworkName is the network to use: the file's or DefaultMgmtNetwork. It
// works on a nil Mgmt.
func (m *Mgmt) NetworkName() string {
	if m == nil || m.Network == "" {
		return DefaultMgmtNetwork
	}
	return m.Network
}

// Subnet is the subnet the file asks for, and whether it asks for one. It
// works on a nil Mgmt.
func (m *Mgmt) Subnet() (netip.Prefix, bool) {
	if m == nil || !m.IPv4Subnet.IsValid() {
		return netip.Prefix{}, false
	}
	return m.IPv4Subnet, true
}

// Node is one node after merging defaults, kind and node settings.
type Node struct {
	Name       string
	Kind       string
	Image      string
	Binds      []Bind
	Env        map[string]string
	Exec       []string
	Labels     map[string]string
	CapAdd     []string
	Privileged bool
	// MgmtIPv4 is the node's fixed address on the management network
	// (mgmt-ipv4), invalid when the runtime picks one.
	MgmtIPv4 netip.Addr
	// MgmtLine is the line of mgmt-ipv4 in the file (for messages).
	MgmtLine int
	// Intfs are the node's data interfaces (eth1, eth3, ...) in number order.
	Intfs []string
}

// Bind is one "host:container[:options]" entry, host path made absolute.
type Bind struct {
	Host      string
	Container string
	Options   string // "ro", "rw", "" ...
}

// String renders the bind in docker -v syntax.
func (b Bind) String() string {
	if b.Options == "" {
		return b.Host + ":" + b.Container
	}
	return b.Host + ":" + b.Container + ":" + b.Options
}

// Endpoint is one end of a link.
type Endpoint struct {
	Node  string
	Iface string // ethN
}

func (e Endpoint) String() string { return e.Node + ":" + e.Iface }

// Link is a point-to-point veth link.
type Link struct {
	A, B Endpoint
}

// Node returns the node called name, or nil.
func (t *Topology) Node(name string) *Node {
	for _, n := range t.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Error is a problem in the topology file, located by YAML path and line.
type Error struct {
	File string
	Line int
	Path string // e.g. topology.nodes.PE1.ports
	Msg  string
	// Unsupported is set when the file uses a key or value vpnos does not support.
	Unsupported bool
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrUnsupported is wrapped by errors about keys vpnos does not support.
var ErrUnsupported = errors.New("not supported by vpnos lab")

// Unwrap makes errors.Is(err, ErrUnsupported) true for unsupported keys.
func (e *Error) Unwrap() error {
	if e.Unsupported {
		return ErrUnsupported
	}
	return nil
}

// Load reads and parses a topology file.
func Load(file string) (*Topology, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	return Parse(data, abs)
}

// LabName reads only the lab name of a file, for commands (down) that must work
// even when the rest of the file no longer parses.
func LabName(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("topology: %w", err)
	}
	var v struct {
		Name string `yaml:"name"`
	}
	if err := yaml.Unmarshal(data, &v); err != nil {
		return "", fmt.Errorf("topology %s: %w", file, err)
	}
	if err := checkName("lab", v.Name); err != nil {
		return "", fmt.Errorf("topology %s: name: %w", file, err)
	}
	return v.Name, nil
}

// Parse parses topology text; file (absolute) locates relative binds and
// messages.
func Parse(data []byte, file string) (*Topology, error) {
	p := &parser{file: file}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, &Error{File: file, Msg: "invalid YAML: " + err.Error()}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, &Error{File: file, Msg: "empty topology file"}
	}
	t := &Topology{File: file, Dir: filepath.Dir(file)}
	if err := p.topologyFile(doc.Content[0], t); err != nil {
		return nil, err
	}
	return t, nil
}

// Unsupported containerlab keys get a hint on what to do instead.
var hints = map[string]string{
	"mgmt.ipv6-subnet":     "the management network is IPv4 only",
	"mgmt.ipv4-gw":         "Docker picks the gateway (the first address of the subnet)",
	"mgmt.ipv4-range":      "Docker assigns node addresses from the whole subnet",
	"mgmt.external-access": "the management network is a plain Docker bridge network",
	"startup-config":       "bind a folder holding startup.cfg to /etc/vpnos/ instead",
	"ports":                "reach the CLI with `vpnos lab cli` or `docker exec -it clab-LAB-NODE cli`",
	"mgmt-ipv6":            "management addresses are assigned by the runtime",
	"type":                 "kind linux has no types",
	"cmd":                  "the image's entrypoint (vpnos boot) is always used",
	"entrypoint":           "the image's entrypoint (vpnos boot) is always used",
}

type parser struct {
	file string
}

func (p *parser) errAt(n *yaml.Node, path, format string, args ...any) error {
	e := &Error{File: p.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line = n.Line
	}
	return e
}

func (p *parser) unsupported(key *yaml.Node, path string) error {
	msg := fmt.Sprintf("key %q is not supported by vpnos lab", key.Value)
	if h, ok := hints[path]; ok {
		msg += " (" + h + "; vpnos lab supports mgmt.network and mgmt.ipv4-subnet)"
	} else if strings.HasPrefix(path, "mgmt.") {
		msg += " (vpnos lab supports mgmt.network and mgmt.ipv4-subnet)"
	} else if h, ok := hints[key.Value]; ok {
		msg += " (" + h + ")"
	}
	return &Error{File: p.file, Line: key.Line, Path: path, Msg: msg, Unsupported: true}
}

// mapping walks a mapping node, calling fn for each key; keys not in allowed
// are refused.
func (p *parser) mapping(n *yaml.Node, path string, allowed []string, fn func(key string, k, v *yaml.Node, path string) error) error {
	if n.Kind != yaml.MappingNode {
		if isNull(n) {
			return nil
		}
		return p.errAt(n, path, "must be a mapping")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		sub := joinPath(path, k.Value)
		if seen[k.Value] {
			return p.errAt(k, sub, "duplicate key")
		}
		seen[k.Value] = true
		if allowed != nil && !contains(allowed, k.Value) {
			return p.unsupported(k, sub)
		}
		if err := fn(k.Value, k, v, sub); err != nil {
			return err
		}
	}
	return nil
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func (p *parser) str(n *yaml.Node, path string) (string, error) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return "", p.errAt(n, path, "must be a string")
	}
	return n.Value, nil
}

func (p *parser) boolean(n *yaml.Node, path string) (bool, error) {
	if n.Kind == yaml.ScalarNode {
		switch strings.ToLower(n.Value) {
		case "true", "yes", "on":
			return true, nil
		case "false", "no", "off":
			return false, nil
		}
	}
	return false, p.errAt(n, path, "must be true or false")
}

func (p *parser) strList(n *yaml.Node, path string) ([]string, error) {
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, p.errAt(n, path, "must be a list")
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		s, err := p.str(c, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (p *parser) strMap(n *yaml.Node, path string) (map[string]string, error) {
	out := map[string]string{}
	err := p.mapping(n, path, nil, func(key string, k, v *yaml.Node, sub string) error {
		if v.Kind != yaml.ScalarNode {
			return p.errAt(v, sub, "must be a scalar value")
		}
		out[key] = v.Value // numbers and booleans keep their source text
		return nil
	})
	return out, err
}

// settings are what defaults, kinds and nodes may set.
type settings struct {
	kind       *string
	image      *string
	binds      []string
	env        map[string]string
	exec       []string
	labels     map[string]string
	capAdd     []string
	privileged *bool
	mgmtIPv4   netip.Addr // nodes only
	mgmtLine   int
}

var nodeKeys = []string{"kind", "image", "binds", "env", "exec", "labels", "cap-add", "privileged"}

// settings reads the keys of topology.defaults (allowKind), a kind
// (neither) or a node (allowKind and node: also mgmt-ipv4).
func (p *parser) settings(n *yaml.Node, path string, allowKind, node bool) (*settings, error) {
	s := &settings{}
	allowed := nodeKeys
	if !allowKind {
		allowed = nodeKeys[1:]
	}
	if node {
		allowed = append(append([]string(nil), allowed...), "mgmt-ipv4")
	}
	err := p.mapping(n, path, allowed, func(key string, k, v *yaml.Node, sub string) error {
		var err error
		switch key {
		case "kind":
			var x string
			if x, err = p.str(v, sub); err == nil {
				if x != "linux" {
					return &Error{File: p.file, Line: v.Line, Path: sub,
						Msg: fmt.Sprintf("kind %q is not supported by vpnos lab (only linux)", x), Unsupported: true}
				}
				s.kind = &x
			}
		case "image":
			var x string
			if x, err = p.str(v, sub); err == nil {
				if x == "" {
					return p.errAt(v, sub, "must not be empty")
				}
				s.image = &x
			}
		case "binds":
			s.binds, err = p.strList(v, sub)
		case "env":
			s.env, err = p.strMap(v, sub)
		case "exec":
			s.exec, err = p.strList(v, sub)
		case "labels":
			s.labels, err = p.strMap(v, sub)
		case "cap-add":
			s.capAdd, err = p.strList(v, sub)
		case "privileged":
			var x bool
			if x, err = p.boolean(v, sub); err == nil {
				s.privileged = &x
			}
		case "mgmt-ipv4":
			var x string
			if x, err = p.str(v, sub); err == nil {
				a, perr := netip.ParseAddr(x)
				if perr != nil || !a.Is4() {
					return p.errAt(v, sub, "%q is not an IPv4 address", x)
				}
				s.mgmtIPv4, s.mgmtLine = a, v.Line
			}
		}
		return err
	})
	return s, err
}

var (
	// Compiled on first use: every vpnos process (each lab node runs two)
	// would otherwise compile them at start.
	nameRE  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`) })
	ifaceRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^eth([1-9][0-9]*)$`) })
)

func checkName(what, s string) error {
	if s == "" {
		return fmt.Errorf("the %s name is missing", what)
	}
	if !nameRE().MatchString(s) || len(s) > 40 {
		return fmt.Errorf("%s name %q: use letters, digits, '-', '_' and '.', at most 40 characters", what, s)
	}
	return nil
}

func (p *parser) topologyFile(root *yaml.Node, t *Topology) error {
	var topo *yaml.Node
	var nameNode *yaml.Node
	err := p.mapping(root, "", []string{"name", "mgmt", "topology"}, func(key string, k, v *yaml.Node, path string) error {
		switch key {
		case "mgmt":
			m, err := p.mgmt(k, v, path)
			if err != nil {
				return err
			}
			t.Mgmt = m
		case "name":
			s, err := p.str(v, path)
			if err != nil {
				return err
			}
			t.Name = s
			nameNode = v
		case "topology":
			topo = v
		}
		return nil
	})
	if err != nil {
		return err
	}
	if root.Kind != yaml.MappingNode {
		return p.errAt(root, "", "a topology file is a mapping with name and topology")
	}
	if err := checkName("lab", t.Name); err != nil {
		return p.errAt(nameNode, "name", "%v", err)
	}
	if topo == nil || isNull(topo) {
		return p.errAt(root, "topology", "missing")
	}

	var defaults *settings
	kinds := map[string]*settings{}
	var nodesNode, linksNode *yaml.Node
	err = p.mapping(topo, "topology", []string{"defaults", "kinds", "nodes", "links"}, func(key string, k, v *yaml.Node, path string) error {
		var err error
		switch key {
		case "defaults":
			defaults, err = p.settings(v, path, true, false)
		case "kinds":
			err = p.mapping(v, path, nil, func(kind string, kk, kv *yaml.Node, kpath string) error {
				if kind != "linux" {
					return &Error{File: p.file, Line: kk.Line, Path: kpath,
						Msg: fmt.Sprintf("kind %q is not supported by vpnos lab (only linux)", kind), Unsupported: true}
				}
				s, err := p.settings(kv, kpath, false, false)
				kinds[kind] = s
				return err
			})
		case "nodes":
			nodesNode = v
		case "links":
			linksNode = v
		}
		return err
	})
	if err != nil {
		return err
	}
	if defaults == nil {
		defaults = &settings{}
	}
	if nodesNode == nil || isNull(nodesNode) || (nodesNode.Kind == yaml.MappingNode && len(nodesNode.Content) == 0) {
		return p.errAt(topo, "topology.nodes", "a topology needs at least one node")
	}
	err = p.mapping(nodesNode, "topology.nodes", nil, func(name string, k, v *yaml.Node, path string) error {
		if err := checkName("node", name); err != nil {
			return p.errAt(k, path, "%v", err)
		}
		s, err := p.settings(v, path, true, true)
		if err != nil {
			return err
		}
		n, err := p.merge(name, k, path, defaults, kinds, s, t.Dir)
		if err == nil {
			n.MgmtIPv4, n.MgmtLine = s.mgmtIPv4, s.mgmtLine
		}
		if err != nil {
			return err
		}
		t.Nodes = append(t.Nodes, n)
		return nil
	})
	if err != nil {
		return err
	}
	if linksNode != nil && !isNull(linksNode) {
		if err := p.links(linksNode, t); err != nil {
			return err
		}
	}
	for _, n := range t.Nodes {
		sort.Slice(n.Intfs, func(i, j int) bool { return ifNum(n.Intfs[i]) < ifNum(n.Intfs[j]) })
	}
	return p.checkMgmtAddrs(t)
}

// checkMgmtAddrs: fixed management addresses lie inside the management
// subnet, are not its network, gateway (the first address, Docker's) or
// broadcast address, and no two nodes share one.
func (p *parser) checkMgmtAddrs(t *Topology) error {
	subnet, asked := t.Mgmt.Subnet()
	if !asked {
		subnet = netip.MustParsePrefix(DefaultMgmtSubnet)
	}
	seen := map[netip.Addr]string{}
	for _, n := range t.Nodes {
		a := n.MgmtIPv4
		if !a.IsValid() {
			continue
		}
		path := "topology.nodes." + n.Name + ".mgmt-ipv4"
		at := &yaml.Node{Line: n.MgmtLine}
		if !subnet.Contains(a) {
			return p.errAt(at, path, "%s is outside the management subnet %s", a, subnet)
		}
		if a == subnet.Addr() || a == subnet.Addr().Next() || a == lastAddr(subnet) {
			return p.errAt(at, path, "%s is the network, gateway or broadcast address of %s", a, subnet)
		}
		if other, dup := seen[a]; dup {
			return p.errAt(at, path, "%s is already the address of node %s", a, other)
		}
		seen[a] = n.Name
	}
	return nil
}

// lastAddr is the broadcast address of an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// mgmtNetRE is what Docker accepts as a network name.
var mgmtNetRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`) })

func (p *parser) mgmt(k, v *yaml.Node, path string) (*Mgmt, error) {
	m := &Mgmt{Line: k.Line}
	err := p.mapping(v, path, []string{"network", "ipv4-subnet"}, func(key string, k, v *yaml.Node, sub string) error {
		s, err := p.str(v, sub)
		if err != nil {
			return err
		}
		switch key {
		case "network":
			if !mgmtNetRE().MatchString(s) {
				return p.errAt(v, sub, "network name %q: use letters, digits, '-', '_' and '.', at most 63 characters", s)
			}
			m.Network = s
		case "ipv4-subnet":
			pfx, err := netip.ParsePrefix(s)
			switch {
			case err != nil:
				return p.errAt(v, sub, "%q is not an IPv4 subnet (want A.B.C.D/LEN, for example %s)", s, DefaultMgmtSubnet)
			case !pfx.Addr().Is4():
				return p.errAt(v, sub, "%q is not an IPv4 subnet (the management network is IPv4 only)", s)
			case pfx.Masked() != pfx:
				return p.errAt(v, sub, "%q has host bits set (did you mean %s?)", s, pfx.Masked())
			case pfx.Bits() < 8 || pfx.Bits() > 29:
				return p.errAt(v, sub, "%q: the prefix length must be 8 to 29 (room for a gateway and nodes)", s)
			}
			m.IPv4Subnet = pfx
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

func ifNum(s string) int {
	m := ifaceRE().FindStringSubmatch(s)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func (p *parser) merge(name string, at *yaml.Node, path string, d *settings, kinds map[string]*settings, s *settings, dir string) (*Node, error) {
	n := &Node{Name: name, Env: map[string]string{}, Labels: map[string]string{}}
	switch {
	case s.kind != nil:
		n.Kind = *s.kind
	case d.kind != nil:
		n.Kind = *d.kind
	default:
		return nil, p.errAt(at, path+".kind", "missing (set it on the node or in topology.defaults)")
	}
	layers := []*settings{d}
	if k := kinds[n.Kind]; k != nil {
		layers = append(layers, k)
	}
	layers = append(layers, s)
	n.Image = DefaultImage
	bindIdx := map[string]int{}
	for _, l := range layers {
		if l.image != nil {
			n.Image = *l.image
		}
		if l.privileged != nil {
			n.Privileged = *l.privileged
		}
		for k, v := range l.env {
			n.Env[k] = v
		}
		for k, v := range l.labels {
			n.Labels[k] = v
		}
		n.Exec = append(n.Exec, l.exec...)
		for _, c := range l.capAdd {
			c = strings.ToUpper(strings.TrimPrefix(strings.ToUpper(c), "CAP_"))
			if !contains(n.CapAdd, c) {
				n.CapAdd = append(n.CapAdd, c)
			}
		}
		for _, b := range l.binds {
			bd, err := parseBind(b, dir)
			if err != nil {
				return nil, p.errAt(at, path+".binds", "%v", err)
			}
			if i, ok := bindIdx[filepath.Clean(bd.Container)]; ok {
				n.Binds[i] = bd
				continue
			}
			bindIdx[filepath.Clean(bd.Container)] = len(n.Binds)
			n.Binds = append(n.Binds, bd)
		}
	}
	return n, nil
}

func parseBind(s, dir string) (Bind, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Bind{}, fmt.Errorf("bind %q: want HOST-PATH:CONTAINER-PATH[:OPTIONS]", s)
	}
	b := Bind{Host: parts[0], Container: parts[1]}
	if len(parts) == 3 {
		b.Options = parts[2]
		for _, o := range strings.Split(b.Options, ",") {
			switch o {
			case "ro", "rw", "z", "Z":
			default:
				return Bind{}, fmt.Errorf("bind %q: option %q is not supported (ro, rw, z, Z)", s, o)
			}
		}
	}
	if !strings.HasPrefix(b.Container, "/") {
		return Bind{}, fmt.Errorf("bind %q: the container path must be absolute", s)
	}
	if strings.HasPrefix(b.Host, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			b.Host = filepath.Join(home, b.Host[2:])
		}
	}
	if !filepath.IsAbs(b.Host) {
		b.Host = filepath.Join(dir, b.Host)
	}
	b.Host = filepath.Clean(b.Host)
	return b, nil
}

func (p *parser) links(n *yaml.Node, t *Topology) error {
	if n.Kind != yaml.SequenceNode {
		return p.errAt(n, "topology.links", "must be a list")
	}
	used := map[Endpoint]string{}
	for i, l := range n.Content {
		path := fmt.Sprintf("topology.links[%d]", i)
		var eps []string
		var epsNode *yaml.Node
		err := p.mapping(l, path, []string{"endpoints"}, func(key string, k, v *yaml.Node, sub string) error {
			var err error
			epsNode = v
			eps, err = p.strList(v, sub)
			return err
		})
		if err != nil {
			return err
		}
		if l.Kind != yaml.MappingNode || epsNode == nil {
			return p.errAt(l, path, "a link is a mapping with endpoints")
		}
		if len(eps) != 2 {
			return p.errAt(epsNode, path+".endpoints", "a link has exactly two endpoints, \"node:ethN\"")
		}
		var link Link
		for j, s := range eps {
			sub := fmt.Sprintf("%s.endpoints[%d]", path, j)
			node, ifc, ok := strings.Cut(s, ":")
			if !ok {
				return p.errAt(epsNode.Content[j], sub, "%q: want \"node:ethN\"", s)
			}
			nd := t.Node(node)
			if nd == nil {
				return p.errAt(epsNode.Content[j], sub, "%q: no node %q in topology.nodes", s, node)
			}
			if !ifaceRE().MatchString(ifc) || ifNum(ifc) > 4094 {
				return p.errAt(epsNode.Content[j], sub, "%q: interface %q is not supported (vpnos data ports are eth1, eth2, ...)", s, ifc)
			}
			ep := Endpoint{Node: node, Iface: ifc}
			if prev, dup := used[ep]; dup {
				return p.errAt(epsNode.Content[j], sub, "%q is already used by %s", s, prev)
			}
			used[ep] = path
			nd.Intfs = append(nd.Intfs, ifc)
			if j == 0 {
				link.A = ep
			} else {
				link.B = ep
			}
		}
		t.Links = append(t.Links, link)
	}
	return nil
}
