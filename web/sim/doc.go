// Package sim makes a disaster you can watch: scenario files (a flood, its
// incidents and a synthetic shared team), simulated field workers and
// coordinators that use the server exactly as phones and desks do (HTTP API
// and event streams, each with its own credential), and the end-to-end load
// measurement behind cmd/dispatchload.
//
// Nothing here reaches into the server: every change goes through its public
// API, so a demo or a load run exercises the same paths real clients do.
package sim
