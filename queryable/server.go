package queryable

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/pprof"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/actorserve/actorserve/actors/model"
	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/cluster"
	"github.com/actorserve/actorserve/cluster/wire"
	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/output"
)

// Config configures the HTTP API.
type Config struct {
	// Listen is the HTTP address host:port.
	Listen string
	// MaxBodyBytes bounds request bodies (descriptors with inline data,
	// predict batches).
	MaxBodyBytes int64
	// MaxEvents bounds the events of one predict call.
	MaxEvents int
	// QueryTimeout is the deadline of a cluster-wide stats query.
	QueryTimeout time.Duration
	// PredictTimeout is the deadline of a predict call.
	PredictTimeout time.Duration
	// Pprof serves Go's profiler at /debug/pprof/ (off by default).
	Pprof bool
	// Tokens are the accepted bearer tokens (LoadTokens reads them from
	// TokensFile and the environment). None: no authentication, which
	// LoadTokens allows only on a loopback address or with InsecureNoAuth.
	Tokens         []Token
	TokensFile     string
	InsecureNoAuth bool
	tokensLoaded   bool
	// TLSCert and TLSKey serve HTTPS (reloaded when the files change);
	// TLSClientCA also requires client certificates signed by it.
	TLSCert, TLSKey, TLSClientCA string
	// Tracer, when set, gives every request an OpenTelemetry span (off by
	// default).
	Tracer trace.Tracer
	// KeepVersions is how many versions a model keeps loadable for
	// rollback, the current one included (0: serving.DefaultKeepVersions).
	KeepVersions int
	// DeployConfirmTimeout bounds how long a deploy, once the broker
	// acknowledged its record, waits to read it back and confirm the
	// version; past it the deploy is answered 202 with "pending": true
	// (0: 10 s).
	DeployConfirmTimeout time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Listen:         "127.0.0.1:8080",
		MaxBodyBytes:   16 << 20,
		MaxEvents:      10000,
		QueryTimeout:   2 * time.Second,
		PredictTimeout: 10 * time.Second,
	}
}

// RegisterFlags binds the HTTP flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Listen, "http", c.Listen, "HTTP API address host:port")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest HTTP request body")
	fs.IntVar(&c.MaxEvents, "max-events", c.MaxEvents, "most events in one predict call")
	fs.DurationVar(&c.QueryTimeout, "query-timeout", c.QueryTimeout, "deadline of a cluster-wide stats query")
	fs.DurationVar(&c.PredictTimeout, "predict-timeout", c.PredictTimeout, "deadline of a predict call")
	fs.BoolVar(&c.Pprof, "pprof", c.Pprof, "serve Go's profiler at /debug/pprof/ on the HTTP address")
	fs.StringVar(&c.TokensFile, "auth-tokens-file", c.TokensFile, "file of bearer tokens, one per line: TOKEN SCOPES (read, predict, admin; comma-separated); also $"+TokensEnv)
	fs.BoolVar(&c.InsecureNoAuth, "insecure-no-auth", c.InsecureNoAuth, "serve the HTTP API without authentication on a non-loopback address")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "PEM certificate (chain) to serve the HTTP API over TLS with; reloaded when it changes")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "PEM private key of --tls-cert")
	fs.StringVar(&c.TLSClientCA, "tls-client-ca", c.TLSClientCA, "PEM CA certificates: HTTP clients must present a certificate signed by one (mutual TLS)")
}

// Validate reports configuration errors.
func (c Config) Validate() error {
	if _, _, err := cluster.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("http: %w", err)
	}
	if c.MaxBodyBytes < 1024 || c.MaxEvents < 1 || c.QueryTimeout <= 0 || c.PredictTimeout <= 0 {
		return errors.New("http: max-body-bytes (>= 1024), max-events, query-timeout and predict-timeout must be positive")
	}
	return nil
}

// Table is the node's descriptor table (the control stream).
type Table interface {
	Get(id string) (*serving.Descriptor, bool)
	List() []*serving.Descriptor
	WaitFor(ctx context.Context, id string, cond func(*serving.Descriptor, bool) bool) error
	// Sync catches the table up with everything written to the control
	// topic so far.
	Sync(ctx context.Context) error
}

// Publisher writes descriptors to the control stream.
type Publisher interface {
	Put(ctx context.Context, id string, value []byte) (int64, error)
	Delete(ctx context.Context, id string) error
}

// Deps are the components the API serves from.
type Deps struct {
	Node      *cluster.Node
	Host      *model.Host
	Table     Table
	Publisher Publisher
	Registry  *serving.Registry
	// Gatherer serves /metrics (nil: no metrics endpoint).
	Gatherer prometheus.Gatherer
	// Metrics registers the HTTP request metrics (nil: none).
	Metrics prometheus.Registerer
	// Ready reports why the node is not ready (nil when ready).
	Ready  func() error
	Logger *slog.Logger
	// AppendEvents appends labelled events of a learning model to the
	// input topic, keyed by the model id, and returns once Kafka
	// acknowledged them (their offsets): a learning model learns only from
	// the log, so that a new activation can replay what it learned. Nil
	// sends labels straight to the actor.
	AppendEvents func(ctx context.Context, id string, events []msg.Event) ([]int64, error)
	// ForgetState retires a model's learned state when it is deleted,
	// whether or not its actor is active (nil: nothing to forget).
	ForgetState func(ctx context.Context, id string) error
}

// Server is the HTTP API of one node.
type Server struct {
	cfg    Config
	d      Deps
	client *model.Client
	logger *slog.Logger
	mux    *http.ServeMux
	http   *httpMetrics // nil: requests are not measured

	deployMu [64]sync.Mutex // serialise version assignment per model on this node (see deployLock)
	draining bool
	drainMu  sync.RWMutex
}

// New returns the API server.
func New(cfg Config, d Deps) *Server {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, d: d, client: d.Host.Client(d.Node), logger: d.Logger.With("component", "http"), mux: http.NewServeMux()}
	s.routes()
	var err error
	if s.http, err = newHTTPMetrics(d.Metrics, s.mux); err != nil {
		s.logger.Warn("HTTP request metrics are off", "err", err)
	}
	return s
}

// Handler returns the API's handler: with tokens configured, every route
// but the health probes needs a bearer token with its scope.
func (s *Server) Handler() http.Handler {
	var h http.Handler = s.mux
	if len(s.cfg.Tokens) > 0 {
		h = withAuth(s.cfg.Tokens, s.mux)
	}
	if s.http != nil {
		h = s.http.wrap(h)
	}
	if s.cfg.Tracer != nil {
		h = traced(s.cfg.Tracer, s.mux, h)
	}
	return h
}

// Drain makes /readyz answer 503 from now on (graceful shutdown).
func (s *Server) Drain() {
	s.drainMu.Lock()
	s.draining = true
	s.drainMu.Unlock()
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("GET /version", s.version)
	s.mux.HandleFunc("GET /v1/models", s.listModels)
	s.mux.HandleFunc("GET /v1/models/{id}", s.getModel)
	s.mux.HandleFunc("GET /v1/models/{id}/history", s.history)
	s.mux.HandleFunc("PUT /v1/models/{id}", s.putModel)
	s.mux.HandleFunc("DELETE /v1/models/{id}", s.deleteModel)
	s.mux.HandleFunc("POST /v1/models/{id}/predict", s.predict)
	s.mux.HandleFunc("POST /v1/models/{id}/feedback", s.feedback)
	s.routeOIP()
	s.mux.HandleFunc("GET /v1/models/{id}/versions", s.versions)
	s.mux.HandleFunc("POST /v1/models/{id}/rollback", s.lifecycleOp("to", serving.Rollback))
	s.mux.HandleFunc("POST /v1/models/{id}/promote", s.lifecycleOp("version", serving.Promote))
	s.mux.HandleFunc("DELETE /v1/models/{id}/variant", s.lifecycleOp("version", serving.EndVariant))
	s.mux.HandleFunc("GET /v1/cluster", s.clusterView)
	if s.cfg.Pprof {
		s.mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		s.mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		s.mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		s.mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		s.mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	if s.d.Gatherer != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.d.Gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn)}))
	}
	s.mux.HandleFunc("GET /v1/openapi.json", s.openAPI)
	// The dashboard's page and assets; other GET paths get the JSON 404.
	s.mux.Handle("GET /", s.dashboard())
	s.mux.HandleFunc("/", s.noRoute) // 405 with Allow for a known path, else 404
}

// --- errors ---

type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, text string) {
	writeJSON(w, status, apiError{Error: text, Code: code})
}

// readBody reads a bounded request body, answering 413 when it is larger.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body is larger than the limit of %d bytes", mbe.Limit))
			return nil, false
		}
		writeError(w, http.StatusBadRequest, "bad_request", "read body: "+err.Error())
		return nil, false
	}
	return b, true
}

func (s *Server) requireModel(w http.ResponseWriter, id string) (*serving.Descriptor, bool) {
	d, ok := s.d.Table.Get(id)
	if !ok {
		// Deployed through another node a moment ago? Catch the table up
		// with the control topic before answering 404.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := s.d.Table.Sync(ctx)
		cancel()
		if err == nil {
			d, ok = s.d.Table.Get(id)
		}
	}
	if !ok {
		writeError(w, http.StatusNotFound, msg.CodeUnknownModel, fmt.Sprintf("model %q is not deployed", id))
		return nil, false
	}
	return d, true
}

// --- health ---

// answerNotReady answers 503 with the reason and reports true while the
// node drains or is not ready (readyz and the Open Inference Protocol's
// ready probe share it).
func (s *Server) answerNotReady(w http.ResponseWriter) bool {
	s.drainMu.RLock()
	draining := s.draining
	s.drainMu.RUnlock()
	if draining {
		writeError(w, http.StatusServiceUnavailable, "draining", "node is shutting down")
		return true
	}
	if s.d.Ready != nil {
		if err := s.d.Ready(); err != nil {
			writeError(w, http.StatusServiceUnavailable, "not_ready", err.Error())
			return true
		}
	}
	return false
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.answerNotReady(w) {
		return
	}
	writeJSON(w, 200, map[string]string{"status": "ready"})
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	out := map[string]string{"version": "(devel)"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		out["version"] = bi.Main.Version
		out["go"] = bi.GoVersion
		for _, st := range bi.Settings {
			if st.Key == "vcs.revision" {
				out["revision"] = st.Value
			}
		}
	}
	writeJSON(w, 200, out)
}

// --- models ---

type deployed struct {
	ID       string `json:"id"`
	Version  int64  `json:"version"`
	Revision int64  `json:"revision,omitempty"`
	// Rollout is "shadow" or "canary" when the version was deployed as a
	// variant beside the current one (Current).
	Rollout string `json:"rollout,omitempty"`
	Current int64  `json:"current,omitempty"`
	// Pending says the record was published (the broker acknowledged it
	// at Offset of the control topic) but not read back within the
	// deploy's bound, so the version is not confirmed: every node applies
	// the record, unless a deploy of the same model through another node
	// published a version at least as high just before it. Status is where
	// to see which version the model is at; Detail says the same in words.
	Pending bool   `json:"pending,omitempty"`
	Offset  *int64 `json:"offset,omitempty"`
	Status  string `json:"status,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

func (s *Server) putModel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	d, err := serving.DecodeDescriptor(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_descriptor", err.Error())
		return
	}
	if d.ID == "" {
		d.ID = id
	} else if d.ID != id {
		writeError(w, http.StatusBadRequest, "invalid_descriptor", fmt.Sprintf("descriptor id %q does not match the path's %q", d.ID, id))
		return
	}
	if err := d.CheckDeployRequest(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_descriptor", err.Error())
		return
	}
	mu := s.deployLock(id)
	mu.Lock()
	defer mu.Unlock()
	explicit := d.Version != 0
	if explicit && (d.Version < 0 || d.Version > serving.MaxVersion) {
		writeError(w, http.StatusBadRequest, "invalid_descriptor", fmt.Sprintf("version %d is outside 1..%d", d.Version, int64(serving.MaxVersion)))
		return
	}
	prev, ok := s.nextVersion(w, r, d, explicit)
	if !ok {
		return
	}
	if err := d.Validate(s.d.Registry); err != nil {
		code := "invalid_descriptor"
		if errors.Is(err, serving.ErrUnknownFormat) {
			code = "unknown_format"
		}
		writeError(w, http.StatusUnprocessableEntity, code, err.Error())
		return
	}
	if _, err := output.Compile(d.Output); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid_descriptor", err.Error())
		return
	}
	// Load it once here so a model that cannot load is never published.
	if _, err := s.d.Registry.Load(d); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid_model", err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	// Publish, then read the control topic back to where the record
	// landed: every node applies a version only if it is higher than the
	// one before it in the log, so the record either won or lost to one
	// another node published first. A lost automatic version is tried
	// again above the winner; a lost explicit one is a conflict.
	for attempt := 1; ; attempt++ {
		d.CreatedAt = time.Now().UTC()
		cur, had := s.d.Table.Get(id)
		if !had {
			cur = nil
		}
		if d.Rollout != nil && cur == nil {
			writeError(w, http.StatusConflict, "no_current_version", fmt.Sprintf("model %q has no current version for a %s to run beside; deploy it without \"rollout\" first", id, d.Rollout.Mode))
			return
		}
		// Another node's deploy may have landed since the version was
		// chosen: a new version goes above every version the record
		// keeps, or two deploys would answer the same version (the later
		// record, of a higher revision, would win with it).
		if cur != nil && d.Version <= cur.TopVersion() {
			top := cur.TopVersion()
			if explicit {
				writeError(w, http.StatusConflict, "version_conflict", fmt.Sprintf("model %q: version %d was deployed through another node at the same time (the model is at version %d); deploy again", id, d.Version, top))
				return
			}
			prev = max(prev, top)
			d.Version = prev + 1
		}
		rec, err := serving.NextDeploy(cur, d, s.keepVersions(), "api")
		if err != nil {
			writeError(w, http.StatusConflict, "version_conflict", err.Error())
			return
		}
		b, err := rec.Encode()
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internal", err.Error())
			return
		}
		offset, err := s.d.Publisher.Put(ctx, id, b)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "publish_failed", fmt.Sprintf("publish model %q to the control topic: %s", id, err))
			return
		}
		// The record is durable from here on: a read-back that takes
		// longer than the bound (a stalled broker, a table far behind) is
		// not a failure, and the answer says what is known.
		if err := s.readBack(r.Context()); err != nil {
			if r.Context().Err() != nil {
				return
			}
			s.answerPending(w, "deploy", id, d.Version, &UnconfirmedError{Record: rec, Offset: offset, Err: err})
			return
		}
		got, ok := s.d.Table.Get(id)
		if ok && sameRecord(got, rec) {
			ans := deployed{ID: id, Version: d.Version, Revision: got.Rev()}
			if d.Rollout != nil {
				ans.Rollout, ans.Current = d.Rollout.Mode, got.Version
			}
			writeJSON(w, http.StatusAccepted, ans)
			return
		}
		var at int64
		if ok {
			at = got.TopVersion()
		}
		if explicit || attempt == maxDeployAttempts {
			writeError(w, http.StatusConflict, "version_conflict", fmt.Sprintf("model %q: version %d was deployed through another node at the same time (the model is at version %d); deploy again", id, d.Version, at))
			return
		}
		s.logger.Info("deploy: another node published this version first; trying the next", "model", id, "version", d.Version, "current", at)
		prev = max(prev, at)
		d.Version = prev + 1
		// Back off a little, at random, so that nodes deploying the same
		// model at once stop colliding.
		select {
		case <-ctx.Done():
			writeError(w, http.StatusServiceUnavailable, "publish_failed", fmt.Sprintf("model %q: %s", id, ctx.Err()))
			return
		case <-time.After(time.Duration(attempt) * time.Duration(rand.Int64N(int64(10*time.Millisecond)))):
		}
	}
}

// answerPending answers 202 for a change the broker acknowledged but that
// was not read back in time (a deploy or a lifecycle transition): the record
// is durable, and the answer says where to see the version it applied.
// version is the one the change is about (a canary deploy's, not the
// record's current version).
func (s *Server) answerPending(w http.ResponseWriter, what, id string, version int64, u *UnconfirmedError) {
	rev, status := u.Record.Rev(), "/v1/models/"+url.PathEscape(id)
	s.logger.Warn(what+": published, but not read back in time; answering pending", "model", id, "version", version, "revision", rev, "offset", u.Offset, "err", u.Err)
	w.Header().Set("Location", status)
	writeJSON(w, http.StatusAccepted, deployed{ID: id, Version: version, Revision: rev, Pending: true, Offset: &u.Offset, Status: status,
		Detail: fmt.Sprintf("version %d: %s; every node applies it unless another node changed this model at the same moment: GET %s shows the version once applied", version, u, status)})
}

// readBack waits, at most confirmTimeout, until the table has read the
// control topic up to where it ended after a publish.
func (s *Server) readBack(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.confirmTimeout())
	defer cancel()
	return s.d.Table.Sync(ctx)
}

func (s *Server) confirmTimeout() time.Duration {
	if s.cfg.DeployConfirmTimeout > 0 {
		return s.cfg.DeployConfirmTimeout
	}
	return defaultDeployConfirmTimeout
}

// defaultDeployConfirmTimeout bounds how long a deploy, once published,
// waits to read its record back before it answers pending.
const defaultDeployConfirmTimeout = 10 * time.Second

// deployLock returns the lock that serialises deploys of model id on this
// node. Deploys of different models mostly take different locks (one of 64
// by the id's FNV-1a hash), so they do not wait on each other.
func (s *Server) deployLock(id string) *sync.Mutex {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	return &s.deployMu[h%uint32(len(s.deployMu))]
}

// maxDeployAttempts bounds the versions one deploy tries when other nodes
// keep deploying the same model at the same moment.
const maxDeployAttempts = 10

// nextVersion sets d.Version to one above the model's current version, or
// checks an explicit one is above it, after catching the table up with
// deploys made through other nodes; it answers the request and returns
// false when it cannot.
func (s *Server) nextVersion(w http.ResponseWriter, r *http.Request, d *serving.Descriptor, explicit bool) (int64, bool) {
	sctx, scancel := context.WithTimeout(r.Context(), 2*time.Second)
	if err := s.d.Table.Sync(sctx); err != nil {
		s.logger.Warn("deploy: descriptor table not caught up; the version is checked again once published", "model", d.ID, "err", err)
	}
	scancel()
	var prev, at int64
	if old, ok := s.d.Table.Get(d.ID); ok {
		prev, at = old.TopVersion(), old.Version
	}
	if prev >= serving.MaxVersion {
		writeError(w, http.StatusConflict, "version_conflict", fmt.Sprintf("model %q is at the highest version %d; delete it to start again", d.ID, prev))
		return 0, false
	}
	if !explicit {
		d.Version = prev + 1
	} else if d.Version <= prev {
		writeError(w, http.StatusConflict, "version_conflict", fmt.Sprintf("model %q is at version %d (the newest it keeps is %d); a new version must be higher than %d, got %d", d.ID, at, prev, prev, d.Version))
		return 0, false
	}
	return prev, true
}

// feedbackAccepted answers feedback for a learning model: the labels are
// in the input topic (at these offsets of the model's partition) and the
// model learns them from there.
type feedbackAccepted struct {
	Model    string  `json:"model"`
	Accepted int     `json:"accepted"`
	Offsets  []int64 `json:"offsets"`
}

func hasLabels(events []msg.Event) bool {
	for i := range events {
		if events[i].Label != nil {
			return true
		}
	}
	return false
}

func (s *Server) deleteModel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d, ok := s.requireModel(w, id)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if s.d.ForgetState != nil && d.Learns() {
		// First the state, then the descriptor: a checkpoint the active
		// actor writes meanwhile has an older epoch than the marker and is
		// never restored.
		if err := s.d.ForgetState(ctx, id); err != nil {
			writeError(w, http.StatusServiceUnavailable, "publish_failed", fmt.Sprintf("delete model %q: %s", id, err))
			return
		}
	}
	if err := s.d.Publisher.Delete(ctx, id); err != nil {
		writeError(w, http.StatusServiceUnavailable, "publish_failed", fmt.Sprintf("delete model %q: %s", id, err))
		return
	}
	_ = s.d.Table.WaitFor(ctx, id, func(_ *serving.Descriptor, ok bool) bool { return !ok })
	writeJSON(w, http.StatusAccepted, deployed{ID: id, Version: d.Version})
}

// --- predict ---

type eventJSON struct {
	ID       json.RawMessage   `json:"id"`
	Model    string            `json:"model"`
	Features *serving.Features `json:"features"`
	Label    json.RawMessage   `json:"label"`
	// Key is the entity a canary is sticky to (default: the id).
	Key string `json:"key"`
}

// parseLabel reads a label given as a JSON string or number.
func parseLabel(raw json.RawMessage) (*msg.Label, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return &msg.Label{S: s}, nil
	}
	var v float64
	if err := json.Unmarshal(raw, &v); err == nil {
		return &msg.Label{V: v, Num: true}, nil
	}
	return nil, errors.New("\"label\" must be a string or a number")
}

type predictBody struct {
	eventJSON
	Events []eventJSON `json:"events"`
}

func (e *eventJSON) toEvent(i int) (msg.Event, error) {
	ev := msg.Event{Key: e.Key}
	l, err := parseLabel(e.Label)
	if err != nil {
		return ev, fmt.Errorf("event %d: %v", i, err)
	}
	ev.Label = l
	switch {
	case e.Features != nil:
		ev.Features = *e.Features
	case l != nil:
		ev.NoFeatures = true // the label of an earlier prediction
	default:
		return ev, fmt.Errorf("event %d has no \"features\"", i)
	}
	if len(e.ID) > 0 && string(e.ID) != "null" {
		var s string
		if err := json.Unmarshal(e.ID, &s); err == nil {
			ev.ID = s
		} else if c := e.ID[0]; c == '-' || '0' <= c && c <= '9' {
			// A JSON number (the decoder checked its syntax), kept as
			// written: ParseFloat would refuse ids beyond float64's range.
			ev.ID = string(e.ID)
		} else {
			return ev, fmt.Errorf("event %d: \"id\" must be a string or a number", i)
		}
	}
	return ev, nil
}

// bodyError is a predict body rejected before any model sees it: the HTTP
// status and stable code to answer with, and text naming the problem.
type bodyError struct {
	status int
	code   string
	text   string
}

func (e *bodyError) Error() string { return e.text }

// decodePredictBody parses a predict body: one event ({"id":..,"features":..})
// or a batch ({"events":[...]}) of at most maxEvents. batch reports which
// form it was. Every error is a *bodyError. It never panics on any input.
func decodePredictBody(b []byte, maxEvents int) (events []msg.Event, batch bool, err error) {
	var pb predictBody
	if err := json.Unmarshal(b, &pb); err != nil {
		// Malformed JSON and malformed features (serving.ErrInvalidEvent)
		// alike: decode_error, the code the model actor gives them too.
		return nil, false, &bodyError{http.StatusBadRequest, msg.CodeDecode, "malformed predict request: " + err.Error()}
	}
	if pb.Events == nil {
		ev, err := pb.eventJSON.toEvent(0)
		if err != nil {
			return nil, false, &bodyError{http.StatusBadRequest, "bad_request", strings.Replace(err.Error(), "event 0", "event", 1)}
		}
		return []msg.Event{ev}, false, nil
	}
	if len(pb.Events) == 0 {
		return nil, true, &bodyError{http.StatusBadRequest, "bad_request", "\"events\" is empty"}
	}
	if len(pb.Events) > maxEvents {
		return nil, true, &bodyError{http.StatusRequestEntityTooLarge, "too_many_events", fmt.Sprintf("%d events is over the limit of %d per call", len(pb.Events), maxEvents)}
	}
	events = make([]msg.Event, len(pb.Events))
	for i := range pb.Events {
		ev, err := pb.Events[i].toEvent(i)
		if err != nil {
			return nil, true, &bodyError{http.StatusBadRequest, "bad_request", err.Error()}
		}
		events[i] = ev
	}
	return events, true, nil
}

type predictResult struct {
	ID         string              `json:"id,omitempty"`
	Prediction *serving.Prediction `json:"prediction,omitempty"`
	Error      string              `json:"error,omitempty"`
	Code       string              `json:"code,omitempty"`
	// Version and Variant name a canary that answered this event.
	Version int64  `json:"version,omitempty"`
	Variant string `json:"variant,omitempty"`
}

type predictOne struct {
	Model      string             `json:"model"`
	Version    int64              `json:"version"`
	ID         string             `json:"id,omitempty"`
	Prediction serving.Prediction `json:"prediction"`
	Node       string             `json:"node"`
	LatencyUS  int64              `json:"latency_us"`
	// Variant is "canary" when the model's canary answered.
	Variant string `json:"variant,omitempty"`
}

type predictMany struct {
	Model     string          `json:"model"`
	Version   int64           `json:"version"`
	Node      string          `json:"node"`
	LatencyUS int64           `json:"latency_us"`
	Results   []predictResult `json:"results"`
	Errors    int             `json:"errors"`
}

func (s *Server) predict(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.requireModel(w, id); !ok {
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	events, batch, err := decodePredictBody(body, s.cfg.MaxEvents)
	if err != nil {
		var be *bodyError
		if !errors.As(err, &be) {
			be = &bodyError{http.StatusBadRequest, "bad_request", err.Error()}
		}
		writeError(w, be.status, be.code, be.text)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.PredictTimeout)
	defer cancel()
	if d, _ := s.d.Table.Get(id); d != nil && d.Learns() && s.d.AppendEvents != nil && hasLabels(events) {
		// The labels are learned from the log; the actor scores the events
		// as they are now (test, then train).
		var labelled []msg.Event
		for i := range events {
			if events[i].Label != nil {
				labelled = append(labelled, events[i])
				events[i].Label = nil
			}
		}
		if _, err := s.d.AppendEvents(ctx, id, labelled); err != nil {
			writeError(w, http.StatusServiceUnavailable, "publish_failed", fmt.Sprintf("model %q: labels not written to the input topic: %s", id, err))
			return
		}
	}
	res, err := s.client.Predict(ctx, id, events)
	if err != nil {
		s.writeCallError(w, id, err)
		return
	}
	if !batch {
		r0 := res.Results[0]
		if r0.Code != "" {
			writeError(w, http.StatusUnprocessableEntity, r0.Code, r0.Error)
			return
		}
		one := predictOne{Model: res.Model, Version: res.VersionOf(0), ID: r0.ID, Prediction: r0.Prediction, Node: res.Node, LatencyUS: res.LatencyNS / 1000}
		if one.Version != res.Version {
			one.Variant = serving.RolloutCanary
		}
		writeJSON(w, 200, one)
		return
	}
	out := predictMany{Model: res.Model, Version: res.Version, Node: res.Node, LatencyUS: res.LatencyNS / 1000, Results: make([]predictResult, len(res.Results))}
	for i := range res.Results {
		rr := &res.Results[i]
		out.Results[i] = predictResult{ID: rr.ID, Error: rr.Error, Code: rr.Code}
		if v := res.VersionOf(i); v != res.Version {
			out.Results[i].Version, out.Results[i].Variant = v, serving.RolloutCanary
		}
		if rr.Code == "" {
			out.Results[i].Prediction = &rr.Prediction
		} else {
			out.Errors++
		}
	}
	writeJSON(w, 200, out)
}

func (s *Server) writeCallError(w http.ResponseWriter, id string, err error) {
	var we *wire.Error
	switch {
	case errors.As(err, &we):
		status := http.StatusUnprocessableEntity
		switch we.Code {
		case msg.CodeUnknownModel:
			status = http.StatusNotFound
		case msg.CodeModelFailed:
			status = http.StatusServiceUnavailable
		case msg.CodeOverloaded:
			// Shed unrun: nothing was scored or learned; try again soon.
			status = http.StatusServiceUnavailable
			w.Header().Set("Retry-After", "1")
		}
		writeError(w, status, we.Code, we.Message)
	case errors.Is(err, cluster.ErrTimeout):
		writeError(w, http.StatusGatewayTimeout, msg.CodeTimeout, fmt.Sprintf("model %q did not answer in time: %s", id, err))
	default:
		writeError(w, http.StatusServiceUnavailable, "unavailable", fmt.Sprintf("model %q: %s", id, err))
	}
}

type feedbackAnswer struct {
	Model     string           `json:"model"`
	Version   int64            `json:"version"`
	Node      string           `json:"node"`
	Matched   int              `json:"matched"`
	Unmatched int              `json:"unmatched"`
	Results   []feedbackResult `json:"results"`
}

type feedbackResult struct {
	ID      string `json:"id"`
	Matched bool   `json:"matched"`
	Error   string `json:"error,omitempty"`
	Code    string `json:"code,omitempty"`
}

// feedback delivers labels for earlier predictions: one {"id","label"} or
// {"events":[...]}. Events that also carry features are labelled examples
// (test-then-train) and answer like predictions.
func (s *Server) feedback(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.requireModel(w, id); !ok {
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	events, _, err := decodePredictBody(body, s.cfg.MaxEvents)
	if err != nil {
		be := err.(*bodyError)
		writeError(w, be.status, be.code, be.text)
		return
	}
	for i, ev := range events {
		if ev.Label == nil {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("feedback event %d has no \"label\"", i))
			return
		}
		if ev.ID == "" && ev.NoFeatures {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("feedback event %d has neither an \"id\" to join nor \"features\"", i))
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.PredictTimeout)
	defer cancel()
	if d, _ := s.d.Table.Get(id); d != nil && d.Learns() && s.d.AppendEvents != nil {
		// A learning model learns only from the log: answer once Kafka
		// holds the labels; the model learns them from there, exactly once.
		offsets, err := s.d.AppendEvents(ctx, id, events)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "publish_failed", fmt.Sprintf("model %q: feedback not written to the input topic: %s", id, err))
			return
		}
		writeJSON(w, http.StatusAccepted, feedbackAccepted{Model: id, Accepted: len(events), Offsets: offsets})
		return
	}
	res, err := s.client.Predict(ctx, id, events)
	if err != nil {
		s.writeCallError(w, id, err)
		return
	}
	out := feedbackAnswer{Model: res.Model, Version: res.Version, Node: res.Node, Results: make([]feedbackResult, len(res.Results))}
	for i, rr := range res.Results {
		matched := rr.Matched || (!rr.Feedback && rr.Code == "")
		out.Results[i] = feedbackResult{ID: rr.ID, Matched: matched, Error: rr.Error, Code: rr.Code}
		if matched {
			out.Matched++
		} else {
			out.Unmatched++
		}
	}
	writeJSON(w, http.StatusOK, out)
}
