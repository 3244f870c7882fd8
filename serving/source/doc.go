// Package source fetches a model's bytes for a loader: from a descriptor's inline data
// (base64, through [serving.Descriptor.DataBytes]) or from its location, a file:// path or an
// http(s):// URL. [ModelBytes] is the one call loaders make; [Options] sets the size limits,
// the HTTP timeout and client, the directory file:// paths must stay inside and the [Cache]
// that keeps recently fetched models so that every activation of a model does not download
// it again.
//
// Every path is bounded: inline data is checked against [Options.MaxInlineBytes] before it is
// decoded, files are checked with stat and read through a limit, and HTTP bodies are read
// through a limit (a Content-Length over the limit fails before reading) so a hostile server
// cannot make the node allocate more than the limit. When the descriptor carries sha256 the
// bytes are verified before they are returned or cached; a mismatch names both digests.
//
// Errors wrap [ErrFetch] (the location could not be read: I/O error, HTTP status, timeout),
// [ErrTooLarge] or [ErrChecksum]; the last two also wrap [serving.ErrInvalidModel].
// Problems with the descriptor itself (bad base64, no data and no location) wrap
// [serving.ErrInvalidDescriptor].
package source
