package jsonwire

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

const benchSchema = `
name: "jsonwire_bench.proto"
package: "jsonwire.bench"
syntax: "proto3"
dependency: "google/protobuf/timestamp.proto"
message_type {
  name: "Batch"
  field { name: "orders" number: 1 label: LABEL_REPEATED type: TYPE_MESSAGE type_name: ".jsonwire.bench.Order" json_name: "orders" }
  field { name: "cursor" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "cursor" }
  field { name: "total" number: 3 label: LABEL_OPTIONAL type: TYPE_INT32 json_name: "total" }
}
message_type {
  name: "Order"
  field { name: "order_id" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "orderId" }
  field { name: "amount_cents" number: 2 label: LABEL_OPTIONAL type: TYPE_INT64 json_name: "amountCents" }
  field { name: "price" number: 3 label: LABEL_OPTIONAL type: TYPE_DOUBLE json_name: "price" }
  field { name: "status" number: 4 label: LABEL_OPTIONAL type: TYPE_ENUM type_name: ".jsonwire.bench.Status" json_name: "status" }
  field { name: "created" number: 5 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".google.protobuf.Timestamp" json_name: "created" }
  field { name: "tags" number: 6 label: LABEL_REPEATED type: TYPE_STRING json_name: "tags" }
  field { name: "items" number: 7 label: LABEL_REPEATED type: TYPE_MESSAGE type_name: ".jsonwire.bench.Item" json_name: "items" }
  field { name: "paid" number: 8 label: LABEL_OPTIONAL type: TYPE_BOOL json_name: "paid" }
  field { name: "customer" number: 9 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "customer" }
}
message_type {
  name: "Item"
  field { name: "sku" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "sku" }
  field { name: "quantity" number: 2 label: LABEL_OPTIONAL type: TYPE_INT32 json_name: "quantity" }
  field { name: "weight" number: 3 label: LABEL_OPTIONAL type: TYPE_FLOAT json_name: "weight" }
  field { name: "ids" number: 4 label: LABEL_REPEATED type: TYPE_UINT64 json_name: "ids" }
}
enum_type { name: "Status" value { name: "STATUS_UNSPECIFIED" number: 0 } value { name: "STATUS_OPEN" number: 1 } value { name: "STATUS_SHIPPED" number: 2 } }
`

func benchData(tb testing.TB) (protoreflect.MessageDescriptor, []byte, []byte) {
	fdp := &descriptorpb.FileDescriptorProto{}
	if err := prototext.Unmarshal([]byte(benchSchema), fdp); err != nil {
		tb.Fatal(err)
	}
	f, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		tb.Fatal(err)
	}
	batch := f.Messages().ByName("Batch")
	order := f.Messages().ByName("Order")
	item := f.Messages().ByName("Item")
	m := dynamicpb.NewMessage(batch)
	set := func(m protoreflect.Message, name string, v protoreflect.Value) {
		m.Set(m.Descriptor().Fields().ByName(protoreflect.Name(name)), v)
	}
	list := m.Mutable(batch.Fields().ByName("orders")).List()
	for i := 0; proto.Size(m) < 64<<10; i++ {
		o := dynamicpb.NewMessage(order)
		set(o, "order_id", protoreflect.ValueOfString(fmt.Sprintf("ord-%08d", i)))
		set(o, "amount_cents", protoreflect.ValueOfInt64(int64(i)*12345))
		set(o, "price", protoreflect.ValueOfFloat64(float64(i)*1.25+0.01))
		set(o, "status", protoreflect.ValueOfEnum(protoreflect.EnumNumber(i%3)))
		ts := dynamicpb.NewMessage(order.Fields().ByName("created").Message())
		set(ts, "seconds", protoreflect.ValueOfInt64(1700000000+int64(i)*37))
		set(ts, "nanos", protoreflect.ValueOfInt32(int32(i%7)*1000000))
		set(o, "created", protoreflect.ValueOfMessage(ts))
		tags := o.Mutable(order.Fields().ByName("tags")).List()
		tags.Append(protoreflect.ValueOfString("priority"))
		tags.Append(protoreflect.ValueOfString(fmt.Sprintf("region-%d", i%5)))
		items := o.Mutable(order.Fields().ByName("items")).List()
		for k := 0; k < 2; k++ {
			it := dynamicpb.NewMessage(item)
			set(it, "sku", protoreflect.ValueOfString(fmt.Sprintf("SKU-%d-%d", i, k)))
			set(it, "quantity", protoreflect.ValueOfInt32(int32(k+1)))
			set(it, "weight", protoreflect.ValueOfFloat32(float32(k)+0.5))
			ids := it.Mutable(item.Fields().ByName("ids")).List()
			ids.Append(protoreflect.ValueOfUint64(uint64(i) * 1000003))
			items.Append(protoreflect.ValueOfMessage(it))
		}
		set(o, "paid", protoreflect.ValueOfBool(i%2 == 0))
		set(o, "customer", protoreflect.ValueOfString("Customer \"Name\" é"))
		list.Append(protoreflect.ValueOfMessage(o))
	}
	set(m, "cursor", protoreflect.ValueOfString("next-page"))
	set(m, "total", protoreflect.ValueOfInt32(int32(list.Len())))
	wire, err := proto.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	js, err := protojson.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return batch, wire, js
}

func TestBenchDataAgrees(t *testing.T) {
	md, wire, js := benchData(t)
	if msg := checkWireToJSON(MarshalOptions{}, md, wire); msg != "" {
		t.Fatal(msg)
	}
	if msg := checkJSONToWire(UnmarshalOptions{}, md, js); msg != "" {
		t.Fatal(msg)
	}
}

func BenchmarkWireToJSON(b *testing.B) {
	md, wire, _ := benchData(b)
	b.Run("jsonwire", func(b *testing.B) {
		b.SetBytes(int64(len(wire)))
		b.ReportAllocs()
		var buf []byte
		for i := 0; i < b.N; i++ {
			var err error
			if buf, err = (MarshalOptions{}).AppendJSON(buf[:0], md, wire); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("dynamicpb+protojson", func(b *testing.B) {
		b.SetBytes(int64(len(wire)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			m := dynamicpb.NewMessage(md)
			if err := proto.Unmarshal(wire, m); err != nil {
				b.Fatal(err)
			}
			if _, err := protojson.Marshal(m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkJSONToWire(b *testing.B) {
	md, _, js := benchData(b)
	b.Run("jsonwire", func(b *testing.B) {
		b.SetBytes(int64(len(js)))
		b.ReportAllocs()
		var buf []byte
		for i := 0; i < b.N; i++ {
			var err error
			if buf, err = (UnmarshalOptions{}).AppendWire(buf[:0], md, js); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("protojson+dynamicpb", func(b *testing.B) {
		b.SetBytes(int64(len(js)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			m := dynamicpb.NewMessage(md)
			if err := protojson.Unmarshal(js, m); err != nil {
				b.Fatal(err)
			}
			if _, err := proto.Marshal(m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
