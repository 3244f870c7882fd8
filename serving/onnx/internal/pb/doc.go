// Package pb holds the Go types of the ONNX protobuf schema (ModelProto, GraphProto,
// NodeProto, TensorProto, ...), generated from actorserve_onnx_ml.proto: Debian
// python3-onnx 1.12.0's onnx-ml.proto (Apache-2.0) with its proto package renamed from onnx to
// actorserve.onnx, so that it cannot clash in the protobuf registry with another copy of the
// ONNX schema linked into the same binary. The wire format is unchanged. See README.md.
package pb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Mactorserve_onnx_ml.proto=github.com/actorserve/actorserve/serving/onnx/internal/pb actorserve_onnx_ml.proto
