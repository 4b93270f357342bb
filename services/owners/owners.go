// Package owners says which service owns which part of the configuration:
// Register puts every owner, and the parts no service supports yet, on a
// datastore. The daemon registers the running services; front-end tests
// and offline checks register the same rules without their effects
// (Checking, NewStore).
package owners

import (
	"errors"
	"log/slog"

	"vpnos/services/bgp"
	"vpnos/services/ldp"
	"vpnos/services/mpls"
	"vpnos/services/ospf"
	"vpnos/services/policy"
	"vpnos/services/static"
	"vpnos/services/system"
	"vpnos/services/vrf"
	"vpnos/yang/datastore"
	"vpnos/yang/schema"
)

// Set holds the participant of each owner. Prepare runs in this order:
// system, vrf, mpls, static, ldp, policy, ospf, bgp.
type Set struct {
	System datastore.Participant // /system, /user-interface (services/system)
	VRF    datastore.Participant // /vpn-instances, /interfaces (services/vrf)
	MPLS   datastore.Participant // /mpls, /interfaces/interface/mpls (services/mpls)
	Static datastore.Participant // /static-routes, /static-lsps (services/static)
	LDP    datastore.Participant // /mpls/ldp, lsp-trigger, interface mpls ldp (services/ldp)
	Policy datastore.Participant // /ip-prefixes, the filters, /route-policies (services/policy)
	OSPF   datastore.Participant // /ospf, /interfaces/interface/ospf (services/ospf)
	BGP    datastore.Participant // /bgp (services/bgp)
}

// Unsupported are the configuration nodes that the YANG modules define and
// no service supports yet: a change creating them is refused with "<What>
// is not supported yet". The service that comes to support them takes
// their prefixes over (a member of Set) and its entry goes.
var Unsupported = []struct {
	What     string
	Prefixes []string
}{}

// Register registers every member of set with its prefixes, and marks
// Unsupported. The caller then checks the whole registration with
// Store.CheckOwners (other services may register their own modules first).
func Register(s *datastore.Store, set Set) error {
	if set.System == nil || set.VRF == nil || set.MPLS == nil || set.Static == nil || set.LDP == nil || set.Policy == nil || set.OSPF == nil || set.BGP == nil {
		return errors.New("owners: every member of the set is needed")
	}
	s.Register(set.System, system.Prefixes...)
	s.Register(set.VRF, vrf.Prefixes...)
	s.Register(set.MPLS, mpls.Prefixes...)
	s.Register(set.Static, static.Prefixes...)
	s.Register(set.LDP, ldp.Prefixes...)
	s.Register(set.Policy, policy.Prefixes...)
	s.Register(set.OSPF, ospf.Prefixes...)
	s.Register(set.BGP, bgp.Prefixes...)
	for _, u := range Unsupported {
		s.Unsupported(u.What, u.Prefixes...)
	}
	return nil
}

// Checking returns the owners with their rules and without effects: the
// validation of the vrf, static and LDP services (their Prepare and Apply
// would need the running services), and the system, MPLS and
// routing-policy owners themselves.
func Checking() Set {
	return Set{
		System: system.New(),
		VRF:    datastore.ValidateFunc(vrf.Validate),
		MPLS:   mpls.New(),
		Static: datastore.ValidateFunc(static.Validate),
		LDP:    datastore.ValidateFunc(ldp.Validate),
		Policy: policy.New(nil),
		OSPF:   &ospf.Participant{},
		BGP:    datastore.ValidateFunc(bgp.Validate),
	}
}

// NewStore makes a datastore on the embedded schema where Checking owns the
// configuration: every rule holds, nothing is applied anywhere. For
// front-end tests and offline checks of a configuration.
func NewStore(log *slog.Logger) (*datastore.Store, error) {
	sc, err := schema.Load()
	if err != nil {
		return nil, err
	}
	s := datastore.New(sc, log)
	if err := Register(s, Checking()); err != nil {
		return nil, err
	}
	if err := s.CheckOwners(); err != nil {
		return nil, err
	}
	return s, nil
}
