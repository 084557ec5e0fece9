package emulator

import "net/http"

// dataPlaneRoutes is the Key Vault REST surface the SDKs call, shared by every vault host.
func (s *Server) dataPlaneRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	s.secretRoutes(mux)
	s.keyRoutes(mux)
	s.certificateRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeKVError(w, http.StatusBadRequest, "BadParameter", "The emulator does not implement "+r.Method+" "+r.URL.Path+".")
	})
	return mux
}
