// Package queryable is actorserve's HTTP API: deploy, predict and delete
// models, and query the live state of every model in the cluster from any
// node. Cluster-wide answers are gathered from every member under one
// deadline and marked partial when a member did not answer.
//
// The main type is [Server]; its routes are listed in README.md.
package queryable
