package source

import (
	"container/list"
	"context"
	"sync"
)

// DefaultCache is the cache [ModelBytes] uses when [Options.Cache] is nil: up to 512 MiB in
// at most 32 models.
var DefaultCache = NewCache(512<<20, 32)

// Cache keeps recently fetched model bytes, least recently used out first, within a byte and
// an entry budget. Concurrent requests for the same key share one fetch. It is safe for
// concurrent use; the zero value is not usable, call [NewCache].
type Cache struct {
	maxBytes   int64
	maxEntries int

	mu       sync.Mutex
	size     int64
	lru      *list.List // of *entry, most recent first
	items    map[string]*list.Element
	inflight map[string]*call
}

type entry struct {
	key string
	b   []byte
}

type call struct {
	done chan struct{}
	b    []byte
	err  error
}

// NewCache returns a cache of at most maxBytes bytes in at most maxEntries models. Models
// larger than maxBytes are fetched but not kept.
func NewCache(maxBytes int64, maxEntries int) *Cache {
	return &Cache{
		maxBytes:   maxBytes,
		maxEntries: maxEntries,
		lru:        list.New(),
		items:      make(map[string]*list.Element),
		inflight:   make(map[string]*call),
	}
}

// Len returns the number of cached models; Bytes their total size.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Bytes returns the total size of the cached models.
func (c *Cache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// Purge drops every cached model.
func (c *Cache) Purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Init()
	clear(c.items)
	c.size = 0
}

// get returns the bytes under key, calling fetch at most once at a time per key. A failed
// fetch is not cached. Callers waiting on another caller's fetch stop waiting when their ctx
// ends.
func (c *Cache) get(ctx context.Context, key string, fetch func(context.Context) ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	if el, ok := c.items[key]; ok {
		c.lru.MoveToFront(el)
		b := el.Value.(*entry).b
		c.mu.Unlock()
		return b, nil
	}
	if cl, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		select {
		case <-cl.done:
			return cl.b, cl.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	cl := &call{done: make(chan struct{})}
	c.inflight[key] = cl
	c.mu.Unlock()

	cl.b, cl.err = fetch(ctx)

	c.mu.Lock()
	delete(c.inflight, key)
	if cl.err == nil {
		c.add(key, cl.b)
	}
	c.mu.Unlock()
	close(cl.done)
	return cl.b, cl.err
}

// add stores b under key and evicts the least recently used entries over budget; c.mu held.
func (c *Cache) add(key string, b []byte) {
	n := int64(len(b))
	if n > c.maxBytes || c.maxEntries <= 0 {
		return
	}
	c.items[key] = c.lru.PushFront(&entry{key: key, b: b})
	c.size += n
	for c.size > c.maxBytes || c.lru.Len() > c.maxEntries {
		el := c.lru.Back()
		e := el.Value.(*entry)
		c.lru.Remove(el)
		delete(c.items, e.key)
		c.size -= int64(len(e.b))
	}
}
