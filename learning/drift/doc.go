// Package drift detects concept drift in a stream of prediction errors: [DDM] (Gama et al.
// 2004) on 0/1 error bits, [ADWIN] (Bifet and Gavaldà 2007) and [PageHinkley] on real-valued
// errors (0/1 bits or absolute errors). Defaults are River's. Each [Detector] signals when the
// error rate has gone up; after signalling it starts afresh on its own.
//
// learning.Online feeds a detector its prequential error (0/1 for classification, |ŷ − y| for
// regression) and, on a drift, counts it and optionally resets the SCW/AROW covariance or the
// whole learner. Detectors are not safe for concurrent use; MarshalBinary writes the whole
// state and UnmarshalBinary restores it into a detector of the same kind (its parameters stay
// the receiver's).
package drift
