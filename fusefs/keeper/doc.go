// Package keeper keeps FUSE mounts alive while the server behind them
// restarts or is upgraded.
//
// A FUSE mount dies with the process that holds its /dev/fuse connection:
// every reader gets ENOTCONN. The keeper is a tiny, rarely changing process
// that holds the connections instead. It mounts each volume itself (it opens
// /dev/fuse and calls mount(2) with fd=N) and forwards whole FUSE messages
// between the kernel and the server over a SOCK_SEQPACKET socket pair; the
// server serves its end as "/dev/fd/N" (fusefs.Serve).
//
// # What it keeps, and why each piece is needed
//
// When the server goes away, requests wait in the keeper. When a server
// asks for the same target again, the keeper replays, in order:
//
//   - the saved INIT request (its reply is discarded: the kernel was
//     initialised once and must not be told again);
//   - LOOKUP "." for every nodeid the kernel holds (go-fuse resolves it with
//     NodeLookupNoder, since inode numbers are deterministic nodeids);
//   - OPEN/OPENDIR for every open handle; the kernel only ever sees handles
//     the keeper issued, which it translates to the current server's;
//   - every request the old server left unanswered (its socket is read to
//     EOF first, so that set is exact).
//
// It also counts the kernel's lookups per nodeid and shrinks FORGETs so a
// new server is never told to forget more than it holds (go-fuse panics
// holding an inode lock otherwise, and readers hang).
//
// # Memos
//
// With each mount the server may give an opaque memo (Client.Mount,
// Client.Remember), which List returns as given: what a restarted server
// needs to serve the mount again at once, without waiting for kubelet.
// secretfs puts the mount request in it, pod credentials included, so the
// keeper holds it only in memory (like the files' content in the kernel's
// page cache), passes it on at a handover, never logs it, and answers only
// its owner: the control socket is mode 0600 from the moment it appears,
// and a peer that is neither root nor the keeper's user is refused
// (SO_PEERCRED).
//
// # Control protocol
//
// Requests and answers are JSON messages over SEQPACKET; one too large for
// a record travels in parts, and List streams one message per mount, so
// neither the number of mounts nor a memo's size meets a limit (see
// protocol for the compatibility with the previous version).
//
// # Handover
//
// On upgrade a new keeper connects to the old one's socket and asks for a
// handover: the old keeper stops reading at message boundaries and sends the
// /dev/fuse fds, the server sockets, its listening socket and its state over
// SCM_RIGHTS. The kernel's queues stay with the open files, so neither
// kernel nor server notices more than a pause.
//
// # Unmount
//
// An unmount is answered once the target is unmounted. A copy of the mount
// in another mount namespace keeps the connection alive, and nothing will
// serve it again: after a few seconds the keeper aborts it (closing its
// /dev/fuse descriptor), so the server sees its end and the copies answer
// ENOTCONN.
//
// # Limits
//
// The keeper's own death loses every mount (ENOTCONN); that is why it holds
// no Key Vault, cache or Kubernetes code. Requests a hung server never
// answers are bounded by a watchdog that drops (and, if it can, kills) the
// server so a new one is asked for. Linux only.
package keeper
