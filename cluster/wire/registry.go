package wire

import (
	"errors"
	"fmt"
	"sync"

	"github.com/asynkron/protoactor-go/remote"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/actorserve/actorserve/internal/msgpackcheck"
)

// Message is implemented by every type that crosses nodes. Serialize is
// protoactor's send-side hook: it turns the value into an *Envelope. Types
// implement it in one line with Pack.
type Message interface {
	remote.RootSerializable
}

// ErrUnknownType is returned when an envelope carries a type id that this
// binary does not know (a newer peer, or a corrupt frame).
var ErrUnknownType = errors.New("wire: unknown message type")

type entry struct {
	name string
	new  func() Message
}

var (
	mu    sync.RWMutex
	types = map[uint32]entry{}
)

// Register binds a type id to a constructor. Ids are part of the wire format:
// they are declared in exactly one place per package (an append-only list of
// constants) and never reused or renumbered. Register panics on a duplicate id
// because that is a programming error found at init time, never at run time.
func Register(id uint32, name string, newFn func() Message) {
	mu.Lock()
	defer mu.Unlock()
	if old, ok := types[id]; ok {
		panic(fmt.Sprintf("wire: type id %d registered twice (%s and %s)", id, old.name, name))
	}
	types[id] = entry{name: name, new: newFn}
}

// Pack encodes m as msgpack inside an Envelope of type id.
func Pack(id uint32, m any) (remote.RootSerialized, error) {
	b, err := msgpack.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("wire: encode type %d: %w", id, err)
	}
	return &Envelope{Type: id, Data: b}, nil
}

// Deserialize is protoactor's receive-side hook: it decodes the msgpack
// payload into a fresh value of the registered type.
func (x *Envelope) Deserialize() (remote.RootSerializable, error) {
	mu.RLock()
	e, ok := types[x.GetType()]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %d", ErrUnknownType, x.GetType())
	}
	m := e.new()
	// A length prefix claiming more than the frame holds would make the
	// msgpack library allocate for it first (msgpackcheck says why).
	if err := msgpackcheck.Check(x.GetData()); err != nil {
		return nil, fmt.Errorf("wire: decode %s: %w", e.name, err)
	}
	if err := msgpackcheck.Unmarshal(x.GetData(), m); err != nil {
		return nil, fmt.Errorf("wire: decode %s: %w", e.name, err)
	}
	if u, ok := m.(Upgrader); ok {
		return u.Upgrade(), nil
	}
	return m, nil
}

// Upgrader is a message in an older wire form that is delivered as its
// current type: the registry keeps reading the old type id after the
// message moved to a new one.
type Upgrader interface {
	Upgrade() Message
}

// RoundTrip encodes and decodes m exactly as a remote send would. Tests use
// it to prove a type survives the wire without starting two nodes.
func RoundTrip(m Message) (Message, error) {
	s, err := m.Serialize()
	if err != nil {
		return nil, err
	}
	env, ok := s.(*Envelope)
	if !ok {
		return nil, fmt.Errorf("wire: %T serialized to %T, want *Envelope", m, s)
	}
	out, err := env.Deserialize()
	if err != nil {
		return nil, err
	}
	return out.(Message), nil
}

// Error is the reply a remote actor sends instead of a result. Code is a
// stable machine-readable reason (the HTTP layer passes it on).
type Error struct {
	Code    string `msgpack:"c"`
	Message string `msgpack:"m"`
}

func (e *Error) Error() string { return e.Message }

// Serialize implements Message.
func (e *Error) Serialize() (remote.RootSerialized, error) { return Pack(TypeError, e) }

// Type ids owned by this package. ONLY APPEND; never renumber or reuse.
const (
	TypeError uint32 = 1
	// Ids 2..99 are reserved for package cluster; other packages start at 100.
)

func init() {
	Register(TypeError, "wire.Error", func() Message { return new(Error) })
}
