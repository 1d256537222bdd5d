package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/types/known/timestamppb"

	benchv1 "github.com/portico-gw/portico/gen/portico/bench/v1"
)

// benchService is the backend every system calls: GetItem answers a small
// item, CreateOrder echoes the order, StreamItems sends count small items.
type benchService struct {
	benchv1.UnimplementedBenchServiceServer
}

var itemTime = timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC))

func smallItem(id string) *benchv1.Item {
	return &benchv1.Item{
		Id:          id,
		Name:        "Stainless steel water bottle, 750 ml",
		PriceMicros: 24_990_000,
		State:       benchv1.ItemState_ITEM_STATE_ACTIVE,
		Tags:        []string{"kitchen", "outdoor"},
		UpdateTime:  itemTime,
	}
}

func (benchService) GetItem(_ context.Context, req *benchv1.GetItemRequest) (*benchv1.Item, error) {
	return smallItem(req.GetId()), nil
}

func (benchService) CreateOrder(_ context.Context, o *benchv1.Order) (*benchv1.Order, error) {
	return o, nil
}

func (benchService) StreamItems(req *benchv1.StreamItemsRequest, stream grpc.ServerStreamingServer[benchv1.Item]) error {
	it := smallItem("")
	for i := range int(req.GetCount()) {
		it.Id = "item-" + strconv.Itoa(i)
		if err := stream.Send(it); err != nil {
			return err
		}
	}
	return nil
}

// startBackend serves the bench backend, with server reflection, on a
// loopback port.
func startBackend() (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := grpc.NewServer()
	benchv1.RegisterBenchServiceServer(srv, benchService{})
	reflection.Register(srv)
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), srv.Stop, nil
}

// bigOrder builds an order whose JSON form is about 64 KiB: many line items
// with strings, numbers, enums, timestamps and nested messages.
func bigOrder() *benchv1.Order {
	base := time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)
	o := &benchv1.Order{
		Id:         "orders/2026-03-14-000042",
		CustomerId: "customers/8b1f6a0e-4c55-4e0e-9a57-0f3c2b7d91aa",
		State:      benchv1.OrderState_ORDER_STATE_PAID,
		ShippingAddress: &benchv1.Address{
			Recipient: "Ada Lovelace", Lines: []string{"12 St James's Square", "Flat 3"},
			Locality: "London", Region: "Greater London", PostalCode: "SW1Y 4JH", CountryCode: "GB",
		},
		BillingAddress: &benchv1.Address{
			Recipient: "Analytical Engines Ltd", Lines: []string{"1 Babbage Row"},
			Locality: "Cambridge", Region: "Cambridgeshire", PostalCode: "CB2 1TN", CountryCode: "GB",
		},
		CreateTime: timestamppb.New(base),
		UpdateTime: timestamppb.New(base.Add(90 * time.Second)),
		Total:      &benchv1.Money{CurrencyCode: "EUR", Units: 123456, Nanos: 780_000_000},
		Labels:     map[string]string{"channel": "web", "campaign": "spring-sale", "priority": "standard"},
		Note:       "Leave the parcel with the concierge if nobody answers.",
	}
	kinds := []benchv1.LineItemKind{benchv1.LineItemKind_LINE_ITEM_KIND_PHYSICAL, benchv1.LineItemKind_LINE_ITEM_KIND_DIGITAL, benchv1.LineItemKind_LINE_ITEM_KIND_SERVICE}
	for i := 0; ; i++ {
		o.LineItems = append(o.LineItems, &benchv1.LineItem{
			Sku:          fmt.Sprintf("SKU-%06d-%c", 100000+i*37, 'A'+rune(i%26)),
			Description:  fmt.Sprintf("Item %d: ergonomic widget, anodised aluminium, model %d", i, 3000+i),
			Quantity:     int32(1 + i%7),
			UnitPrice:    &benchv1.Money{CurrencyCode: "EUR", Units: int64(9 + i%90), Nanos: int32(990_000_000 - i*1000)},
			DiscountRate: float64(i%5) * 0.05,
			Kind:         kinds[i%len(kinds)],
			ShipTime:     timestamppb.New(base.Add(time.Duration(i) * time.Hour)),
			Dimensions:   &benchv1.Dimensions{LengthCm: 10.5 + float32(i%10), WidthCm: 4.25, HeightCm: 2 + float32(i%3), WeightKg: 0.125 * float64(1+i%8)},
			Attributes:   []string{"colour:graphite", fmt.Sprintf("batch:%d", 7000+i)},
			Gift:         i%9 == 0,
			WarehouseId:  uint64(1_000_000_000_000 + i),
		})
		if i%16 == 15 && len(mustJSON(o)) >= 64<<10 {
			return o
		}
	}
}
