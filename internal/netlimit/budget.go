package netlimit

import (
	"fmt"
	"strconv"
)

// MinReserve is the fewest descriptors kept out of the connections'
// budget for the store (JetStream opens its files as it goes), the
// listener, logs and outgoing connections.
const MinReserve = 256

// Reserve is the descriptors of an open-files limit that clients can
// never take: max(MinReserve, limit/64), but at most half the limit.
func Reserve(limit uint64) uint64 {
	return min(max(MinReserve, limit/64), limit/2)
}

// MaxConns is the default cap on open connections under an open-files
// limit: the limit less its Reserve.
func MaxConns(limit uint64) int {
	const most = 1 << 30
	return int(min(limit-Reserve(limit), most))
}

// Refusal503 is the answer written to a connection refused on plain HTTP:
// 503 with Retry-After and a problem body, and the connection closes.
func Refusal503(detail string) []byte {
	body := fmt.Sprintf(`{"type":"urn:herald:problem:unavailable","title":"Service Unavailable","status":503,"detail":%q}`+"\n", detail)
	return []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n" +
		"Cache-Control: no-store\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}
