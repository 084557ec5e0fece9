package vault_test

import (
	"testing"

	"github.com/secretfs/secretfs/vault"
)

func TestErrorText(t *testing.T) {
	tests := []struct {
		name, in string
		limit    int
		want     string
	}{
		{"plain", "access denied", 100, "access denied"},
		{"line breaks", "a:\nb\r\nc\n\n", 100, "a:; b; c"},
		{"errors.Join", "access denied\nentra id: refused", 100, "access denied; entra id: refused"},
		{"control characters", "red\x1b[31mtext\x07 bell\tTab", 100, "red [31mtext bell Tab"},
		{"bidi override and zero width", "file\u202etxt.exe\u200bx", 100, "file txt.exe x"},
		{"leading and trailing", "  \n x \n ", 100, "x"},
		{"cut", "0123456789", 8, "01234…"},
		{"cut on a rune boundary", "ééééé", 7, "éé…"},
		{"exactly the limit", "0123456789", 10, "0123456789"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := vault.ErrorText(tt.in, tt.limit)
			if got != tt.want {
				t.Errorf("ErrorText(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
			}
			if len(got) > tt.limit {
				t.Errorf("ErrorText(%q, %d) is %d bytes", tt.in, tt.limit, len(got))
			}
		})
	}
}
