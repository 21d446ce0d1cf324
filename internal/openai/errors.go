package openai

import "github.com/switchboard-gw/switchboard/internal/rawjson"

// Error is an error in OpenAI's shape, as the gateway answers it:
// {"error":{"message":…,"type":…,"param":…,"code":…}} with HTTP status
// Status. Empty Param and Code are written as null (the schema requires
// all four keys).
type Error struct {
	Status  int
	Message string
	Type    string
	Param   string
	Code    string
}

func (e *Error) Error() string { return e.Message }

// AppendJSON appends the error envelope (without a trailing newline).
func (e *Error) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"error":{"message":`...)
	dst = AppendString(dst, e.Message)
	dst = append(dst, `,"type":`...)
	dst = AppendString(dst, e.Type)
	dst = append(dst, `,"param":`...)
	dst = appendStringOrNull(dst, e.Param)
	dst = append(dst, `,"code":`...)
	dst = appendStringOrNull(dst, e.Code)
	return append(dst, "}}"...)
}

func appendStringOrNull(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "null"...)
	}
	return AppendString(dst, s)
}

// AppendString appends s as a JSON string; see rawjson.AppendQuote, which
// writes every string literal the gateway makes.
func AppendString(dst []byte, s string) []byte { return rawjson.AppendQuote(dst, s) }
