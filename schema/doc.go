// Package schema learns the protobuf schema of a gRPC backend at run time.
//
// A [Schema] is an immutable set of file descriptors together with the
// services the backend serves and a type resolver built over those files
// (dynamicpb), so that messages, enums, google.protobuf.Any payloads and
// google.rpc.Status details can be encoded and decoded without code generated
// for the API and without consulting the global registry first.
//
// Schemas come from three kinds of source:
//
//  1. gRPC server reflection on the backend ([FromReflection]):
//     grpc.reflection.v1, falling back to v1alpha, with every file resolved
//     transitively.
//  2. A descriptor file ([FromFile]): a buf image or a FileDescriptorSet
//     (protoc --include_imports --descriptor_set_out), in binary or in the
//     protobuf JSON form of either.
//  3. A directory of .proto files compiled at load time ([FromProtos]),
//     with google/api, google/rpc and the well-known types resolved from
//     descriptors linked into Portico.
//
// Package transcoder turns one Schema per backend into routes.
package schema
