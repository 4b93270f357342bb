package packet

import (
	"encoding/binary"
	"errors"
	"fmt"

	"net/netip"
	"sort"

	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// ErrTooBig is returned when an attribute set leaves no room for a single
// NLRI in a 4096-byte UPDATE.
var ErrTooBig = errors.New("path attributes do not fit in an UPDATE")

func header(b []byte, t Type) []byte {
	b = append(b, marker...)
	b = append(b, 0, 0, byte(t))
	return b
}

func setLen(b []byte) []byte {
	binary.BigEndian.PutUint16(b[16:18], uint16(len(b)))
	return b
}

func serialize(m *gobgp.BGPMessage) []byte {
	b, err := m.Serialize()
	if err != nil {
		// The codec only fails on values this package never builds.
		panic(fmt.Sprintf("bgp codec: %v", err))
	}
	return b
}

// EncodeOpen encodes an OPEN. MyAS is derived from Caps.AS4Number when the
// 4-octet AS capability is set (AS_TRANS for an AS above 65535).
func EncodeOpen(o *Open) []byte {
	var caps []gobgp.ParameterCapabilityInterface
	for _, f := range o.Caps.Families {
		caps = append(caps, gobgp.NewCapMultiProtocol(gobgp.AfiSafiToRouteFamily(f.AFI(), f.SAFI())))
	}
	if o.Caps.RouteRefresh {
		caps = append(caps, gobgp.NewCapRouteRefresh())
	}
	myAS := o.MyAS
	if o.Caps.AS4 {
		caps = append(caps, gobgp.NewCapFourOctetASNumber(o.Caps.AS4Number))
		if o.Caps.AS4Number > 0xffff {
			myAS = AS_TRANS
		} else {
			myAS = uint16(o.Caps.AS4Number)
		}
	}
	for _, c := range o.Caps.Other {
		caps = append(caps, &gobgp.CapUnknown{DefaultParameterCapability: gobgp.DefaultParameterCapability{
			CapCode: gobgp.BGPCapabilityCode(c.Code), CapLen: uint8(len(c.Value)), CapValue: c.Value}})
	}
	var params []gobgp.OptionParameterInterface
	if len(caps) > 0 {
		params = append(params, gobgp.NewOptionParameterCapability(caps))
	}
	return serialize(gobgp.NewBGPOpenMessage(myAS, o.HoldTime, o.RouterID.String(), params))
}

// EncodeKeepalive encodes a KEEPALIVE.
func EncodeKeepalive() []byte { return serialize(gobgp.NewBGPKeepAliveMessage()) }

// EncodeNotification encodes a NOTIFICATION.
func EncodeNotification(n *Notification) []byte {
	data := n.Data
	if len(data) > MaxMsgLen-21 {
		data = data[:MaxMsgLen-21]
	}
	return serialize(gobgp.NewBGPNotificationMessage(n.Code, n.Subcode, data))
}

// EncodeRouteRefresh encodes a ROUTE-REFRESH for f.
func EncodeRouteRefresh(f Family) []byte {
	return serialize(gobgp.NewBGPRouteRefreshMessage(f.AFI(), 0, f.SAFI()))
}

// EncodeAttrs encodes the path attributes (all but MP_REACH/MP_UNREACH)
// through the codec, in type order. For a 2-octet session (opt.AS4 false)
// AS numbers above 65535 become AS_TRANS and AS4_PATH / AS4_AGGREGATOR carry
// the real ones (RFC 6793 §4.2.2).
func EncodeAttrs(a *Attrs, opt Options) ([]byte, error) {
	var attrs []gobgp.PathAttributeInterface
	attrs = append(attrs, gobgp.NewPathAttributeOrigin(uint8(a.Origin)))
	needAS4 := false
	if opt.AS4 {
		segs := make([]gobgp.AsPathParamInterface, 0, len(a.ASPath))
		for _, s := range a.ASPath {
			segs = append(segs, gobgp.NewAs4PathParam(uint8(s.Type), s.ASNs))
		}
		attrs = append(attrs, gobgp.NewPathAttributeAsPath(segs))
	} else {
		segs := make([]gobgp.AsPathParamInterface, 0, len(a.ASPath))
		for _, s := range a.ASPath {
			as2 := make([]uint16, len(s.ASNs))
			for i, as := range s.ASNs {
				if as > 0xffff {
					as2[i] = AS_TRANS
					needAS4 = true
				} else {
					as2[i] = uint16(as)
				}
			}
			segs = append(segs, gobgp.NewAsPathParam(uint8(s.Type), as2))
		}
		attrs = append(attrs, gobgp.NewPathAttributeAsPath(segs))
	}
	if a.NextHop.IsValid() {
		attrs = append(attrs, gobgp.NewPathAttributeNextHop(a.NextHop.String()))
	}
	if a.HasMED {
		attrs = append(attrs, gobgp.NewPathAttributeMultiExitDisc(a.MED))
	}
	if a.HasLocalPref {
		attrs = append(attrs, gobgp.NewPathAttributeLocalPref(a.LocalPref))
	}
	if a.AtomicAggregate {
		attrs = append(attrs, gobgp.NewPathAttributeAtomicAggregate())
	}
	agg4 := false
	if a.Aggregator != nil {
		if opt.AS4 {
			attrs = append(attrs, gobgp.NewPathAttributeAggregator(a.Aggregator.AS, a.Aggregator.Addr.String()))
		} else {
			as := uint16(a.Aggregator.AS)
			if a.Aggregator.AS > 0xffff {
				as, agg4 = AS_TRANS, true
			}
			attrs = append(attrs, gobgp.NewPathAttributeAggregator(as, a.Aggregator.Addr.String()))
		}
	}
	if len(a.Communities) > 0 {
		attrs = append(attrs, gobgp.NewPathAttributeCommunities(a.Communities))
	}
	if a.OriginatorID != 0 {
		attrs = append(attrs, gobgp.NewPathAttributeOriginatorId(AddrFrom32(a.OriginatorID).String()))
	}
	if len(a.ClusterList) > 0 {
		ids := make([]string, len(a.ClusterList))
		for i, c := range a.ClusterList {
			ids[i] = AddrFrom32(c).String()
		}
		attrs = append(attrs, gobgp.NewPathAttributeClusterList(ids))
	}
	if len(a.ExtCommunities) > 0 {
		ecs := make([]gobgp.ExtendedCommunityInterface, len(a.ExtCommunities))
		for i, e := range a.ExtCommunities {
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], uint64(e))
			ec, err := gobgp.ParseExtended(b[:])
			if err != nil || ec == nil {
				ec = &gobgp.UnknownExtended{Type: gobgp.ExtendedCommunityAttrType(b[0]), Value: b[1:]}
			}
			ecs[i] = ec
		}
		attrs = append(attrs, gobgp.NewPathAttributeExtendedCommunities(ecs))
	}
	if needAS4 {
		var segs []*gobgp.As4PathParam
		for _, s := range a.ASPath {
			if s.Type == ASSet || s.Type == ASSequence {
				segs = append(segs, gobgp.NewAs4PathParam(uint8(s.Type), s.ASNs))
			}
		}
		attrs = append(attrs, gobgp.NewPathAttributeAs4Path(segs))
	}
	if agg4 {
		attrs = append(attrs, gobgp.NewPathAttributeAs4Aggregator(a.Aggregator.AS, a.Aggregator.Addr.String()))
	}
	var out []byte
	for _, at := range attrs {
		b, err := at.Serialize()
		if err != nil {
			return nil, fmt.Errorf("encode attribute %v: %w", at.GetType(), err)
		}
		out = append(out, b...)
	}
	unk := append([]RawAttr(nil), a.Unknown...)
	sort.SliceStable(unk, func(i, j int) bool { return unk[i].Type < unk[j].Type })
	for _, u := range unk {
		// Passed on unrecognised: Partial set (RFC 4271 §5).
		b, err := gobgp.NewPathAttributeUnknown(gobgp.BGPAttrFlag(u.Flags|FlagPartial), gobgp.BGPAttrType(u.Type), u.Value).Serialize()
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}

func prefixLen(p Prefix) int { return 1 + int(p.Len+7)/8 }

func appendPrefix(b []byte, p Prefix) []byte {
	b = append(b, p.Len)
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], p.Addr)
	return append(b, a[:(p.Len+7)/8]...)
}

func vpnLen(p Prefix) int { return 1 + 3 + 8 + int(p.Len+7)/8 }

func appendVPN(b []byte, r VPNRoute, withdraw bool) []byte {
	b = append(b, 88+r.Prefix.Len)
	lf := r.Label<<4 | 1 // bottom of stack
	if withdraw {
		lf = WithdrawLabelField
	}
	b = append(b, byte(lf>>16), byte(lf>>8), byte(lf))
	b = binary.BigEndian.AppendUint64(b, uint64(r.RD))
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], r.Prefix.Addr)
	return append(b, a[:(r.Prefix.Len+7)/8]...)
}

// AppendIPv4Updates appends UPDATEs announcing nlri with the encoded
// attributes (which must include NEXT_HOP), as many prefixes per message as
// fit in 4096 bytes.
func AppendIPv4Updates(out [][]byte, attrs []byte, nlri []Prefix) ([][]byte, error) {
	base := HeaderLen + 4 + len(attrs)
	if base+5 > MaxMsgLen {
		return out, ErrTooBig
	}
	for len(nlri) > 0 {
		b := make([]byte, 0, MaxMsgLen)
		b = header(b, TypeUpdate)
		b = append(b, 0, 0)
		b = binary.BigEndian.AppendUint16(b, uint16(len(attrs)))
		b = append(b, attrs...)
		for len(nlri) > 0 && len(b)+prefixLen(nlri[0]) <= MaxMsgLen {
			b = appendPrefix(b, nlri[0])
			nlri = nlri[1:]
		}
		out = append(out, setLen(b))
	}
	return out, nil
}

// AppendIPv4Withdraws appends UPDATEs withdrawing prefixes.
func AppendIPv4Withdraws(out [][]byte, prefixes []Prefix) [][]byte {
	for len(prefixes) > 0 {
		b := make([]byte, 0, MaxMsgLen)
		b = header(b, TypeUpdate)
		b = append(b, 0, 0)
		for len(prefixes) > 0 && len(b)+prefixLen(prefixes[0])+2 <= MaxMsgLen {
			b = appendPrefix(b, prefixes[0])
			prefixes = prefixes[1:]
		}
		binary.BigEndian.PutUint16(b[HeaderLen:], uint16(len(b)-HeaderLen-2))
		b = append(b, 0, 0)
		out = append(out, setLen(b))
	}
	return out
}

// AppendVPNUpdates appends UPDATEs announcing labelled VPN-IPv4 routes
// with next hop nh, MP_REACH_NLRI first (RFC 7606 §5.1), then attrs (which
// must not include NEXT_HOP).
func AppendVPNUpdates(out [][]byte, attrs []byte, nh netip.Addr, routes []VPNRoute) ([][]byte, error) {
	// header, withdrawn len, attr len, MP_REACH header (4) + AFI/SAFI (3) +
	// nh len (1) + RD-prefixed next hop (12) + reserved (1)
	base := HeaderLen + 4 + 4 + 17 + len(attrs)
	if base+vpnLen(Prefix{Len: 32}) > MaxMsgLen {
		return out, ErrTooBig
	}
	nh4 := nh.As4()
	for len(routes) > 0 {
		b := make([]byte, 0, MaxMsgLen)
		b = header(b, TypeUpdate)
		b = append(b, 0, 0, 0, 0) // withdrawn length, attribute length (set below)
		mp := len(b)
		b = append(b, FlagOptional|FlagExtLen, AttrMPReach, 0, 0, 0, 1, 128, 12)
		b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
		b = append(b, nh4[:]...)
		b = append(b, 0)
		for len(routes) > 0 && len(b)+vpnLen(routes[0].Prefix)+len(attrs) <= MaxMsgLen {
			b = appendVPN(b, routes[0], false)
			routes = routes[1:]
		}
		binary.BigEndian.PutUint16(b[mp+2:], uint16(len(b)-mp-4))
		b = append(b, attrs...)
		binary.BigEndian.PutUint16(b[HeaderLen+2:], uint16(len(b)-HeaderLen-4))
		out = append(out, setLen(b))
	}
	return out, nil
}

// AppendVPNWithdraws appends UPDATEs withdrawing VPN-IPv4 prefixes in
// MP_UNREACH_NLRI.
func AppendVPNWithdraws(out [][]byte, prefixes []VPNPrefix) [][]byte {
	for len(prefixes) > 0 {
		b := make([]byte, 0, MaxMsgLen)
		b = header(b, TypeUpdate)
		b = append(b, 0, 0, 0, 0)
		mp := len(b)
		b = append(b, FlagOptional|FlagExtLen, AttrMPUnreach, 0, 0, 0, 1, 128)
		for len(prefixes) > 0 && len(b)+vpnLen(prefixes[0].Prefix) <= MaxMsgLen {
			b = appendVPN(b, VPNRoute{VPNPrefix: prefixes[0]}, true)
			prefixes = prefixes[1:]
		}
		binary.BigEndian.PutUint16(b[mp+2:], uint16(len(b)-mp-4))
		binary.BigEndian.PutUint16(b[HeaderLen+2:], uint16(len(b)-HeaderLen-4))
		out = append(out, setLen(b))
	}
	return out
}

// EncodeEndOfRIB encodes the End-of-RIB marker of f (RFC 4724 §2).
func EncodeEndOfRIB(f Family) []byte {
	b := header(make([]byte, 0, 32), TypeUpdate)
	if f == IPv4Unicast {
		b = append(b, 0, 0, 0, 0)
		return setLen(b)
	}
	b = append(b, 0, 0, 0, 6, FlagOptional, AttrMPUnreach, 3)
	b = binary.BigEndian.AppendUint16(b, f.AFI())
	b = append(b, f.SAFI())
	return setLen(b)
}
