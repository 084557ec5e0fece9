package emulator

import "net/http"

type certVersion struct{}

func (s *Server) certificateRoutes(mux *http.ServeMux) {}
