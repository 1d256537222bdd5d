package demo

import (
	"context"
	"net"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	demov1 "github.com/portico-gw/portico/gen/portico/demo/v1"
)

// dial serves a fresh Library on a loopback port and returns a client conn.
func dial(t *testing.T) *grpc.ClientConn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	Register(srv)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
		<-done
	})
	return conn
}

func wantCode(t *testing.T, err error, code codes.Code) *status.Status {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code {
		t.Fatalf("got %v, want code %v", err, code)
	}
	return st
}

func TestLibraryOverGRPC(t *testing.T) {
	ctx := t.Context()
	c := demov1.NewLibraryServiceClient(dial(t))

	shelves, err := c.ListShelves(ctx, &demov1.ListShelvesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(shelves.GetShelves()); got != 2 {
		t.Fatalf("seeded shelves = %d, want 2", got)
	}

	b, err := c.GetBook(ctx, &demov1.GetBookRequest{Name: "shelves/1/books/1"})
	if err != nil {
		t.Fatal(err)
	}
	if b.GetTitle() != "The Left Hand of Darkness" {
		t.Errorf("title = %q", b.GetTitle())
	}

	created, err := c.CreateBook(ctx, &demov1.CreateBookRequest{
		Parent: "shelves/1",
		Book:   &demov1.Book{Title: "Dune", Author: "Frank Herbert", PublicationYear: 1965},
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.GetName() != "shelves/1/books/3" {
		t.Errorf("created name = %q, want shelves/1/books/3", created.GetName())
	}
	_, err = c.CreateBook(ctx, &demov1.CreateBookRequest{Parent: "shelves/1", BookId: "3", Book: &demov1.Book{Title: "x"}})
	wantCode(t, err, codes.AlreadyExists)

	// Pagination walks all three books of shelf 1.
	var titles []string
	token := ""
	for {
		resp, err := c.ListBooks(ctx, &demov1.ListBooksRequest{Parent: "shelves/1", PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range resp.GetBooks() {
			titles = append(titles, b.GetTitle())
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(titles) != 3 {
		t.Errorf("paged titles = %q, want 3", titles)
	}
	_, err = c.ListBooks(ctx, &demov1.ListBooksRequest{Parent: "shelves/1", PageToken: "garbage"})
	wantCode(t, err, codes.InvalidArgument)

	// FieldMask update changes only the masked field.
	upd, err := c.UpdateBook(ctx, &demov1.UpdateBookRequest{
		Book:       &demov1.Book{Name: "shelves/1/books/3", Title: "ignored", Borrower: "ada"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"borrower"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if upd.GetBorrower() != "ada" || upd.GetTitle() != "Dune" {
		t.Errorf("after update: borrower %q title %q", upd.GetBorrower(), upd.GetTitle())
	}
	_, err = c.UpdateBook(ctx, &demov1.UpdateBookRequest{
		Book:       &demov1.Book{Name: "shelves/1/books/3"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}},
	})
	wantCode(t, err, codes.InvalidArgument)

	_, err = c.CheckoutBook(ctx, &demov1.CheckoutBookRequest{Name: "shelves/1/books/3", Borrower: "grace"})
	wantCode(t, err, codes.FailedPrecondition)

	// Errors carry AIP details.
	_, err = c.GetShelf(ctx, &demov1.GetShelfRequest{Name: "shelves/404"})
	st := wantCode(t, err, codes.NotFound)
	if d := st.Details(); len(d) != 1 {
		t.Errorf("NotFound details = %v", d)
	} else if ri, ok := d[0].(*errdetails.ResourceInfo); !ok || ri.GetResourceName() != "shelves/404" {
		t.Errorf("NotFound detail = %v", d[0])
	}
	_, err = c.GetShelf(ctx, &demov1.GetShelfRequest{Name: "bogus"})
	wantCode(t, err, codes.InvalidArgument)

	// HttpBody in and out.
	if _, err := c.UploadBookCover(ctx, &demov1.UploadBookCoverRequest{
		Name: "shelves/1/books/3", Cover: &httpbody.HttpBody{ContentType: "image/png", Data: []byte{0x89, 'P', 'N', 'G'}},
	}); err != nil {
		t.Fatal(err)
	}
	cover, err := c.GetBookCover(ctx, &demov1.GetBookCoverRequest{Name: "shelves/1/books/3"})
	if err != nil {
		t.Fatal(err)
	}
	if cover.GetContentType() != "image/png" || len(cover.GetData()) != 4 {
		t.Errorf("cover = %v", cover)
	}
	_, err = c.UploadBookCover(ctx, &demov1.UploadBookCoverRequest{
		Name: "shelves/1/books/3", Cover: &httpbody.HttpBody{ContentType: "text/plain", Data: []byte("x")},
	})
	wantCode(t, err, codes.InvalidArgument)
	f, err := c.GetShelfFile(ctx, &demov1.GetShelfFileRequest{Name: "shelves/1/files/scans/2024/index.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if string(f.GetData()) != "no scans yet\n" {
		t.Errorf("file = %q", f.GetData())
	}

	// A locked shelf rejects writes.
	if _, err := c.LockShelf(ctx, &demov1.LockShelfRequest{Name: "shelves/2"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteBook(ctx, &demov1.DeleteBookRequest{Name: "shelves/2/books/1"})
	wantCode(t, err, codes.FailedPrecondition)
	if _, err := c.DeleteBook(ctx, &demov1.DeleteBookRequest{Name: "shelves/1/books/3"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBook(ctx, &demov1.GetBookRequest{Name: "shelves/1/books/3"})
	wantCode(t, err, codes.NotFound)
}

func TestReflectionRegistered(t *testing.T) {
	conn := dial(t)
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range resp.GetListServicesResponse().GetService() {
		found = found || s.GetName() == demov1.LibraryService_ServiceDesc.ServiceName
	}
	if !found {
		t.Errorf("reflection services = %v, want %s", resp.GetListServicesResponse().GetService(), demov1.LibraryService_ServiceDesc.ServiceName)
	}
}

func TestConcurrentCreates(t *testing.T) {
	lib := NewLibrary()
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := lib.CreateBook(ctx, &demov1.CreateBookRequest{Parent: "shelves/2", Book: &demov1.Book{Title: "t"}}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	resp, err := lib.ListBooks(ctx, &demov1.ListBooksRequest{Parent: "shelves/2", PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(resp.GetBooks()); got != 22 {
		t.Errorf("books = %d, want 22", got)
	}
}
