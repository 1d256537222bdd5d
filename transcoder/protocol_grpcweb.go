package transcoder

import (
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func (s *Snapshot) serveGRPCWeb(w http.ResponseWriter, r *http.Request) {
	s.writeRESTError(w, r, nil, nil, nil, status.Error(codes.Unimplemented, "protocol not implemented yet"))
}
