// Package remote serves a model that runs on another server (format "remote"): each
// prediction, and each batch in one request, is an HTTP call to an Open Inference Protocol v2
// server (KServe, Triton, Seldon MLServer: POST {url}/v2/models/{model}[/versions/{v}]/infer)
// or to TensorFlow Serving's REST predict API (POST {url}/v1/models/{model}[/versions/{v}]:predict
// with row-format "instances").
//
// The descriptor's data is a JSON object, decoded strictly into [Config]:
//
//	{"protocol": "v2", "url": "http://triton:8000", "model": "fraud", "version": "3",
//	 "input": "input__0", "datatype": "FP32",
//	 "outputs": {"probabilities": "probs", "label": "", "value": ""},
//	 "timeout_ms": 500, "max_concurrency": 16, "retries": 2, "backoff_ms": 20,
//	 "max_backoff_ms": 500, "breaker_failures": 5, "breaker_cooldown_ms": 5000}
//
// Outputs map the server's answer onto a [serving.Prediction]: "probabilities" names the
// output holding one probability per class (scores keyed by the descriptor's labels in order,
// or "0", "1", ... without labels; the label is the most probable class unless "label" names
// an output of class names or class indices), "value" names a regression output of one number
// per row. With no output named, a descriptor with labels reads probabilities and one without
// reads a value, from the first output (v2) or the whole prediction (TensorFlow Serving).
//
// Calls are bounded: a per-attempt timeout, at most max_concurrency calls in flight per model
// (callers wait up to the timeout for a slot), retries with exponential backoff and jitter on
// connection errors, timeouts and 5xx answers (never on 4xx), and a circuit breaker that opens
// after breaker_failures consecutive failed attempts, fails fast with [ErrCircuitOpen] while
// open, and lets one probe through after breaker_cooldown_ms. Prediction errors wrap
// [serving.ErrModel] and [ErrRemote] or [ErrCircuitOpen]; configuration errors wrap
// [serving.ErrInvalidModel] and name the field.
//
// The latency of a remote model is the remote call's; the model actor measures it as for any
// other model.
package remote
