package demo

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	demov1 "github.com/portico-gw/portico/gen/portico/demo/v1"
)

const (
	shelfType = "library.portico.dev/Shelf"
	bookType  = "library.portico.dev/Book"

	defaultPageSize = 10
	maxPageSize     = 100
)

// idPattern is the AIP-122 resource ID syntax used for shelf and book IDs.
var idPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Register registers a freshly seeded Library and the gRPC server reflection
// service on s, and returns the Library.
func Register(s *grpc.Server) *Library {
	lib := NewLibrary()
	demov1.RegisterLibraryServiceServer(s, lib)
	reflection.Register(s)
	return lib
}

// Library is an in-memory LibraryService. The zero value is not usable; use
// NewLibrary or NewEmptyLibrary.
type Library struct {
	demov1.UnimplementedLibraryServiceServer

	now func() time.Time

	mu      sync.Mutex
	shelves map[string]*shelf // by shelf ID
}

type shelf struct {
	msg   *demov1.Shelf
	books map[string]*book              // by book ID
	files map[string]*httpbody.HttpBody // by path below files/
}

type book struct {
	msg   *demov1.Book
	cover *httpbody.HttpBody
}

// NewEmptyLibrary returns a Library with no shelves.
func NewEmptyLibrary() *Library {
	return &Library{now: time.Now, shelves: map[string]*shelf{}}
}

// NewLibrary returns a Library seeded with two shelves:
//
//	shelves/1 "Fiction": books/1 The Left Hand of Darkness, books/2 A Wizard of Earthsea
//	shelves/2 "Science": books/1 Cosmos, books/2 The Selfish Gene
//
// Shelf 1 also has the files README.md and scans/2024/index.txt, and book
// shelves/1/books/1 has a cover (image/svg+xml).
func NewLibrary() *Library {
	l := NewEmptyLibrary()
	seed := []struct {
		theme string
		books []*demov1.Book
	}{
		{"Fiction", []*demov1.Book{
			{Title: "The Left Hand of Darkness", Author: "Ursula K. Le Guin", PublicationYear: 1969, Tags: []string{"science-fiction"}},
			{Title: "A Wizard of Earthsea", Author: "Ursula K. Le Guin", PublicationYear: 1968, Tags: []string{"fantasy"}},
		}},
		{"Science", []*demov1.Book{
			{Title: "Cosmos", Author: "Carl Sagan", PublicationYear: 1980, Tags: []string{"astronomy"}},
			{Title: "The Selfish Gene", Author: "Richard Dawkins", PublicationYear: 1976, Tags: []string{"biology"}},
		}},
	}
	now := timestamppb.New(l.now())
	for i, s := range seed {
		sid := strconv.Itoa(i + 1)
		sh := &shelf{
			msg:   &demov1.Shelf{Name: "shelves/" + sid, Theme: s.theme, CreateTime: now},
			books: map[string]*book{},
			files: map[string]*httpbody.HttpBody{},
		}
		for j, b := range s.books {
			bid := strconv.Itoa(j + 1)
			b.Name = sh.msg.GetName() + "/books/" + bid
			b.UpdateTime = now
			sh.books[bid] = &book{msg: b}
		}
		l.shelves[sid] = sh
	}
	fiction := l.shelves["1"]
	fiction.files["README.md"] = &httpbody.HttpBody{
		ContentType: "text/markdown; charset=utf-8",
		Data:        []byte("# Fiction\n\nNovels and short stories.\n"),
	}
	fiction.files["scans/2024/index.txt"] = &httpbody.HttpBody{
		ContentType: "text/plain; charset=utf-8",
		Data:        []byte("no scans yet\n"),
	}
	fiction.books["1"].cover = &httpbody.HttpBody{
		ContentType: "image/svg+xml",
		Data:        []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="60" height="90"><rect width="60" height="90" fill="#335"/></svg>`),
	}
	fiction.books["1"].msg.CoverContentType = "image/svg+xml"
	return l
}

// ListShelves lists shelves in name order.
func (l *Library) ListShelves(_ context.Context, req *demov1.ListShelvesRequest) (*demov1.ListShelvesResponse, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var all []*demov1.Shelf
	for _, id := range sortedKeys(l.shelves) {
		s := l.shelves[id].msg
		if matches(req.GetFilter(), s.GetTheme()) {
			all = append(all, s)
		}
	}
	page, next, err := paginate(all, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &demov1.ListShelvesResponse{Shelves: cloneAll(page), NextPageToken: next}, nil
}

// GetShelf returns one shelf.
func (l *Library) GetShelf(_ context.Context, req *demov1.GetShelfRequest) (*demov1.Shelf, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, err := l.lookupShelf("name", req.GetName())
	if err != nil {
		return nil, err
	}
	return proto.CloneOf(s.msg), nil
}

// CreateShelf creates a shelf with shelf_id, or the next free numeric ID.
func (l *Library) CreateShelf(_ context.Context, req *demov1.CreateShelfRequest) (*demov1.Shelf, error) {
	if req.GetShelf() == nil {
		return nil, invalidArgument("shelf", "is required")
	}
	if req.GetShelf().GetTheme() == "" {
		return nil, invalidArgument("shelf.theme", "is required")
	}
	if id := req.GetShelfId(); id != "" && !idPattern.MatchString(id) {
		return nil, invalidArgument("shelf_id", "must match "+idPattern.String())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	id := req.GetShelfId()
	if id == "" {
		id = nextID(l.shelves)
	}
	name := "shelves/" + id
	if _, ok := l.shelves[id]; ok {
		return nil, alreadyExists(shelfType, name)
	}
	msg := &demov1.Shelf{Name: name, Theme: req.GetShelf().GetTheme(), CreateTime: timestamppb.New(l.now())}
	l.shelves[id] = &shelf{msg: msg, books: map[string]*book{}, files: map[string]*httpbody.HttpBody{}}
	return proto.CloneOf(msg), nil
}

// DeleteShelf deletes a shelf and its books. Locked shelves cannot be deleted.
func (l *Library) DeleteShelf(_ context.Context, req *demov1.DeleteShelfRequest) (*emptypb.Empty, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, err := l.lookupShelf("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := checkUnlocked(s); err != nil {
		return nil, err
	}
	delete(l.shelves, strings.TrimPrefix(s.msg.GetName(), "shelves/"))
	return &emptypb.Empty{}, nil
}

// LockShelf marks a shelf locked; locked shelves reject writes to themselves
// and their books. Locking a locked shelf is a no-op.
func (l *Library) LockShelf(_ context.Context, req *demov1.LockShelfRequest) (*demov1.Shelf, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, err := l.lookupShelf("name", req.GetName())
	if err != nil {
		return nil, err
	}
	s.msg.Locked = true
	return proto.CloneOf(s.msg), nil
}

// ListBooks lists the books on a shelf in name order.
func (l *Library) ListBooks(_ context.Context, req *demov1.ListBooksRequest) (*demov1.ListBooksResponse, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, err := l.lookupShelf("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	var all []*demov1.Book
	for _, id := range sortedKeys(s.books) {
		b := s.books[id].msg
		if matches(req.GetFilter(), b.GetTitle()) || matches(req.GetFilter(), b.GetAuthor()) {
			all = append(all, b)
		}
	}
	page, next, err := paginate(all, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &demov1.ListBooksResponse{Books: cloneAll(page), NextPageToken: next}, nil
}

// GetBook returns one book.
func (l *Library) GetBook(_ context.Context, req *demov1.GetBookRequest) (*demov1.Book, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, b, err := l.lookupBook("name", req.GetName())
	if err != nil {
		return nil, err
	}
	return proto.CloneOf(b.msg), nil
}

// CreateBook creates a book with book_id, or the next free numeric ID.
func (l *Library) CreateBook(_ context.Context, req *demov1.CreateBookRequest) (*demov1.Book, error) {
	if req.GetBook() == nil {
		return nil, invalidArgument("book", "is required")
	}
	if req.GetBook().GetTitle() == "" {
		return nil, invalidArgument("book.title", "is required")
	}
	if id := req.GetBookId(); id != "" && !idPattern.MatchString(id) {
		return nil, invalidArgument("book_id", "must match "+idPattern.String())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s, err := l.lookupShelf("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := checkUnlocked(s); err != nil {
		return nil, err
	}
	id := req.GetBookId()
	if id == "" {
		id = nextID(s.books)
	}
	name := s.msg.GetName() + "/books/" + id
	if _, ok := s.books[id]; ok {
		return nil, alreadyExists(bookType, name)
	}
	msg := proto.CloneOf(req.GetBook())
	msg.Name = name
	msg.CoverContentType = ""
	msg.UpdateTime = timestamppb.New(l.now())
	s.books[id] = &book{msg: msg}
	return proto.CloneOf(msg), nil
}

// updatableBookFields are the Book fields UpdateBook may change.
var updatableBookFields = []string{"title", "author", "publication_year", "tags", "borrower"}

// UpdateBook applies the fields named in update_mask from book. An empty
// mask updates the fields that are set (non-zero) in book; "*" replaces all
// updatable fields.
func (l *Library) UpdateBook(_ context.Context, req *demov1.UpdateBookRequest) (*demov1.Book, error) {
	in := req.GetBook()
	if in == nil {
		return nil, invalidArgument("book", "is required")
	}
	paths := req.GetUpdateMask().GetPaths()
	switch {
	case len(paths) == 1 && paths[0] == "*":
		paths = updatableBookFields
	case len(paths) == 0:
		paths = populatedBookFields(in)
	default:
		for _, p := range paths {
			if !slices.Contains(updatableBookFields, p) {
				return nil, invalidArgument("update_mask", fmt.Sprintf("field %q cannot be updated; updatable fields: %s", p, strings.Join(updatableBookFields, ", ")))
			}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s, b, err := l.lookupBook("book.name", in.GetName())
	if err != nil {
		return nil, err
	}
	if err := checkUnlocked(s); err != nil {
		return nil, err
	}
	next := proto.CloneOf(b.msg)
	for _, p := range paths {
		switch p {
		case "title":
			next.Title = in.GetTitle()
		case "author":
			next.Author = in.GetAuthor()
		case "publication_year":
			next.PublicationYear = in.GetPublicationYear()
		case "tags":
			next.Tags = slices.Clone(in.GetTags())
		case "borrower":
			next.Borrower = in.GetBorrower()
		}
	}
	if next.GetTitle() == "" {
		return nil, invalidArgument("book.title", "must not be empty")
	}
	next.UpdateTime = timestamppb.New(l.now())
	b.msg = next
	return proto.CloneOf(next), nil
}

func populatedBookFields(b *demov1.Book) []string {
	var paths []string
	if b.GetTitle() != "" {
		paths = append(paths, "title")
	}
	if b.GetAuthor() != "" {
		paths = append(paths, "author")
	}
	if b.GetPublicationYear() != 0 {
		paths = append(paths, "publication_year")
	}
	if len(b.GetTags()) > 0 {
		paths = append(paths, "tags")
	}
	if b.GetBorrower() != "" {
		paths = append(paths, "borrower")
	}
	return paths
}

// ReplaceBook replaces all updatable fields of a book; with allow_missing it
// creates the book if it does not exist (the shelf must).
func (l *Library) ReplaceBook(_ context.Context, req *demov1.ReplaceBookRequest) (*demov1.Book, error) {
	in := req.GetBook()
	if in == nil {
		return nil, invalidArgument("book", "is required")
	}
	if in.GetTitle() == "" {
		return nil, invalidArgument("book.title", "is required")
	}
	shelfID, bookID, ok := parseBookName(in.GetName())
	if !ok {
		return nil, invalidArgument("book.name", "must look like shelves/{shelf}/books/{book}")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s, err := l.lookupShelf("book.name", "shelves/"+shelfID)
	if err != nil {
		return nil, err
	}
	if err := checkUnlocked(s); err != nil {
		return nil, err
	}
	b, exists := s.books[bookID]
	if !exists && !req.GetAllowMissing() {
		return nil, notFound(bookType, in.GetName())
	}
	msg := proto.CloneOf(in)
	msg.UpdateTime = timestamppb.New(l.now())
	msg.CoverContentType = ""
	if exists {
		msg.CoverContentType = b.msg.GetCoverContentType()
		b.msg = msg
	} else {
		s.books[bookID] = &book{msg: msg}
	}
	return proto.CloneOf(msg), nil
}

// DeleteBook deletes a book.
func (l *Library) DeleteBook(_ context.Context, req *demov1.DeleteBookRequest) (*emptypb.Empty, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, _, err := l.lookupBook("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := checkUnlocked(s); err != nil {
		return nil, err
	}
	_, bookID, _ := parseBookName(req.GetName())
	delete(s.books, bookID)
	return &emptypb.Empty{}, nil
}

// CheckoutBook lends a book to borrower; it fails with FailedPrecondition if
// the book is already checked out.
func (l *Library) CheckoutBook(_ context.Context, req *demov1.CheckoutBookRequest) (*demov1.Book, error) {
	if req.GetBorrower() == "" {
		return nil, invalidArgument("borrower", "is required")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, b, err := l.lookupBook("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if cur := b.msg.GetBorrower(); cur != "" {
		return nil, failedPrecondition("CHECKED_OUT", req.GetName(), "book is already checked out by "+cur)
	}
	b.msg.Borrower = req.GetBorrower()
	b.msg.UpdateTime = timestamppb.New(l.now())
	return proto.CloneOf(b.msg), nil
}

// GetShelfFile returns a file attached to a shelf; name is
// shelves/{shelf}/files/{path} where path may contain slashes.
func (l *Library) GetShelfFile(_ context.Context, req *demov1.GetShelfFileRequest) (*httpbody.HttpBody, error) {
	parts := strings.SplitN(req.GetName(), "/", 4)
	if len(parts) != 4 || parts[0] != "shelves" || parts[2] != "files" || parts[3] == "" {
		return nil, invalidArgument("name", "must look like shelves/{shelf}/files/{path}")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s, err := l.lookupShelf("name", "shelves/"+parts[1])
	if err != nil {
		return nil, err
	}
	f, ok := s.files[parts[3]]
	if !ok {
		return nil, notFound("library.portico.dev/File", req.GetName())
	}
	return proto.CloneOf(f), nil
}

// GetBookCover returns a book's cover image.
func (l *Library) GetBookCover(_ context.Context, req *demov1.GetBookCoverRequest) (*httpbody.HttpBody, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, b, err := l.lookupBook("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if b.cover == nil {
		return nil, notFound("library.portico.dev/Cover", req.GetName()+"/cover")
	}
	return proto.CloneOf(b.cover), nil
}

// UploadBookCover stores a book's cover image; the content type must be an
// image/* type and the data non-empty.
func (l *Library) UploadBookCover(_ context.Context, req *demov1.UploadBookCoverRequest) (*demov1.Book, error) {
	cover := req.GetCover()
	if len(cover.GetData()) == 0 {
		return nil, invalidArgument("cover", "must not be empty")
	}
	if !strings.HasPrefix(cover.GetContentType(), "image/") {
		return nil, invalidArgument("cover.content_type", fmt.Sprintf("must be an image/* type, got %q", cover.GetContentType()))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s, b, err := l.lookupBook("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := checkUnlocked(s); err != nil {
		return nil, err
	}
	b.cover = &httpbody.HttpBody{ContentType: cover.GetContentType(), Data: slices.Clone(cover.GetData())}
	b.msg.CoverContentType = cover.GetContentType()
	b.msg.UpdateTime = timestamppb.New(l.now())
	return proto.CloneOf(b.msg), nil
}

// lookupShelf resolves a shelf name given in request field field. Callers
// hold l.mu.
func (l *Library) lookupShelf(field, name string) (*shelf, error) {
	id, ok := strings.CutPrefix(name, "shelves/")
	if !ok || !idPattern.MatchString(id) {
		return nil, invalidArgument(field, fmt.Sprintf("%q is not a shelf name (shelves/{shelf})", name))
	}
	s, ok := l.shelves[id]
	if !ok {
		return nil, notFound(shelfType, name)
	}
	return s, nil
}

// lookupBook resolves a book name given in request field field. Callers hold
// l.mu.
func (l *Library) lookupBook(field, name string) (*shelf, *book, error) {
	shelfID, bookID, ok := parseBookName(name)
	if !ok {
		return nil, nil, invalidArgument(field, fmt.Sprintf("%q is not a book name (shelves/{shelf}/books/{book})", name))
	}
	s, ok := l.shelves[shelfID]
	if !ok {
		return nil, nil, notFound(shelfType, "shelves/"+shelfID)
	}
	b, ok := s.books[bookID]
	if !ok {
		return nil, nil, notFound(bookType, name)
	}
	return s, b, nil
}

func parseBookName(name string) (shelfID, bookID string, ok bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "shelves" || parts[2] != "books" ||
		!idPattern.MatchString(parts[1]) || !idPattern.MatchString(parts[3]) {
		return "", "", false
	}
	return parts[1], parts[3], true
}

func checkUnlocked(s *shelf) error {
	if s.msg.GetLocked() {
		return failedPrecondition("SHELF_LOCKED", s.msg.GetName(), "shelf is locked")
	}
	return nil
}

// nextID returns the smallest positive integer ID not used in m.
func nextID[V any](m map[string]V) string {
	for i := 1; ; i++ {
		if _, ok := m[strconv.Itoa(i)]; !ok {
			return strconv.Itoa(i)
		}
	}
}

// sortedKeys orders IDs numerically where both are numbers, else by string.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		ai, aerr := strconv.Atoi(a)
		bi, berr := strconv.Atoi(b)
		if aerr == nil && berr == nil {
			return ai - bi
		}
		return strings.Compare(a, b)
	})
	return keys
}

func matches(filter, s string) bool {
	return filter == "" || strings.Contains(strings.ToLower(s), strings.ToLower(filter))
}

// Page tokens are opaque to clients: base64url of "offset:<n>".
func paginate[T any](all []T, pageSize int32, token string) ([]T, string, error) {
	if pageSize < 0 {
		return nil, "", invalidArgument("page_size", "must not be negative")
	}
	if pageSize == 0 {
		pageSize = defaultPageSize
	}
	pageSize = min(pageSize, maxPageSize)
	offset := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		n, ok := strings.CutPrefix(string(raw), "offset:")
		off, aerr := strconv.Atoi(n)
		if err != nil || !ok || aerr != nil || off < 0 || off > len(all) {
			return nil, "", invalidArgument("page_token", "is not a valid page token")
		}
		offset = off
	}
	end := min(offset+int(pageSize), len(all))
	next := ""
	if end < len(all) {
		next = base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	return all[offset:end], next, nil
}

func cloneAll[M proto.Message](ms []M) []M {
	out := make([]M, len(ms))
	for i, m := range ms {
		out[i] = proto.CloneOf(m)
	}
	return out
}

func withDetails(st *status.Status, details ...proto.Message) error {
	v1 := make([]protoadapt.MessageV1, len(details))
	for i, d := range details {
		v1[i] = protoadapt.MessageV1Of(d)
	}
	if withD, err := st.WithDetails(v1...); err == nil {
		return withD.Err()
	}
	return st.Err()
}

func invalidArgument(field, desc string) error {
	st := status.Newf(codes.InvalidArgument, "%s %s", field, desc)
	return withDetails(st, &errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: desc}},
	})
}

func notFound(resourceType, name string) error {
	st := status.Newf(codes.NotFound, "%s not found", name)
	return withDetails(st, &errdetails.ResourceInfo{ResourceType: resourceType, ResourceName: name, Description: "not found"})
}

func alreadyExists(resourceType, name string) error {
	st := status.Newf(codes.AlreadyExists, "%s already exists", name)
	return withDetails(st, &errdetails.ResourceInfo{ResourceType: resourceType, ResourceName: name, Description: "already exists"})
}

func failedPrecondition(violationType, subject, desc string) error {
	st := status.Newf(codes.FailedPrecondition, "%s: %s", subject, desc)
	return withDetails(st, &errdetails.PreconditionFailure{
		Violations: []*errdetails.PreconditionFailure_Violation{{Type: violationType, Subject: subject, Description: desc}},
	})
}

// streamInterval paces StreamBooks so that streaming is visible in a
// terminal.
const streamInterval = 250 * time.Millisecond

// StreamBooks sends a shelf's books one at a time.
func (l *Library) StreamBooks(req *demov1.StreamBooksRequest, stream grpc.ServerStreamingServer[demov1.Book]) error {
	l.mu.Lock()
	s, err := l.lookupShelf("parent", req.GetParent())
	var books []*demov1.Book
	if err == nil {
		for _, id := range sortedKeys(s.books) {
			books = append(books, proto.Clone(s.books[id].msg).(*demov1.Book))
		}
	}
	l.mu.Unlock()
	if err != nil {
		return err
	}
	for i, b := range books {
		if i > 0 {
			select {
			case <-time.After(streamInterval):
			case <-stream.Context().Done():
				return status.FromContextError(stream.Context().Err()).Err()
			}
		}
		if err := stream.Send(b); err != nil {
			return err
		}
	}
	return nil
}

// AskLibrarian answers each question with the books whose title or author
// it mentions.
func (l *Library) AskLibrarian(stream grpc.BidiStreamingServer[demov1.Question, demov1.Answer]) error {
	for {
		q, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		text := strings.ToLower(q.GetText())
		answer := &demov1.Answer{}
		l.mu.Lock()
		for _, sid := range sortedKeys(l.shelves) {
			s := l.shelves[sid]
			for _, bid := range sortedKeys(s.books) {
				b := s.books[bid].msg
				if strings.Contains(text, strings.ToLower(b.GetAuthor())) || strings.Contains(text, strings.ToLower(b.GetTitle())) {
					answer.Books = append(answer.Books, b.GetName())
				}
			}
		}
		l.mu.Unlock()
		switch len(answer.Books) {
		case 0:
			answer.Text = "I know no book by that."
		case 1:
			answer.Text = "One book matches."
		default:
			answer.Text = fmt.Sprintf("%d books match.", len(answer.Books))
		}
		if err := stream.Send(answer); err != nil {
			return err
		}
	}
}
