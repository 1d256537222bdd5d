package jsonwire

import (
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// The fallback path transcodes through dynamicpb and protojson, exactly as
// Portico did before this package existed. It is used for message types
// whose plan is marked fallback (see doc.go for the list of reasons).

func (o MarshalOptions) fallbackJSON(dst []byte, md protoreflect.MessageDescriptor, wire []byte) ([]byte, error) {
	var res Resolver = protoregistry.GlobalTypes
	if o.Resolver != nil {
		res = o.Resolver
	}
	msg := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{Resolver: res}).Unmarshal(wire, msg); err != nil {
		return dst, err
	}
	return protojson.MarshalOptions{
		UseProtoNames:   o.UseProtoNames,
		EmitUnpopulated: o.EmitUnpopulated,
		UseEnumNumbers:  o.UseEnumNumbers,
		Resolver:        res,
	}.MarshalAppend(dst, msg)
}

func (o UnmarshalOptions) fallbackWire(dst []byte, md protoreflect.MessageDescriptor, json []byte) ([]byte, error) {
	var res Resolver = protoregistry.GlobalTypes
	if o.Resolver != nil {
		res = o.Resolver
	}
	msg := dynamicpb.NewMessage(md)
	if err := (protojson.UnmarshalOptions{DiscardUnknown: o.DiscardUnknown, Resolver: res}).Unmarshal(json, msg); err != nil {
		return dst, err
	}
	return proto.MarshalOptions{}.MarshalAppend(dst, msg)
}
