package web

import "encoding/json"

// Server→client messages other than events (see docs/api.md).

type resetMessage struct {
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	After   uint64 `json:"after"`
	Seq     uint64 `json:"seq"`
	Message string `json:"message"`
}

type liveMessage struct {
	Type string `json:"type"`
	Seq  uint64 `json:"seq"`
}

type ackMessage struct {
	Type   string `json:"type"`
	ID     string `json:"id"`
	Result any    `json:"result,omitempty"`
}

type errorMessage struct {
	Type  string    `json:"type"`
	ID    string    `json:"id,omitempty"`
	Error *APIError `json:"error"`
}

// mustJSON encodes the server's own message structs, which cannot fail.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
