package emulator

import (
	"encoding/json"
	"net/http"
)

// kvError is Key Vault's error body: {"error":{"code":…,"message":…,"innererror":{"code":…}}}.
// azcore's ResponseError reads error.code into ErrorCode.
type kvError struct {
	Error kvErrorDetail `json:"error"`
}

type kvErrorDetail struct {
	Code       string         `json:"code"`
	Message    string         `json:"message"`
	InnerError *kvErrorDetail `json:"innererror,omitempty"`
}

// writeJSON writes v as the JSON body with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeKVError writes a Key Vault error. Messages must never contain tokens or secret values.
func writeKVError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, kvError{Error: kvErrorDetail{Code: code, Message: msg}})
}

// writeKVInnerError writes a Key Vault error with an inner error code (as for disabled secrets).
func writeKVInnerError(w http.ResponseWriter, status int, code, inner, msg string) {
	writeJSON(w, status, kvError{Error: kvErrorDetail{Code: code, Message: msg, InnerError: &kvErrorDetail{Code: inner}}})
}

// decodeBody decodes a JSON request body into v, answering 400 BadParameter on failure.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(v); err != nil {
		writeKVError(w, http.StatusBadRequest, "BadParameter", "The request body is not valid JSON: "+err.Error())
		return false
	}
	return true
}
