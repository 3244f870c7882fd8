package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/actorserve/actorserve/serving"
)

// Sentinel errors; see the package documentation for which ones wrap which.
var (
	// ErrFetch marks a location that could not be read: a missing file, an HTTP status other
	// than 2xx, a connection error or a timeout. It is usually worth retrying later.
	ErrFetch = errors.New("model bytes unavailable")

	// ErrTooLarge marks model bytes over the configured limit. It also wraps
	// serving.ErrInvalidModel.
	ErrTooLarge = errors.New("model bytes over the limit")

	// ErrChecksum marks model bytes whose sha256 differs from the descriptor's. It also wraps
	// serving.ErrInvalidModel.
	ErrChecksum = errors.New("model bytes do not match sha256")
)

// Defaults used for zero [Options] fields.
const (
	DefaultMaxBytes       = 256 << 20        // model bytes from a location
	DefaultMaxInlineBytes = 32 << 20         // decoded inline data
	DefaultTimeout        = 60 * time.Second // one HTTP download, headers and body
)

// Options configure [ModelBytes]. The zero value is usable: every zero field takes its default.
type Options struct {
	// MaxBytes caps model bytes read from a location; 0 means DefaultMaxBytes.
	MaxBytes int64
	// MaxInlineBytes caps decoded inline data; 0 means DefaultMaxInlineBytes. Inline data over
	// the cap is rejected before it is decoded.
	MaxInlineBytes int64
	// Timeout bounds one HTTP download (connection, headers and body); 0 means DefaultTimeout.
	Timeout time.Duration
	// Client makes HTTP requests; nil means a client of this package with no timeout of its
	// own (Timeout applies through the request's context). Redirects follow the client's policy.
	Client *http.Client
	// FileRoot, when set, is the one directory file:// locations may resolve inside (after
	// symbolic links), instead of the policy's.
	FileRoot string
	// Policy says which locations may be read; nil means the process's ([SetPolicy]), whose
	// zero value allows no file and no host.
	Policy *Policy
	// DisableFile rejects file:// locations; DisableHTTP rejects http:// and https:// ones.
	DisableFile, DisableHTTP bool
	// Cache keeps fetched bytes; nil means the package's shared cache ([DefaultCache]).
	Cache *Cache
	// NoCache bypasses every cache: each call reads the location again.
	NoCache bool
}

func (o *Options) maxBytes() int64 {
	if o.MaxBytes > 0 {
		return o.MaxBytes
	}
	return DefaultMaxBytes
}

func (o *Options) maxInline() int64 {
	if o.MaxInlineBytes > 0 {
		return o.MaxInlineBytes
	}
	return DefaultMaxInlineBytes
}

func (o *Options) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultTimeout
}

func (o *Options) client() *http.Client {
	if o.Client != nil {
		return o.Client
	}
	return defaultClient
}

func (o *Options) cache() *Cache {
	if o.NoCache {
		return nil
	}
	if o.Cache != nil {
		return o.Cache
	}
	return DefaultCache
}

var defaultClient = &http.Client{Transport: newTransport(), CheckRedirect: NoRedirectElsewhere}

func (o *Options) policy() Policy {
	p := CurrentPolicy()
	if o.Policy != nil {
		p = *o.Policy
	}
	if o.FileRoot != "" {
		p.FileRoots = []string{o.FileRoot}
	}
	return p
}

func newTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 0 // the request context bounds the whole download
	t.MaxIdleConnsPerHost = 4
	return t
}

// ModelBytes returns the model bytes of d: its inline data when data is set (a base64 string,
// decoded by [serving.Descriptor.DataBytes]), otherwise the contents of its location. When d
// has sha256 the bytes are verified against it. Bytes read from a location are cached (see
// [Cache]) under the sha256 when d has one, else under location and version, and concurrent
// calls for the same key share one download.
//
// The returned slice may be shared with the cache and with other callers: treat it as
// read-only. ctx bounds the call together with opts.Timeout.
func ModelBytes(ctx context.Context, d *serving.Descriptor, opts Options) ([]byte, error) {
	if d == nil {
		return nil, fmt.Errorf("%w: model bytes: descriptor is nil", serving.ErrInvalidDescriptor)
	}
	if len(d.Data) > 0 {
		if d.Location != "" {
			return nil, fmt.Errorf("%w: model %q: set data or location, not both", serving.ErrInvalidDescriptor, d.ID)
		}
		return inline(d, opts.maxInline())
	}
	if d.Location == "" {
		return nil, fmt.Errorf("%w: model %q: neither data nor location is set", serving.ErrInvalidDescriptor, d.ID)
	}
	var want []byte
	if d.SHA256 != "" {
		w, err := hex.DecodeString(d.SHA256)
		if err != nil || len(w) != sha256.Size {
			return nil, fmt.Errorf("%w: model %q: sha256: %q is not 64 hex digits", serving.ErrInvalidDescriptor, d.ID, d.SHA256)
		}
		want = w
	}
	u, err := url.Parse(d.Location)
	if err != nil {
		return nil, fmt.Errorf("%w: model %q: location is not a URL: %s", serving.ErrInvalidDescriptor, d.ID, err.Error())
	}
	fetch := func(ctx context.Context) ([]byte, error) {
		b, err := read(ctx, d, u, &opts)
		if err != nil {
			return nil, err
		}
		if want != nil {
			if sum := sha256.Sum256(b); !bytes.Equal(sum[:], want) {
				return nil, fmt.Errorf("%w: %w: model %q from %s: sha256 of the %d bytes read is %x, descriptor says %s",
					serving.ErrInvalidModel, ErrChecksum, d.ID, u.Redacted(), len(b), sum, strings.ToLower(d.SHA256))
			}
		}
		return b, nil
	}
	c := opts.cache()
	if c == nil {
		return fetch(ctx)
	}
	return c.get(ctx, cacheKey(d), fetch)
}

// cacheKey is the sha256 when the descriptor has one (identical bytes share an entry wherever
// they come from), else the location and version.
func cacheKey(d *serving.Descriptor) string {
	if d.SHA256 != "" {
		return "sha256:" + strings.ToLower(d.SHA256)
	}
	return "loc:" + strconv.FormatInt(d.Version, 10) + ":" + d.Location
}

func inline(d *serving.Descriptor, limit int64) ([]byte, error) {
	// Base64 takes 4 bytes per 3; the JSON string adds its quotes.
	if enc := int64(len(d.Data)); enc > limit/3*4+8 {
		return nil, fmt.Errorf("%w: %w: model %q: inline data is %d bytes of base64, over the limit of %d model bytes; publish the model at a location instead",
			serving.ErrInvalidModel, ErrTooLarge, d.ID, enc, limit)
	}
	b, err := d.DataBytes() // also checks sha256, naming both digests
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %w: model %q: inline data is %d bytes, over the limit of %d",
			serving.ErrInvalidModel, ErrTooLarge, d.ID, len(b), limit)
	}
	return b, nil
}

func read(ctx context.Context, d *serving.Descriptor, u *url.URL, o *Options) ([]byte, error) {
	switch u.Scheme {
	case "file":
		if o.DisableFile {
			return nil, fmt.Errorf("%w: model %q: file locations are disabled on this node", serving.ErrInvalidDescriptor, d.ID)
		}
		return readFile(d, u, o)
	case "http", "https":
		if o.DisableHTTP {
			return nil, fmt.Errorf("%w: model %q: http locations are disabled on this node", serving.ErrInvalidDescriptor, d.ID)
		}
		return readHTTP(ctx, d, u, o)
	}
	return nil, fmt.Errorf("%w: model %q: location %s: scheme must be file, http or https", serving.ErrInvalidDescriptor, d.ID, u.Redacted())
}

func readFile(d *serving.Descriptor, u *url.URL, o *Options) ([]byte, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("%w: model %q: location %s: file URLs name a local path (file:///path), not host %q", serving.ErrInvalidDescriptor, d.ID, u.Redacted(), u.Host)
	}
	p := u.Path
	if p == "" || !filepath.IsAbs(p) {
		return nil, fmt.Errorf("%w: model %q: location %s: want an absolute path, as in file:///var/models/m.bin", serving.ErrInvalidDescriptor, d.ID, u.Redacted())
	}
	p = filepath.Clean(p)
	// The path must lie in an allowed directory, judged on its text first
	// (nothing outside is touched, so an error says nothing about what
	// exists there), then again after symbolic links.
	pol := o.policy()
	if len(pol.FileRoots) == 0 {
		return nil, fmt.Errorf("%w: model %q: location %s: this node may not read model files; its operator allows directories with --model-dirs",
			serving.ErrInvalidDescriptor, d.ID, u.Redacted())
	}
	outside := fmt.Errorf("%w: model %q: location %s is outside the directories this node may read models from (--model-dirs)",
		serving.ErrInvalidDescriptor, d.ID, u.Redacted())
	if pol.root(p) == "" {
		return nil, outside
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return nil, fmt.Errorf("%w: model %q: %s", ErrFetch, d.ID, pathErr(err))
	}
	var realRoots []string
	for _, r := range pol.FileRoots {
		if rr, err := filepath.EvalSymlinks(r); err == nil {
			realRoots = append(realRoots, rr)
		}
	}
	if (Policy{FileRoots: realRoots}).root(real) == "" {
		return nil, outside
	}
	p = real
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%w: model %q: %s", ErrFetch, d.ID, pathErr(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: model %q: %s", ErrFetch, d.ID, pathErr(err))
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: model %q: %s is not a regular file", ErrFetch, d.ID, p)
	}
	limit := o.maxBytes()
	if st.Size() > limit {
		return nil, tooLarge(d, u, st.Size(), limit)
	}
	return readLimited(f, st.Size(), limit, d, u)
}

func pathErr(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Op + " " + pe.Path + ": " + pe.Err.Error()
	}
	return err.Error()
}

func readHTTP(ctx context.Context, d *serving.Descriptor, u *url.URL, o *Options) ([]byte, error) {
	if err := o.policy().AllowHost(u, fmt.Sprintf("model %q: location", d.ID)); err != nil {
		return nil, err
	}
	timeout := o.timeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: model %q: location %s: %s", serving.ErrInvalidDescriptor, d.ID, u.Redacted(), err.Error())
	}
	req.Header.Set("Accept", "application/octet-stream, */*")
	resp, err := o.client().Do(req)
	if err != nil {
		return nil, httpErr(ctx, d, u, timeout, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // let the connection be reused
		return nil, fmt.Errorf("%w: model %q: GET %s: HTTP status %s", ErrFetch, d.ID, u.Redacted(), resp.Status)
	}
	limit := o.maxBytes()
	if resp.ContentLength > limit {
		return nil, tooLarge(d, u, resp.ContentLength, limit)
	}
	b, err := readLimited(resp.Body, resp.ContentLength, limit, d, u)
	if err != nil && errors.Is(err, ErrFetch) {
		return nil, httpErr(ctx, d, u, timeout, err)
	}
	return b, err
}

func httpErr(ctx context.Context, d *serving.Descriptor, u *url.URL, timeout time.Duration, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: model %q: GET %s: timed out (limit %s or the caller's deadline)", ErrFetch, d.ID, u.Redacted(), timeout)
	}
	if errors.Is(err, ErrFetch) {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Error repeats the unredacted URL
	}
	return fmt.Errorf("%w: model %q: GET %s: %s", ErrFetch, d.ID, u.Redacted(), err.Error())
}

func tooLarge(d *serving.Descriptor, u *url.URL, n, limit int64) error {
	return fmt.Errorf("%w: %w: model %q: %s is %d bytes, over the limit of %d", serving.ErrInvalidModel, ErrTooLarge, d.ID, u.Redacted(), n, limit)
}

// readLimited reads r to its end, failing as soon as it has more than limit bytes. size is the
// expected length when known (>= 0); it only sizes the first allocation, which never exceeds
// limit+1 however large size claims to be.
func readLimited(r io.Reader, size, limit int64, d *serving.Descriptor, u *url.URL) ([]byte, error) {
	initial := int64(64 << 10)
	if size >= 0 {
		initial = min(size, limit) + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, initial))
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: model %q: reading %s after %d bytes: %s", ErrFetch, d.ID, u.Redacted(), n, err.Error())
	}
	if n > limit {
		return nil, fmt.Errorf("%w: %w: model %q: %s has more than the limit of %d bytes", serving.ErrInvalidModel, ErrTooLarge, d.ID, u.Redacted(), limit)
	}
	return buf.Bytes(), nil
}

// Load is the common start of a format's loader: it checks that d names
// model bytes (inline data or a location) within max bytes and reads them.
// Errors wrap serving.ErrInvalidModel and read "FORMAT: model "ID": ...";
// what says what the bytes should be ("the base64 of model.txt").
func Load(d *serving.Descriptor, format, what string, max int64) ([]byte, error) {
	fail := func(msg string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", serving.ErrInvalidModel, format, fmt.Sprintf(msg, args...))
	}
	if d == nil {
		return nil, fail("descriptor is nil")
	}
	if len(d.Data) == 0 && d.Location == "" {
		return nil, fail("model %q: data is missing; want %s, or a location", d.ID, what)
	}
	if int64(len(d.Data)) > max/3*4+8 {
		return nil, fail("model %q: data is %d bytes of base64, over the limit of %d model bytes", d.ID, len(d.Data), max)
	}
	// Inline base64 data, or a file:// or http(s):// location checked
	// against its sha256.
	b, err := ModelBytes(context.Background(), d, Options{MaxBytes: max, MaxInlineBytes: max})
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", serving.ErrInvalidModel, format, err)
	}
	return b, nil
}
