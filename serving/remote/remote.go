package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/source"
)

// Format is the descriptor format name this package registers.
const Format = "remote"

// Sentinel errors of predictions; both also wrap serving.ErrModel.
var (
	// ErrRemote marks a failed call: connection error, timeout, an HTTP error status, or an
	// answer that cannot be read as predictions.
	ErrRemote = errors.New("remote model call failed")
	// ErrCircuitOpen marks a call refused without trying because the server failed
	// breaker_failures times in a row and its cool-down has not passed.
	ErrCircuitOpen = errors.New("remote model circuit open")
)

// Register adds the "remote" format to r.
func Register(r *serving.Registry) { r.Register(Format, Load) }

// transport is shared by every remote model so that connections to one server are pooled
// across model versions.
var transport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}()

type model struct {
	id         string
	cfg        *Config
	endpoint   string
	width      int
	names      []string // feature names (per-feature inputs), or "0", "1", ...
	labels     []string // classification; nil until known when the descriptor has none
	classify   bool
	probsOut   string // output names; "" with useFirst means the first/whole output
	labelOut   string
	valueOut   string
	useFirst   bool
	fp32       bool
	client     *http.Client
	sem        chan struct{}
	br         *breaker
	timeout    time.Duration
	retries    int
	backoff    time.Duration
	maxBackoff time.Duration
	maxResp    int64
}

// Load builds a remote model from d, whose data is a [Config] object. The input width is
// len(d.Features), or data.num_features when the descriptor lists no features. Classification
// scores are keyed by d.Labels (in the server's class order); without labels they are keyed
// "0", "1", .... Load makes no network call: an unreachable server fails predictions, not the
// load.
func Load(d *serving.Descriptor) (serving.Model, error) {
	if d == nil {
		return nil, cfgErr("descriptor is nil")
	}
	if d.Location != "" {
		return nil, cfgErr("model %q: location is not used by format remote; put the server config in data", d.ID)
	}
	cfg, err := ParseConfig(d.Data)
	if err != nil {
		return nil, err
	}
	if err := cfg.checkSecrets(); err != nil {
		return nil, err
	}
	resolved := *cfg
	if resolved.Headers, err = resolveHeaders(cfg.Headers, os.LookupEnv); err != nil {
		return nil, fmt.Errorf("model %q: %w", d.ID, err)
	}
	m, err := New(d, &resolved)
	if err != nil {
		return nil, err
	}
	// A descriptor must not make the node call any host: only those its
	// operator allowed (cloud metadata addresses, internal services).
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, cfgErr("data.url: %s", err)
	}
	if err := source.CurrentPolicy().AllowHost(u, fmt.Sprintf("remote model %q: server", d.ID)); err != nil {
		return nil, err
	}
	return m, nil
}

// New builds a remote model for descriptor d (id, features, labels) from a validated cfg.
func New(d *serving.Descriptor, cfg *Config) (serving.Model, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := &model{
		id:         d.ID,
		cfg:        cfg,
		width:      len(d.Features),
		fp32:       cfg.Datatype != "FP64",
		timeout:    ms(cfg.TimeoutMS, DefaultTimeout),
		retries:    orDefault(cfg.Retries, DefaultRetries),
		backoff:    ms(cfg.BackoffMS, DefaultBackoff),
		maxBackoff: ms(cfg.MaxBackoffMS, DefaultMaxBackoff),
		maxResp:    cfg.MaxResponseBytes,
	}
	if m.maxResp == 0 {
		m.maxResp = DefaultMaxResponseBytes
	}
	if cfg.NumFeatures > 0 {
		if m.width > 0 && m.width != cfg.NumFeatures {
			return nil, cfgErr("data.num_features is %d but the descriptor lists %d features", cfg.NumFeatures, m.width)
		}
		m.width = cfg.NumFeatures
	}
	if m.width == 0 {
		return nil, cfgErr("model %q: the input width is unknown; list the descriptor's features or set data.num_features", d.ID)
	}
	m.names = d.Features
	if len(m.names) != m.width {
		if cfg.InputsPerFeature {
			return nil, cfgErr("model %q: data.inputs_per_feature names each tensor after its feature; list the descriptor's features", d.ID)
		}
		m.names = make([]string, m.width)
		for j := range m.names {
			m.names[j] = strconv.Itoa(j)
		}
	}
	for f := range cfg.Datatypes {
		if !slices.Contains(m.names, f) {
			return nil, cfgErr("data.datatypes.%s: not one of the descriptor's features", f)
		}
	}
	o := cfg.Outputs
	switch {
	case o.Value != "":
		if len(d.Labels) > 0 {
			return nil, cfgErr("data.outputs.value reads a regression value, but the descriptor has labels")
		}
		m.valueOut = o.Value
	case o.Probabilities != "" || o.Label != "":
		m.classify = true
		m.probsOut, m.labelOut = o.Probabilities, o.Label
	case len(d.Labels) > 0:
		m.classify, m.useFirst = true, true
	default:
		m.useFirst = true
	}
	if len(d.Labels) > 0 {
		m.labels = slices.Clone(d.Labels)
	}
	base := strings.TrimRight(cfg.URL, "/")
	name := url.PathEscape(cfg.Model)
	switch cfg.Protocol {
	case ProtocolV2:
		m.endpoint = base + "/v2/models/" + name
		if cfg.Version != "" {
			m.endpoint += "/versions/" + url.PathEscape(cfg.Version)
		}
		m.endpoint += "/infer"
	case ProtocolTFServing:
		m.endpoint = base + "/v1/models/" + name
		if cfg.Version != "" {
			m.endpoint += "/versions/" + url.PathEscape(cfg.Version)
		}
		m.endpoint += ":predict"
	}
	// No redirects: an inference server that answers with one is either
	// misconfigured or pointing the node elsewhere.
	m.client = &http.Client{Transport: transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	m.sem = make(chan struct{}, orDefault(cfg.MaxConcurrency, DefaultMaxConcurrency))
	if cap(m.sem) == 0 {
		m.sem = make(chan struct{}, DefaultMaxConcurrency)
	}
	m.br = &breaker{
		threshold: orDefault(cfg.BreakerFailures, DefaultBreakerFailures),
		cooldown:  ms(cfg.BreakerCooldownMS, DefaultBreakerCooldown),
		now:       time.Now,
	}
	return m, nil
}

func (m *model) NumFeatures() int { return m.width }

// String describes the model, for logs.
func (m *model) String() string {
	st, _ := m.br.snapshot()
	return fmt.Sprintf("remote %s model %q at %s, %d features, breaker %s", m.cfg.Protocol, m.cfg.Model, m.endpoint, m.width, st)
}

func (m *model) Predict(x []float64) (serving.Prediction, error) {
	out := make([]serving.Prediction, 1)
	errs := make([]error, 1)
	if err := m.PredictBatch([][]float64{x}, out, errs); err != nil {
		return serving.Prediction{}, err
	}
	return out[0], errs[0]
}

// PredictBatch sends the valid rows of xs in one request. Rows of the wrong width or with a
// non-finite value (JSON cannot carry NaN) fail alone; a failed call fails the whole batch.
func (m *model) PredictBatch(xs [][]float64, out []serving.Prediction, errs []error) error {
	if len(out) != len(xs) || len(errs) != len(xs) {
		return fmt.Errorf("%w: remote: batch of %d rows with %d outputs and %d error slots", serving.ErrModel, len(xs), len(out), len(errs))
	}
	rows := make([]int, 0, len(xs))
	for i, x := range xs {
		out[i], errs[i] = serving.Prediction{}, nil
		if len(x) != m.width {
			errs[i] = fmt.Errorf("%w: remote model %q takes %d features, got %d", serving.ErrSchemaMismatch, m.id, m.width, len(x))
			continue
		}
		if j := slices.IndexFunc(x, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }); j >= 0 {
			errs[i] = fmt.Errorf("%w: remote: feature %d is %v, which JSON cannot send", serving.ErrModel, j, x[j])
			continue
		}
		if m.cfg.Protocol == ProtocolV2 {
			if err := m.checkRow(x); err != nil {
				errs[i] = err
				continue
			}
		}
		rows = append(rows, i)
	}
	if len(rows) == 0 {
		return nil
	}
	body, err := m.encode(xs, rows)
	if err != nil {
		return fmt.Errorf("%w: %w: remote model %q: encode request: %s", serving.ErrModel, ErrRemote, m.id, err.Error())
	}
	var cols *columns
	err = m.call(body, func(b []byte) error {
		var err error
		if m.cfg.Protocol == ProtocolV2 {
			cols, err = decodeV2(b, len(rows))
		} else {
			cols, err = decodeTF(b, len(rows))
		}
		return err
	})
	if err != nil {
		return err
	}
	for k, i := range rows {
		out[i], errs[i] = m.prediction(cols, k)
	}
	return nil
}

// datatype is the v2 datatype feature j is sent as.
func (m *model) datatype(j int) string {
	if dt, ok := m.cfg.Datatypes[m.names[j]]; ok {
		return dt
	}
	return m.cfg.Datatype
}

func dtName(dt string) string {
	if dt == "" {
		return "FP32"
	}
	return dt
}

// checkRow says whether every value of x fits the datatype it is sent as
// (an INT32 feature must hold an integer in range, a BOOL 0 or 1).
func (m *model) checkRow(x []float64) error {
	for j, v := range x {
		dt := m.cfg.Datatype
		if m.cfg.InputsPerFeature {
			dt = m.datatype(j)
		}
		if _, err := v2Value(dt, v); err != nil {
			return fmt.Errorf("%w: remote model %q: feature %s: %v", serving.ErrSchemaMismatch, m.id, m.names[j], err)
		}
	}
	return nil
}

func (m *model) encode(xs [][]float64, rows []int) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(rows) * m.width * 12)
	num := func(v float64) {
		if m.fp32 {
			buf.WriteString(strconv.FormatFloat(float64(float32(v)), 'g', -1, 32))
		} else {
			buf.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	row := func(x []float64) {
		buf.WriteByte('[')
		for j, v := range x {
			if j > 0 {
				buf.WriteByte(',')
			}
			num(v)
		}
		buf.WriteByte(']')
	}
	quote := func(s string) {
		b, _ := json.Marshal(s)
		buf.Write(b)
	}
	if m.cfg.Protocol == ProtocolV2 {
		value := func(dt string, v float64) {
			s, _ := v2Value(dt, v) // checkRow vetted every value
			buf.WriteString(s)
		}
		buf.WriteString(`{"inputs":[`)
		if m.cfg.InputsPerFeature {
			for j := range m.width {
				if j > 0 {
					buf.WriteByte(',')
				}
				dt := m.datatype(j)
				buf.WriteString(`{"name":`)
				quote(m.names[j])
				fmt.Fprintf(&buf, `,"shape":[%d],"datatype":"%s","data":[`, len(rows), dtName(dt))
				for k, i := range rows {
					if k > 0 {
						buf.WriteByte(',')
					}
					value(dt, xs[i][j])
				}
				buf.WriteString("]}")
			}
		} else {
			input := m.cfg.Input
			if input == "" {
				input = "input-0"
			}
			buf.WriteString(`{"name":`)
			quote(input)
			fmt.Fprintf(&buf, `,"shape":[%d,%d],"datatype":"%s","data":[`, len(rows), m.width, dtName(m.cfg.Datatype))
			for k, i := range rows {
				for j, v := range xs[i] {
					if k > 0 || j > 0 {
						buf.WriteByte(',')
					}
					value(m.cfg.Datatype, v)
				}
			}
			buf.WriteString("]}")
		}
		buf.WriteByte(']')
		if len(m.cfg.Parameters) > 0 {
			b, err := json.Marshal(m.cfg.Parameters)
			if err != nil {
				return nil, err
			}
			buf.WriteString(`,"parameters":`)
			buf.Write(b)
		}
		var names []string
		for _, n := range []string{m.probsOut, m.labelOut, m.valueOut} {
			if n != "" && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		if len(names) > 0 {
			buf.WriteString(`,"outputs":[`)
			for k, n := range names {
				if k > 0 {
					buf.WriteByte(',')
				}
				buf.WriteString(`{"name":`)
				quote(n)
				buf.WriteByte('}')
			}
			buf.WriteByte(']')
		}
		buf.WriteByte('}')
		return buf.Bytes(), nil
	}
	buf.WriteByte('{')
	if m.cfg.Signature != "" {
		buf.WriteString(`"signature_name":`)
		quote(m.cfg.Signature)
		buf.WriteByte(',')
	}
	buf.WriteString(`"instances":[`)
	for k, i := range rows {
		if k > 0 {
			buf.WriteByte(',')
		}
		if m.cfg.Input != "" {
			buf.WriteByte('{')
			quote(m.cfg.Input)
			buf.WriteByte(':')
			row(xs[i])
			buf.WriteByte('}')
		} else {
			row(xs[i])
		}
	}
	buf.WriteString("]}")
	return buf.Bytes(), nil
}

// call posts body with retries, the breaker and the concurrency bound, and hands a 2xx
// answer to decode. A decode failure is not retried.
func (m *model) call(body []byte, decode func([]byte) error) error {
	var last error
	for attempt := 0; attempt <= m.retries; attempt++ {
		if attempt > 0 {
			time.Sleep(m.backoffFor(attempt))
		}
		retry, err := m.attempt(body, decode)
		if err == nil {
			return nil
		}
		last = err
		if !retry {
			break
		}
		if attempt == m.retries && attempt > 0 {
			last = fmt.Errorf("%w (gave up after %d attempts)", err, attempt+1)
		}
	}
	return last
}

// backoffFor returns the wait before retry attempt n (n >= 1): backoff·2^(n-1), capped at
// max_backoff, with "equal jitter" (a uniformly random point in its upper half) so that
// clients that failed together do not retry together.
func (m *model) backoffFor(n int) time.Duration {
	d := m.backoff << min(n-1, 30)
	if d > m.maxBackoff || d <= 0 {
		d = m.maxBackoff
	}
	half := d / 2
	return half + rand.N(half+1)
}

func (m *model) attempt(body []byte, decode func([]byte) error) (retry bool, err error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %w: remote model %q: POST %s: %s", serving.ErrModel, ErrRemote, m.id, m.endpoint, fmt.Sprintf(format, args...))
	}
	timer := time.NewTimer(m.timeout)
	select {
	case m.sem <- struct{}{}:
		timer.Stop()
	case <-timer.C:
		return false, fail("no free slot within %s: max_concurrency %d calls are in flight", m.timeout, cap(m.sem))
	}
	defer func() { <-m.sem }()

	if ok, wait := m.br.allow(); !ok {
		if wait > 0 {
			return false, fmt.Errorf("%w: %w: remote model %q at %s: failing fast after repeated failures; next probe in %s",
				serving.ErrModel, ErrCircuitOpen, m.id, m.endpoint, wait.Round(time.Millisecond))
		}
		return false, fmt.Errorf("%w: %w: remote model %q at %s: failing fast while a probe call is in flight",
			serving.ErrModel, ErrCircuitOpen, m.id, m.endpoint)
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.endpoint, bytes.NewReader(body))
	if err != nil {
		m.br.record(true) // our fault, not the server's
		return false, fail("%s", err.Error())
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	for k, v := range m.cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		m.br.record(false)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return true, fail("timed out after %s", m.timeout)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return true, fail("%s", err.Error())
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, m.maxResp+1))
	switch {
	case err != nil:
		m.br.record(false)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return true, fail("timed out after %s reading the answer", m.timeout)
		}
		return true, fail("reading the answer: %s", err.Error())
	case resp.StatusCode >= 500:
		m.br.record(false)
		return true, fail("HTTP %s: %s", resp.Status, snippet(b))
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		m.br.record(true) // the server is up; the request is wrong and will stay wrong
		return false, fail("HTTP %s: %s", resp.Status, snippet(b))
	case int64(len(b)) > m.maxResp:
		m.br.record(false)
		return false, fail("answer is over max_response_bytes %d", m.maxResp)
	}
	if err := decode(b); err != nil {
		m.br.record(false)
		return false, fail("malformed answer: %s", err.Error())
	}
	m.br.record(true)
	return false, nil
}

// snippet is the start of an error body, for error messages.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		s = e.Error
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	if s == "" {
		return "(empty body)"
	}
	return strconv.Quote(s)
}

// prediction builds row k's prediction from the decoded outputs.
func (m *model) prediction(c *columns, k int) (serving.Prediction, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %w: remote model %q: %s", serving.ErrModel, ErrRemote, m.id, fmt.Sprintf(format, args...))
	}
	get := func(name string) (*column, error) {
		if name == "" {
			if c.first == nil {
				return nil, bad("the answer has no outputs")
			}
			return c.first, nil
		}
		col := c.named[name]
		if col == nil {
			return nil, bad("the answer has no output %q (it has %s)", name, c.names())
		}
		return col, nil
	}
	var p serving.Prediction
	if !m.classify {
		col, err := get(m.valueOut)
		if err != nil {
			return p, err
		}
		v, ok := col.num(k)
		if !ok || col.per != 1 {
			return p, bad("output %s holds %d values of kind %s per row; a regression value is one number", col.name, col.per, col.kind())
		}
		p.Value = &v
		return p, nil
	}
	if m.probsOut != "" || m.useFirst {
		col, err := get(m.probsOut)
		if err != nil {
			return p, err
		}
		probs, ok := col.nums(k)
		if !ok {
			return p, bad("output %s holds %s, not probabilities", col.name, col.kind())
		}
		labels := m.labels
		if len(probs) == 1 && len(labels) == 2 { // one column: P(labels[1])
			probs = []float64{1 - probs[0], probs[0]}
		}
		if labels == nil {
			labels = indexLabels(len(probs))
		}
		if len(probs) != len(labels) {
			return p, bad("output %s has %d probabilities per row, the descriptor has %d labels", col.name, len(probs), len(labels))
		}
		p.Scores = make(map[string]float64, len(labels))
		best := 0
		for j, v := range probs {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return p, bad("output %s: probability %d is %v", col.name, j, v)
			}
			p.Scores[labels[j]] = v
			if v > probs[best] {
				best = j
			}
		}
		p.Label = labels[best]
	}
	if m.labelOut != "" {
		col, err := get(m.labelOut)
		if err != nil {
			return p, err
		}
		if col.per != 1 {
			return p, bad("output %s holds %d values per row; a label is one", col.name, col.per)
		}
		if s, ok := col.str(k); ok {
			p.Label = s
		} else if v, ok := col.num(k); ok {
			idx := int(v)
			switch {
			case float64(idx) == v && idx >= 0 && idx < len(m.labels):
				p.Label = m.labels[idx]
			case len(m.labels) > 0:
				return p, bad("output %s: class index %v is not in 0..%d", col.name, v, len(m.labels)-1)
			default:
				p.Label = strconv.FormatFloat(v, 'g', -1, 64)
			}
		}
	}
	return p, nil
}

func indexLabels(k int) []string {
	out := make([]string, k)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}
