package emulator

import "net/http"

// TokenError makes the Entra ID token endpoint answer every token request with Status and Body
// as given (Content-Type application/json), after counting it as "Token": the hostile or broken
// identity provider behind a custom cloud's activeDirectoryEndpoint, whose error body (multi-line,
// huge, full of control characters) must never reach events or gRPC errors as sent.
type TokenError struct {
	Status int    // HTTP status; 0 = no fault
	Body   string // sent verbatim
}

// SetTokenError makes token requests fail as f describes until ClearTokenError.
func (s *Server) SetTokenError(f TokenError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenError = f
}

// ClearTokenError ends any token error.
func (s *Server) ClearTokenError() { s.SetTokenError(TokenError{}) }

// injectTokenError answers the current token error, if any.
func (s *Server) injectTokenError(w http.ResponseWriter) bool {
	s.mu.Lock()
	f := s.tokenError
	s.mu.Unlock()
	if f.Status == 0 {
		return false
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(f.Status)
	_, _ = w.Write([]byte(f.Body))
	return true
}
