// Package clustertest holds herald's scale-out tests: real nats-server
// processes (built from the module in go.mod) form a 3-node JetStream
// cluster on loopback, the stream is replicated 3 times, and two or more
// `herald serve --nats` processes serve every feed. The tests kill herald
// nodes and the stream's leader and check what clients see.
//
// Under CI=true a program the tests need (go, nginx for the docs test) that
// is missing is a failure; elsewhere it is a logged skip.
package clustertest
