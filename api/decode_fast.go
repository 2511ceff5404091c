package api

// flatStrings is a request body type whose members are all *string: the
// hot write paths decode it without reflection when the body is simple.
type flatStrings interface {
	// setMember sets the member named name (nil for JSON null) and reports
	// whether name is one of the type's JSON names, exactly.
	setMember(name []byte, v *string) bool
}

// decodeFlatStrings decodes the common, simple shape of a request body
// without reflection: one JSON object whose members are plain strings
// (printable ASCII, no escapes) or null, each named exactly like a member
// of v. It reports false, having possibly set some of v's members, when the
// body is anything else; the caller then decodes it from scratch with
// decodeJSON, which also phrases every error. On true, v holds exactly what
// decodeJSON would have decoded.
func decodeFlatStrings(body []byte, v flatStrings) bool {
	i := skipWS(body, 0)
	if i >= len(body) || body[i] != '{' {
		return false
	}
	i = skipWS(body, i+1)
	if i < len(body) && body[i] == '}' {
		return skipWS(body, i+1) == len(body)
	}
	for {
		name, j, ok := plainString(body, i)
		if !ok {
			return false
		}
		i = skipWS(body, j)
		if i >= len(body) || body[i] != ':' {
			return false
		}
		i = skipWS(body, i+1)
		var val *string
		switch {
		case i < len(body) && body[i] == '"':
			s, j, ok := plainString(body, i)
			if !ok {
				return false
			}
			str := string(s)
			val, i = &str, j
		case len(body)-i >= 4 && string(body[i:i+4]) == "null":
			i += 4
		default:
			return false
		}
		if !v.setMember(name, val) {
			return false
		}
		i = skipWS(body, i)
		if i >= len(body) {
			return false
		}
		switch body[i] {
		case ',':
			i = skipWS(body, i+1)
		case '}':
			return skipWS(body, i+1) == len(body)
		default:
			return false
		}
	}
}

// plainString returns the contents of the JSON string at body[i] when it
// holds printable ASCII only (no escapes), and the index after it.
func plainString(body []byte, i int) ([]byte, int, bool) {
	if i >= len(body) || body[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(body); j++ {
		switch c := body[j]; {
		case c == '"':
			return body[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func (q *sessionReportReq) setMember(name []byte, v *string) bool {
	switch string(name) {
	case "sessionId":
		q.SessionID = v
	case "ownerAccessKey":
		q.OwnerAccessKey = v
	case "group":
		q.Group = v
	case "event":
		q.Event = v
	case "reason":
		q.Reason = v
	case "result":
		q.Result = v
	default:
		return false
	}
	return true
}

// decodeFlatRequest reads the body into v: by decodeFlatStrings when the
// body is simple, else strictly by decodeJSON (see decodeRequest).
func decodeFlatRequest[T any, P interface {
	*T
	flatStrings
}](body []byte, v P) error {
	if decodeFlatStrings(body, v) {
		return nil
	}
	var zero T
	*v = zero
	return decodeJSON(body, v)
}
