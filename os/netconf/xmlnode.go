package netconf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Node is one XML element with its namespace resolved. NETCONF messages are
// small trees of elements; text matters only in leaves.
type Node struct {
	Space, Local string
	// Attrs have their namespaces resolved (Name.Space is a URI or "");
	// namespace declarations are not among them.
	Attrs    []xml.Attr
	Text     string // the element's own character data, concatenated
	Children []*Node
	Parent   *Node
	// decls are the namespace declarations of the element as parsed
	// (prefix -> URI, "" for the default namespace); xpath expressions and
	// identities resolve their prefixes through them.
	decls map[string]string
	// key marks a list key leaf (set when encoding data): filters keep keys.
	key bool
	// prefixes are namespace declarations to write (prefix -> URI), for
	// values that are prefixed names (error-path).
	prefixes map[string]string
}

const nsXML = "http://www.w3.org/XML/1998/namespace"

// xmlLang is xml:lang="en", the language of error messages.
var xmlLang = xml.Attr{Name: xml.Name{Space: nsXML, Local: "lang"}, Value: "en"}

// Limits of a parsed document.
const (
	maxDepth    = 64
	maxElements = 1 << 20
)

// ErrMalformed wraps every parse error of a message.
var ErrMalformed = errors.New("malformed XML")

// nameStart reports whether a local name begins as an XML name must (a
// letter or '_').
func nameStart(local string) bool {
	r, _ := utf8.DecodeRuneInString(local)
	return r == '_' || unicode.IsLetter(r)
}

// Parse reads one XML document: exactly one root element, no DTD.
func Parse(b []byte) (*Node, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var root *Node
	var stack []*Node
	// texts gathers the character data of each open element.
	var texts []*bytes.Buffer
	count := 0
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s (byte %d)", ErrMalformed, fmt.Sprintf(format, a...), d.InputOffset())
	}
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, bad("more than one root element")
			}
			if len(stack) >= maxDepth {
				return nil, bad("elements nested deeper than %d", maxDepth)
			}
			if count++; count > maxElements {
				return nil, bad("more than %d elements", maxElements)
			}
			// The decoder checks a prefixed name as a whole (p:0), so a
			// local part that is no name of its own gets through; written
			// back without its prefix it would not parse.
			if !nameStart(t.Name.Local) {
				return nil, bad("invalid element name %q", t.Name.Local)
			}
			for _, a := range t.Attr {
				if !nameStart(a.Name.Local) {
					return nil, bad("invalid attribute name %q", a.Name.Local)
				}
			}
			n := &Node{}
			if len(stack) > 0 {
				n.Parent = stack[len(stack)-1]
			}
			var attrs []xml.Attr
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					n.declare("", a.Value)
				case a.Name.Space == "xmlns":
					if a.Value == "" {
						return nil, bad("the prefix %s is declared empty", a.Name.Local)
					}
					n.declare(a.Name.Local, a.Value)
				default:
					attrs = append(attrs, a)
				}
			}
			space, ok := n.resolve(t.Name.Space)
			if !ok {
				return nil, bad("undeclared prefix %s", t.Name.Space)
			}
			n.Space, n.Local = space, t.Name.Local
			seen := map[xml.Name]bool{}
			for _, a := range attrs {
				if a.Name.Space != "" {
					s, ok := n.resolve(a.Name.Space)
					if !ok {
						return nil, bad("undeclared prefix %s", a.Name.Space)
					}
					a.Name.Space = s
				}
				if seen[a.Name] {
					return nil, bad("attribute %s repeated", a.Name.Local)
				}
				seen[a.Name] = true
				n.Attrs = append(n.Attrs, a)
			}
			if n.Parent != nil {
				n.Parent.Children = append(n.Parent.Children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
			if len(texts) < len(stack) {
				texts = append(texts, &bytes.Buffer{})
			}
			texts[len(stack)-1].Reset()
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, bad("end element %s without a start", t.Name.Local)
			}
			top := stack[len(stack)-1]
			if sp, ok := top.resolve(t.Name.Space); !ok || sp != top.Space || t.Name.Local != top.Local {
				return nil, bad("end element %s does not match %s", t.Name.Local, top.Local)
			}
			if tb := texts[len(stack)-1]; tb.Len() > 0 {
				top.Text = tb.String()
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, bad("text outside the root element")
				}
				continue
			}
			texts[len(stack)-1].Write(t)
		case xml.Directive:
			return nil, bad("document type declarations are not accepted")
		case xml.ProcInst:
			if root != nil || t.Target != "xml" {
				return nil, bad("processing instruction %s", t.Target)
			}
		case xml.Comment:
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("%w: element %s is not closed", ErrMalformed, stack[len(stack)-1].Local)
	}
	if root == nil {
		return nil, fmt.Errorf("%w: no element", ErrMalformed)
	}
	return root, nil
}

func (n *Node) declare(prefix, uri string) {
	if n.decls == nil {
		n.decls = map[string]string{}
	}
	n.decls[prefix] = uri
}

// resolve finds the URI of a prefix in scope ("" is the default namespace,
// which may be undeclared: no namespace).
func (n *Node) resolve(prefix string) (string, bool) {
	if prefix == "xml" {
		return nsXML, true
	}
	for e := n; e != nil; e = e.Parent {
		if u, ok := e.decls[prefix]; ok {
			return u, true
		}
	}
	return "", prefix == ""
}

// Namespaces returns every prefix in scope at n (nearest declaration wins).
func (n *Node) Namespaces() map[string]string {
	out := map[string]string{}
	for e := n; e != nil; e = e.Parent {
		for p, u := range e.decls {
			if _, ok := out[p]; !ok {
				out[p] = u
			}
		}
	}
	return out
}

// Attr returns the value of the attribute space:local.
func (n *Node) Attr(space, local string) (string, bool) {
	for _, a := range n.Attrs {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// Child returns the first child element space:local.
func (n *Node) Child(space, local string) *Node {
	for _, c := range n.Children {
		if c.Local == local && c.Space == space {
			return c
		}
	}
	return nil
}

// TrimText is the text without surrounding white space.
func (n *Node) TrimText() string { return strings.TrimSpace(n.Text) }

// Elem makes an element with children.
func Elem(space, local string, children ...*Node) *Node {
	n := &Node{Space: space, Local: local}
	n.Add(children...)
	return n
}

// Leaf makes an element with text.
func Leaf(space, local, text string) *Node { return &Node{Space: space, Local: local, Text: text} }

// Add appends children.
func (n *Node) Add(children ...*Node) *Node {
	for _, c := range children {
		if c == nil {
			continue
		}
		c.Parent = n
		n.Children = append(n.Children, c)
	}
	return n
}

// Clone copies n and its subtree (the copy has no parent).
func (n *Node) Clone() *Node {
	c := *n
	c.Parent = nil
	c.Children = make([]*Node, 0, len(n.Children))
	for _, k := range n.Children {
		kc := k.Clone()
		kc.Parent = &c
		c.Children = append(c.Children, kc)
	}
	return &c
}

// Write serializes n. parentSpace is the default namespace in effect where
// n is written: n declares its own when it differs.
func (n *Node) Write(b *bytes.Buffer, parentSpace string) {
	b.WriteByte('<')
	b.WriteString(n.Local)
	if n.Space != parentSpace {
		b.WriteString(` xmlns="`)
		escape(b, n.Space, true)
		b.WriteByte('"')
	}
	if len(n.prefixes) > 0 {
		ps := make([]string, 0, len(n.prefixes))
		for p := range n.prefixes {
			ps = append(ps, p)
		}
		sort.Strings(ps)
		for _, p := range ps {
			b.WriteString(" xmlns:" + p + `="`)
			escape(b, n.prefixes[p], true)
			b.WriteByte('"')
		}
	}
	for i, a := range n.Attrs {
		b.WriteByte(' ')
		if a.Name.Space == nsXML {
			b.WriteString("xml:")
		} else if a.Name.Space != "" {
			// A prefix of its own for each namespaced attribute.
			p := "a" + strconv.Itoa(i)
			b.WriteString("xmlns:" + p + `="`)
			escape(b, a.Name.Space, true)
			b.WriteString(`" ` + p + ":")
		}
		b.WriteString(a.Name.Local)
		b.WriteString(`="`)
		escape(b, a.Value, true)
		b.WriteByte('"')
	}
	if len(n.Children) == 0 && n.Text == "" {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	escape(b, n.Text, false)
	for _, c := range n.Children {
		c.Write(b, n.Space)
	}
	b.WriteString("</")
	b.WriteString(n.Local)
	b.WriteByte('>')
}

// String serializes n as a document fragment.
func (n *Node) String() string {
	var b bytes.Buffer
	n.Write(&b, "")
	return b.String()
}

// escape writes s with the XML special characters escaped ('>' too, so
// that "]]>]]>" never appears in a message). Characters XML cannot carry
// become U+FFFD.
func escape(b *bytes.Buffer, s string, attr bool) {
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			if attr {
				b.WriteString("&quot;")
			} else {
				b.WriteByte('"')
			}
		case '\'':
			if attr {
				b.WriteString("&apos;")
			} else {
				b.WriteByte('\'')
			}
		case '\r':
			b.WriteString("&#xD;")
		case '\n', '\t':
			if attr {
				fmt.Fprintf(b, "&#x%X;", r)
			} else {
				b.WriteRune(r)
			}
		default:
			if !isXMLChar(r) {
				r = '\uFFFD'
			}
			b.WriteRune(r)
		}
	}
}

func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
