// Package vault is everything secretfs knows about Azure Key Vault objects: the
// SecretProviderClass parameters that name them (vault, identity mode, cloud, the
// `objects` array), the credentials that reach them, and the bytes each object
// becomes as a file.
//
// Compatibility is the point: a SecretProviderClass written for the Secrets Store
// CSI Driver's Azure provider parses here unchanged and yields the same file names
// and the same bytes (see Fetch). Where the provider silently accepts a value that
// later misbehaves (an invalid filePermission becoming mode 0, two objects writing
// the same file, a misspelled key being ignored, an empty `objects` array), or
// that some node cannot write (file names differing only in case, control or
// bidi characters, `a:b`, `nul`), ParseParameters refuses it with an error that
// names the object, the field and the allowed values.
//
// Secret hygiene: nothing in this package logs. Errors carry vault, object and
// identity names, HTTP status codes and Key Vault / Entra ID error codes, never a
// secret value, a client secret or a token. Identity, the value the cache keys on,
// holds only a tenant and a client ID.
//
// The package has no cache, no filesystem and no Kubernetes in it; a Client is
// one vault reached with one credential, and Credentials shares azidentity
// credentials (and so their token caches) between pods that present the same
// secret. Keep a Client per (vault, credential): a new Client's first request
// goes without a token to learn the vault's challenge, one extra round trip
// (BenchmarkFetch: ~3.6x the cost of a Fetch on a reused Client against the
// emulator). Calls made together on a new Client wait for the first one to
// learn it, so a cold publish of M objects costs one challenge, one token and
// M GETs. To prove a pod's credential before serving it cached bytes, ask
// it for a token with TokenRequestOptions: that token is the one the Key Vault
// clients then reuse.
//
// # A broken or hostile endpoint
//
// The vault and Entra ID endpoints (or a TLS proxy in front of them) are not
// trusted to be well behaved, and each way they can misbehave is bounded:
//
//   - Time. A Fetch or Versions call ends within ClientOptions.Deadline
//     (DefaultDeadline, 1 minute) whatever the caller's context; each try,
//     its token request and the whole response body included, within
//     TryTimeout (15 s), and a timed-out try is retried (4 tries, jittered
//     delays from 1 s, never waiting out a Retry-After above 10 s).
//     NewTransport adds per-phase bounds: dial and TLS handshake 10 s,
//     response headers 30 s, a whole request (body included, so a slow-loris
//     body cannot hold it) 1 minute, and HTTP/2 connections silent for 10 s
//     are pinged and closed if the ping goes unanswered for 5 s.
//   - Memory. Response bodies are read through a cap and refused (ErrInvalid,
//     naming the object) as soon as they pass it, so no more than the cap is
//     ever buffered: 256 KiB for secrets (MaxSecretResponseBytes; Key Vault
//     stores at most 25 KiB per secret value), 1 MiB for keys and
//     certificates, and 1 MiB for any response of NewTransport's client,
//     Entra ID's included.
//   - Redirects are never followed: Key Vault and Entra ID do not redirect
//     these calls, and a followed 307 would carry the bearer token, or re-post
//     the client secret, to wherever it points. The request fails
//     (ErrUnavailable) naming only the host it pointed to.
//   - Throttling. A 429's Retry-After is capped at MaxRetryAfter (2 minutes).
//   - Content. A 200 without the object's value (no "value", "key" or "cer";
//     an empty body) or without a version id, or of another version than a
//     pinned request named, is an ErrUnavailable error for that fetch: the
//     cache keeps serving the last good value. Key Vault stores empty secrets,
//     so a value of "" is a value, served as an empty file; only a missing one
//     is refused.
//   - Entra ID giving no answer at all (a timeout) is ErrUnavailable, not
//     ErrAccessDenied: nothing was denied, and the cache must not treat it as
//     a revocation.
package vault
