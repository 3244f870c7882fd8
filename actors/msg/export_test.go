package msg

import "github.com/actorserve/actorserve/cluster/wire"

// LegacyPredictRequest is a PredictRequest in the plain form nodes of
// older builds send (type TypePredictRequest).
func LegacyPredictRequest(r *PredictRequest) wire.Message {
	return &predictRequestV1{Model: r.Model, Events: r.Events}
}

// LegacyPredictResponse is a PredictResponse in the plain form nodes of
// older builds send (type TypePredictResponse).
func LegacyPredictResponse(r *PredictResponse) wire.Message {
	return &predictResponseV1{Model: r.Model, Version: r.Version, Node: r.Node, LatencyNS: r.LatencyNS, Results: r.Results}
}
