// Package diag implements VRP's ping and tracert for vpnos.
//
// Every routing instance has its own Linux network namespace; a run takes a
// NetNS and creates its sockets inside it (a socket stays in the namespace
// it was created in), so the same code pings in the public instance and in
// any VPN instance, and instances with overlapping addresses stay apart.
//
// Ping sends ICMP echo requests on a raw socket and matches replies by
// identifier, sequence number and a per-run cookie in the data, so runs at the
// same time never take each other's replies. Tracert sends UDP probes with
// rising TTL and matches ICMP time exceeded and unreachable messages on a raw
// socket by the UDP header they quote.
//
// Output is streamed: Ping and Tracert write VRP's text to an io.Writer as
// things happen; RunPing and RunTracert deliver the same steps as events to
// a callback, and PingRenderer / TracertRenderer turn events into text. The
// options (PingOptions, TracertOptions) arrive parsed; Validate fills in
// VRP's defaults and reports out-of-range values.
package diag
