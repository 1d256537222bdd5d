// Package demo implements Portico's demo backend: an in-memory
// portico.demo.v1.LibraryService (shelves and books, see
// proto/portico/demo/v1/library.proto) that `portico demo` serves over gRPC
// and puts the gateway in front of.
//
// The implementation follows the AIP conventions the proto is written in:
// resource names like "shelves/1/books/2", NotFound / InvalidArgument /
// AlreadyExists / FailedPrecondition errors carrying google.rpc error details,
// page_size/page_token pagination and FieldMask updates. It is safe for
// concurrent use and starts seeded with two shelves of books.
package demo
