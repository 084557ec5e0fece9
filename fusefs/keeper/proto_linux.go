//go:build linux

package keeper

import "encoding/binary"

// FUSE wire format (include/uapi/linux/fuse.h), only what the keeper reads
// or rewrites. All integers are little-endian on every Linux port Go runs
// FUSE on.
const (
	inHeaderLen  = 40 // len u32, opcode u32, unique u64, nodeid u64, uid, gid, pid u32, extlen u16, pad u16
	outHeaderLen = 16 // len u32, error i32, unique u64
	entryOutLen  = 128
)

// Opcodes the keeper treats specially.
const (
	opLookup        = 1
	opForget        = 2
	opGetattr       = 3
	opSetattr       = 4
	opMknod         = 8
	opMkdir         = 9
	opSymlink       = 6
	opLink          = 13
	opOpen          = 14
	opRead          = 15
	opWrite         = 16
	opRelease       = 18
	opFsync         = 20
	opFlush         = 25
	opInit          = 26
	opOpendir       = 27
	opReaddir       = 28
	opReleasedir    = 29
	opFsyncdir      = 30
	opGetlk         = 31
	opSetlk         = 32
	opSetlkw        = 33
	opCreate        = 35
	opInterrupt     = 36
	opDestroy       = 38
	opIoctl         = 39
	opPoll          = 40
	opNotifyReply   = 41
	opBatchForget   = 42
	opFallocate     = 43
	opReaddirplus   = 44
	opLseek         = 46
	opCopyFileRange = 47
	opStatx         = 52
)

const (
	getattrFH = 1      // FUSE_GETATTR_FH in getattr_in/statx_in flags
	fattrFH   = 1 << 3 // FATTR_FH in setattr_in.valid
)

var le = binary.LittleEndian

// inHeader is the part of a request header the keeper uses.
type inHeader struct {
	opcode uint32
	unique uint64
	nodeid uint64
}

// parseIn reads a request header; ok is false for a message too short to
// be one.
func parseIn(m []byte) (h inHeader, ok bool) {
	if len(m) < inHeaderLen {
		return h, false
	}
	return inHeader{opcode: le.Uint32(m[4:]), unique: le.Uint64(m[8:]), nodeid: le.Uint64(m[16:])}, true
}

// newRequest builds a request the keeper itself sends (a revival).
func newRequest(opcode uint32, unique, nodeid uint64, body []byte) []byte {
	m := make([]byte, inHeaderLen+len(body))
	le.PutUint32(m[0:], uint32(len(m)))
	le.PutUint32(m[4:], opcode)
	le.PutUint64(m[8:], unique)
	le.PutUint64(m[16:], nodeid)
	copy(m[inHeaderLen:], body)
	return m
}

// withUnique returns a copy of request m carrying another unique.
func withUnique(m []byte, unique uint64) []byte {
	c := append([]byte(nil), m...)
	le.PutUint64(c[8:], unique)
	return c
}

// outHeader is a reply header. unique 0 is a notification, whose error
// field is the notify code.
type outHeader struct {
	errno  int32
	unique uint64
}

func parseOut(m []byte) (h outHeader, ok bool) {
	if len(m) < outHeaderLen {
		return h, false
	}
	return outHeader{errno: int32(le.Uint32(m[4:])), unique: le.Uint64(m[8:])}, true
}

// errorReply is the reply the keeper gives itself, without a server.
func errorReply(unique uint64, errno int32) []byte {
	m := make([]byte, outHeaderLen)
	le.PutUint32(m[0:], outHeaderLen)
	le.PutUint32(m[4:], uint32(-errno))
	le.PutUint64(m[8:], unique)
	return m
}

// returnsEntry: the reply starts with an entry_out whose nodeid the kernel
// now holds one more lookup of.
func returnsEntry(op uint32) bool {
	switch op {
	case opLookup, opMknod, opMkdir, opSymlink, opLink, opCreate:
		return true
	}
	return false
}

// replyFH is the offset of the file handle in a successful reply to op, or
// -1: OPEN and OPENDIR reply open_out; CREATE replies entry_out, open_out.
func replyFH(op uint32) int {
	switch op {
	case opOpen, opOpendir:
		return outHeaderLen
	case opCreate:
		return outHeaderLen + entryOutLen
	}
	return -1
}

// requestFHs lists the offsets of file handles in request m (0, 1 or 2 of
// them), so the keeper can translate its handles to the server's.
func requestFHs(op uint32, m []byte) []int {
	const b = inHeaderLen
	var offs []int
	switch op {
	case opRead, opWrite, opRelease, opFsync, opFlush, opReaddir, opReleasedir,
		opFsyncdir, opGetlk, opSetlk, opSetlkw, opIoctl, opPoll, opFallocate,
		opReaddirplus, opLseek:
		offs = []int{b}
	case opGetattr, opStatx:
		if len(m) >= b+16 && le.Uint32(m[b:])&getattrFH != 0 {
			offs = []int{b + 8}
		}
	case opSetattr:
		if len(m) >= b+16 && le.Uint32(m[b:])&fattrFH != 0 {
			offs = []int{b + 8}
		}
	case opCopyFileRange:
		offs = []int{b, b + 24}
	}
	for _, o := range offs {
		if len(m) < o+8 {
			return nil
		}
	}
	return offs
}

// noReply: the kernel expects no answer, so the request is never
// "unanswered".
func noReply(op uint32) bool {
	return op == opForget || op == opBatchForget || op == opInterrupt || op == opNotifyReply
}
