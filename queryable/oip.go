package queryable

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/serving"
)

// The Open Inference Protocol (KServe v2, also spoken by Triton and
// Seldon MLServer) over REST: health, server and model metadata, model
// readiness and inference, mapped onto the same model actors, routing and
// statistics as /v1. A model's features are its input: either one tensor
// [batch, features] (any name), or one tensor per feature named after it,
// each [batch] or [batch, 1]. A classifier answers "label" (BYTES, [batch])
// and "scores" (FP64, [batch, classes], the class of each column in the
// tensor's "labels" parameter); a regression answers "value" (FP64,
// [batch]). Errors are {"error": "..."} (plus the stable "code" /v1 uses).

// oipDatatypes are the tensor datatypes of the protocol.
var oipDatatypes = map[string]bool{"BOOL": true, "UINT8": true, "UINT16": true, "UINT32": true, "UINT64": true,
	"INT8": true, "INT16": true, "INT32": true, "INT64": true, "FP16": true, "FP32": true, "FP64": true, "BYTES": true}

type oipTensor struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters map[string]any  `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data"`
}

type oipRequest struct {
	ID         string         `json:"id"`
	Parameters map[string]any `json:"parameters"`
	Inputs     []oipTensor    `json:"inputs"`
	Outputs    []struct {
		Name       string         `json:"name"`
		Parameters map[string]any `json:"parameters"`
	} `json:"outputs"`
}

type oipOutput struct {
	Name       string         `json:"name"`
	Shape      []int64        `json:"shape"`
	Datatype   string         `json:"datatype"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Data       any            `json:"data"`
}

type oipResponse struct {
	ModelName    string         `json:"model_name"`
	ModelVersion string         `json:"model_version"`
	ID           string         `json:"id,omitempty"`
	Parameters   map[string]any `json:"parameters,omitempty"`
	Outputs      []oipOutput    `json:"outputs"`
}

type oipTensorMeta struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

func (s *Server) routeOIP() {
	s.mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"live": true})
	})
	s.mux.HandleFunc("GET /v2/health/ready", func(w http.ResponseWriter, r *http.Request) {
		if s.answerNotReady(w) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
	})
	s.mux.HandleFunc("GET /v2", s.oipServer)
	for _, p := range []string{"/v2/models/{id}", "/v2/models/{id}/versions/{version}"} {
		s.mux.HandleFunc("GET "+p, s.oipModel)
		s.mux.HandleFunc("GET "+p+"/ready", s.oipReady)
		s.mux.HandleFunc("POST "+p+"/infer", s.oipInfer)
	}
}

func (s *Server) oipServer(w http.ResponseWriter, r *http.Request) {
	version := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version = bi.Main.Version
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": "actorserve", "version": version, "extensions": []string{}})
}

// oipResolve finds the model of the path and checks its version.
func (s *Server) oipResolve(w http.ResponseWriter, r *http.Request) (*serving.Descriptor, bool) {
	id := r.PathValue("id")
	d, ok := s.requireModel(w, id)
	if !ok {
		return nil, false
	}
	if v := r.PathValue("version"); v != "" && v != strconv.FormatInt(d.Version, 10) {
		writeError(w, http.StatusNotFound, "unknown_version", fmt.Sprintf("model %q serves version %d, not %q", id, d.Version, v))
		return nil, false
	}
	return d, true
}

func (s *Server) oipModel(w http.ResponseWriter, r *http.Request) {
	d, ok := s.oipResolve(w, r)
	if !ok {
		return
	}
	width := int64(-1)
	if len(d.Features) > 0 {
		width = int64(len(d.Features))
	}
	var versions []string
	for _, v := range d.Versions() {
		versions = append(versions, strconv.FormatInt(v.Version, 10))
	}
	outs := []oipTensorMeta{{Name: "value", Datatype: "FP64", Shape: []int64{-1}}}
	if len(d.Labels) > 0 {
		outs = []oipTensorMeta{{Name: "label", Datatype: "BYTES", Shape: []int64{-1}},
			{Name: "scores", Datatype: "FP64", Shape: []int64{-1, int64(len(d.Labels))}}}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name": d.ID, "versions": versions, "platform": "actorserve/" + d.Format,
		"inputs":     []oipTensorMeta{{Name: "input", Datatype: "FP64", Shape: []int64{-1, width}}},
		"outputs":    outs,
		"parameters": map[string]any{"features": strings.Join(d.Features, ","), "labels": strings.Join(d.Labels, ","), "version": d.Version},
	})
}

func (s *Server) oipReady(w http.ResponseWriter, r *http.Request) {
	d, ok := s.oipResolve(w, r)
	if !ok {
		return
	}
	// A deployed model is ready: its actor activates on the first request.
	writeJSON(w, http.StatusOK, map[string]any{"name": d.ID, "ready": d.Invalid == ""})
}

func (s *Server) oipInfer(w http.ResponseWriter, r *http.Request) {
	d, ok := s.oipResolve(w, r)
	if !ok {
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	var req oipRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, msg.CodeDecode, "malformed inference request: "+err.Error())
		return
	}
	events, err := oipEvents(&req, d, s.cfg.MaxEvents)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	want := map[string]bool{}
	for _, o := range req.Outputs {
		switch o.Name {
		case "label", "scores", "value":
			want[o.Name] = true
		default:
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("output %q: this model answers %s", o.Name, oipOutputNames(d)))
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.PredictTimeout)
	defer cancel()
	res, err := s.client.Predict(ctx, d.ID, events)
	if err != nil {
		s.writeCallError(w, d.ID, err)
		return
	}
	for i := range res.Results {
		if rr := &res.Results[i]; rr.Code != "" {
			writeError(w, http.StatusBadRequest, rr.Code, fmt.Sprintf("row %d: %s", i, rr.Error))
			return
		}
	}
	out := oipResponse{ModelName: d.ID, ModelVersion: strconv.FormatInt(res.Version, 10), ID: req.ID}
	if len(res.Versions) > 0 {
		vs := make([]string, len(res.Results))
		for i := range vs {
			vs[i] = strconv.FormatInt(res.VersionOf(i), 10)
		}
		out.Parameters = map[string]any{"versions": strings.Join(vs, ",")} // a canary answered some rows
	}
	n := int64(len(res.Results))
	all := len(want) == 0
	if res.Results[0].Prediction.Value != nil && len(res.Results[0].Prediction.Scores) == 0 {
		if all || want["value"] {
			vals := make([]float64, n)
			for i, rr := range res.Results {
				if rr.Prediction.Value != nil {
					vals[i] = *rr.Prediction.Value
				}
			}
			out.Outputs = append(out.Outputs, oipOutput{Name: "value", Shape: []int64{n}, Datatype: "FP64", Data: vals})
		}
	} else {
		labels := d.Labels
		if len(labels) == 0 {
			for k := range res.Results[0].Prediction.Scores {
				labels = append(labels, k)
			}
			slices.Sort(labels)
		}
		if all || want["label"] {
			ls := make([]string, n)
			for i, rr := range res.Results {
				ls[i] = rr.Prediction.Label
			}
			out.Outputs = append(out.Outputs, oipOutput{Name: "label", Shape: []int64{n}, Datatype: "BYTES", Data: ls})
		}
		if (all || want["scores"]) && len(labels) > 0 {
			sc := make([]float64, 0, int(n)*len(labels))
			for _, rr := range res.Results {
				for _, l := range labels {
					sc = append(sc, rr.Prediction.Scores[l])
				}
			}
			out.Outputs = append(out.Outputs, oipOutput{Name: "scores", Shape: []int64{n, int64(len(labels))}, Datatype: "FP64",
				Parameters: map[string]any{"labels": strings.Join(labels, ",")}, Data: sc})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func oipOutputNames(d *serving.Descriptor) string {
	if len(d.Labels) > 0 {
		return `"label" and "scores"`
	}
	return `"value"`
}

// oipEvents turns a request's input tensors into events, one per row.
func oipEvents(req *oipRequest, d *serving.Descriptor, maxEvents int) ([]msg.Event, error) {
	if len(req.Inputs) == 0 {
		return nil, errors.New(`"inputs" is empty`)
	}
	type column struct {
		t    *oipTensor
		vals []float64
		rows int64
		cols int64
	}
	cols := make([]column, len(req.Inputs))
	for i := range req.Inputs {
		t := &req.Inputs[i]
		if !oipDatatypes[t.Datatype] {
			return nil, fmt.Errorf("input %q: datatype %q is not one of the protocol's (BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64, BYTES)", t.Name, t.Datatype)
		}
		size := int64(1)
		for _, dim := range t.Shape {
			if dim < 0 {
				return nil, fmt.Errorf("input %q: shape %v has a negative dimension", t.Name, t.Shape)
			}
			if size > math.MaxInt32/max(dim, 1) {
				return nil, fmt.Errorf("input %q: shape %v is too large", t.Name, t.Shape)
			}
			size *= dim
		}
		vals, err := oipValues(t)
		if err != nil {
			return nil, err
		}
		if int64(len(vals)) != size {
			return nil, fmt.Errorf("input %q: shape %v holds %d values, data has %d", t.Name, t.Shape, size, len(vals))
		}
		c := column{t: t, vals: vals}
		switch len(t.Shape) {
		case 1:
			c.rows, c.cols = t.Shape[0], 1
		case 2:
			c.rows, c.cols = t.Shape[0], t.Shape[1]
		default:
			return nil, fmt.Errorf("input %q: shape %v: want [batch, features], or [batch] per feature", t.Name, t.Shape)
		}
		cols[i] = c
	}
	var events []msg.Event
	if len(cols) == 1 && !(len(d.Features) > 1 && cols[0].t.Name == d.Features[0] && cols[0].cols == 1) {
		// One tensor: [batch, features] (or [features] for one row).
		c := cols[0]
		rows, width := c.rows, c.cols
		if len(c.t.Shape) == 1 && len(d.Features) > 1 && c.rows == int64(len(d.Features)) {
			rows, width = 1, c.rows
		}
		if len(d.Features) > 0 && width != int64(len(d.Features)) {
			return nil, fmt.Errorf("input %q: %d values per row, the model takes %d features (%s)", c.t.Name, width, len(d.Features), strings.Join(d.Features, ", "))
		}
		if rows > int64(maxEvents) {
			return nil, fmt.Errorf("%d rows is over the limit of %d per call", rows, maxEvents)
		}
		for r := range rows {
			ev := msg.Event{Features: serving.Features{Names: d.Features, Values: c.vals[r*width : (r+1)*width]}}
			if len(d.Features) == 0 {
				ev.Features.Names = nil
			}
			events = append(events, ev)
		}
	} else {
		// One tensor per feature, named after it.
		if len(d.Features) == 0 {
			return nil, errors.New("this model has no feature names: send one input tensor [batch, features]")
		}
		byName := map[string]*column{}
		for i := range cols {
			c := &cols[i]
			if c.cols != 1 {
				return nil, fmt.Errorf("input %q: shape %v: one tensor per feature is [batch] or [batch, 1]", c.t.Name, c.t.Shape)
			}
			if byName[c.t.Name] != nil {
				return nil, fmt.Errorf("input %q is given twice", c.t.Name)
			}
			byName[c.t.Name] = c
		}
		rows := cols[0].rows
		for _, f := range d.Features {
			c := byName[f]
			if c == nil {
				return nil, fmt.Errorf("no input for feature %q (inputs are the model's features: %s)", f, strings.Join(d.Features, ", "))
			}
			if c.rows != rows {
				return nil, fmt.Errorf("input %q has %d rows, input %q %d", f, c.rows, cols[0].t.Name, rows)
			}
			delete(byName, f)
		}
		for name := range byName {
			return nil, fmt.Errorf("input %q is not a feature of this model (%s)", name, strings.Join(d.Features, ", "))
		}
		if rows > int64(maxEvents) {
			return nil, fmt.Errorf("%d rows is over the limit of %d per call", rows, maxEvents)
		}
		for r := range rows {
			vals := make([]float64, len(d.Features))
			for k, f := range d.Features {
				for i := range cols {
					if cols[i].t.Name == f {
						vals[k] = cols[i].vals[r]
					}
				}
			}
			events = append(events, msg.Event{Features: serving.Features{Names: d.Features, Values: vals}})
		}
	}
	if len(events) == 0 {
		return nil, errors.New("the inputs hold no rows")
	}
	for i := range events {
		events[i].ID = req.ID
		if req.ID != "" && len(events) > 1 {
			events[i].ID = req.ID + "/" + strconv.Itoa(i)
		}
	}
	return events, nil
}

// oipValues reads a tensor's data, flat or nested (row-major), as numbers.
func oipValues(t *oipTensor) ([]float64, error) {
	var raw any
	dec := json.NewDecoder(bytes.NewReader(t.Data))
	dec.UseNumber()
	if len(t.Data) == 0 {
		return nil, fmt.Errorf("input %q has no \"data\"", t.Name)
	}
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("input %q: data: %v", t.Name, err)
	}
	var out []float64
	var walk func(v any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
			return nil
		case json.Number:
			if t.Datatype == "BOOL" || t.Datatype == "BYTES" {
				return fmt.Errorf("input %q: %s data holds the number %s", t.Name, t.Datatype, x)
			}
			f, err := strconv.ParseFloat(string(x), 64)
			if err != nil {
				return fmt.Errorf("input %q: %q is not a number", t.Name, x)
			}
			if err := oipInRange(t.Datatype, f); err != nil {
				return fmt.Errorf("input %q: %v", t.Name, err)
			}
			if t.Datatype == "FP32" || t.Datatype == "FP16" {
				f = float64(float32(f)) // the tensor's own precision
			}
			out = append(out, f)
			return nil
		case bool:
			if t.Datatype != "BOOL" {
				return fmt.Errorf("input %q: %s data holds a boolean", t.Name, t.Datatype)
			}
			if x {
				out = append(out, 1)
			} else {
				out = append(out, 0)
			}
			return nil
		case string:
			if t.Datatype != "BYTES" {
				return fmt.Errorf("input %q: %s data holds a string", t.Name, t.Datatype)
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil {
				return fmt.Errorf("input %q: BYTES value %q is not a number; this model's features are numbers", t.Name, x)
			}
			out = append(out, f)
			return nil
		case nil:
			if t.Datatype == "FP16" || t.Datatype == "FP32" || t.Datatype == "FP64" {
				out = append(out, math.NaN()) // missing; the model's on_nan policy decides
				return nil
			}
			return fmt.Errorf("input %q: null in %s data", t.Name, t.Datatype)
		}
		return fmt.Errorf("input %q: data holds %T", t.Name, v)
	}
	if err := walk(raw); err != nil {
		return nil, err
	}
	return out, nil
}

// oipInRange checks a number fits its integer datatype.
func oipInRange(dt string, f float64) error {
	lim := map[string][2]float64{"UINT8": {0, math.MaxUint8}, "UINT16": {0, math.MaxUint16}, "UINT32": {0, math.MaxUint32}, "UINT64": {0, math.MaxUint64},
		"INT8": {math.MinInt8, math.MaxInt8}, "INT16": {math.MinInt16, math.MaxInt16}, "INT32": {math.MinInt32, math.MaxInt32}, "INT64": {math.MinInt64, math.MaxInt64}}
	l, ok := lim[dt]
	if !ok {
		if dt == "FP16" && math.Abs(f) > 65504 {
			return fmt.Errorf("%v is outside FP16's range", f)
		}
		return nil
	}
	if f != math.Trunc(f) || f < l[0] || f > l[1] {
		return fmt.Errorf("%v is not a %s", f, dt)
	}
	return nil
}
