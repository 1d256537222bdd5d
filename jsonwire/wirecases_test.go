package jsonwire

import (
	"math"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}
func vi(n protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, n, protowire.VarintType), v)
}
func ld(n protowire.Number, parts ...[]byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, n, protowire.BytesType), cat(parts...))
}
func fx32(n protowire.Number, v uint32) []byte {
	return protowire.AppendFixed32(protowire.AppendTag(nil, n, protowire.Fixed32Type), v)
}
func fx64(n protowire.Number, v uint64) []byte {
	return protowire.AppendFixed64(protowire.AppendTag(nil, n, protowire.Fixed64Type), v)
}
func grp(n protowire.Number, parts ...[]byte) []byte {
	b := protowire.AppendTag(nil, n, protowire.StartGroupType)
	b = append(b, cat(parts...)...)
	return protowire.AppendTag(b, n, protowire.EndGroupType)
}
func s(x string) []byte { return []byte(x) }

var everythingWireCases = [][]byte{
	nil,
	cat(vi(3, 1), vi(3, 2)),
	cat(vi(3, math.MaxUint64), vi(5, math.MaxUint64), vi(7, math.MaxUint64), vi(8, 1)),
	{0x18, 0xff, 0xff, 0xff, 0xff, 0x0f},
	cat(vi(13, 2), vi(16, 99), vi(16, 0)),
	cat(fx32(3, 5)),
	cat(fx32(2, 0x7fc00001), fx64(1, 1<<63)),
	cat(fx32(2, 0x80000000), fx64(1, 0x7ff0000000000001)),
	cat(ld(24, ld(1, s("a"))), ld(24, vi(2, 2))),
	cat(ld(24, ld(1, s("a"))), ld(24, ld(1, s("b")))),
	cat(ld(24, ld(3, ld(1, s("x")))), ld(24, ld(3, vi(2, 7)))),
	cat(ld(60, s("s")), vi(61, 0)),
	cat(vi(61, 3), ld(60, s("s"))),
	cat(vi(61, 3), ld(60, s("s")), vi(61, 4)),
	cat(vi(61, 3), ld(60, s("\xff")), vi(61, 4)),
	cat(ld(14, s("\xff")), ld(14, s("ok"))),
	cat(ld(14, s("ok")), ld(14, s("\xff"))),
	cat(ld(20, vi(1, 0)[1:], vi(1, 5)[1:]), vi(20, 7), ld(20)),
	cat(ld(20)),
	cat(ld(20, []byte{0x80})),
	cat(ld(22, []byte{1, 2, 99}), vi(22, 0)),
	cat(ld(50, ld(1, s("k")), ld(2, s("v1"))), ld(50, ld(1, s("k")), ld(2, s("v2")))),
	cat(ld(50, ld(2, s("nokey"))), ld(50, ld(1, s("novalue")))),
	cat(ld(50, ld(1, s("k")), vi(3, 1), ld(2, s("v")))),
	cat(ld(50, ld(1, s("k")), ld(2, s("\xff"))), ld(50, ld(1, s("k")), ld(2, s("v")))),
	cat(ld(50, ld(1, s("\xff")), ld(2, s("v")))),
	cat(ld(50, vi(1, 3))),
	cat(ld(51, vi(1, math.MaxUint64), ld(2, s("neg"))), ld(51, vi(1, 5), ld(2, s("five"))), ld(51, ld(2, s("zero")))),
	cat(ld(52, ld(1, s("a")), ld(2, ld(1, s("l")))), ld(52, ld(1, s("a")), ld(2, vi(2, 3)), ld(2, ld(1, s("m"))))),
	cat(ld(52, ld(1, s("a")), ld(2, ld(1, s("\xff")))), ld(52, ld(1, s("a")))),
	cat(ld(52, ld(1, s("a")), ld(2, []byte{0x0a}))),
	cat(ld(53, ld(1, s("c")), vi(2, 1)), ld(53, ld(1, s("d")), vi(2, 42))),
	cat(ld(40, vi(1, 1600000000)), ld(40, vi(2, 5000))),
	cat(ld(40, vi(1, math.MaxUint64))),
	cat(ld(40, vi(2, 1e9))),
	cat(ld(41, vi(1, 5), vi(2, math.MaxUint64))),
	cat(ld(41, vi(1, math.MaxUint64), vi(2, math.MaxUint64-999))),
	cat(ld(41, vi(2, 1)), ld(41, vi(2, 1000))),
	cat(ld(44, fx64(2, math.Float64bits(1.5))), ld(44, ld(3, s("str")))),
	cat(ld(44, ld(3, s("str"))), ld(44, fx64(2, math.Float64bits(math.NaN())))),
	cat(ld(44)),
	cat(ld(44, vi(1, 7))),
	cat(ld(44, ld(5, ld(1, ld(1, s("k")), ld(2, vi(4, 1)))), ld(5, ld(1, ld(1, s("j")))))),
	cat(ld(44, ld(6, ld(1, vi(4, 1)), ld(1)))),
	cat(ld(43, ld(1, ld(1, s("b")), ld(2, vi(1, 0))), ld(1, ld(1, s("a")), ld(2, ld(3, s("x")))))),
	cat(ld(42, ld(1, s("foo_bar")), ld(1, s("a.b")))),
	cat(ld(42, ld(1, s("fooBar")))),
	cat(ld(45, ld(1, s("type.googleapis.com/portico.testing.v1.Nested"))), ld(45, ld(2, ld(1, s("q"))))),
	cat(ld(45, ld(2, s("x")))),
	cat(ld(45, ld(1, s("type.googleapis.com/google.protobuf.Duration")), ld(2, vi(1, 3)))),
	cat(ld(45, ld(1, s("type.googleapis.com/google.protobuf.Empty")))),
	cat(ld(45, ld(1, s("type.googleapis.com/nope.Nope")))),
	cat(ld(45, ld(1, s("type.googleapis.com/portico.testing.v1.Nested")), ld(2, []byte{0xff}))),
	cat(ld(30, fx64(1, 0)), ld(34), ld(37, ld(1, s(""))), ld(36, vi(1, 1)), ld(32, vi(1, math.MaxUint64))),
	cat(vi(70, 0)),
	cat(grp(99, vi(1, 1)), vi(3, 1)),
	{0x00},
	{0x18},
	{0x1a, 0x05, 0x01},
	{0x1c},
	cat(grp(99, vi(1, 1))[:3]),
	{0xfa, 0xff, 0xff, 0xff, 0x0f, 0x00},
	{0xf8, 0xff, 0xff, 0xff, 0x7f, 0x00},
}

var p2WireCases = [][]byte{
	vi(1, 1),
	nil,
	cat(vi(1, 1), grp(6, vi(1, 5)), grp(6, ld(2, s("b")))),
	cat(vi(1, 1), grp(15, vi(1, 3)), grp(15)),
	cat(vi(1, 1), grp(6, vi(1, 5))[:3]),
	cat(vi(1, 1), ld(6, vi(1, 5))),
	cat(vi(1, 1), ld(17, vi(2, 1))),
	cat(vi(1, 1), ld(17, vi(2, 1)), ld(17, ld(1, s("r")))),
	cat(vi(1, 1), ld(7, vi(1, 2)), ld(7, ld(7, vi(1, 3)))),
	cat(vi(1, 1), ld(7)),
	cat(vi(1, 1), ld(13, vi(2, 3)), ld(12, s("x"))),
	cat(vi(1, 1), ld(13, vi(2, 3)), ld(12, s("x")), ld(13, ld(1, s("r")))),
	cat(vi(1, 1), ld(12, s("\xff"))),
	cat(vi(1, 1), ld(12, s("\xff")), ld(12, s("ok"))),
	cat(vi(1, 1), ld(8, vi(1, 1), ld(2, ld(1, s("x")))), ld(8, vi(1, 0))),
	cat(vi(1, 1), ld(8, vi(1, 1), ld(2, vi(2, 1))), ld(8, vi(1, 1), ld(2, ld(1, s("x"))))),
	cat(vi(1, 1), ld(9, vi(1, 3), ld(2, s("ab"))), ld(9, vi(1, 4))),
	cat(vi(1, 1), ld(10, fx64(1, math.MaxUint64), vi(2, uint64(math.MaxUint64-2))), ld(10, fx64(1, 2))),
	cat(vi(1, 1), ld(26, vi(1, math.MaxUint64), ld(2, s("m"))), ld(26, vi(1, 1<<62), ld(2, s("\xff")))),
	cat(vi(1, 1), vi(3, 5), vi(3, 99), vi(16, 5), ld(16, []byte{0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})),
	cat(vi(1, 1), vi(100, 5), ld(101, ld(1, s("e"))), ld(102, s("a")), ld(102, s("b")), ld(103, []byte{1, 2}), vi(103, 3)),
	cat(vi(1, 1), ld(101, vi(2, 1))),
	cat(vi(1, 1), vi(150, 5)),
	cat(vi(1, 1), vi(21, 3), vi(22, 0), ld(22, []byte{0, 1})),
	cat(vi(1, 1), ld(23, vi(1, 0)), ld(23, ld(3, s("")))),
	cat(vi(1, 1), ld(20, ld(1, s("type.googleapis.com/jsonwire.test.P2.Inner")), ld(2, vi(2, 1)))),
	cat(vi(1, 1), ld(20, ld(1, s("type.googleapis.com/jsonwire.test.P2")), ld(2, vi(2, 1)))),
	cat(vi(1, 1), ld(4, []byte{1, 2, 3}), vi(4, 4), ld(5, []byte{1, 2, 3, 4}), fx32(5, 9)),
	cat(vi(1, 1), ld(5, []byte{1, 2, 3})),
	cat(vi(1, 1), vi(19, 0), vi(24, 0), fx64(25, 0), ld(2), fx64(11, 0)),
}

func TestWireToJSONCases(t *testing.T) {
	for i, w := range everythingWireCases {
		for _, o := range allMarshalOptions() {
			if msg := checkWireToJSON(o, testMsgs[0], w); msg != "" {
				t.Errorf("Everything case %d %x %+v: %s", i, w, o, msg)
			}
		}
	}
	for i, w := range p2WireCases {
		for _, o := range allMarshalOptions() {
			if msg := checkWireToJSON(o, p2Desc, w); msg != "" {
				t.Errorf("P2 case %d %x %+v: %s", i, w, o, msg)
			}
		}
	}
}
