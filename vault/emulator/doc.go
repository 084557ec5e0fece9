// Package emulator is an in-process Azure Key Vault and Entra ID emulator that the real Azure SDK
// clients (azsecrets, azkeys, azcertificates, azidentity) talk to over TLS, with challenge-resource
// verification left on.
//
// Why it exists: secretfs must be tested, benchmarked and demonstrated against the same client code
// paths production uses — the bearer challenge, MSAL's tenant discovery, paging, 429 back-off — and
// none of that is exercised by fakes that sit below the SDK. So the emulator speaks the wire protocol
// the SDKs expect and nothing else:
//
//   - one TLS listener serves every host; requests are routed by Host header. Vaults live at
//     https://<name>.vault.test:<port>/ and Entra ID at https://login.test:<port>/. These names do not
//     resolve, so [Server.HTTPClient] dials every *.test host to the listener and trusts the emulator CA.
//   - tokens are opaque random strings mapped server-side to (tenant, client, audience, expiry); they
//     are issued only to registered credentials and never logged.
//   - every vault request is authorised against per-(client, vault) grants, so tests can prove that a
//     pod with the wrong credential never reads what another pod fetched.
//   - latency, 429/5xx faults, outages and per-operation counters make the cache's behaviour
//     measurable; the other fault kinds (a hang, a slow-loris body, a streamed oversized value, a
//     value-less or wrong-version 200, a redirect, any Retry-After) stand for a broken or hostile
//     vault, Entra ID (SetTokenFault) or TLS proxy.
//
// The emulator is deliberately stdlib-only (plus go-pkcs12 for PFX) so that it can be linked into the
// secretfs binary for the demo without pulling the SDK into the server side.
package emulator
