// Package image holds what goes into the vpnos container image besides the
// binary (default settings, the factory configuration, the `cli` link), and
// the tests and benchmarks of the built image.
package image
