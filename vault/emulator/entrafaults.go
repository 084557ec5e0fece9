package emulator

import "net/http"

// TokenFault makes the Entra ID token endpoint answer every token request with Status and Body
// as given (Content-Type application/json), after counting it as "Token": the hostile or broken
// identity provider behind a custom cloud's activeDirectoryEndpoint, whose error body (multi-line,
// huge, full of control characters) must never reach events or gRPC errors as sent.
type TokenFault struct {
	Status int    // HTTP status; 0 = no fault
	Body   string // sent verbatim
}

// SetTokenFault makes token requests fail as f describes until ClearTokenFault.
func (s *Server) SetTokenFault(f TokenFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenFault = f
}

// ClearTokenFault ends any token fault.
func (s *Server) ClearTokenFault() { s.SetTokenFault(TokenFault{}) }

// injectTokenFault answers the current token fault, if any.
func (s *Server) injectTokenFault(w http.ResponseWriter) bool {
	s.mu.Lock()
	f := s.tokenFault
	s.mu.Unlock()
	if f.Status == 0 {
		return false
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(f.Status)
	_, _ = w.Write([]byte(f.Body))
	return true
}
